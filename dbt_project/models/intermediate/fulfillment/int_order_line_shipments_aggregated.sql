-- One row per order line that appears in at least one shipment: units labelled and shipped
-- (shipped = the carrier has scanned the parcel), the number of shipments, the fulfilling
-- location and the milestones of its shipments. The fulfilling location is the one that shipped
-- most of the line's units (earliest shipment, then location id, break ties), so every shipped
-- order line belongs to exactly one location; a line labelled but not yet shipped has none.
--
-- Incremental: only the order lines carried by shipments that int_shipments_summarised rewrote
-- since this model last ran are recomputed (from all their shipments) and replaced.
{{
    config(
        materialized='incremental',
        unique_key='order_line_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

shipment_lines as (

    select
        *,
        {{ dbt.concat(['channel', "':'", 'order_id', "':'", 'line_ref']) }} as order_line_id
    from {{ ref('stg_carrier__shipment_lines') }}

),

shipments as (

    select * from {{ ref('int_shipments_summarised') }}

),

{% if is_incremental() %}

touched_lines as (

    select distinct shipment_lines.order_line_id
    from shipment_lines
    inner join shipments
        on shipment_lines.tracking_number = shipments.tracking_number
    where shipments._dbt_run_at > {{ high_water_mark('_shipments_run_at') }}

),

{% endif %}

line_shipments as (

    select
        shipment_lines.order_line_id,
        shipment_lines.tracking_number,
        shipment_lines.ship_from_location_id,
        shipment_lines.quantity,
        shipments.label_created_at,
        shipments.shipped_at,
        shipments.delivered_at,
        shipments._dbt_run_at

    from shipment_lines
    inner join shipments
        on shipment_lines.tracking_number = shipments.tracking_number
    {% if is_incremental() -%}
    where shipment_lines.order_line_id in (select order_line_id from touched_lines)
    {%- endif %}

),

per_location as (

    select
        order_line_id,
        ship_from_location_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units,
        min(shipped_at) as first_shipped_at

    from line_shipments
    where shipped_at is not null
    group by order_line_id, ship_from_location_id

),

fulfilling_location as (

    {{ latest_version(
        'per_location',
        ['order_line_id'],
        'units desc, first_shipped_at asc, ship_from_location_id asc'
    ) }}

),

aggregated as (

    select
        order_line_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units_labelled,
        cast(sum(case when shipped_at is not null then quantity else 0 end) as {{ dbt.type_bigint() }}) as units_shipped,
        cast(sum(case when delivered_at is not null then quantity else 0 end) as {{ dbt.type_bigint() }}) as units_delivered,
        count(distinct tracking_number) as shipments,
        count(distinct case when shipped_at is not null then ship_from_location_id end)
            as ship_from_locations,
        min(label_created_at) as first_label_created_at,
        min(shipped_at) as first_shipped_at,
        max(shipped_at) as last_shipped_at,
        max(delivered_at) as last_delivered_at,
        max(_dbt_run_at) as _shipments_run_at

    from line_shipments
    group by order_line_id

),

final as (

    select
        aggregated.order_line_id,
        fulfilling_location.ship_from_location_id as fulfilling_location_id,
        aggregated.units_labelled,
        aggregated.units_shipped,
        aggregated.units_delivered,
        aggregated.shipments,
        aggregated.ship_from_locations,
        aggregated.first_label_created_at,
        aggregated.first_shipped_at,
        aggregated.last_shipped_at,
        aggregated.last_delivered_at,
        aggregated._shipments_run_at,
        {{ run_marker() }} as _dbt_run_at

    from aggregated
    left join fulfilling_location
        on aggregated.order_line_id = fulfilling_location.order_line_id

)

select * from final
