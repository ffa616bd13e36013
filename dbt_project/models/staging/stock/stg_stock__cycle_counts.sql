-- One row per cycle count: a location, a SKU and the moment it was counted.
with

source as (

    select * from {{ source('stock', 'cycle_counts') }}

),

renamed as (

    select
        location_id,
        sku,
        counted_at,
        system_qty,
        counted_qty,
        counter_id,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
