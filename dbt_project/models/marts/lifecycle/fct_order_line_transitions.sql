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
    lines of orders int_order_lines_unioned rewrote since the last run. Those lines are found
    first (against high-water marks inlined as literals, so the scans skip older row groups) and
    every read is cut down to them before the window functions; each step reads the one before
    it once, and the accepted rows carry their details along instead of joining the events
    again.
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

order_lines as (

    select order_line_id, quantity, _dbt_run_at from {{ ref('int_order_lines_unioned') }}

),

{% if is_incremental() %}

-- lines with an event recorded since, and lines whose order was rewritten since (a new
-- version can change the quantity a cancellation is measured against)
touched_lines as (

    select order_line_id
    from {{ ref('int_order_line_events') }}
    where recorded_at > {{ high_water_value('_events_recorded_at') }}
    union
    select order_line_id
    from order_lines
    where _dbt_run_at > {{ high_water_value('_dbt_run_at') }}

),

{% endif %}

events as (

    -- every event of the lines to compute, with the line's quantity; a duplicate delivery of an
    -- event counts once (its first recorded copy), and the newest event consumed per line is
    -- the next run's high-water mark (duplicates and stateless events included)
    select
        events.*,
        order_lines.quantity,
        max(events.recorded_at) over (partition by events.order_line_id) as _events_recorded_at

    from {{ ref('int_order_line_events') }} as events
    inner join order_lines
        on events.order_line_id = order_lines.order_line_id
    {% if is_incremental() -%}
    where events.order_line_id in (select order_line_id from touched_lines)
    {%- endif %}
    qualify row_number() over (
        partition by events.event_id order by events.recorded_at, events.source_ref
    ) = 1

),

typed as (

    select
        *,
        {{ lifecycle_attribute('event_type', 'state') }} as state,
        {{ lifecycle_attribute('event_type', 'rank') }} as state_rank,
        {{ lifecycle_attribute('event_type', 'order_rank') }} as order_rank,
        case
            when {{ lifecycle_attribute('event_type', 'tracked') }}
                then coalesce(tracking_number, '')
        end as track,
        -- a cancellation of the whole line (or of no stated units) / of fewer units than it has
        event_type = 'cancelled' and (units is null or units >= quantity) as is_full_cancel,
        event_type = 'cancelled' and units < quantity as is_partial_cancel

    from events
    where {{ lifecycle_attribute('event_type', 'state') }} is not null

),

windowed as (

    select
        *,
        max(state_rank) over before_me as all_max_before,
        max(case when track is null then state_rank end) over before_me as line_max_before,
        {{ oms.last_non_null("case when state_rank = 20 then state end") }} over before_me
            as held_or_validated_before,
        max(state_rank) over (
            partition by order_line_id, track order by occurred_at, order_rank, event_id
            rows between unbounded preceding and 1 preceding
        ) as track_max_before,
        count(case when is_full_cancel then 1 end) over before_me as full_cancels_before,
        count(case when is_partial_cancel then 1 end) over before_me as partial_cancels_before

    from typed
    window before_me as (
        partition by order_line_id order by occurred_at, order_rank, event_id
        rows between unbounded preceding and 1 preceding
    )

),

-- Cancellations, per line: the first one that covers the whole line is final when nothing
-- reached the shipped rank before it; the first one naming fewer units than the line is
-- partial. The earlier of those two is the accepted one; after a final one nothing moves the
-- line.
cancel_candidates as (

    select
        *,
        case
            when is_full_cancel and full_cancels_before = 0
                and coalesce(all_max_before, 0) < {{ lifecycle_shipped_rank() }} then 'final'
            when is_partial_cancel and partial_cancels_before = 0 then 'partial'
        end as cancel_candidate,
        case
            when track is null then coalesce(all_max_before, 0)
            when coalesce(line_max_before, 0) > coalesce(track_max_before, 0)
                then coalesce(line_max_before, 0)
            else coalesce(track_max_before, 0)
        end as scope_max_before

    from windowed

),

decided as (

    select
        *,
        -- the kind of the cancellation accepted before this event, if any
        first_value(cancel_candidate ignore nulls) over (
            partition by order_line_id order by occurred_at, order_rank, event_id
            rows between unbounded preceding and 1 preceding
        ) as cancel_before

    from cancel_candidates

),

accepted as (

    select
        *,
        case when state = 'cancelled' then cancel_candidate end as cancel_kind,
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
        coalesce(cancel_before, '') <> 'final'
        and case
            when state = 'cancelled' then cancel_candidate is not null and cancel_before is null
            when state_rank > scope_max_before then true
            -- held <-> validated, only while neither is passed
            when state_rank = 20 and scope_max_before = 20
                then state <> held_or_validated_before
            else false
        end

),

numbered as (

    select
        *,
        row_number() over by_line as transition_seq,
        -- only held and validated can be reached twice (on one parcel key)
        case state
            when 'held' then count(case when state = 'held' then 1 end) over by_line
            when 'validated' then count(case when state = 'validated' then 1 end) over by_line
            else 1
        end as repeat_no

    from accepted
    window by_line as (
        partition by order_line_id order by occurred_at, order_rank, event_id
        rows between unbounded preceding and current row
    )

),

final as (

    select
        -- stable under late events (a seq is not); a state repeated on one parcel (held again
        -- after validated) gets its repetition number
        {{ dbt.concat(['order_line_id', "':'", 'state', "':'", "coalesce(tracking_number, '')",
            "case when repeat_no > 1 then ':' || cast(repeat_no as " ~ dbt.type_string() ~ ") else '' end"]) }}
            as transition_id,
        order_line_id,
        channel_order_id,
        channel,
        order_id,
        line_ref,
        cast(transition_seq as {{ dbt.type_bigint() }}) as transition_seq,
        from_state,
        state as to_state,
        occurred_at,
        recorded_at,
        source,
        event_id as source_event_id,
        carrier,
        tracking_number,
        location_id,
        units,
        detail,
        cancel_kind,
        _events_recorded_at,
        {{ run_marker() }} as _dbt_run_at

    from numbered

)

select * from final
