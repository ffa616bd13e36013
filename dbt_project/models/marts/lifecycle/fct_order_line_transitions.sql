{#-
    One row per accepted state change of an order line, in business order (contract 2, the
    rules in docs/lifecycle.md). Built from int_order_line_events by a state machine that only
    depends on the set of events, never on the order they arrived in:

    1. Events are deduplicated on event_id and put in business order: occurred_at, then the
       event type's business rank (the earlier step first at one instant), then event_id.
    2. States have ranks; a line never moves to a lower or equal rank. Held and validated share
       one rank and may replace each other until the line is allocated.
    3. Shipment states (released by a label, shipped, in_transit, out_for_delivery, delivered)
       progress per parcel: an event of parcel T is compared with the line-level states and
       with T's own earlier states, so a second parcel still ships after the first was
       delivered; every other state is compared with everything before it. So a late tracking
       scan dated after delivered, or a scan of a parcel after the line was returned, is kept in
       the events model but makes no transition.
    4. The first cancellation is accepted when it covers the whole line before anything
       shipped (final: nothing after it is accepted), or when it names fewer units than the line
       has (partial: the rest goes on). A whole-line cancellation after shipping is not a
       transition. A rejected event never moves the line, so "the highest rank seen before" is
       the state the line was in, which makes step 2 one window function.

    from_state is the state the line (for a parcel event: the line and that parcel) was in.
    Incremental (delete+insert per order line): a run recomputes, from all their events, only
    the lines that received an event recorded after the newest one already consumed, and the
    lines of orders int_order_lines_unioned rewrote since the last run.
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

all_events as (

    select * from {{ ref('int_order_line_events') }}

),

order_lines as (

    select order_line_id, quantity, _dbt_run_at from {{ ref('int_order_lines_unioned') }}

),

{% if is_incremental() %}

-- lines with an event recorded since, and lines whose order was rewritten since (a new
-- version can change the quantity a cancellation is measured against)
touched_lines as (

    select order_line_id
    from all_events
    where recorded_at > {{ high_water_mark('_events_recorded_at') }}
    union
    select order_line_id
    from order_lines
    where _dbt_run_at > {{ high_water_mark('_dbt_run_at') }}

),

{% endif %}

events as (

    select *
    from all_events
    {% if is_incremental() -%}
    where order_line_id in (select order_line_id from touched_lines)
    {%- endif %}

),

typed as (

    -- the state machine runs on narrow rows, one per event_id (a duplicate delivery of an
    -- event counts once: the first recorded); accepted rows get their details back at the end
    select
        events.event_id,
        events.order_line_id,
        events.occurred_at,
        events.units,
        order_lines.quantity,
        {{ lifecycle_attribute('events.event_type', 'state') }} as state,
        {{ lifecycle_attribute('events.event_type', 'rank') }} as state_rank,
        {{ lifecycle_attribute('events.event_type', 'order_rank') }} as order_rank,
        case
            when {{ lifecycle_attribute('events.event_type', 'tracked') }}
                then coalesce(events.tracking_number, '')
        end as track

    from events
    inner join order_lines
        on events.order_line_id = order_lines.order_line_id
    where {{ lifecycle_attribute('events.event_type', 'state') }} is not null
    qualify row_number() over (
        partition by events.event_id order by events.recorded_at, events.source_ref
    ) = 1

),

windowed as (

    select
        *,
        row_number() over (
            partition by order_line_id order by occurred_at, order_rank, event_id
        ) as event_seq,
        max(state_rank) over before_me as all_max_before,
        max(case when track is null then state_rank end) over before_me as line_max_before,
        {{ oms.last_non_null("case when state_rank = 20 then state end") }} over before_me
            as held_or_validated_before,
        max(state_rank) over (
            partition by order_line_id, track order by occurred_at, order_rank, event_id
            rows between unbounded preceding and 1 preceding
        ) as track_max_before

    from typed
    window before_me as (
        partition by order_line_id order by occurred_at, order_rank, event_id
        rows between unbounded preceding and 1 preceding
    )

),

-- Cancellations, per line: the first one that covers the whole line is final when it comes
-- before the first shipment scan; one naming fewer units than the line is partial. The first
-- of those two is the accepted one; after a final one nothing moves the line.
cancel_marks as (

    select
        order_line_id,
        min(case when state_rank >= {{ lifecycle_shipped_rank() }} then event_seq end)
            as first_shipped_seq,
        min(case when state = 'cancelled' and (units is null or units >= quantity)
            then event_seq end) as first_full_cancel_seq,
        min(case when state = 'cancelled' and units < quantity then event_seq end)
            as first_partial_cancel_seq

    from windowed
    group by order_line_id

),

cancel_rules as (

    select
        order_line_id,
        case
            when first_full_cancel_seq < coalesce(first_shipped_seq, first_full_cancel_seq + 1)
                then first_full_cancel_seq
        end as final_cancel_seq,
        first_partial_cancel_seq

    from cancel_marks

),

decided as (

    select
        windowed.*,
        case
            when windowed.track is null then coalesce(windowed.all_max_before, 0)
            when coalesce(windowed.line_max_before, 0) > coalesce(windowed.track_max_before, 0)
                then coalesce(windowed.line_max_before, 0)
            else coalesce(windowed.track_max_before, 0)
        end as scope_max_before,
        case
            when windowed.state <> 'cancelled' then null
            when windowed.event_seq = cancel_rules.final_cancel_seq then 'final'
            when windowed.event_seq = cancel_rules.first_partial_cancel_seq then 'partial'
        end as cancel_kind,
        case
            when cancel_rules.final_cancel_seq is null then cancel_rules.first_partial_cancel_seq
            when cancel_rules.first_partial_cancel_seq is null then cancel_rules.final_cancel_seq
            when cancel_rules.final_cancel_seq < cancel_rules.first_partial_cancel_seq
                then cancel_rules.final_cancel_seq
            else cancel_rules.first_partial_cancel_seq
        end as accepted_cancel_seq,
        cancel_rules.final_cancel_seq

    from windowed
    inner join cancel_rules
        on windowed.order_line_id = cancel_rules.order_line_id

),

accepted as (

    select
        *,
        case
            when state = 'cancelled' and coalesce(all_max_before, 0) = 20
                then held_or_validated_before
            when state = 'cancelled' then {{ lifecycle_state_of_rank('all_max_before') }}
            when scope_max_before = 20 then held_or_validated_before
            else {{ lifecycle_state_of_rank('scope_max_before') }}
        end as from_state

    from decided
    where
        -- a final cancellation ends the line's lifecycle
        not coalesce(final_cancel_seq = accepted_cancel_seq and event_seq > final_cancel_seq, false)
        and case
            when state = 'cancelled' then event_seq = accepted_cancel_seq
            when state_rank > scope_max_before then true
            -- held <-> validated, only while neither is passed
            when state_rank = 20 and scope_max_before = 20
                then state <> held_or_validated_before
            else false
        end

),

numbered as (

    select
        order_line_id,
        event_id,
        state,
        from_state,
        cancel_kind,
        row_number() over by_line as transition_seq,
        -- only held and validated can be reached twice (on one parcel key)
        case state
            when 'held' then count(case when state = 'held' then 1 end) over by_line
            when 'validated' then count(case when state = 'validated' then 1 end) over by_line
            else 1
        end as repeat_no

    from accepted
    window by_line as (
        partition by order_line_id order by event_seq rows between unbounded preceding and current row
    )

),

line_marks as (

    -- the newest event consumed per line: the incremental high-water mark
    select order_line_id, max(recorded_at) as _events_recorded_at
    from events
    group by order_line_id

),

detailed as (

    select
        numbered.*,
        events.channel_order_id,
        events.channel,
        events.order_id,
        events.line_ref,
        events.occurred_at,
        events.recorded_at,
        events.source,
        events.carrier,
        events.tracking_number,
        events.location_id,
        events.units,
        events.detail,
        line_marks._events_recorded_at

    from numbered
    inner join events
        on numbered.event_id = events.event_id
        and numbered.order_line_id = events.order_line_id
    inner join line_marks
        on numbered.order_line_id = line_marks.order_line_id
    -- a duplicated event: its first recorded copy
    qualify row_number() over (
        partition by numbered.event_id order by events.recorded_at, events.source_ref
    ) = 1

),

final as (

    select
        -- stable under late events (a seq is not); a state repeated on one parcel (held again
        -- after validated) gets its repetition number
        {{ dbt.concat(['detailed.order_line_id', "':'", 'detailed.state', "':'", "coalesce(detailed.tracking_number, '')",
            "case when detailed.repeat_no > 1 then ':' || cast(detailed.repeat_no as " ~ dbt.type_string() ~ ") else '' end"]) }}
            as transition_id,
        detailed.order_line_id,
        detailed.channel_order_id,
        detailed.channel,
        detailed.order_id,
        detailed.line_ref,
        cast(detailed.transition_seq as {{ dbt.type_bigint() }}) as transition_seq,
        detailed.from_state,
        detailed.state as to_state,
        detailed.occurred_at,
        detailed.recorded_at,
        detailed.source,
        detailed.event_id as source_event_id,
        detailed.carrier,
        detailed.tracking_number,
        detailed.location_id,
        detailed.units,
        detailed.detail,
        detailed.cancel_kind,
        detailed._events_recorded_at,
        {{ run_marker() }} as _dbt_run_at

    from detailed

)

select * from final
