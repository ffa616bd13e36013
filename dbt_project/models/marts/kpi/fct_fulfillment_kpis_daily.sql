-- One row per order date, channel and fulfilling location: the fulfilment KPIs of the orders
-- placed that day (UTC). Definitions: docs block `fulfillment_kpis` (docs/kpis.md).
with

orders as (

    select * from {{ ref('fct_orders') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

returns as (

    select * from {{ ref('fct_returns') }}

),

-- Each order counts once, at its primary location (where most of its units ship from).
order_metrics as (

    select
        order_date as kpi_date,
        channel,
        primary_location_id as location_id,
        count(*) as orders

    from orders
    group by order_date, channel, primary_location_id

),

line_metrics as (

    select
        order_date as kpi_date,
        channel,
        fulfilling_location_id as location_id,
        count(*) as order_lines,
        cast(sum(units_ordered) as {{ dbt.type_bigint() }}) as units_ordered,
        cast(sum(units_shipped) as {{ dbt.type_bigint() }}) as units_shipped,
        cast(sum(units_cancelled) as {{ dbt.type_bigint() }}) as units_cancelled,
        cast(sum(line_amount) as numeric(18, 2)) as revenue,
        cast(sum(units_returned) as {{ dbt.type_bigint() }}) as units_returned

    from order_lines
    group by order_date, channel, fulfilling_location_id

),

-- Shipments handed to the carrier (POS sales are fulfilled at the till and have none), in the
-- cohort of their order's date, at the location they left from.
shipment_metrics as (

    select
        order_date as kpi_date,
        channel,
        ship_from_location_id as location_id,
        count(*) as shipments,
        cast(sum(case when is_on_time_ship then 1 else 0 end) as {{ dbt.type_bigint() }}) as shipments_shipped_on_time,
        cast(sum(case when is_delivered then 1 else 0 end) as {{ dbt.type_bigint() }}) as shipments_delivered,
        cast(sum(case when is_on_time_delivery then 1 else 0 end) as {{ dbt.type_bigint() }}) as shipments_delivered_on_time,
        {{ percentile_cont('fulfillment_hours', 0.5) }} as fulfillment_hours_p50,
        {{ percentile_cont('fulfillment_hours', 0.9) }} as fulfillment_hours_p90

    from shipments
    where has_order
        and is_shipped
        and channel <> 'pos'
    group by order_date, channel, ship_from_location_id

),

till_return_metrics as (

    select
        return_date as kpi_date,
        channel,
        received_location_id as location_id,
        cast(sum(units_returned) as {{ dbt.type_bigint() }}) as till_return_units

    from returns
    where return_kind = 'till'
    group by return_date, channel, received_location_id

),

spine as (

    select kpi_date, channel, location_id from order_metrics
    union
    select kpi_date, channel, location_id from line_metrics
    union
    select kpi_date, channel, location_id from shipment_metrics
    union
    select kpi_date, channel, location_id from till_return_metrics

),

final as (

    select
        spine.kpi_date,
        spine.channel,
        spine.location_id,
        coalesce(order_metrics.orders, 0) as orders,
        coalesce(line_metrics.order_lines, 0) as order_lines,
        coalesce(line_metrics.units_ordered, 0) as units_ordered,
        coalesce(line_metrics.units_shipped, 0) as units_shipped,
        coalesce(line_metrics.units_cancelled, 0) as units_cancelled,
        coalesce(line_metrics.revenue, 0) as revenue,
        {{ safe_ratio('line_metrics.units_shipped', 'line_metrics.units_ordered') }} as fill_rate,
        coalesce(shipment_metrics.shipments, 0) as shipments,
        coalesce(shipment_metrics.shipments_shipped_on_time, 0) as shipments_shipped_on_time,
        {{ safe_ratio('shipment_metrics.shipments_shipped_on_time', 'shipment_metrics.shipments') }}
            as on_time_ship_rate,
        coalesce(shipment_metrics.shipments_delivered, 0) as shipments_delivered,
        coalesce(shipment_metrics.shipments_delivered_on_time, 0) as shipments_delivered_on_time,
        {{ safe_ratio('shipment_metrics.shipments_delivered_on_time', 'shipment_metrics.shipments_delivered') }}
            as on_time_delivery_rate,
        shipment_metrics.fulfillment_hours_p50,
        shipment_metrics.fulfillment_hours_p90,
        coalesce(line_metrics.units_returned, 0) as units_returned,
        {{ safe_ratio('line_metrics.units_returned', 'line_metrics.units_shipped') }} as return_rate,
        coalesce(till_return_metrics.till_return_units, 0) as till_return_units

    from spine
    left join order_metrics
        on spine.kpi_date = order_metrics.kpi_date
        and spine.channel = order_metrics.channel
        and spine.location_id = order_metrics.location_id
    left join line_metrics
        on spine.kpi_date = line_metrics.kpi_date
        and spine.channel = line_metrics.channel
        and spine.location_id = line_metrics.location_id
    left join shipment_metrics
        on spine.kpi_date = shipment_metrics.kpi_date
        and spine.channel = shipment_metrics.channel
        and spine.location_id = shipment_metrics.location_id
    left join till_return_metrics
        on spine.kpi_date = till_return_metrics.kpi_date
        and spine.channel = till_return_metrics.channel
        and spine.location_id = till_return_metrics.location_id

)

select * from final
