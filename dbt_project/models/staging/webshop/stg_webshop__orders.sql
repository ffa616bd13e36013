-- One row per web shop order: the latest version (largest updated_at; the later load breaks a tie).
with

source as (

    select * from {{ source('webshop', 'orders') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as order_id,
        name as order_name,
        created_at as ordered_at,
        updated_at,
        cancelled_at,
        cancel_reason,
        currency,
        financial_status,
        fulfillment_status,
        total_price,
        shipping_price,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        customer_email,
        ship_zip as ship_to_postcode,
        ship_country_code as ship_to_country,
        ship_latitude as ship_to_latitude,
        ship_longitude as ship_to_longitude,
        lower(shipping_code) as service_level,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['order_id'], 'updated_at desc, _loaded_at desc, _file desc') }}

)

select * from latest
