-- One row per open order line × location that could ship it: the location ships for the
-- line's channel and holds stock of the SKU to promise. Estimates use the demo merchant's
-- routing weights as dbt vars (the router prices with the rules file; tests keep the two in
-- step): shipping cost from great-circle distance and weight, transit days from the service
-- level's speed, and the estimated delivery date against the promise.
with

lines as (

    select * from {{ ref('ops_open_order_lines') }}

),

atp as (

    select * from {{ ref('fct_available_to_promise') }}
    where can_ship and available_to_promise > 0

),

locations as (

    select * from {{ ref('dim_locations') }}

),

paired as (

    select
        lines.order_line_id,
        lines.order_id,
        lines.channel,
        lines.sku,
        lines.quantity,
        lines.service_level,
        lines.promised_ship_date,
        lines.promised_delivery_date,
        lines.weight_kg,
        lines.planning_date,
        atp.location_id,
        atp.available_to_promise,
        {{ haversine_km('lines.ship_to_latitude', 'lines.ship_to_longitude',
                        'locations.latitude', 'locations.longitude') }} as distance_km

    from lines
    inner join atp
        on lines.sku = atp.sku
    inner join locations
        on atp.location_id = locations.location_id
    where {{ dbt.position("lines.channel", "locations.ships_channels") }} > 0

),

priced as (

    select
        *,
        case when service_level in ('express', 'next_day')
            then {{ var('routing_express_km_per_day', 1200) }}
            else {{ var('routing_standard_km_per_day', 500) }} end as km_per_day,
        case when service_level in ('express', 'next_day')
            then {{ var('routing_express_cost_multiplier', 1.8) }}
            else 1.0 end as cost_multiplier

    from paired

),

final as (

    select
        {{ dbt.concat(['order_line_id', "'@'", 'location_id']) }} as candidate_id,
        order_line_id,
        order_id,
        channel,
        sku,
        quantity,
        location_id,
        available_to_promise,
        available_to_promise >= quantity as can_fill_line,
        distance_km,
        cast(ceil(distance_km / km_per_day) as {{ dbt.type_bigint() }}) as transit_days,
        quantity * cost_multiplier * case
            when {{ var('routing_shipping_per_kg_km', 0.0004) }} * weight_kg * distance_km
                > {{ var('routing_shipping_min_per_unit', 0.50) }}
                then {{ var('routing_shipping_per_kg_km', 0.0004) }} * weight_kg * distance_km
            else {{ var('routing_shipping_min_per_unit', 0.50) }}
        end as est_shipping_cost,
        promised_delivery_date,
        cast({{ dbt.dateadd('day',
            '1 + cast(ceil(distance_km / km_per_day) as integer)', 'planning_date') }} as date)
            as est_delivery_date

    from priced

)

select
    *,
    {{ dbt.datediff('promised_delivery_date', 'est_delivery_date', 'day') }} as days_late_if_positive,
    est_delivery_date <= promised_delivery_date as is_on_time
from final
