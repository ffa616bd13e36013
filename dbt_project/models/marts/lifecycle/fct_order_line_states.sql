{#-
    One row per order line: its current lifecycle state and how many of its units reached each
    milestone (contract 2, docs/lifecycle.md).

    state: `cancelled` once a final cancellation was accepted, otherwise the furthest state its
    accepted transitions reached (held / validated: the latest of the two); state_since is when
    it got there. The unit columns count what the events say happened, whatever the order:
    units_shipped / units_delivered from the carrier's parcels (a parcel's units once any scan
    after its label / its delivery), or the channel's own report when it is larger (a
    marketplace's Shipped, a sale at the till); units_cancelled the units a cancellation took
    (a final one: every unit not shipped); units_returned the units received back on RMAs;
    units_refunded refunded units (a web shop refund in full: the whole line). All capped at the
    line's quantity. refund_status: refunded (every unit), partially_refunded, rejected, pending
    (a return without a decision) or NULL (no return, no refund).

    Incremental (delete+insert per order line): the lines fct_order_line_transitions rewrote.
-#}
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

transitions as (

    select * from {{ ref('fct_order_line_transitions') }}

),

all_order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

{% if is_incremental() %}

touched_lines as (

    select distinct order_line_id
    from transitions
    where _dbt_run_at > {{ high_water_mark('_transitions_run_at') }}
    union
    select order_line_id
    from all_order_lines
    where _dbt_run_at > {{ high_water_mark('_order_run_at') }}

),

{% endif %}

order_lines as (

    select * from all_order_lines
    {% if is_incremental() -%}
    where order_line_id in (select order_line_id from touched_lines)
    {%- endif %}

),

events as (

    select events.*
    from {{ ref('int_order_line_events') }} as events
    inner join order_lines
        on events.order_line_id = order_lines.order_line_id
    qualify row_number() over (partition by events.event_id order by events.recorded_at, events.source_ref) = 1

),

line_transitions as (

    select transitions.*
    from transitions
    inner join order_lines
        on transitions.order_line_id = order_lines.order_line_id

),

current_state as (

    {{ latest_version(
        'line_transitions',
        ['order_line_id'],
        "case when to_state = 'cancelled' and cancel_kind = 'final' then 1 else 0 end desc, "
        ~ "coalesce(" ~ lifecycle_attribute('to_state', 'rank') ~ ", -1) desc, transition_seq desc"
    ) }}

),

parcel_transitions as (

    select * from line_transitions where tracking_number is not null

),

latest_parcel as (

    {{ latest_version(
        'parcel_transitions',
        ['order_line_id'],
        'transition_seq desc'
    ) }}

),

parcels as (

    select
        order_line_id,
        tracking_number,
        max(units) as units,
        max(case when event_type in ('shipped', 'in_transit', 'out_for_delivery',
            'delivery_exception', 'delivered') then 1 else 0 end) as is_shipped,
        max(case when event_type = 'delivered' then 1 else 0 end) as is_delivered

    from events
    where source = 'carrier_events'
    group by order_line_id, tracking_number

),

parcel_units as (

    select
        order_line_id,
        sum(case when is_shipped = 1 then units else 0 end) as units_shipped,
        sum(case when is_delivered = 1 then units else 0 end) as units_delivered

    from parcels
    group by order_line_id

),

event_units as (

    select
        events.order_line_id,
        max(case when events.tracking_number is null
            and events.event_type in ('shipped', 'in_transit', 'out_for_delivery', 'delivered')
            then coalesce(events.units, order_lines.quantity) else 0 end) as reported_shipped,
        max(case when events.tracking_number is null and events.event_type = 'delivered'
            then coalesce(events.units, order_lines.quantity) else 0 end) as reported_delivered,
        sum(case when events.event_type = 'returned' then events.units else 0 end) as returned,
        sum(case when events.event_type = 'refunded'
            then coalesce(events.units, order_lines.quantity) else 0 end) as refunded,
        sum(case when events.event_type = 'return_requested' then events.units else 0 end)
            as return_requested,
        max(case when events.event_type = 'refund_rejected' then 1 else 0 end) as has_refund_rejected,
        max(events.occurred_at) as last_event_at,
        max(events.recorded_at) as last_recorded_at

    from events
    inner join order_lines
        on events.order_line_id = order_lines.order_line_id
    group by events.order_line_id

),

cancelled as (

    select
        order_line_id,
        max(case when cancel_kind = 'final' then 1 else 0 end) as is_cancelled_in_full,
        sum(case when cancel_kind = 'partial' then units else 0 end) as partial_units

    from line_transitions
    where to_state = 'cancelled'
    group by order_line_id

),

measured as (

    select
        order_lines.order_line_id,
        order_lines.channel_order_id,
        order_lines.channel,
        order_lines.order_id,
        order_lines.line_ref,
        order_lines.sku,
        order_lines.quantity,
        order_lines._dbt_run_at as _order_run_at,
        current_state.to_state,
        current_state.occurred_at as state_since,
        latest_parcel.carrier,
        latest_parcel.tracking_number,
        event_units.last_event_at,
        event_units.has_refund_rejected,
        cancelled.is_cancelled_in_full,
        cancelled.partial_units,
        least(order_lines.quantity, greatest(
            coalesce(parcel_units.units_shipped, 0), coalesce(event_units.reported_shipped, 0)))
            as units_shipped,
        least(order_lines.quantity, greatest(
            coalesce(parcel_units.units_delivered, 0), coalesce(event_units.reported_delivered, 0)))
            as units_delivered,
        least(order_lines.quantity, coalesce(event_units.returned, 0)) as units_returned,
        least(order_lines.quantity, coalesce(event_units.refunded, 0)) as units_refunded,
        least(order_lines.quantity, coalesce(event_units.return_requested, 0))
            as units_return_requested,
        (select max(_dbt_run_at) from line_transitions) as _transitions_run_at

    from order_lines
    left join current_state
        on order_lines.order_line_id = current_state.order_line_id
    left join latest_parcel
        on order_lines.order_line_id = latest_parcel.order_line_id
    left join parcel_units
        on order_lines.order_line_id = parcel_units.order_line_id
    left join event_units
        on order_lines.order_line_id = event_units.order_line_id
    left join cancelled
        on order_lines.order_line_id = cancelled.order_line_id

),

final as (

    select
        order_line_id,
        channel_order_id,
        channel,
        order_id,
        line_ref,
        sku,
        cast(quantity as {{ dbt.type_bigint() }}) as quantity,
        coalesce(to_state, 'placed') as state,
        state_since,
        cast(units_shipped as {{ dbt.type_bigint() }}) as units_shipped,
        cast(units_delivered as {{ dbt.type_bigint() }}) as units_delivered,
        cast(
            case
                when is_cancelled_in_full = 1 then quantity - units_shipped
                else least(quantity - units_shipped, coalesce(partial_units, 0))
            end as {{ dbt.type_bigint() }}
        ) as units_cancelled,
        cast(units_returned as {{ dbt.type_bigint() }}) as units_returned,
        cast(units_refunded as {{ dbt.type_bigint() }}) as units_refunded,
        carrier,
        tracking_number,
        last_event_at,
        cast(units_return_requested as {{ dbt.type_bigint() }}) as units_return_requested,
        case
            when units_refunded >= quantity then 'refunded'
            when units_refunded > 0 then 'partially_refunded'
            when has_refund_rejected = 1 then 'rejected'
            when units_return_requested > 0 or units_returned > 0 then 'pending'
        end as refund_status,
        _order_run_at,
        _transitions_run_at,
        {{ run_marker() }} as _dbt_run_at

    from measured

)

select * from final
