-- One row per batch (file) the ingest has seen, from the ledger.
with

source as (

    select * from {{ source('ingest', '_batches') }}

),

renamed as (

    select
        source as source_name,
        batch_id,
        file as file_path,
        sha256,
        load_id,
        records_seen,
        loaded as records_loaded,
        rejected as records_rejected,
        duplicates as records_duplicate,
        loaded_at,
        -- when the file landed: its modification time (the writer's last write), in UTC
        {{ oms.timestamp_from_epoch_ns('mtime_ns') }} as landed_at

    from source

)

select * from renamed
