-- One row per SKU: the version from the latest product snapshot that carried it.
with

source as (

    select * from {{ source('reference', 'products') }}

),

renamed as (

    select
        sku,
        name as product_name,
        category,
        weight_kg,
        pack_size,
        unit_cost,
        list_price,
        currency,
        supplier_id,
        is_active,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['sku'], '_loaded_at desc, _file desc') }}

)

select * from latest
