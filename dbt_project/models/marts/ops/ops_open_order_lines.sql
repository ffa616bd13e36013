-- One row per open, releasable order line still to be routed: the routing input (action mart).
-- Open: not cancelled, not fully shipped, not a store sale. Releasable: ordered by the planning
-- date (the day after the newest stock snapshot) and, for wholesale, a requested ship date no
-- more than `wholesale_release_days` ahead (earlier release would tie up stock for weeks).
-- `quantity` is the units still open. Marketplace 'expedited' is the router's 'express'.
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

planning as (

    select cast({{ dbt.dateadd('day', 1, 'max(snapshot_date)') }} as date) as planning_date
    from {{ ref('fct_inventory_snapshots') }}

),

final as (

    select
        order_lines.order_line_id,
        order_lines.channel_order_id as order_id,
        order_lines.channel,
        order_lines.sku,
        cast(order_lines.units_open as {{ dbt.type_bigint() }}) as quantity,
        case
            when order_lines.service_level = 'expedited' then 'express'
            else order_lines.service_level
        end as service_level,
        order_lines.promised_ship_date,
        order_lines.promised_delivery_date,
        order_lines.ordered_at,
        order_lines.ship_to_latitude,
        order_lines.ship_to_longitude,
        coalesce(products.weight_kg, 1.0) as weight_kg,
        planning.planning_date

    from order_lines
    cross join planning
    left join products
        on order_lines.sku = products.sku
    where order_lines.channel <> 'pos'
        and order_lines.line_status in ('open', 'partially_shipped')
        and order_lines.units_open > 0
        and order_lines.ship_to_latitude is not null
        and order_lines.ship_to_longitude is not null
        and cast(order_lines.ordered_at as date) < planning.planning_date
        and (
            order_lines.channel <> 'wholesale'
            or order_lines.promised_ship_date <= cast({{ dbt.dateadd(
                'day', var('wholesale_release_days', 3), 'planning.planning_date') }} as date)
        )

)

select * from final
