-- One row per lifecycle event of an Olist order line (contract 1, docs/olist.md), from the
-- order's milestones in the export: placed = purchase, validated = payment approved, shipped
-- = handed to the carrier, delivered = delivered to the customer, cancelled = status canceled
-- or unavailable. The export has no time for its other statuses (invoiced, processing) nor
-- for a cancellation: a cancellation is dated at the order's last known milestone.
-- `recorded_at` is the load that first carried the milestone (an earlier export of the order
-- may already have had it); the times are those of the latest version. Each item is one unit,
-- so every event concerns the whole line (`units` null).
with

orders as (

    select * from {{ ref('stg_olist__orders') }}

),

items as (

    select * from {{ ref('stg_olist__order_items') }}

),

order_versions as (

    select * from {{ source('olist', 'orders') }}

),

milestones as (

    select order_id, 'placed' as event_type, purchased_at as occurred_at,
        cast(null as {{ dbt.type_string() }}) as detail
    from orders
    union all
    select order_id, 'validated', approved_at, null
    from orders
    where approved_at is not null
    union all
    select order_id, 'shipped', delivered_to_carrier_at, null
    from orders
    where delivered_to_carrier_at is not null
    union all
    select order_id, 'delivered', delivered_to_customer_at, null
    from orders
    where delivered_to_customer_at is not null
    union all
    select
        order_id,
        'cancelled',
        greatest(purchased_at, approved_at, delivered_to_carrier_at, delivered_to_customer_at),
        'olist status ' || order_status
    from orders
    where order_status in ('canceled', 'unavailable')

),

-- The first load of each order that carried each milestone.
first_recorded as (

    select order_id, 'placed' as event_type, min(_loaded_at) as recorded_at
    from order_versions
    group by order_id
    union all
    select order_id, 'validated', min(_loaded_at)
    from order_versions
    where order_approved_at is not null
    group by order_id
    union all
    select order_id, 'shipped', min(_loaded_at)
    from order_versions
    where order_delivered_carrier_date is not null
    group by order_id
    union all
    select order_id, 'delivered', min(_loaded_at)
    from order_versions
    where order_delivered_customer_date is not null
    group by order_id
    union all
    select order_id, 'cancelled', min(_loaded_at)
    from order_versions
    where order_status in ('canceled', 'unavailable')
    group by order_id

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'olist:'", 'items.order_id', "':'", 'items.line_ref', "':'", 'milestones.event_type']),
            channel="'olist'",
            order_id='items.order_id',
            line_ref='items.line_ref',
            event_type='milestones.event_type',
            occurred_at='milestones.occurred_at',
            recorded_at='first_recorded.recorded_at',
            source="'olist'",
            source_ref=dbt.concat(['orders.order_id', "':'", 'orders.order_status']),
            detail="case when milestones.event_type = 'shipped' then 'seller ' || items.seller_id else milestones.detail end"
        ) }}

    from items
    inner join orders
        on items.order_id = orders.order_id
    inner join milestones
        on items.order_id = milestones.order_id
    inner join first_recorded
        on milestones.order_id = first_recorded.order_id
        and milestones.event_type = first_recorded.event_type

)

select * from final
