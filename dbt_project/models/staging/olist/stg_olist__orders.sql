-- One row per Olist order: its latest version (the latest load; within one load the most
-- advanced status, then the last file). Timestamps are UTC (converted at ingest from São
-- Paulo wall-clock time).
with

source as (

    select * from {{ source('olist', 'orders') }}

),

renamed as (

    select
        order_id,
        customer_id,
        order_status,
        order_purchase_timestamp as purchased_at,
        order_approved_at as approved_at,
        order_delivered_carrier_date as delivered_to_carrier_at,
        order_delivered_customer_date as delivered_to_customer_at,
        order_estimated_delivery_date as estimated_delivery_at,
        -- The estimate is a calendar date in Brazil (always 00:00 local). 00:00 in São Paulo
        -- is 02:00 or 03:00 UTC on the same day, so the UTC date is the export's own date.
        cast(order_estimated_delivery_date as date) as estimated_delivery_date,
        case order_status
            when 'created' then 1
            when 'approved' then 2
            when 'invoiced' then 3
            when 'processing' then 4
            when 'shipped' then 5
            when 'delivered' then 6
            when 'unavailable' then 7
            when 'canceled' then 7
        end as status_rank,  -- how far the order got (the tie-break between versions)
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['order_id'], '_loaded_at desc, status_rank desc, _file desc') }}

)

select * from latest
