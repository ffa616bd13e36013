{#-
    One row per channel order: its lifecycle state rolled up from its lines (contract 2,
    docs/lifecycle.md). With A the order's units not cancelled:
      cancelled            every unit cancelled (A = 0)
      refunded             A units refunded
      returned / partially_returned       A / some units received back
      delivered / partially_delivered     A / some units delivered
      shipped, in_transit, out_for_delivery   A units shipped: the least advanced line's state
      partially_shipped    some units shipped
      partially_cancelled  nothing shipped, some units cancelled
      held                 a line is held (open hold)
      otherwise the least advanced line's state (placed, validated, allocated, released)
    state_since: the latest state change of its lines. is_held / hold_reasons: a hold on the
    order not resolved yet (ops.order_holds), or a line held by the validation.

    Incremental (delete+insert per order): the orders whose lines fct_order_line_states rewrote
    since the newest line state consumed (a literal high-water mark, so that scan skips the older
    row groups), with every line of them.
-#}
{{
    config(
        materialized='incremental',
        unique_key='channel_order_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

{% if is_incremental() %}

touched_orders as (

    select distinct channel_order_id
    from {{ ref('fct_order_line_states') }}
    where _dbt_run_at > {{ high_water_value('_line_states_run_at') }}

),

{% endif %}

-- every line of the orders to compute (a touched order's other lines too)
line_states as (

    select
        *,
        {{ lifecycle_attribute('state', 'rank') }} as state_rank
    from {{ ref('fct_order_line_states') }}
    {% if is_incremental() -%}
    where channel_order_id in (select channel_order_id from touched_orders)
    {%- endif %}

),

holds as (

    select * from {{ ref('stg_ops__order_holds') }}

),

open_hold_reasons as (

    select distinct channel_order_id, reason_code
    from holds
    where resolution is null

),

open_holds as (

    select
        channel_order_id,
        {{ oms.sorted_list('reason_code', "', '") }} as hold_reasons

    from open_hold_reasons
    group by channel_order_id

),

aggregated as (

    select
        channel_order_id,
        max(channel) as channel,
        max(order_id) as order_id,
        count(*) as lines,
        sum(quantity) as units,
        sum(units_shipped) as units_shipped,
        sum(units_delivered) as units_delivered,
        sum(units_cancelled) as units_cancelled,
        sum(units_returned) as units_returned,
        sum(units_refunded) as units_refunded,
        min(case when state <> 'cancelled' then state_rank end) as least_rank,
        max(case when state = 'held' then 1 else 0 end) as has_held_line,
        max(case when state = 'validated' then 1 else 0 end) as has_validated_line,
        max(state_since) as state_since,
        max(_dbt_run_at) as _line_states_run_at

    from line_states
    group by channel_order_id

),

stated as (

    select
        aggregated.*,
        aggregated.units - aggregated.units_cancelled as units_active,
        open_holds.hold_reasons,
        case
            when aggregated.least_rank = 20 and aggregated.has_held_line = 1 then 'held'
            when aggregated.least_rank = 20 then 'validated'
            else {{ lifecycle_state_of_rank('aggregated.least_rank') }}
        end as least_state

    from aggregated
    left join open_holds
        on aggregated.channel_order_id = open_holds.channel_order_id

),

final as (

    select
        channel_order_id,
        channel,
        order_id,
        case
            when units_active <= 0 then 'cancelled'
            when units_refunded >= units_active then 'refunded'
            when units_returned >= units_active then 'returned'
            when units_returned > 0 then 'partially_returned'
            when units_delivered >= units_active then 'delivered'
            when units_delivered > 0 then 'partially_delivered'
            when units_shipped >= units_active
                then case when least_rank >= {{ lifecycle_shipped_rank() }} and least_rank < 80
                    then least_state else 'shipped' end
            when units_shipped > 0 then 'partially_shipped'
            when units_cancelled > 0 then 'partially_cancelled'
            when has_held_line = 1 or hold_reasons is not null then 'held'
            else coalesce(least_state, 'placed')
        end as state,
        cast(lines as {{ dbt.type_bigint() }}) as lines,
        cast(units as {{ dbt.type_bigint() }}) as units,
        state_since,
        (has_held_line = 1 or hold_reasons is not null) as is_held,
        hold_reasons,
        cast(units_shipped as {{ dbt.type_bigint() }}) as units_shipped,
        cast(units_delivered as {{ dbt.type_bigint() }}) as units_delivered,
        cast(units_cancelled as {{ dbt.type_bigint() }}) as units_cancelled,
        cast(units_returned as {{ dbt.type_bigint() }}) as units_returned,
        cast(units_refunded as {{ dbt.type_bigint() }}) as units_refunded,
        _line_states_run_at,
        {{ run_marker() }} as _dbt_run_at

    from stated

)

select * from final
