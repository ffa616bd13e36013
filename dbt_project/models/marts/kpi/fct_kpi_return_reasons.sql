-- Returned units by reason per period grain, period, dimension and member, under the return
-- rate's rules (matured order cohorts, refund not rejected; till returns as reason 'till').
-- Definitions: docs block `kpi_return_reasons`.
{%- set grains = ['day', 'week', 'month'] -%}
{%- set dimensions = {
    'all': "'all'",
    'channel': 'channel',
    'location': 'location_id',
    'carrier': 'carrier',
    'category': 'category',
} -%}
{%- set combos = [] -%}
{%- for grain in grains -%}{%- for dimension in dimensions -%}
{%- do combos.append((grain, dimension)) -%}
{%- endfor -%}{%- endfor %}
with

lines as (

    select * from {{ ref('fct_kpi_order_lines') }}

),

rma_returns as (

    select
        lines.kpi_date,
        lines.channel,
        lines.location_id,
        lines.carrier,
        lines.category,
        coalesce(rma_lines.reason_code, 'unknown') as reason_code,
        rma_lines.quantity as units_returned

    from {{ ref('int_rma_lines_matched') }} as rma_lines
    inner join lines
        on rma_lines.order_line_id = lines.order_line_id
    where rma_lines.refund_status <> 'rejected'
        and lines.is_return_matured

),

cut_off as (

    select max(cut_off_date) as cut_off_date from lines

),

till_returns as (

    select
        {{ oms.local_date('returns.requested_at', "coalesce(stores.timezone, 'UTC')") }} as kpi_date,
        'pos' as channel,
        returns.received_location_id as location_id,
        'none' as carrier,
        coalesce(products.category, 'unknown') as category,
        'till' as reason_code,
        returns.units_returned

    from {{ ref('fct_returns') }} as returns
    left join {{ ref('dim_locations') }} as stores
        on returns.received_location_id = stores.location_id
    left join {{ ref('dim_products') }} as products
        on returns.sku = products.sku
    where returns.return_kind = 'till'

),

returned as (

    select * from rma_returns
    union all
    select till_returns.*
    from till_returns
    cross join cut_off
    where till_returns.kpi_date <= cast({{ dbt.dateadd('day', -var('kpi_return_maturity_days'), 'cut_off.cut_off_date') }} as date)

),

unioned as (

    {% for grain, dimension in combos %}
    {%- set member = dimensions[dimension] %}
    {%- set period = 'kpi_date' if grain == 'day' else 'cast(' ~ dbt.date_trunc(grain, 'kpi_date') ~ ' as date)' %}
    select
        '{{ grain }}' as period_grain,
        {{ period }} as period_start,
        '{{ dimension }}' as dimension,
        {{ member }} as member,
        reason_code,
        sum(units_returned) as units_returned
    from returned
    group by {{ period }}, {{ member }}, reason_code
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    period_grain,
    period_start,
    dimension,
    member,
    reason_code,
    cast(units_returned as {{ dbt.type_bigint() }}) as units_returned

from unioned
