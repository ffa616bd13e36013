-- One row per (RMA line, event) for RMA lines matched to an order line: return_requested when
-- the RMA was opened, returned when the parcel was received (at the receiving location, with
-- its condition), refunded or refund_rejected once decided (the desk records no decision time:
-- the receipt, or the request for a refund decided before the parcel came back). recorded_at is
-- when both the RMA and its order line were known.
with

rma_lines as (

    select * from {{ ref('int_rma_lines_matched') }}
    where order_line_id is not null

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

matched as (

    select
        rma_lines.rma_id,
        rma_lines.rma_line,
        order_lines.channel,
        order_lines.order_id,
        order_lines.line_ref,
        rma_lines.quantity,
        rma_lines.requested_at,
        rma_lines.received_at,
        rma_lines.received_location_id,
        rma_lines.item_condition,
        rma_lines.is_restockable,
        rma_lines.reason_code,
        rma_lines.refund_status,
        case
            when rma_lines._loaded_at > order_lines._loaded_at then rma_lines._loaded_at
            else order_lines._loaded_at
        end as recorded_at

    from rma_lines
    inner join order_lines
        on rma_lines.order_line_id = order_lines.order_line_id

),

events as (

    select *, 'return_requested' as event_type, requested_at as occurred_at,
        cast(null as {{ dbt.type_string() }}) as event_location_id, reason_code as detail
    from matched
    where requested_at is not null
    union all
    select *, 'returned' as event_type, received_at as occurred_at,
        received_location_id as event_location_id,
        {{ dbt.concat(['item_condition', "case when is_restockable then ' restockable' else ' not restockable' end"]) }} as detail
    from matched
    where received_at is not null
    union all
    select *,
        case refund_status when 'refunded' then 'refunded' else 'refund_rejected' end as event_type,
        coalesce(received_at, requested_at) as occurred_at,
        cast(null as {{ dbt.type_string() }}) as event_location_id, refund_status as detail
    from matched
    where refund_status in ('refunded', 'rejected')
        and coalesce(received_at, requested_at) is not null

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'returns:'", 'rma_id', "'-'", 'cast(rma_line as ' ~ dbt.type_string() ~ ')', "':'", 'event_type']),
            channel='channel',
            order_id='order_id',
            line_ref='line_ref',
            event_type='event_type',
            occurred_at='occurred_at',
            recorded_at='recorded_at',
            source="'returns'",
            source_ref=dbt.concat(['rma_id', "'-'", 'cast(rma_line as ' ~ dbt.type_string() ~ ')']),
            units='quantity',
            location_id='event_location_id',
            detail='detail'
        ) }}

    from events

)

select * from final
