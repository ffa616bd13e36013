-- One row per SKU × location with a stock position (fct_available_to_promise): the stock now
-- and how it has served demand over the window, for the managers' Inventory page.
--
-- The window is the `inventory_window_days` days ending at the latest snapshot date of the
-- warehouse, clipped at its first snapshot date (a warehouse with less history is measured over
-- what it has, not diluted by days it never saw). Definitions (docs/dashboards.md, Inventory):
--   avg_daily_demand      = demand units in the window / window_days
--   cover_days            = available_to_promise / avg_daily_demand (null when no demand)
--   stockout_rate         = stockout_days / snapshot_days (the window's days with a snapshot)
--   in_stock_daily_demand = demand units on in-stock days / in_stock_days: demand on a
--                           stock-out day is censored (what could not be bought was not ordered),
--                           so the rate a pair sells at is measured on the days it had stock
--   lost_sales_units      = stockout_days × in_stock_daily_demand (an estimate)
--   lost_sales_value      = lost_sales_units × list_price, in `currency`
--   inventory_accuracy    = accurate cycle counts / cycle counts in the window (null: none)
-- Demand is fct_demand_daily's (ordered units net of cancellations, at the location that
-- serves them), the same series the forecasts read.
with

atp as (

    select * from {{ ref('fct_available_to_promise') }}

),

snapshots as (

    select * from {{ ref('fct_inventory_snapshots') }}

),

demand as (

    select * from {{ ref('fct_demand_daily') }}
    -- the network-wide series has no stock of its own
    where location_id <> 'ALL'

),

cycle_counts as (

    select * from {{ ref('fct_cycle_counts') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

locations as (

    select * from {{ ref('dim_locations') }}

),

bounds as (

    select
        max(snapshot_date) as as_of_date,
        min(snapshot_date) as first_date

    from snapshots

),

window_bounds as (

    select
        as_of_date,
        case
            when first_date > cast({{ dbt.dateadd(
                'day', 1 - var('inventory_window_days'), 'as_of_date') }} as date)
                then first_date
            else cast({{ dbt.dateadd('day', 1 - var('inventory_window_days'), 'as_of_date') }} as date)
        end as window_start_date

    from bounds

),

window_snapshots as (

    select snapshots.*
    from snapshots
    inner join window_bounds
        on snapshots.snapshot_date between window_bounds.window_start_date
            and window_bounds.as_of_date

),

window_demand as (

    select demand.*
    from demand
    inner join window_bounds
        on demand.demand_date between window_bounds.window_start_date
            and window_bounds.as_of_date

),

stock_days as (

    -- each snapshot day of the window with that day's demand (0 when none)
    select
        window_snapshots.location_id,
        window_snapshots.sku,
        count(*) as snapshot_days,
        sum(case when window_snapshots.is_stockout then 1 else 0 end) as stockout_days,
        sum(case when window_snapshots.is_stockout then 0 else 1 end) as in_stock_days,
        sum(
            case when window_snapshots.is_stockout then 0 else coalesce(window_demand.units, 0) end
        ) as in_stock_demand_units

    from window_snapshots
    left join window_demand
        on window_snapshots.location_id = window_demand.location_id
        and window_snapshots.sku = window_demand.sku
        and window_snapshots.snapshot_date = window_demand.demand_date
    group by window_snapshots.location_id, window_snapshots.sku

),

demand_totals as (

    select
        location_id,
        sku,
        sum(units) as demand_units

    from window_demand
    group by location_id, sku

),

counts as (

    select
        cycle_counts.location_id,
        cycle_counts.sku,
        count(*) as cycle_counts,
        sum(case when cycle_counts.is_accurate then 1 else 0 end) as counts_accurate,
        max(cycle_counts.counted_at) as last_counted_at

    from cycle_counts
    inner join window_bounds
        on cycle_counts.count_date between window_bounds.window_start_date
            and window_bounds.as_of_date
    group by cycle_counts.location_id, cycle_counts.sku

),

measured as (

    select
        atp.location_id,
        atp.sku,
        window_bounds.as_of_date,
        window_bounds.window_start_date,
        cast({{ dbt.datediff('window_bounds.window_start_date', 'window_bounds.as_of_date', 'day') }}
            + 1 as {{ dbt.type_bigint() }}) as window_days,
        atp.snapshot_date,
        atp.on_hand,
        atp.available_to_promise,
        cast(coalesce(demand_totals.demand_units, 0) as {{ oms.type_double() }}) as demand_units,
        cast(coalesce(stock_days.snapshot_days, 0) as {{ dbt.type_bigint() }}) as snapshot_days,
        cast(coalesce(stock_days.stockout_days, 0) as {{ dbt.type_bigint() }}) as stockout_days,
        cast(coalesce(stock_days.in_stock_days, 0) as {{ dbt.type_bigint() }}) as in_stock_days,
        cast(coalesce(stock_days.in_stock_demand_units, 0) as {{ oms.type_double() }})
            as in_stock_demand_units,
        cast(coalesce(counts.cycle_counts, 0) as {{ dbt.type_bigint() }}) as cycle_counts,
        cast(coalesce(counts.counts_accurate, 0) as {{ dbt.type_bigint() }}) as counts_accurate,
        counts.last_counted_at

    from atp
    cross join window_bounds
    left join stock_days
        on atp.location_id = stock_days.location_id
        and atp.sku = stock_days.sku
    left join demand_totals
        on atp.location_id = demand_totals.location_id
        and atp.sku = demand_totals.sku
    left join counts
        on atp.location_id = counts.location_id
        and atp.sku = counts.sku

),

rates as (

    select
        *,
        {{ oms.safe_ratio('demand_units', 'window_days') }} as avg_daily_demand,
        {{ oms.safe_ratio('in_stock_demand_units', 'in_stock_days') }} as in_stock_daily_demand,
        {{ oms.safe_ratio('stockout_days', 'snapshot_days') }} as stockout_rate,
        {{ oms.safe_ratio('counts_accurate', 'cycle_counts') }} as inventory_accuracy

    from measured

),

final as (

    select
        {{ dbt.concat(['rates.location_id', "':'", 'rates.sku']) }} as inventory_position_id,
        rates.sku,
        products.product_name,
        products.category,
        coalesce(products.is_active, false) as is_active_sku,
        rates.location_id,
        locations.location_name,
        locations.location_kind,
        rates.as_of_date,
        rates.window_start_date,
        rates.window_days,
        rates.snapshot_date,
        rates.on_hand,
        rates.on_hand <= 0 as is_out_of_stock,
        rates.available_to_promise,
        rates.demand_units,
        rates.avg_daily_demand,
        {{ oms.safe_ratio('rates.available_to_promise', 'rates.avg_daily_demand') }} as cover_days,
        rates.snapshot_days,
        rates.stockout_days,
        rates.stockout_rate,
        rates.in_stock_days,
        rates.in_stock_daily_demand,
        rates.stockout_days * rates.in_stock_daily_demand as lost_sales_units,
        cast(
            rates.stockout_days * rates.in_stock_daily_demand * products.list_price
            as decimal(18, 2)
        ) as lost_sales_value,
        products.list_price,
        products.currency,
        rates.cycle_counts,
        rates.counts_accurate,
        rates.inventory_accuracy,
        rates.last_counted_at

    from rates
    inner join locations
        on rates.location_id = locations.location_id
    left join products
        on rates.sku = products.sku

)

select * from final
