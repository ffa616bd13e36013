-- Forecast accuracy of the planning models per dimension (all, location, category) and member:
-- the backtest MASE and bias each series' selected method scored (fct_forecast_daily carries
-- them on every step of a series), averaged over series. Definitions: docs block
-- `kpi_forecast_accuracy`. The network-wide series (location 'ALL') count under their own member.
{%- set dimensions = {'all': "'all'", 'location': 'location_id', 'category': 'category'} %}
with

series as (

    select distinct
        forecasts.series_id,
        forecasts.location_id,
        coalesce(products.category, 'unknown') as category,
        forecasts.mase,
        forecasts.bias

    from {{ ref('fct_forecast_daily') }} as forecasts
    left join {{ ref('dim_products') }} as products
        on forecasts.sku = products.sku

),

unioned as (

    {% for dimension, member in dimensions.items() %}
    select
        '{{ dimension }}' as dimension,
        {{ member }} as member,
        count(*) as series,
        count(mase) as series_scored,
        avg(mase) as mean_mase,
        sum(case when mase < 1 then 1 else 0 end) as series_beating_naive,
        avg(bias) as mean_bias
    from series
    group by {{ member }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    dimension,
    member,
    cast(series as {{ dbt.type_bigint() }}) as series,
    cast(series_scored as {{ dbt.type_bigint() }}) as series_scored,
    cast(mean_mase as {{ oms.type_double() }}) as mean_mase,
    cast(series_beating_naive as {{ dbt.type_bigint() }}) as series_beating_naive,
    cast(mean_bias as {{ oms.type_double() }}) as mean_bias

from unioned
