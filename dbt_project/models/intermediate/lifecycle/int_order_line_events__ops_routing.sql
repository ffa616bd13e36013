-- One row per (routing decision or fulfillment request, order line): allocated when a routing
-- run allocated units at a location (ops.allocations), released when the warehouse
-- acknowledged the fulfillment request carrying them (ops.outbox, kind fulfillment_request,
-- delivered_at), cancelled when a run cancelled units that waited longer than the rule allows
-- (ops.routing_decisions, outcome cancelled). Times are the ops rows' own: the router's clock.
with

allocations as (

    select * from {{ ref('stg_ops__allocations') }}

),

outbox as (

    select * from {{ ref('stg_ops__outbox') }}
    where kind = 'fulfillment_request'

),

decisions as (

    select * from {{ ref('stg_ops__routing_decisions') }}
    where outcome = 'cancelled'

),

order_lines as (

    select order_line_id, channel, order_id, line_ref from {{ ref('int_order_lines_unioned') }}

),

events as (

    select
        {{ dbt.concat(["'ops_routing:allocated:'", 'run_id', "':'", 'order_line_id', "':'", 'location_id']) }} as event_id,
        order_line_id,
        'allocated' as event_type,
        units,
        allocated_at as occurred_at,
        location_id,
        run_id as source_ref,
        {{ dbt.concat(["'run '", 'run_id']) }} as detail
    from allocations
    union all
    select
        {{ dbt.concat(["'ops_routing:released:'", 'allocations.action_id', "':'", 'allocations.order_line_id']) }},
        allocations.order_line_id,
        'released',
        allocations.units,
        outbox.delivered_at,
        allocations.location_id,
        allocations.action_id,
        outbox.destination
    from allocations
    inner join outbox
        on allocations.action_id = outbox.action_id
    where outbox.delivered_at is not null
    union all
    select
        {{ dbt.concat(["'ops_routing:cancelled:'", 'decision_id']) }},
        order_line_id,
        'cancelled',
        units,
        decided_at,
        location_id,
        decision_id,
        coalesce(rule, 'cancelled by the router')
    from decisions

),

final as (

    select
        {{ order_line_event(
            event_id='events.event_id',
            channel='order_lines.channel',
            order_id='order_lines.order_id',
            line_ref='order_lines.line_ref',
            event_type='events.event_type',
            occurred_at='events.occurred_at',
            recorded_at='events.occurred_at',
            source="'ops_routing'",
            source_ref='events.source_ref',
            units='events.units',
            location_id='events.location_id',
            detail='events.detail'
        ) }}

    from events
    inner join order_lines
        on events.order_line_id = order_lines.order_line_id

)

select * from final
