-- Inventory KPIs per period grain (day, week, month), period, dimension (all, location,
-- category) and member: cycle counts and their accuracy, and SKU-location-days of active SKUs
-- with and without stock on hand. Definitions: docs block `kpi_inventory`.
{%- set grains = ['day', 'week', 'month'] -%}
{%- set dimensions = {'all': "'all'", 'location': 'location_id', 'category': 'category'} -%}
{%- set combos = [] -%}
{%- for grain in grains -%}{%- for dimension in dimensions -%}
{%- do combos.append((grain, dimension)) -%}
{%- endfor -%}{%- endfor %}
with

products as (

    select * from {{ ref('dim_products') }}

),

locations as (

    select * from {{ ref('dim_locations') }}

),

-- A count belongs to the local day at its location (the day the counter worked).
counts as (

    select
        cycle_counts.location_id,
        coalesce(products.category, 'unknown') as category,
        {{ oms.local_date('cycle_counts.counted_at', "coalesce(locations.timezone, 'UTC')") }} as kpi_date,
        cycle_counts.is_accurate

    from {{ ref('fct_cycle_counts') }} as cycle_counts
    left join products
        on cycle_counts.sku = products.sku
    left join locations
        on cycle_counts.location_id = locations.location_id

),

-- One SKU-location-day per active SKU in a location's end-of-day snapshot.
sku_days as (

    select
        snapshots.location_id,
        coalesce(products.category, 'unknown') as category,
        snapshots.snapshot_date as kpi_date,
        snapshots.is_stockout

    from {{ ref('fct_inventory_snapshots') }} as snapshots
    left join products
        on snapshots.sku = products.sku
    where snapshots.is_active_sku

),

{% for grain, dimension in combos %}
{%- set member = dimensions[dimension] %}
{%- set period = 'kpi_date' if grain == 'day' else 'cast(' ~ dbt.date_trunc(grain, 'kpi_date') ~ ' as date)' %}

counts_{{ grain }}_{{ dimension }} as (

    select
        {{ period }} as period_start,
        {{ member }} as member,
        count(*) as skus_counted,
        sum(case when is_accurate then 1 else 0 end) as counts_accurate
    from counts
    group by {{ period }}, {{ member }}

),

stock_{{ grain }}_{{ dimension }} as (

    select
        {{ period }} as period_start,
        {{ member }} as member,
        count(*) as sku_days,
        sum(case when is_stockout then 1 else 0 end) as stockout_sku_days
    from sku_days
    group by {{ period }}, {{ member }}

),

keys_{{ grain }}_{{ dimension }} as (

    select period_start, member from counts_{{ grain }}_{{ dimension }}
    union
    select period_start, member from stock_{{ grain }}_{{ dimension }}

),

{% endfor %}

unioned as (

    {% for grain, dimension in combos %}
    select
        '{{ grain }}' as period_grain,
        k.period_start,
        '{{ dimension }}' as dimension,
        k.member,
        c.skus_counted,
        c.counts_accurate,
        s.sku_days,
        s.stockout_sku_days
    from keys_{{ grain }}_{{ dimension }} as k
    left join counts_{{ grain }}_{{ dimension }} as c
        on k.period_start = c.period_start and k.member = c.member
    left join stock_{{ grain }}_{{ dimension }} as s
        on k.period_start = s.period_start and k.member = s.member
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    period_grain,
    period_start,
    dimension,
    member,
    cast(coalesce(skus_counted, 0) as {{ dbt.type_bigint() }}) as skus_counted,
    cast(coalesce(counts_accurate, 0) as {{ dbt.type_bigint() }}) as counts_accurate,
    cast(coalesce(sku_days, 0) as {{ dbt.type_bigint() }}) as sku_days,
    cast(coalesce(stockout_sku_days, 0) as {{ dbt.type_bigint() }}) as stockout_sku_days

from unioned
