-- One row per order line: every flag and measure the KPI catalogue counts, under the corrected
-- definitions (docs block `kpi_order_lines`, docs/kpis.md). Judged at the cut-off `as_of_at`,
-- the latest business time the warehouse has seen.
--
-- Incremental (delete+insert on channel_order_id, whole orders: a line's shipping charge
-- depends on its order's other lines). "Due", "late" and "matured" move with the cut-off even
-- for lines no load touched, so a run recomputes
--   - the orders fct_order_lines rewrote since the last run (their lines, shipments, returns
--     or order versions changed; found by its `_dbt_run_at`, kept here as `_order_lines_run_at`),
--   - the orders with a line not yet settled (`_is_settled` false: not yet due to ship or to
--     deliver, or its return window not yet matured): bounded by the promise horizon and the
--     return maturity (`kpi_return_maturity_days`), not by the history,
--   - every order, if the cut-off moved backwards (a corrected record lowered it).
-- A settled line's flags stay as they are once the cut-off only advances; the post-hook
-- (macro restamp_cut_off) brings its `as_of_at` / `cut_off_date` to the current cut-off.
-- `_previous_kpi_date` is the order's day before this run rewrote it, so the day-grained
-- catalogue recomputes the day an order left as well. A change of definition, of the seeds or
-- of a product's category or a location's time zone needs `--full-refresh`
-- (docs/operations.md).
{{
    config(
        materialized='incremental',
        unique_key='channel_order_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail',
        post_hook="{{ restamp_cut_off({
            'as_of_at': 'latest.as_of_at',
            'cut_off_date': oms.local_date('latest.as_of_at', 'promise_timezone'),
        }) }}"
    )
}}

with

all_order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

rma_lines as (

    select * from {{ ref('int_rma_lines_matched') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

locations as (

    select * from {{ ref('dim_locations') }}

),

channel_zones as (

    select * from {{ ref('kpi_channel_zones') }}

),

service_levels as (

    select * from {{ ref('channel_service_levels') }}

),

webshop_orders as (

    select * from {{ ref('stg_webshop__orders') }}

),

marketplace_items as (

    select * from {{ ref('stg_marketplace__order_items') }}

),

carrier_events as (

    select * from {{ ref('stg_carrier__tracking_events') }}

),

-- The cut-off: the latest order or carrier event the warehouse holds (business time, UTC).
cut_off as (

    select
        case
            when max_event_at is null or max_ordered_at > max_event_at then max_ordered_at
            else max_event_at
        end as as_of_at

    from (
        select
            (select max(ordered_at) from all_order_lines) as max_ordered_at,
            (select max(occurred_at) from carrier_events) as max_event_at
    ) as latest

),

{% if is_incremental() %}

touched_orders as (

    select channel_order_id
    from all_order_lines
    where _dbt_run_at > {{ high_water_mark('_order_lines_run_at') }}
    union
    select channel_order_id
    from {{ this }}
    where not coalesce(_is_settled, false)
    union
    select channel_order_id
    from all_order_lines
    where (select max(as_of_at) from {{ this }}) > (select as_of_at from cut_off)

),

previous_days as (

    select channel_order_id, min(kpi_date) as previous_kpi_date
    from {{ this }}
    where channel_order_id in (select channel_order_id from touched_orders)
    group by channel_order_id

),

{% endif %}

order_lines as (

    select * from all_order_lines
    {% if is_incremental() -%}
    where channel_order_id in (select channel_order_id from touched_orders)
    {%- endif %}

),

-- The order's own day in the zone its promise was made in, and the promise recomputed from it
-- (int_order_lines_unioned counts service-level days from the UTC date).
zoned as (

    select
        order_lines.*,
        coalesce(products.category, 'unknown') as category,
        service_levels.promise_source,
        coalesce(channel_zones.promise_timezone, stores.timezone, 'UTC') as promise_timezone,
        case
            when channel_zones.order_day_source = 'as_written' then order_lines.order_date
            when channel_zones.order_day_source = 'store_zone'
                then {{ oms.local_date('order_lines.ordered_at', "coalesce(stores.timezone, 'UTC')") }}
            else {{ oms.local_date('order_lines.ordered_at', "coalesce(channel_zones.promise_timezone, 'UTC')") }}
        end as kpi_date,
        service_levels.ship_within_days,
        service_levels.deliver_within_days,
        case
            when order_lines.is_cancelled and order_lines.channel = 'webshop'
                and webshop_orders.cancel_reason = 'customer' then 'customer'
            when order_lines.is_cancelled then 'ours'
        end as cancel_origin,
        case
            when order_lines.channel = 'marketplace' then coalesce(marketplace_items.shipping_price, 0)
            -- an order-level charge, carried by the order's first line so it counts once
            when order_lines.channel = 'webshop'
                and order_lines.line_ref = min(order_lines.line_ref) over (
                    partition by order_lines.channel_order_id
                )
                then coalesce(webshop_orders.shipping_price, 0)
            else 0
        end as shipping_charged

    from order_lines
    left join products
        on order_lines.sku = products.sku
    left join channel_zones
        on order_lines.channel = channel_zones.channel
    left join service_levels
        on order_lines.channel = service_levels.channel
        and order_lines.service_level = service_levels.service_level
    left join locations as stores
        on order_lines.channel = 'pos'
        and order_lines.fulfilling_location_id = stores.location_id
    left join webshop_orders
        on order_lines.channel = 'webshop'
        and order_lines.order_id = webshop_orders.order_id
    left join marketplace_items
        on order_lines.channel = 'marketplace'
        and order_lines.order_id = marketplace_items.order_id
        and order_lines.line_ref = marketplace_items.order_item_id

),

promised as (

    select
        zoned.*,
        case
            when promise_source = 'service_level'
                then cast({{ dbt.dateadd('day', 'ship_within_days', 'kpi_date') }} as date)
            when promise_source = 'at_sale' then kpi_date
            else promised_ship_date
        end as promise_ship_date,
        case
            when promise_source = 'service_level'
                then cast({{ dbt.dateadd('day', 'deliver_within_days', 'kpi_date') }} as date)
            when promise_source = 'at_sale' then kpi_date
            else promised_delivery_date
        end as promise_delivery_date,
        {{ oms.local_date('cut_off.as_of_at', 'promise_timezone') }} as cut_off_date,
        cut_off.as_of_at

    from zoned
    cross join cut_off

),

-- Each shipped shipment line, with the ship date at the location it left from (the warehouse's
-- working day) and the delivery date in the promise's zone.
line_shipments as (

    select
        {{ dbt.concat(['shipment_lines.channel', "':'", 'shipment_lines.order_id', "':'", 'shipment_lines.line_ref']) }}
            as order_line_id,
        shipment_lines.tracking_number,
        shipment_lines.quantity,
        shipments.carrier,
        shipments.shipped_at,
        shipments.delivered_at,
        {{ oms.local_date('shipments.shipped_at', "coalesce(origins.timezone, 'UTC')") }} as local_ship_date

    from shipment_lines
    inner join shipments
        on shipment_lines.tracking_number = shipments.tracking_number
    left join locations as origins
        on shipments.ship_from_location_id = origins.location_id
    where shipments.shipped_at is not null

),

per_line_shipment as (

    select
        line_shipments.*,
        promised.promise_ship_date,
        promised.promise_delivery_date,
        {{ oms.local_date('line_shipments.delivered_at', 'promised.promise_timezone') }}
            as local_delivery_date,
        row_number() over (
            partition by line_shipments.order_line_id
            order by line_shipments.shipped_at, line_shipments.tracking_number
        ) as shipment_rank

    from line_shipments
    inner join promised
        on line_shipments.order_line_id = promised.order_line_id

),

shipped as (

    select
        order_line_id,
        cast(sum(case when local_ship_date <= promise_ship_date then quantity else 0 end)
            as {{ dbt.type_bigint() }}) as units_in_shipments_on_time,
        cast(sum(case when delivered_at is not null then quantity else 0 end)
            as {{ dbt.type_bigint() }}) as units_in_deliveries,
        cast(sum(case when local_delivery_date <= promise_delivery_date then quantity else 0 end)
            as {{ dbt.type_bigint() }}) as units_in_deliveries_on_time,
        cast(sum(case when shipment_rank = 1 then quantity else 0 end)
            as {{ dbt.type_bigint() }}) as units_in_first_shipment

    from per_line_shipment
    group by order_line_id

),

per_carrier as (

    select order_line_id, carrier, sum(quantity) as units, min(shipped_at) as first_shipped_at
    from line_shipments
    group by order_line_id, carrier

),

line_carrier as (

    {{ latest_version('per_carrier', ['order_line_id'], 'units desc, first_shipped_at asc, carrier asc') }}

),

returned as (

    select
        order_line_id,
        cast(sum(case when refund_status <> 'rejected' then quantity else 0 end)
            as {{ dbt.type_bigint() }}) as units_returned,
        cast(sum(case when refund_status <> 'rejected'
            and reason_code in ('wrong_item', 'damaged') then quantity else 0 end)
            as {{ dbt.type_bigint() }}) as units_returned_wrong_or_damaged

    from rma_lines
    where order_line_id is not null
    group by order_line_id

),

measured as (

    select
        promised.*,
        case when channel = 'pos' then 'none' else coalesce(line_carrier.carrier, 'none') end
            as carrier,
        case when cancel_origin = 'customer' then units_cancelled else 0 end
            as units_cancelled_customer,
        case when cancel_origin = 'ours' then units_cancelled else 0 end as units_cancelled_ours,
        -- what we owe the customer: the ordered units the customer did not cancel
        units_ordered - case when cancel_origin = 'customer' then units_cancelled else 0 end
            as units_required,
        case when channel = 'pos' then units_ordered
            else least(coalesce(shipped.units_in_shipments_on_time, 0), units_ordered) end
            as units_shipped_by_promise,
        case when channel = 'pos' then units_ordered
            else least(coalesce(shipped.units_in_deliveries, 0), units_ordered) end
            as units_delivered,
        case when channel = 'pos' then units_ordered
            else least(coalesce(shipped.units_in_deliveries_on_time, 0), units_ordered) end
            as units_delivered_by_promise,
        case when channel = 'pos' then units_ordered
            else least(coalesce(shipped.units_in_first_shipment, 0), units_ordered) end
            as units_in_first_shipment,
        coalesce(returned.units_returned, 0) as units_returned_counted,
        coalesce(returned.units_returned_wrong_or_damaged, 0) as units_returned_wrong_or_damaged,
        -- the clock starts at the order, or for a customer-requested ship date at the start of
        -- that day at the ship-from location: we are not slow while the customer wants us to wait
        case
            when promise_source = 'customer_requested' and promise_ship_date is not null
                and {{ oms.local_midnight_utc('promise_ship_date', "coalesce(origin.timezone, 'UTC')") }} > ordered_at
                then {{ oms.local_midnight_utc('promise_ship_date', "coalesce(origin.timezone, 'UTC')") }}
            else ordered_at
        end as fulfillment_started_at

    from promised
    left join shipped
        on promised.order_line_id = shipped.order_line_id
    left join line_carrier
        on promised.order_line_id = line_carrier.order_line_id
    left join returned
        on promised.order_line_id = returned.order_line_id
    left join locations as origin
        on promised.fulfilling_location_id = origin.location_id

),

flagged as (

    select
        *,
        units_required > 0 and coalesce(promise_ship_date, kpi_date) < cut_off_date
            as is_due_to_ship,
        units_required > 0 and channel <> 'pos'
            and coalesce(promise_delivery_date, kpi_date) < cut_off_date as is_due_to_deliver,
        kpi_date <= cast({{ dbt.dateadd('day', -var('kpi_return_maturity_days'), 'cut_off_date') }} as date)
            as is_return_matured,
        least(units_shipped, units_required) as units_filled

    from measured

),

final as (

    select
        order_line_id,
        flagged.channel_order_id,
        channel,
        order_id,
        line_ref,
        sku,
        category,
        fulfilling_location_id as location_id,
        carrier,
        kpi_date,
        ordered_at,
        promise_timezone,
        promise_source,
        promise_ship_date,
        promise_delivery_date,
        as_of_at,
        cut_off_date,
        units_ordered,
        units_required,
        units_shipped,
        units_filled,
        units_shipped_by_promise,
        units_delivered,
        units_delivered_by_promise,
        units_in_first_shipment,
        cancel_origin,
        units_cancelled_customer,
        units_cancelled_ours,
        units_returned_counted,
        units_returned_wrong_or_damaged,
        cast(line_amount as numeric(18, 2)) as line_amount,
        cast(shipping_charged as numeric(18, 2)) as shipping_charged,
        is_due_to_ship,
        is_due_to_deliver,
        is_return_matured,
        is_due_to_ship and units_filled >= units_required as is_filled,
        is_due_to_ship and channel <> 'pos' and units_shipped_by_promise >= units_required
            as is_shipped_on_time,
        is_due_to_deliver and units_delivered_by_promise >= units_required as is_delivered_on_time,
        -- late and still not shipped (a line we cancelled counts as cancelled, not as open)
        is_due_to_ship and channel <> 'pos' and cancel_origin is null
            and units_shipped < units_required as is_late_unshipped,
        case when is_due_to_ship and channel <> 'pos' and cancel_origin is null
            then greatest(units_required - units_shipped, 0) else 0 end as units_late_unshipped,
        -- shipped, past the promised delivery date and not (all) delivered: late in transit
        is_due_to_deliver and units_shipped > units_delivered as is_late_in_transit,
        case when is_due_to_deliver then greatest(units_shipped - units_delivered, 0) else 0 end
            as units_late_in_transit,
        is_due_to_ship and channel <> 'pos' and units_in_first_shipment < units_required
            as is_backordered,
        case when is_due_to_ship and channel <> 'pos'
            then greatest(units_required - units_in_first_shipment, 0) else 0 end
            as units_backordered,
        is_due_to_ship and channel <> 'pos' and units_filled >= units_required
            and units_returned_wrong_or_damaged = 0 as is_accurate,
        case when not is_due_to_ship then greatest(units_required - units_filled, 0) else 0 end
            as units_open_not_due,
        not is_due_to_ship and units_required > units_filled as is_open_not_due,
        case when not is_due_to_deliver and channel <> 'pos' and units_required > 0
            then greatest(units_required - units_delivered, 0) else 0 end
            as units_undelivered_not_due,
        case
            when channel <> 'pos' and units_required > 0 and units_shipped >= units_required
                and last_shipped_at is not null
                then greatest({{ hours_between('fulfillment_started_at', 'last_shipped_at') }}, 0)
        end as order_to_ship_hours,
        case
            when channel <> 'pos' and units_shipped > 0 and units_delivered >= units_shipped
                and last_delivered_at is not null and last_shipped_at is not null
                then {{ hours_between('last_shipped_at', 'last_delivered_at') }}
        end as ship_to_delivery_hours,
        -- settled: no flag moves any more as the cut-off advances (see the header)
        is_return_matured and (units_required = 0
            or (is_due_to_ship and (channel = 'pos' or is_due_to_deliver))) as _is_settled,
        _dbt_run_at as _order_lines_run_at,
        {% if is_incremental() -%}
        previous_days.previous_kpi_date
        {%- else -%}
        cast(null as date)
        {%- endif %} as _previous_kpi_date,
        {{ run_marker() }} as _dbt_run_at

    from flagged
    {% if is_incremental() -%}
    left join previous_days
        on flagged.channel_order_id = previous_days.channel_order_id
    {%- endif %}

)

select * from final
