-- One row per open order line × location that could ship it: the location ships for the
-- line's channel and holds stock of the SKU to promise. Estimates price with the routing rules
-- file the router uses (macro routing_parameters): shipping cost from great-circle distance
-- and weight, transit days from the service level's speed, and the estimated delivery date
-- against the promise.
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
        {{ service_level_figure('service_level', 'km_per_day') }} as km_per_day,
        {{ service_level_figure('service_level', 'cost_multiplier') }} as cost_multiplier

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
            when {{ routing_parameters()['shipping_per_kg_km'] }} * weight_kg * distance_km
                > {{ routing_parameters()['shipping_min_per_unit'] }}
                then {{ routing_parameters()['shipping_per_kg_km'] }} * weight_kg * distance_km
            else {{ routing_parameters()['shipping_min_per_unit'] }}
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
