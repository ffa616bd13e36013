-- One row per batch (landing file) the ingest has seen, for the data-quality page. Published as
-- `ingest_batches` with the column names the page has always read (its published interface).
with

batches as (

    select * from {{ ref('stg_ingest__batches') }}

),

final as (

    select
        source_name as source,
        batch_id,
        file_path as file,
        records_seen,
        records_loaded as loaded,
        records_rejected as rejected,
        records_duplicate as duplicates,
        loaded_at,
        landed_at

    from batches

)

select * from final
