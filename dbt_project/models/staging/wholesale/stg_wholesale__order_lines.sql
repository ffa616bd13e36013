-- One row per wholesale purchase-order detail line.
with

source as (

    select * from {{ source('wholesale', 'order_lines') }}

),

renamed as (

    select
        customer_id,
        po_number,
        line_no,
        sku,
        quantity,
        unit_price,
        order_date,
        requested_ship_date,
        ship_to_postcode,
        ship_to_country,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
