-- One row per line item of every web shop order version (order_id, order_updated_at, id).
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
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
