-- One row per (carrier tracking event, line of the shipment it tracks): every scan of a parcel
-- applies to each order line the parcel carries (its label_created contents), with the
-- carrier, the tracking number and the line's units in that parcel. Statuses map to events:
-- label_created -> released (the warehouse packed the parcel: the line is at the warehouse),
-- picked_up -> shipped, in_transit, out_for_delivery, delivered, exception ->
-- delivery_exception. A scan of a parcel whose contents never arrived concerns no known line.
--
-- Incremental (delete+insert on event_id): a run recomputes every event of the parcels that
-- received a scan or their contents since the newest event recorded here, so scans that came
-- before their label are picked up when it arrives.
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

{% if is_incremental() %}

touched_parcels as (

    select tracking_number
    from {{ ref('stg_carrier__tracking_events') }}
    where _loaded_at > {{ high_water_value('recorded_at') }}
    union
    select tracking_number
    from {{ ref('stg_carrier__shipment_lines') }}
    where _loaded_at > {{ high_water_value('recorded_at') }}

),

{% endif %}

tracking_events as (

    select * from {{ ref('stg_carrier__tracking_events') }}
    {% if is_incremental() -%}
    where tracking_number in (select tracking_number from touched_parcels)
    {%- endif %}
    -- a webhook delivered twice is one event (the ingest already refuses a repeated key)
    qualify row_number() over (partition by event_id order by _loaded_at, _file) = 1

),

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}
    {% if is_incremental() -%}
    where tracking_number in (select tracking_number from touched_parcels)
    {%- endif %}

),

events as (

    select
        tracking_events.event_id as raw_event_id,
        tracking_events.tracking_number,
        tracking_events.carrier,
        case tracking_events.event_status
            when 'label_created' then 'released'
            when 'picked_up' then 'shipped'
            when 'exception' then 'delivery_exception'
            else tracking_events.event_status
        end as event_type,
        tracking_events.occurred_at,
        case
            when tracking_events._loaded_at > shipment_lines._loaded_at then tracking_events._loaded_at
            else shipment_lines._loaded_at
        end as recorded_at,
        coalesce(tracking_events.exception_code, tracking_events.event_status) as detail,
        shipment_lines.channel,
        shipment_lines.order_id,
        shipment_lines.line_ref,
        shipment_lines.quantity,
        shipment_lines.ship_from_location_id

    from tracking_events
    inner join shipment_lines
        on tracking_events.tracking_number = shipment_lines.tracking_number

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'carrier:'", 'raw_event_id', "':'", 'line_ref']),
            channel='channel',
            order_id='order_id',
            line_ref='line_ref',
            event_type='event_type',
            occurred_at='occurred_at',
            recorded_at='recorded_at',
            source="'carrier_events'",
            source_ref='raw_event_id',
            units='quantity',
            carrier='carrier',
            tracking_number='tracking_number',
            location_id='ship_from_location_id',
            detail='detail'
        ) }}

    from events

)

select * from final
