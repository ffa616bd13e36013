-- One row per source, reject kind and reason code: how many records the ingest did not load,
-- with one example (the smallest record and reason text) for the data-quality page. Published
-- as `ingest_rejects` with the column names the page has always read.
with

rejects as (

    select * from {{ ref('stg_ingest__rejects') }}

),

final as (

    select
        source_name as source,
        reject_kind as kind,
        reason_code,
        count(*) as records,
        min(record) as example_record,
        min(reason) as example_reason

    from rejects
    group by source_name, reject_kind, reason_code

)

select * from final
