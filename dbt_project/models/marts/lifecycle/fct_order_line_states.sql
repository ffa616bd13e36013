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

    Incremental (delete+insert per order line): the lines fct_order_line_transitions rewrote
    and the lines whose order row was rewritten, found first (high-water marks inlined as
    literals); the order lines, their transitions and their events are each read once, cut down
    to those lines, and folded into one row per line (DuckDB's arg_max picks the current state
    and the latest parcel without a second pass over the transitions).
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

{% if is_incremental() %}

touched_lines as materialized (

    select order_line_id
    from {{ ref('fct_order_line_transitions') }}
    where _dbt_run_at > {{ high_water_value('_transitions_run_at') }}
    union
    select order_line_id
    from {{ ref('int_order_lines_unioned') }}
    where _dbt_run_at > {{ high_water_value('_order_run_at') }}

),

{% endif %}

order_lines as (

    select
        order_line_id,
        channel_order_id,
        channel,
        order_id,
        line_ref,
        sku,
        quantity,
        _dbt_run_at
    from {{ ref('int_order_lines_unioned') }}
    {% if is_incremental() -%}
    where order_line_id in (select order_line_id from touched_lines)
    {%- endif %}

),

transitions as (

    select * from {{ ref('fct_order_line_transitions') }}
    {% if is_incremental() -%}
    where order_line_id in (select order_line_id from touched_lines)
    {%- endif %}

),

events as (

    select * from {{ ref('int_order_line_events') }}
    {% if is_incremental() -%}
    where order_line_id in (select order_line_id from touched_lines)
    {%- endif %}
    qualify row_number() over (partition by event_id order by recorded_at, source_ref) = 1

),

-- one row per (line, tracking number) of the line's events (lines without events too): the
-- carrier parcel's units and milestones, and the partial sums of the line-level counts
parcels as (

    select
        order_lines.order_line_id,
        order_lines.channel_order_id,
        order_lines.channel,
        order_lines.order_id,
        order_lines.line_ref,
        order_lines.sku,
        order_lines.quantity,
        order_lines._dbt_run_at,
        events.tracking_number,
        max(case when events.source = 'carrier_events' then events.units end) as parcel_units,
        max(case when events.source = 'carrier_events' and events.event_type in ('shipped',
            'in_transit', 'out_for_delivery', 'delivery_exception', 'delivered') then 1 else 0 end)
            as is_shipped,
        max(case when events.source = 'carrier_events' and events.event_type = 'delivered'
            then 1 else 0 end) as is_delivered,
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
        max(events.occurred_at) as last_event_at

    from order_lines
    left join events
        on order_lines.order_line_id = events.order_line_id
    group by
        order_lines.order_line_id,
        order_lines.channel_order_id,
        order_lines.channel,
        order_lines.order_id,
        order_lines.line_ref,
        order_lines.sku,
        order_lines.quantity,
        order_lines._dbt_run_at,
        events.tracking_number

),

line_units as (

    select
        order_line_id,
        channel_order_id,
        channel,
        order_id,
        line_ref,
        sku,
        quantity,
        _dbt_run_at,
        sum(case when is_shipped = 1 then parcel_units else 0 end) as parcel_shipped,
        sum(case when is_delivered = 1 then parcel_units else 0 end) as parcel_delivered,
        max(reported_shipped) as reported_shipped,
        max(reported_delivered) as reported_delivered,
        sum(returned) as returned,
        sum(refunded) as refunded,
        sum(return_requested) as return_requested,
        max(has_refund_rejected) as has_refund_rejected,
        max(last_event_at) as last_event_at

    from parcels
    group by order_line_id, channel_order_id, channel, order_id, line_ref, sku, quantity, _dbt_run_at

),

line_transitions as (

    select
        order_line_id,
        -- the current state: a final cancellation, else the highest rank, else the latest
        arg_max(
            {'to_state': to_state, 'occurred_at': occurred_at},
            [case when to_state = 'cancelled' and cancel_kind = 'final' then 1 else 0 end,
             coalesce({{ lifecycle_attribute('to_state', 'rank') }}, -1), transition_seq]
        ) as current_state,
        arg_max({'carrier': carrier, 'tracking_number': tracking_number}, transition_seq)
            filter (where tracking_number is not null) as latest_parcel,
        max(case when to_state = 'cancelled' and cancel_kind = 'final' then 1 else 0 end)
            as is_cancelled_in_full,
        sum(case when to_state = 'cancelled' and cancel_kind = 'partial' then units else 0 end)
            as partial_units,
        max(_dbt_run_at) as _transitions_run_at

    from transitions
    group by order_line_id

),

measured as (

    select
        line_units.order_line_id,
        line_units.channel_order_id,
        line_units.channel,
        line_units.order_id,
        line_units.line_ref,
        line_units.sku,
        line_units.quantity,
        line_units._dbt_run_at as _order_run_at,
        line_transitions.current_state.to_state as to_state,
        line_transitions.current_state.occurred_at as state_since,
        line_transitions.latest_parcel.carrier as carrier,
        line_transitions.latest_parcel.tracking_number as tracking_number,
        line_units.last_event_at,
        line_units.has_refund_rejected,
        line_transitions.is_cancelled_in_full,
        line_transitions.partial_units,
        least(line_units.quantity, greatest(
            coalesce(line_units.parcel_shipped, 0), coalesce(line_units.reported_shipped, 0)))
            as units_shipped,
        least(line_units.quantity, greatest(
            coalesce(line_units.parcel_delivered, 0), coalesce(line_units.reported_delivered, 0)))
            as units_delivered,
        least(line_units.quantity, coalesce(line_units.returned, 0)) as units_returned,
        least(line_units.quantity, coalesce(line_units.refunded, 0)) as units_refunded,
        least(line_units.quantity, coalesce(line_units.return_requested, 0))
            as units_return_requested,
        line_transitions._transitions_run_at

    from line_units
    left join line_transitions
        on line_units.order_line_id = line_transitions.order_line_id

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
