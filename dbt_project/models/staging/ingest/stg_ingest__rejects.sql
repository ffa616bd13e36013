-- One row per record the ingest did not load (rejected, or a duplicate of one already loaded).
with

source as (

    select * from {{ source('ingest', '_rejects') }}

),

renamed as (

    select
        source as source_name,
        batch_id,
        file as file_path,
        record_no,
        kind as reject_kind,
        reason_code,
        reason,
        record,
        rejected_at

    from source

)

select * from renamed
