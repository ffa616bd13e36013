-- One row per marketplace order item: the latest version (largest last_updated_date).
with

source as (

    select * from {{ source('marketplace', 'order_items') }}

),

renamed as (

    select
        order_id,
        order_item_id,
        purchase_date as purchased_at,
        last_updated_date as last_updated_at,
        order_status,
        fulfillment_channel,
        lower(ship_service_level) as service_level,
        sku,
        quantity_purchased as quantity,
        currency,
        -- The report carries the price of the whole line; the unit price is derived.
        item_price as line_price,
        cast(item_price / quantity_purchased as {{ dbt.type_numeric() }}) as unit_price,
        shipping_price,
        ship_postal_code as ship_to_postcode,
        ship_country as ship_to_country,
        latest_ship_date as promised_ship_at,
        latest_delivery_date as promised_delivery_at,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version(
        'renamed',
        ['order_id', 'order_item_id'],
        'last_updated_at desc, _loaded_at desc, _file desc'
    ) }}

)

select * from latest
