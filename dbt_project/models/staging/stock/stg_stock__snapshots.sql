-- One row per location, SKU and end-of-day snapshot date.
with

source as (

    select * from {{ source('stock', 'snapshots') }}

),

renamed as (

    select
        location_id,
        sku,
        snapshot_date,
        on_hand,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
