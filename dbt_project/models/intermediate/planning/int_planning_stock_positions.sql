{#-
    One row per SKU × location to plan (a location with a stock snapshot of the SKU, or with
    demand for it): the projected stock position and its parts.
      position = on_hand + inbound - allocated - backorders
    on_hand: latest end-of-day snapshot (fct_available_to_promise; 0 without one);
    inbound: open purchase-order units not yet received (inbound_open, any expected date);
    allocated: units promised to open lines at the location and still in stock there - labelled
      but not picked up (reserved) plus routing allocations not yet reflected in a snapshot, as
      the router reads them (fct_available_to_promise);
    backorders: units of open order lines whose demand belongs to the location
      (int_demand_lines_located) that are neither allocated by routing nor labelled yet - owed
      to customers and not covered by anything above.
-#}
with

atp as (

    select * from {{ ref('fct_available_to_promise') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

located as (

    select * from {{ ref('int_demand_lines_located') }}

),

demand_series as (

    select distinct sku, location_id
    from {{ ref('fct_demand_daily') }}
    where location_id <> 'ALL'

),

allocated_lines as (

    select distinct order_line_id
    from {{ ref('stg_ops__allocations') }}

),

backorders as (

    select
        located.sku,
        located.demand_location_id as location_id,
        sum(
            order_lines.units_open
            - case
                when order_lines.units_labelled > order_lines.units_shipped
                    then order_lines.units_labelled - order_lines.units_shipped
                else 0
            end
        ) as backorders

    from order_lines
    inner join located
        on order_lines.order_line_id = located.order_line_id
    where order_lines.line_status in ('open', 'partially_shipped')
        and order_lines.units_open > 0
        and located.demand_location_id is not null
        and order_lines.order_line_id not in (select order_line_id from allocated_lines)
    group by located.sku, located.demand_location_id

),

keys as (

    select sku, location_id from atp
    union
    select sku, location_id from demand_series
    union
    select sku, location_id from backorders where backorders > 0

),

final as (

    select
        keys.sku,
        keys.location_id,
        cast(coalesce(atp.on_hand, 0) as {{ oms.type_double() }}) as on_hand,
        cast(coalesce(atp.inbound_open, 0) as {{ oms.type_double() }}) as inbound,
        cast(coalesce(atp.reserved, 0) + coalesce(atp.allocated, 0) as {{ oms.type_double() }})
            as allocated,
        cast(
            case when coalesce(backorders.backorders, 0) > 0 then backorders.backorders else 0 end
            as {{ oms.type_double() }}
        ) as backorders

    from keys
    left join atp
        on keys.sku = atp.sku
        and keys.location_id = atp.location_id
    left join backorders
        on keys.sku = backorders.sku
        and keys.location_id = backorders.location_id

)

select
    *,
    on_hand + inbound - allocated - backorders as position
from final
