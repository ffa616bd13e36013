{#-
    One row per order line that carries demand: units ordered net of cancellations (a cancelled
    line counts only the units that had already shipped), with the location its demand belongs
    to. Planners replenish where stock is consumed, so the demand location is, in this order:
      1. `store`      - a POS sale: the store of the till;
      2. `shipped`    - a line that shipped (some of) its units: the location that shipped it;
      3. `allocated`  - an open line routing has allocated: the location of its latest
                        allocation (the one with the most units when split);
      4. `nearest`    - otherwise the nearest location that ships for the line's channel
                        (great-circle distance to the ship-to coordinates);
      5. `unlocated`  - no coordinates and no allocation: the line counts only in the
                        network-wide series (demand_location_id is null).
    Till returns are not order lines (int_order_lines_unioned keeps only positive POS lines), so
    they never reduce demand. The demand date is the UTC order date.
-#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

locations as (

    select * from {{ ref('dim_locations') }}

),

-- Channels whose orders our locations ship: a marketplace whose sellers fulfil (the Olist
-- export) is no demand on our stock.
merchant_channels as (

    select channel from {{ ref('channels') }}
    where fulfilled_by = 'merchant'

),

allocations as (

    select order_line_id, location_id, units, allocated_at
    from {{ ref('stg_ops__allocations') }}

),

demand_lines as (

    select
        order_line_id,
        channel,
        sku,
        order_date,
        cast(units_ordered - units_cancelled as {{ oms.type_double() }}) as units,
        case when channel = 'pos' or units_shipped > 0 then fulfilling_location_id end
            as shipped_location_id,
        ship_to_latitude,
        ship_to_longitude

    from order_lines
    where units_ordered - units_cancelled > 0
        and channel in (select channel from merchant_channels)

),

latest_allocation as (

    select
        order_line_id,
        location_id,
        row_number() over (
            partition by order_line_id
            order by allocated_at desc, units desc, location_id
        ) as recency

    from allocations

),

unshipped as (

    select * from demand_lines where shipped_location_id is null

),

nearest_candidates as (

    select
        unshipped.order_line_id,
        locations.location_id,
        row_number() over (
            partition by unshipped.order_line_id
            order by
                {{ haversine_km('unshipped.ship_to_latitude', 'unshipped.ship_to_longitude',
                                'locations.latitude', 'locations.longitude') }},
                locations.location_id
        ) as nearness

    from unshipped
    inner join locations
        on locations.can_ship
        and coalesce({{ dbt.position('unshipped.channel', 'locations.ships_channels') }}, 0) > 0
    where unshipped.ship_to_latitude is not null
        and unshipped.ship_to_longitude is not null
        and locations.latitude is not null
        and locations.longitude is not null

),

located as (

    select
        demand_lines.order_line_id,
        demand_lines.channel,
        demand_lines.sku,
        demand_lines.order_date as demand_date,
        demand_lines.units,
        coalesce(
            demand_lines.shipped_location_id,
            latest_allocation.location_id,
            nearest_candidates.location_id
        ) as demand_location_id,
        case
            when demand_lines.channel = 'pos' then 'store'
            when demand_lines.shipped_location_id is not null then 'shipped'
            when latest_allocation.location_id is not null then 'allocated'
            when nearest_candidates.location_id is not null then 'nearest'
            else 'unlocated'
        end as location_source

    from demand_lines
    left join latest_allocation
        on demand_lines.shipped_location_id is null
        and demand_lines.order_line_id = latest_allocation.order_line_id
        and latest_allocation.recency = 1
    left join nearest_candidates
        on demand_lines.order_line_id = nearest_candidates.order_line_id
        and nearest_candidates.nearness = 1

)

select * from located
