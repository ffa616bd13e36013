-- One row per shipment (tracking number): its contents' header (channel, order, ship-from
-- location) and the time of each milestone. A shipment is shipped at its first carrier scan
-- (normally picked_up; a later scan proves the pickup when the picked_up event is missing).
-- Carrier events arrive out of order and across files, so every milestone is a min/max over the events of that status and the last status is
-- the latest event by occurrence time: the result does not depend on arrival order.
--
-- Incremental: events and shipment lines are append-only, so a run recomputes (from all their
-- events) only the shipments that received an event or a label since the newest load already
-- summarised, and replaces them (delete+insert on tracking_number).
{{
    config(
        materialized='incremental',
        unique_key='tracking_number',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

{% if is_incremental() %}

touched_shipments as (

    select tracking_number
    from {{ ref('stg_carrier__tracking_events') }}
    where _loaded_at > {{ high_water_mark('_loaded_at') }}
    union
    select tracking_number
    from {{ ref('stg_carrier__shipment_lines') }}
    where _loaded_at > {{ high_water_mark('_loaded_at') }}

),

{% endif %}

events as (

    select * from {{ ref('stg_carrier__tracking_events') }}
    {% if is_incremental() -%}
    where tracking_number in (select tracking_number from touched_shipments)
    {%- endif %}

),

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}
    {% if is_incremental() -%}
    where tracking_number in (select tracking_number from touched_shipments)
    {%- endif %}

),

milestones as (

    select
        tracking_number,
        max(carrier) as carrier,
        min(case when event_status = 'label_created' then occurred_at end) as label_created_at,
        min(case when event_status = 'picked_up' then occurred_at end) as picked_up_at,
        min(case when event_status <> 'label_created' then occurred_at end) as shipped_at,
        min(case when event_status = 'in_transit' then occurred_at end) as first_in_transit_at,
        min(case when event_status = 'out_for_delivery' then occurred_at end)
            as first_out_for_delivery_at,
        min(case when event_status = 'delivered' then occurred_at end) as delivered_at,
        min(case when event_status = 'exception' then occurred_at end) as first_exception_at,
        cast(sum(case when event_status = 'exception' then 1 else 0 end) as {{ dbt.type_bigint() }}) as exception_events,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        count(*) as events,
        max(_loaded_at) as _loaded_at

    from events
    group by tracking_number

),

-- Ties on occurrence time go to the later lifecycle step, so the outcome is deterministic.
ranked_events as (

    select
        tracking_number,
        event_status,
        exception_code,
        occurred_at,
        event_id,
        case event_status
            when 'label_created' then 1
            when 'picked_up' then 2
            when 'in_transit' then 3
            when 'out_for_delivery' then 4
            when 'exception' then 5
            when 'delivered' then 6
            else 0
        end as status_rank

    from events

),

last_events as (

    {{ latest_version(
        'ranked_events',
        ['tracking_number'],
        'occurred_at desc, status_rank desc, event_id desc'
    ) }}

),

contents as (

    select
        tracking_number,
        max(channel) as channel,
        max(order_id) as order_id,
        max(ship_from_location_id) as ship_from_location_id,
        max(service_level) as service_level,
        count(*) as shipment_lines,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units,
        max(_loaded_at) as _loaded_at

    from shipment_lines
    group by tracking_number

),

final as (

    select
        milestones.tracking_number,
        milestones.carrier,
        contents.channel,
        contents.order_id,
        {{ dbt.concat(['contents.channel', "':'", 'contents.order_id']) }} as channel_order_id,
        contents.ship_from_location_id,
        contents.service_level,
        coalesce(contents.shipment_lines, 0) as shipment_lines,
        coalesce(contents.units, 0) as units,
        milestones.label_created_at,
        milestones.picked_up_at,
        milestones.shipped_at,
        milestones.first_in_transit_at,
        milestones.first_out_for_delivery_at,
        milestones.delivered_at,
        milestones.first_exception_at,
        milestones.first_event_at,
        milestones.last_event_at,
        last_events.event_status as current_status,
        last_events.exception_code as last_exception_code,
        milestones.events,
        milestones.exception_events,
        milestones.exception_events > 0 as has_exception,
        milestones.shipped_at is not null as is_shipped,
        milestones.delivered_at is not null as is_delivered,
        contents.tracking_number is not null as has_contents,
        case
            when contents._loaded_at > milestones._loaded_at then contents._loaded_at
            else milestones._loaded_at
        end as _loaded_at,
        {{ run_marker() }} as _dbt_run_at

    from milestones
    inner join last_events
        on milestones.tracking_number = last_events.tracking_number
    left join contents
        on milestones.tracking_number = contents.tracking_number

)

select * from final
