-- The KPI catalogue: one row per period grain (day, week, month), period, dimension (all,
-- channel, location, carrier, category, and channel_location: 'channel|location_id', the day
-- rows the overview sums under any filter of channels and locations) and member, with the numerator and denominator of every
-- rate at three weightings (orders, lines, units) and the open, not-yet-due volume beside them.
-- Percentiles are computed from the lines of each row, at every grain (never averaged).
-- Definitions: docs block `kpis` (docs/kpis.md).
--
-- Incremental by the periods a run touched (delete+insert on period grain and start): the
-- days of the KPI lines fct_kpi_order_lines rewrote since this model last ran, before and
-- after (`_previous_kpi_date`), and the weeks and months holding them, each recomputed from all
-- its lines; other periods are kept, their `as_of_at` brought to the current cut-off by the
-- post-hook. `_lines_run_at`: the newest KPI line run this row's run consumed.
{{
    config(
        materialized='incremental',
        unique_key=['period_grain', 'period_start'],
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail',
        post_hook="{{ restamp_cut_off({'as_of_at': 'latest.as_of_at'}) }}"
    )
}}
{%- set grains = ['day', 'week', 'month'] -%}
{%- set dimensions = {
    'all': "'all'",
    'channel': 'channel',
    'location': 'location_id',
    'carrier': 'carrier',
    'category': 'category',
    'channel_location': dbt.concat(['channel', "'|'", 'location_id']),
} -%}
{%- set line_counts = [
    'order_lines', 'units_ordered', 'lines_due', 'lines_filled', 'units_due', 'units_filled',
    'lines_open_not_due', 'units_open_not_due', 'ship_lines_due', 'ship_lines_on_time',
    'ship_units_due', 'ship_units_on_time', 'lines_late_unshipped', 'units_late_unshipped',
    'delivery_lines_due', 'delivery_lines_on_time', 'delivery_units_due',
    'delivery_units_on_time', 'lines_late_in_transit', 'units_late_in_transit',
    'delivery_lines_open_not_due', 'delivery_units_open_not_due', 'lines_backordered',
    'units_backordered', 'lines_accurate', 'units_accurate', 'lines_cancelled_customer',
    'lines_cancelled_ours', 'units_cancelled_customer', 'units_cancelled_ours',
    'return_units_shipped', 'return_units_not_matured', 'lines_timed_to_ship',
    'lines_timed_to_delivery',
] -%}
{%- set order_counts = [
    'orders', 'orders_due', 'orders_filled', 'orders_open_not_due', 'ship_orders_due',
    'ship_orders_on_time', 'delivery_orders_due', 'delivery_orders_on_time', 'orders_accurate',
    'orders_backordered', 'orders_cancelled_customer', 'orders_cancelled_ours',
    'orders_shipped', 'orders_split', 'orders_shipping_to_customer',
] -%}
{%- set combos = [] -%}
{%- for grain in grains -%}{%- for dimension in dimensions -%}
{%- do combos.append((grain, dimension)) -%}
{%- endfor -%}{%- endfor %}
with

all_lines as (

    select * from {{ ref('fct_kpi_order_lines') }}

),

-- Till returns reference no sale: they count at the store, on their own (local) day.
till_returns as (

    select
        returns.units_returned,
        returns.received_location_id as location_id,
        coalesce(products.category, 'unknown') as category,
        {{ oms.local_date('returns.requested_at', "coalesce(stores.timezone, 'UTC')") }} as kpi_date,
        returns._loaded_at

    from {{ ref('fct_returns') }} as returns
    left join {{ ref('dim_locations') }} as stores
        on returns.received_location_id = stores.location_id
    left join {{ ref('dim_products') }} as products
        on returns.sku = products.sku
    where returns.return_kind = 'till'

),

{% if is_incremental() %}

touched_days as (

    {{ kpi_touched_days('all_lines') }}
    -- a till return loaded late for a day no order line of this run is on
    union
    select kpi_date from till_returns where _loaded_at > {{ high_water_mark('_lines_run_at') }}

),

touched_periods as (

    {% for grain in grains %}
    select distinct '{{ grain }}' as period_grain,
        {{ 'kpi_date' if grain == 'day' else 'cast(' ~ dbt.date_trunc(grain, 'kpi_date') ~ ' as date)' }}
            as period_start
    from touched_days
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{% endif %}

-- The lines of every period to recompute (all lines on a full build).
lines as (

    select * from all_lines
    {% if is_incremental() -%}
    where kpi_date in (select kpi_date from touched_days)
    {%- for grain in grains if grain != 'day' %}
        or cast({{ dbt.date_trunc(grain, 'kpi_date') }} as date) in (
            select period_start from touched_periods where period_grain = '{{ grain }}'
        )
    {%- endfor %}
    {%- endif %}

),

line_shipments as (

    select
        {{ dbt.concat(['channel', "':'", 'order_id', "':'", 'line_ref']) }} as order_line_id,
        tracking_number
    from {{ ref('stg_carrier__shipment_lines') }}

),

shipped_tracking as (

    select tracking_number from {{ ref('fct_shipments') }} where is_shipped

),

cut_off as (

    select
        max(as_of_at) as as_of_at,
        max(cut_off_date) as cut_off_date,
        max(_dbt_run_at) as lines_run_at
    from all_lines

),

till_matured as (

    select
        till_returns.*,
        'pos' as channel,
        'none' as carrier
    from till_returns
    cross join cut_off
    where till_returns.kpi_date <= cast({{ dbt.dateadd('day', -var('kpi_return_maturity_days'), 'cut_off.cut_off_date') }} as date)

),

{% for dimension, member in dimensions.items() %}

-- Per order and {{ dimension }} member: an order split over two members counts once in each,
-- judged on its lines there.
orders_by_{{ dimension }} as (

    select
        lines.channel_order_id,
        {{ member }} as member,
        min(lines.kpi_date) as kpi_date,
        max(case when lines.units_required > 0 then 1 else 0 end) as is_required,
        min(case when lines.units_required = 0 or lines.is_due_to_ship then 1 else 0 end)
            * max(case when lines.units_required > 0 then 1 else 0 end) as is_due_to_ship,
        min(case when lines.units_required = 0 or lines.is_filled then 1 else 0 end) as all_filled,
        min(case when lines.units_required = 0 or lines.is_shipped_on_time then 1 else 0 end)
            as all_shipped_on_time,
        min(case when lines.units_required = 0 or lines.channel = 'pos'
            or lines.is_due_to_deliver then 1 else 0 end)
            * max(case when lines.units_required > 0 and lines.channel <> 'pos' then 1 else 0 end)
            as is_due_to_deliver,
        min(case when lines.units_required = 0 or lines.is_delivered_on_time then 1 else 0 end)
            as all_delivered_on_time,
        min(case when lines.units_required = 0 or lines.is_accurate then 1 else 0 end)
            as all_accurate,
        max(case when lines.is_backordered then 1 else 0 end) as any_backordered,
        max(case when lines.cancel_origin = 'customer' then 1 else 0 end) as any_cancelled_customer,
        max(case when lines.cancel_origin = 'ours' then 1 else 0 end) as any_cancelled_ours,
        max(case when lines.channel = 'pos' then 1 else 0 end) as is_pos,
        count(distinct shipped_tracking.tracking_number) as shipments,
        sum(lines.shipping_charged) as shipping_charged

    from lines
    left join line_shipments
        on lines.order_line_id = line_shipments.order_line_id
    left join shipped_tracking
        on line_shipments.tracking_number = shipped_tracking.tracking_number
    group by lines.channel_order_id, {{ member }}

),

{% endfor %}

{% for grain in grains %}
{% for dimension, member in dimensions.items() %}

{%- set period = 'kpi_date' if grain == 'day' else 'cast(' ~ dbt.date_trunc(grain, 'kpi_date') ~ ' as date)' %}

lines_{{ grain }}_{{ dimension }} as (

    select
        '{{ grain }}' as period_grain,
        {{ period }} as period_start,
        '{{ dimension }}' as dimension,
        {{ member }} as member,
        count(*) as order_lines,
        sum(units_ordered) as units_ordered,
        sum(line_amount) as revenue,
        sum(case when is_due_to_ship then 1 else 0 end) as lines_due,
        sum(case when is_filled then 1 else 0 end) as lines_filled,
        sum(case when is_due_to_ship then units_required else 0 end) as units_due,
        sum(case when is_due_to_ship then units_filled else 0 end) as units_filled,
        sum(case when is_open_not_due then 1 else 0 end) as lines_open_not_due,
        sum(units_open_not_due) as units_open_not_due,
        sum(case when is_due_to_ship and channel <> 'pos' then 1 else 0 end) as ship_lines_due,
        sum(case when is_shipped_on_time then 1 else 0 end) as ship_lines_on_time,
        sum(case when is_due_to_ship and channel <> 'pos' then units_required else 0 end)
            as ship_units_due,
        sum(case when is_due_to_ship and channel <> 'pos'
            then least(units_shipped_by_promise, units_required) else 0 end) as ship_units_on_time,
        sum(case when is_late_unshipped then 1 else 0 end) as lines_late_unshipped,
        sum(units_late_unshipped) as units_late_unshipped,
        min(case when is_late_unshipped then promise_ship_date end) as oldest_late_unshipped_promise_date,
        sum(case when is_due_to_deliver then 1 else 0 end) as delivery_lines_due,
        sum(case when is_delivered_on_time then 1 else 0 end) as delivery_lines_on_time,
        sum(case when is_due_to_deliver then units_required else 0 end) as delivery_units_due,
        sum(case when is_due_to_deliver
            then least(units_delivered_by_promise, units_required) else 0 end)
            as delivery_units_on_time,
        sum(case when is_late_in_transit then 1 else 0 end) as lines_late_in_transit,
        sum(units_late_in_transit) as units_late_in_transit,
        sum(case when not is_due_to_deliver and units_undelivered_not_due > 0 then 1 else 0 end)
            as delivery_lines_open_not_due,
        sum(units_undelivered_not_due) as delivery_units_open_not_due,
        sum(case when is_backordered then 1 else 0 end) as lines_backordered,
        sum(units_backordered) as units_backordered,
        sum(case when is_accurate then 1 else 0 end) as lines_accurate,
        sum(case when is_due_to_ship and channel <> 'pos'
            then greatest(units_filled - units_returned_wrong_or_damaged, 0) else 0 end)
            as units_accurate,
        sum(case when cancel_origin = 'customer' then 1 else 0 end) as lines_cancelled_customer,
        sum(case when cancel_origin = 'ours' then 1 else 0 end) as lines_cancelled_ours,
        sum(units_cancelled_customer) as units_cancelled_customer,
        sum(units_cancelled_ours) as units_cancelled_ours,
        sum(case when is_return_matured then units_shipped else 0 end) as return_units_shipped,
        sum(case when is_return_matured then units_returned_counted else 0 end) as rma_units_returned,
        sum(case when not is_return_matured then units_shipped else 0 end)
            as return_units_not_matured,
        count(order_to_ship_hours) as lines_timed_to_ship,
        {{ percentile_cont('order_to_ship_hours', 0.5) }} as order_to_ship_hours_p50,
        {{ percentile_cont('order_to_ship_hours', 0.9) }} as order_to_ship_hours_p90,
        count(ship_to_delivery_hours) as lines_timed_to_delivery,
        {{ percentile_cont('ship_to_delivery_hours', 0.5) }} as ship_to_delivery_hours_p50,
        {{ percentile_cont('ship_to_delivery_hours', 0.9) }} as ship_to_delivery_hours_p90

    from lines
    group by {{ period }}, {{ member }}

),

orders_{{ grain }}_{{ dimension }} as (

    select
        {{ period }} as period_start,
        member,
        count(*) as orders,
        sum(is_due_to_ship) as orders_due,
        sum(is_due_to_ship * all_filled) as orders_filled,
        sum(case when is_due_to_ship = 0 and is_required = 1 and all_filled = 0 then 1 else 0 end)
            as orders_open_not_due,
        sum(is_due_to_ship * (1 - is_pos)) as ship_orders_due,
        sum(is_due_to_ship * (1 - is_pos) * all_shipped_on_time) as ship_orders_on_time,
        sum(is_due_to_deliver) as delivery_orders_due,
        sum(is_due_to_deliver * all_delivered_on_time) as delivery_orders_on_time,
        sum(is_due_to_ship * (1 - is_pos) * all_accurate) as orders_accurate,
        sum(is_due_to_ship * (1 - is_pos) * any_backordered) as orders_backordered,
        sum(any_cancelled_customer) as orders_cancelled_customer,
        sum(any_cancelled_ours) as orders_cancelled_ours,
        sum(case when shipments > 0 then 1 else 0 end) as orders_shipped,
        sum(case when shipments > 1 then 1 else 0 end) as orders_split,
        sum(case when is_pos = 0 then 1 else 0 end) as orders_shipping_to_customer,
        sum(shipping_charged) as shipping_charged

    from orders_by_{{ dimension }}
    group by {{ period }}, member

),

tills_{{ grain }}_{{ dimension }} as (

    select
        {{ period }} as period_start,
        {{ member }} as member,
        sum(units_returned) as till_units_returned

    from till_matured
    group by {{ period }}, {{ member }}

),

{% endfor %}
{% endfor %}

unioned as (

    {% for grain, dimension in combos %}
    select
        l.period_grain,
        l.period_start,
        l.dimension,
        l.member,
        {% for column in line_counts %}l.{{ column }},
        {% endfor %}{% for column in order_counts %}o.{{ column }},
        {% endfor %}l.oldest_late_unshipped_promise_date,
        l.revenue,
        o.shipping_charged,
        l.rma_units_returned,
        coalesce(t.till_units_returned, 0) as till_units_returned,
        l.order_to_ship_hours_p50,
        l.order_to_ship_hours_p90,
        l.ship_to_delivery_hours_p50,
        l.ship_to_delivery_hours_p90
    from lines_{{ grain }}_{{ dimension }} as l
    inner join orders_{{ grain }}_{{ dimension }} as o
        on l.period_start = o.period_start
        and l.member = o.member
    left join tills_{{ grain }}_{{ dimension }} as t
        on l.period_start = t.period_start
        and l.member = t.member
    {% if is_incremental() -%}
    where l.period_start in (
        select period_start from touched_periods where period_grain = '{{ grain }}'
    )
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        unioned.period_grain,
        unioned.period_start,
        unioned.dimension,
        unioned.member,
        cut_off.as_of_at,
        {% for column in line_counts + order_counts -%}
        cast(coalesce(unioned.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {% endfor -%}
        unioned.oldest_late_unshipped_promise_date,
        cast(unioned.revenue as numeric(18, 2)) as revenue,
        cast(unioned.shipping_charged as numeric(18, 2)) as shipping_charged,
        cast(unioned.rma_units_returned + unioned.till_units_returned as {{ dbt.type_bigint() }})
            as units_returned,
        cast(unioned.order_to_ship_hours_p50 as {{ oms.type_double() }}) as order_to_ship_hours_p50,
        cast(unioned.order_to_ship_hours_p90 as {{ oms.type_double() }}) as order_to_ship_hours_p90,
        cast(unioned.ship_to_delivery_hours_p50 as {{ oms.type_double() }}) as ship_to_delivery_hours_p50,
        cast(unioned.ship_to_delivery_hours_p90 as {{ oms.type_double() }}) as ship_to_delivery_hours_p90,
        cut_off.lines_run_at as _lines_run_at

    from unioned
    cross join cut_off

)

select * from final
