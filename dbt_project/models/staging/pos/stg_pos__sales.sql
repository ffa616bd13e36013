-- One row per till receipt line (a negative quantity is a return at the till).
with

source as (

    select * from {{ source('pos', 'sales') }}

),

renamed as (

    select
        store_id,
        register_id,
        receipt_no,
        line_no,
        sold_at,
        sku,
        qty as quantity,
        unit_price,
        currency,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
