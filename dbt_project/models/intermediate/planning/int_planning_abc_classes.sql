{#-
    One row per product: its ABC class by consumption value and the class's target service
    level. Value = network-wide demand units over the demand history (fct_demand_daily, 'ALL'
    series) × unit cost. SKUs sorted by value (highest first, then sku); a SKU's class is the
    first of planning_service_levels (by max_cumulative_value_share) whose share is above the
    cumulative value share of the SKUs before it - so the most valuable SKU is always in the
    first class. A SKU without demand (or all without value) falls in the last class.
-#}
with

products as (

    select * from {{ ref('stg_reference__products') }}

),

demand as (

    select sku, sum(units) as units
    from {{ ref('fct_demand_daily') }}
    where location_id = 'ALL'
    group by sku

),

service_levels as (

    select * from {{ ref('planning_service_levels') }}

),

valued as (

    select
        products.sku,
        coalesce(demand.units, 0) as demand_units,
        coalesce(demand.units, 0) * coalesce(cast(products.unit_cost as {{ oms.type_double() }}), 0)
            as demand_value

    from products
    left join demand
        on products.sku = demand.sku

),

ranked as (

    select
        *,
        sum(demand_value) over () as total_value,
        coalesce(sum(demand_value) over (
            order by demand_value desc, sku
            rows between unbounded preceding and 1 preceding
        ), 0) as value_before

    from valued

),

shared as (

    select
        sku,
        demand_units,
        demand_value,
        case
            when total_value > 0 and demand_value > 0 then value_before / total_value
        end as value_share_before

    from ranked

),

candidates as (

    select
        shared.*,
        service_levels.abc_class,
        service_levels.service_level,
        service_levels.z,
        row_number() over (
            partition by shared.sku
            order by
                case
                    when shared.value_share_before is null then -1 * service_levels.max_cumulative_value_share
                    else service_levels.max_cumulative_value_share
                end,
                service_levels.abc_class
        ) as pick

    from shared
    inner join service_levels
        on shared.value_share_before is null
        or service_levels.max_cumulative_value_share > shared.value_share_before

)

select
    sku,
    demand_units,
    demand_value,
    value_share_before,
    abc_class,
    service_level,
    z
from candidates
where pick = 1
