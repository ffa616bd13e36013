-- One row per (order holds decision, line of the order): validated or held when the holds step
-- evaluated the order (ops.order_validations), held per hold placed (ops.order_holds, with its
-- reason), and, when a person resolved a hold, validated (released) or cancelled at that time.
-- An order-level decision applies to every line the order has.
with

validations as (

    select * from {{ ref('stg_ops__order_validations') }}

),

holds as (

    select * from {{ ref('stg_ops__order_holds') }}

),

order_lines as (

    select channel_order_id, channel, order_id, line_ref, _loaded_at
    from {{ ref('int_order_lines_unioned') }}

),

decisions as (

    select
        {{ dbt.concat(["'ops_holds:validation:'", 'channel_order_id']) }} as event_key,
        channel_order_id,
        outcome as event_type,
        evaluated_at as occurred_at,
        channel_order_id as source_ref,
        {{ dbt.concat(["'rules '", 'rules_version']) }} as detail
    from validations
    where outcome in ('validated', 'held')
    union all
    select
        {{ dbt.concat(["'ops_holds:held:'", 'hold_id']) }},
        channel_order_id,
        'held',
        held_at,
        hold_id,
        reason_code
    from holds
    union all
    select
        {{ dbt.concat(["'ops_holds:'", 'resolution', "':'", 'hold_id']) }},
        channel_order_id,
        case resolution when 'released' then 'validated' else 'cancelled' end,
        resolved_at,
        hold_id,
        {{ dbt.concat(['resolution', "' by '", "coalesce(resolved_by, '?')"]) }}
    from holds
    where resolution in ('released', 'cancelled')
        and resolved_at is not null

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(['decisions.event_key', "':'", 'order_lines.line_ref']),
            channel='order_lines.channel',
            order_id='order_lines.order_id',
            line_ref='order_lines.line_ref',
            event_type='decisions.event_type',
            occurred_at='decisions.occurred_at',
            recorded_at='decisions.occurred_at',
            source="'ops_holds'",
            source_ref='decisions.source_ref',
            detail='decisions.detail'
        ) }}

    from decisions
    inner join order_lines
        on decisions.channel_order_id = order_lines.channel_order_id

)

select * from final
