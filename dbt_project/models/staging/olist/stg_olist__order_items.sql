-- One row per Olist order item. An item is one unit of one product (the same product bought
-- twice is two items), so every item is an order line of quantity 1; `product_id` is its SKU.
with

source as (

    select * from {{ source('olist', 'order_items') }}

),

renamed as (

    select
        order_id,
        order_item_id,
        cast(order_item_id as {{ dbt.type_string() }}) as line_ref,
        product_id as sku,
        seller_id,
        -- the seller's promise to hand the item to the carrier, UTC
        shipping_limit_date as shipping_limit_at,
        price,
        freight_value,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
