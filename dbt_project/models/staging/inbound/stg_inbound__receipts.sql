-- One row per receipt of a purchase-order line at the dock (a line may be received several times).
with

source as (

    select * from {{ source('inbound', 'receipts') }}

),

renamed as (

    select
        receipt_id,
        po_id,
        po_line,
        location_id,
        sku,
        received_qty as received_quantity,
        received_date,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
