-- One row per shipment (tracking number): what it carried, where from, and its promised vs
-- actual ship and delivery dates. Shipped = the carrier's first scan (normally picked_up). On
-- time = shipped (delivered) on or before the promised date, both as UTC dates; NULL until the
-- shipment is shipped (delivered) or when its order is unknown.
--
-- Incremental: a run rewrites (delete+insert on tracking_number) the shipments that
-- int_shipments_summarised rewrote since the last run, and the shipments of orders that
-- int_order_lines_unioned rewrote (a new order version can move its promise), both found by
-- their `_dbt_run_at` marker.
{{
    config(
        materialized='incremental',
        unique_key='tracking_number',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

all_shipments as (

    select * from {{ ref('int_shipments_summarised') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

{% if is_incremental() %}

touched_shipments as (

    select tracking_number
    from all_shipments
    where _dbt_run_at > {{ high_water_mark('_shipments_run_at') }}
    union
    select all_shipments.tracking_number
    from all_shipments
    inner join order_lines
        on all_shipments.channel_order_id = order_lines.channel_order_id
    where order_lines._dbt_run_at > {{ high_water_mark('_order_run_at') }}

),

{% endif %}

shipments as (

    select * from all_shipments
    {% if is_incremental() -%}
    where tracking_number in (select tracking_number from touched_shipments)
    {%- endif %}

),

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}
    {% if is_incremental() -%}
    where tracking_number in (select tracking_number from touched_shipments)
    {%- endif %}

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
        min(promised_delivery_date) as promised_delivery_date,
        max(_dbt_run_at) as _order_run_at

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
        orders.channel_order_id is not null as has_order,
        orders._order_run_at

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
        shipped_at,
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
        is_shipped,
        is_delivered,
        has_contents,
        has_order,
        matched_order_lines,
        cast(shipped_at as date) as ship_date,
        cast(delivered_at as date) as delivery_date,
        case
            when shipped_at is null or promised_ship_date is null then null
            when cast(shipped_at as date) <= promised_ship_date then true
            else false
        end as is_on_time_ship,
        case
            when delivered_at is null or promised_delivery_date is null then null
            when cast(delivered_at as date) <= promised_delivery_date then true
            else false
        end as is_on_time_delivery,
        case
            when shipped_at is not null and ordered_at is not null
                then {{ hours_between('ordered_at', 'shipped_at') }}
        end as fulfillment_hours,
        case
            when delivered_at is not null and shipped_at is not null
                then {{ hours_between('shipped_at', 'delivered_at') }}
        end as transit_hours,
        _loaded_at,
        _dbt_run_at as _shipments_run_at,
        _order_run_at,
        {{ run_marker() }} as _dbt_run_at

    from joined

)

select * from final
