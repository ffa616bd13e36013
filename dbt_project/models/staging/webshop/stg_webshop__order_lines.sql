-- One row per line item of the latest version of each web shop order.
with

source as (

    select * from {{ source('webshop', 'order_line_items') }}

),

renamed as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        order_updated_at,
        cast(id as {{ dbt.type_string() }}) as line_item_id,
        sku,
        quantity,
        price as unit_price,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version_set('renamed', ['order_id'], 'order_updated_at') }}

)

select * from latest
