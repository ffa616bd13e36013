-- The mergeable sketch of fulfilment times: one row per order day, channel, fulfilling
-- location, measure (order_to_ship, ship_to_delivery) and time rounded to 0.1 h, with the
-- number of lines. Percentiles over any selection of days, channels and locations are
-- recomputed from it (the value at rank k is the smallest time whose running count exceeds
-- k), within 0.05 h of the exact ones, without reading the order lines. Definitions: docs
-- block `kpi_time_sketch`.
--
-- Incremental by day (delete+insert on kpi_date): the days of the KPI lines rewritten since
-- this model last ran, before and after (macro kpi_touched_days), each recomputed from all
-- its lines. `_lines_run_at`: the newest KPI line run this row's run consumed.
{{
    config(
        materialized='incremental',
        unique_key='kpi_date',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

all_lines as (

    select * from {{ ref('fct_kpi_order_lines') }}

),

{% if is_incremental() %}

touched_days as (

    {{ kpi_touched_days('all_lines') }}

),

{% endif %}

lines as (

    select * from all_lines
    {% if is_incremental() -%}
    where kpi_date in (select kpi_date from touched_days)
    {%- endif %}

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
    cast(count(*) as {{ dbt.type_bigint() }}) as lines,
    (select max(_dbt_run_at) from all_lines) as _lines_run_at

from timed
group by kpi_date, channel, location_id, measure, cast(round(hours, 1) as {{ oms.type_double() }})
