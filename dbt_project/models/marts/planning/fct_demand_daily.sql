{#-
    One row per series (sku × location, and sku × 'ALL' network-wide) and calendar day, from the
    series' first demand day (or `planning_history_days` before the as-of date, if later) to the
    as-of date (the last order date in the warehouse), zero days included. The forecast input.
    units: ordered units net of cancellations (int_demand_lines_located says where each line's
    demand belongs). is_stockout: the location's end-of-day snapshot of the SKU shows no stock
    on hand (demand that day may be censored; always false for 'ALL'). is_outlier: see
    `planning_outlier_flags` in _demand__models.yml (median + k * scaled MAD of the series'
    demand days).
-#}
with

lines as (

    select * from {{ ref('int_demand_lines_located') }}

),

calendar as (

    select * from {{ ref('int_planning_calendar') }}

),

snapshots as (

    select * from {{ ref('fct_inventory_snapshots') }}

),

located_units as (

    select
        sku,
        demand_location_id as location_id,
        demand_date,
        sum(units) as units

    from lines
    where demand_location_id is not null
    group by sku, demand_location_id, demand_date

),

network_units as (

    select
        sku,
        'ALL' as location_id,
        demand_date,
        sum(units) as units

    from lines
    group by sku, demand_date

),

daily_units as (

    select * from located_units
    union all
    select * from network_units

),

series as (

    select
        sku,
        location_id,
        min(demand_date) as first_date

    from daily_units
    group by sku, location_id

),

series_days as (

    select
        series.sku,
        series.location_id,
        calendar.calendar_date as demand_date

    from series
    inner join calendar
        on calendar.calendar_date >= series.first_date
    {% if var('planning_history_days', none) is not none %}
    where calendar.calendar_date > cast({{ dbt.dateadd(
        'day', -1 * var('planning_history_days'), 'calendar.as_of_date') }} as date)
    {% endif %}

),

stockouts as (

    select distinct location_id, sku, snapshot_date
    from snapshots
    where on_hand <= 0

),

filled as (

    select
        series_days.sku,
        series_days.location_id,
        series_days.demand_date,
        coalesce(daily_units.units, 0) as units,
        stockouts.sku is not null as is_stockout

    from series_days
    left join daily_units
        on series_days.sku = daily_units.sku
        and series_days.location_id = daily_units.location_id
        and series_days.demand_date = daily_units.demand_date
    left join stockouts
        on series_days.location_id = stockouts.location_id
        and series_days.sku = stockouts.sku
        and series_days.demand_date = stockouts.snapshot_date

),

-- Outliers are judged on the series' demand days only: on all days the median of an
-- intermittent series is 0 and every sale would look like an outlier.
demand_day_median as (

    select
        sku,
        location_id,
        {{ oms.percentile_cont('units', 0.5) }} as median_units,
        count(*) as demand_days

    from filled
    where units > 0
    group by sku, location_id

),

demand_day_mad as (

    select
        filled.sku,
        filled.location_id,
        {{ oms.percentile_cont('abs(filled.units - demand_day_median.median_units)', 0.5) }}
            as mad_units

    from filled
    inner join demand_day_median
        on filled.sku = demand_day_median.sku
        and filled.location_id = demand_day_median.location_id
    where filled.units > 0
    group by filled.sku, filled.location_id

),

thresholds as (

    select
        demand_day_median.sku,
        demand_day_median.location_id,
        demand_day_median.demand_days,
        demand_day_median.median_units
            + {{ var('planning_outlier_k', 5) }} * case
                when 1.4826 * demand_day_mad.mad_units > 1 then 1.4826 * demand_day_mad.mad_units
                else 1
            end as outlier_above_units

    from demand_day_median
    inner join demand_day_mad
        on demand_day_median.sku = demand_day_mad.sku
        and demand_day_median.location_id = demand_day_mad.location_id

),

final as (

    select
        {{ dbt.concat(['filled.sku', "'@'", 'filled.location_id']) }} as series_id,
        filled.sku,
        filled.location_id,
        filled.demand_date,
        cast(filled.units as {{ oms.type_double() }}) as units,
        case when filled.location_id = 'ALL' then false else filled.is_stockout end
            as is_stockout,
        coalesce(
            thresholds.demand_days >= {{ var('planning_outlier_min_demand_days', 8) }}
            and filled.units > thresholds.outlier_above_units,
            false
        ) as is_outlier

    from filled
    left join thresholds
        on filled.sku = thresholds.sku
        and filled.location_id = thresholds.location_id

)

select * from final
