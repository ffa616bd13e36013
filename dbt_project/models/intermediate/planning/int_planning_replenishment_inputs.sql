{#-
    One row per SKU × location to plan: every input of the replenishment formulas, gathered in
    one place so fct_safety_stock is only arithmetic (and its unit tests, and the Python policy
    module's parity test, give exactly these columns).
      - product: supplier, pack size, unit cost; supplier: minimum order quantity;
      - class: ABC class, service level and z (int_planning_abc_classes), policy, review period
        and order cycle (seed planning_policies, or var planning_policy_by_sku for a SKU);
      - lead time: the supplier × SKU measurement when there is one, else the supplier's
        (fct_supplier_lead_times), else var planning_default_lead_time_days;
      - demand: the forecast of the series sku@location summed over the protection interval
        P = lead time + review period (the last, partial day pro rata; beyond the forecast
        horizon the series' mean_daily), and sigma_daily, the std dev of the one-day forecast
        error (fct_forecast_selection); no forecast = no demand (0);
      - stock position and its parts (int_planning_stock_positions);
      - EOQ cost inputs: vars planning_order_cost (per order) and
        planning_holding_rate_per_year (share of unit cost per year).
-#}
{%- set policy_by_sku = var('planning_policy_by_sku', {}) -%}
with

positions as (

    select * from {{ ref('int_planning_stock_positions') }}

),

selection as (

    select * from {{ ref('fct_forecast_selection') }}
    where location_id <> 'ALL'

),

forecasts as (

    select * from {{ ref('fct_demand_forecasts') }}
    where location_id <> 'ALL'

),

products as (

    select * from {{ ref('stg_reference__products') }}

),

suppliers as (

    select * from {{ ref('stg_reference__suppliers') }}

),

lead_times as (

    select * from {{ ref('fct_supplier_lead_times') }}

),

classes as (

    select * from {{ ref('int_planning_abc_classes') }}

),

policies as (

    select * from {{ ref('planning_policies') }}

),

calendar as (

    select max(calendar_date) as as_of_date from {{ ref('int_planning_calendar') }}

),

keys as (

    select sku, location_id from positions
    union
    select sku, location_id from selection

),

planned as (

    select
        keys.sku,
        keys.location_id,
        products.supplier_id,
        cast(case when products.pack_size >= 1 then products.pack_size else 1 end
            as {{ oms.type_double() }}) as pack_size,
        cast(coalesce(suppliers.min_order_quantity, 0) as {{ oms.type_double() }}) as min_order_qty,
        cast(products.unit_cost as {{ oms.type_double() }}) as unit_cost,
        products.currency,
        classes.abc_class,
        classes.service_level,
        classes.z,
        {% if policy_by_sku -%}
        case keys.sku
            {%- for sku, policy in policy_by_sku.items() %}
            when '{{ sku }}' then '{{ policy }}'
            {%- endfor %}
            else policies.policy
        end as policy,
        {%- else -%}
        policies.policy,
        {%- endif %}
        policies.review_period_days,
        policies.order_cycle_days,
        coalesce(
            sku_lead_times.lead_time_mean_days,
            supplier_lead_times.lead_time_mean_days,
            {{ var('planning_default_lead_time_days', 14) }}
        ) as lead_time_mean_days,
        case
            when sku_lead_times.lead_time_mean_days is not null
                then sku_lead_times.lead_time_sd_days
            when supplier_lead_times.lead_time_mean_days is not null
                then supplier_lead_times.lead_time_sd_days
            else {{ var('planning_default_lead_time_sd_days', 0) }}
        end as lead_time_sd_days,
        selection.series_id,
        cast(coalesce(selection.sigma_daily, 0) as {{ oms.type_double() }}) as sigma_daily,
        cast(coalesce(selection.mean_daily, 0) as {{ oms.type_double() }}) as mean_daily,
        coalesce(positions.on_hand, 0) as on_hand,
        coalesce(positions.inbound, 0) as inbound,
        coalesce(positions.allocated, 0) as allocated,
        coalesce(positions.backorders, 0) as backorders,
        cast({{ var('planning_order_cost', 50.0) }} as {{ oms.type_double() }}) as order_cost,
        cast({{ var('planning_holding_rate_per_year', 0.25) }} as {{ oms.type_double() }})
            as holding_rate_per_year,
        calendar.as_of_date

    from keys
    cross join calendar
    inner join products
        on keys.sku = products.sku
    left join suppliers
        on products.supplier_id = suppliers.supplier_id
    left join classes
        on keys.sku = classes.sku
    left join policies
        on classes.abc_class = policies.abc_class
    left join lead_times as sku_lead_times
        on products.supplier_id = sku_lead_times.supplier_id
        and keys.sku = sku_lead_times.sku
        and sku_lead_times.scope = 'sku'
    left join lead_times as supplier_lead_times
        on products.supplier_id = supplier_lead_times.supplier_id
        and supplier_lead_times.scope = 'supplier'
    left join selection
        on keys.sku = selection.sku
        and keys.location_id = selection.location_id
    left join positions
        on keys.sku = positions.sku
        and keys.location_id = positions.location_id

),

with_protection as (

    select
        *,
        lead_time_mean_days + review_period_days as protection_days

    from planned

),

-- Forecast units over the protection interval: whole steps inside it, the step it ends in pro
-- rata, and the mean beyond the horizon the forecast covers.
forecast_over_protection as (

    select
        with_protection.sku,
        with_protection.location_id,
        sum(
            forecasts.units_forecast * case
                when with_protection.protection_days >= forecasts.step then 1.0
                when with_protection.protection_days > forecasts.step - 1
                    then with_protection.protection_days - (forecasts.step - 1)
                else 0.0
            end
        ) as units_in_horizon,
        max(forecasts.step) as horizon_days

    from with_protection
    inner join forecasts
        on with_protection.sku = forecasts.sku
        and with_protection.location_id = forecasts.location_id
    group by with_protection.sku, with_protection.location_id

)

select
    with_protection.*,
    cast(
        coalesce(forecast_over_protection.units_in_horizon, 0)
        + case
            when forecast_over_protection.horizon_days is not null
                and with_protection.protection_days > forecast_over_protection.horizon_days
                then with_protection.mean_daily
                    * (with_protection.protection_days - forecast_over_protection.horizon_days)
            else 0
        end
        as {{ oms.type_double() }}
    ) as forecast_lt_units

from with_protection
left join forecast_over_protection
    on with_protection.sku = forecast_over_protection.sku
    and with_protection.location_id = forecast_over_protection.location_id
