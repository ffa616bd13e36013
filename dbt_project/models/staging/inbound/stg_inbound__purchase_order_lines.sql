-- One row per purchase-order line sent to a supplier.
with

source as (

    select * from {{ source('inbound', 'purchase_order_lines') }}

),

renamed as (

    select
        po_id,
        po_line,
        supplier_id,
        location_id,
        sku,
        ordered_qty as ordered_quantity,
        unit_cost,
        currency,
        ordered_date,
        expected_date,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
