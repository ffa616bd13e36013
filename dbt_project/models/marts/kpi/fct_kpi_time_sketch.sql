-- The mergeable sketch of fulfilment times: one row per order day, channel, fulfilling
-- location, measure (order_to_ship, ship_to_delivery) and time rounded to 0.1 h, with the
-- number of lines. Percentiles over any selection of days, channels and locations are
-- recomputed from it (the value at rank k is the smallest time whose running count exceeds
-- k), within 0.05 h of the exact ones, without reading the order lines. Definitions: docs
-- block `kpi_time_sketch`.
with

lines as (

    select * from {{ ref('fct_kpi_order_lines') }}

),

timed as (

    select kpi_date, channel, location_id, 'order_to_ship' as measure, order_to_ship_hours as hours
    from lines
    where order_to_ship_hours is not null
    union all
    select kpi_date, channel, location_id, 'ship_to_delivery' as measure, ship_to_delivery_hours as hours
    from lines
    where ship_to_delivery_hours is not null

)

select
    kpi_date,
    channel,
    location_id,
    measure,
    cast(round(hours, 1) as {{ oms.type_double() }}) as hours,
    cast(count(*) as {{ dbt.type_bigint() }}) as lines

from timed
group by kpi_date, channel, location_id, measure, cast(round(hours, 1) as {{ oms.type_double() }})
