-- One row per marketplace order item version (order_id, order_item_id, last_updated_date): the
-- item as each daily report showed it (stg_marketplace__order_items keeps only the latest).
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
        quantity_purchased as quantity,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
