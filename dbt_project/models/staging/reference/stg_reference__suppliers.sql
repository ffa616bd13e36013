-- One row per supplier: the version from the latest snapshot that carried it.
with

source as (

    select * from {{ source('reference', 'suppliers') }}

),

renamed as (

    select
        supplier_id,
        name as supplier_name,
        lead_time_days,
        lead_time_sd_days,
        min_order_qty as min_order_quantity,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['supplier_id'], '_loaded_at desc, _file desc') }}

)

select * from latest
