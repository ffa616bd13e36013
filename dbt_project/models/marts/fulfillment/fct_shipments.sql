-- One row per shipment (tracking number): what it carried, where from, and its promised vs
-- actual ship and delivery dates. Shipped = the carrier's first pickup scan. On time = the
-- pickup (delivery) falls on or before the promised date, both as UTC dates; NULL until the
-- shipment is picked up (delivered) or when its order is unknown.
with

shipments as (

    select * from {{ ref('int_shipments_summarised') }}

),

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

-- The promise of a shipment is the earliest promise among the order lines it carries.
line_promises as (

    select
        shipment_lines.tracking_number,
        min(order_lines.promised_ship_date) as promised_ship_date,
        min(order_lines.promised_delivery_date) as promised_delivery_date,
        count(order_lines.order_line_id) as matched_lines

    from shipment_lines
    inner join order_lines
        on shipment_lines.channel = order_lines.channel
        and shipment_lines.order_id = order_lines.order_id
        and shipment_lines.line_ref = order_lines.line_ref
    group by shipment_lines.tracking_number

),

orders as (

    select
        channel_order_id,
        min(ordered_at) as ordered_at,
        min(order_date) as order_date,
        min(promised_ship_date) as promised_ship_date,
        min(promised_delivery_date) as promised_delivery_date

    from order_lines
    group by channel_order_id

),

joined as (

    select
        shipments.*,
        orders.ordered_at,
        orders.order_date,
        coalesce(line_promises.promised_ship_date, orders.promised_ship_date)
            as promised_ship_date,
        coalesce(line_promises.promised_delivery_date, orders.promised_delivery_date)
            as promised_delivery_date,
        coalesce(line_promises.matched_lines, 0) as matched_order_lines,
        orders.channel_order_id is not null as has_order

    from shipments
    left join line_promises
        on shipments.tracking_number = line_promises.tracking_number
    left join orders
        on shipments.channel_order_id = orders.channel_order_id

),

final as (

    select
        tracking_number,
        carrier,
        channel,
        order_id,
        case when has_order then channel_order_id end as channel_order_id,
        ship_from_location_id,
        service_level,
        shipment_lines,
        units,
        ordered_at,
        order_date,
        promised_ship_date,
        promised_delivery_date,
        label_created_at,
        picked_up_at,
        first_in_transit_at,
        first_out_for_delivery_at,
        delivered_at,
        first_exception_at,
        last_event_at,
        current_status,
        last_exception_code,
        events,
        exception_events,
        has_exception,
        is_picked_up,
        is_delivered,
        has_contents,
        has_order,
        matched_order_lines,
        cast(picked_up_at as date) as ship_date,
        cast(delivered_at as date) as delivery_date,
        case
            when picked_up_at is null or promised_ship_date is null then null
            when cast(picked_up_at as date) <= promised_ship_date then true
            else false
        end as is_on_time_ship,
        case
            when delivered_at is null or promised_delivery_date is null then null
            when cast(delivered_at as date) <= promised_delivery_date then true
            else false
        end as is_on_time_delivery,
        case
            when picked_up_at is not null and ordered_at is not null
                then {{ hours_between('ordered_at', 'picked_up_at') }}
        end as fulfillment_hours,
        case
            when delivered_at is not null and picked_up_at is not null
                then {{ hours_between('picked_up_at', 'delivered_at') }}
        end as transit_hours,
        _loaded_at

    from joined

)

select * from final
