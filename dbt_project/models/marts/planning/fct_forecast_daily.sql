-- The forecasts as the planner page reads them: one row per (series_id, forecast_date), with
-- the contract dbt cannot enforce on the Python model that computes them (fct_demand_forecasts).
with

forecasts as (

    select * from {{ ref('fct_demand_forecasts') }}

)

select
    cast(series_id as {{ dbt.type_string() }}) as series_id,
    cast(sku as {{ dbt.type_string() }}) as sku,
    cast(location_id as {{ dbt.type_string() }}) as location_id,
    cast(forecast_date as date) as forecast_date,
    cast(step as {{ dbt.type_bigint() }}) as step,
    cast(units_forecast as {{ oms.type_double() }}) as units_forecast,
    cast(units_lo_80 as {{ oms.type_double() }}) as units_lo_80,
    cast(units_hi_80 as {{ oms.type_double() }}) as units_hi_80,
    cast(units_lo_95 as {{ oms.type_double() }}) as units_lo_95,
    cast(units_hi_95 as {{ oms.type_double() }}) as units_hi_95,
    cast(method as {{ dbt.type_string() }}) as method,
    cast(demand_class as {{ dbt.type_string() }}) as demand_class,
    cast(mase as {{ oms.type_double() }}) as mase,
    cast(bias as {{ oms.type_double() }}) as bias,
    cast(sigma_daily as {{ oms.type_double() }}) as sigma_daily
from forecasts
