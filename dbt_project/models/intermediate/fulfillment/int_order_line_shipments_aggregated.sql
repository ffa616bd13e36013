-- One row per order line that appears in at least one shipment: units shipped, the number of
-- shipments, the fulfilling location and the milestones of its shipments. The fulfilling
-- location is the one that shipped most of the line's units (earliest label, then location id,
-- break ties), so every order line belongs to exactly one location.
with

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}

),

shipments as (

    select * from {{ ref('int_shipments_summarised') }}

),

line_shipments as (

    select
        {{ dbt.concat(['shipment_lines.channel', "':'", 'shipment_lines.order_id', "':'", 'shipment_lines.line_ref']) }}
            as order_line_id,
        shipment_lines.tracking_number,
        shipment_lines.ship_from_location_id,
        shipment_lines.quantity,
        shipments.label_created_at,
        shipments.picked_up_at,
        shipments.delivered_at

    from shipment_lines
    inner join shipments
        on shipment_lines.tracking_number = shipments.tracking_number

),

per_location as (

    select
        order_line_id,
        ship_from_location_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units,
        min(label_created_at) as first_label_created_at

    from line_shipments
    group by order_line_id, ship_from_location_id

),

fulfilling_location as (

    {{ latest_version(
        'per_location',
        ['order_line_id'],
        'units desc, first_label_created_at asc, ship_from_location_id asc'
    ) }}

),

aggregated as (

    select
        order_line_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units_shipped,
        cast(sum(case when picked_up_at is not null then quantity else 0 end) as {{ dbt.type_bigint() }}) as units_picked_up,
        cast(sum(case when delivered_at is not null then quantity else 0 end) as {{ dbt.type_bigint() }}) as units_delivered,
        count(distinct tracking_number) as shipments,
        count(distinct ship_from_location_id) as ship_from_locations,
        min(label_created_at) as first_label_created_at,
        min(picked_up_at) as first_picked_up_at,
        max(picked_up_at) as last_picked_up_at,
        max(delivered_at) as last_delivered_at

    from line_shipments
    group by order_line_id

),

final as (

    select
        aggregated.order_line_id,
        fulfilling_location.ship_from_location_id as fulfilling_location_id,
        aggregated.units_shipped,
        aggregated.units_picked_up,
        aggregated.units_delivered,
        aggregated.shipments,
        aggregated.ship_from_locations,
        aggregated.first_label_created_at,
        aggregated.first_picked_up_at,
        aggregated.last_picked_up_at,
        aggregated.last_delivered_at

    from aggregated
    inner join fulfilling_location
        on aggregated.order_line_id = fulfilling_location.order_line_id

)

select * from final
