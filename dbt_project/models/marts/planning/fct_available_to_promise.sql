-- One row per SKU × location: the stock that can still be promised, and why.
--   available_before_allocations = on_hand + restocked - reserved - safety_buffer
--                                  + inbound_eligible                                     (>= 0)
--   available_to_promise        = available_before_allocations - allocated                (>= 0)
-- on_hand: the latest end-of-day snapshot; reserved: units labelled for open lines at the
-- location but not yet picked up by the carrier (conservative: counted even if the snapshot
-- already dropped them); safety_buffer: per location kind (seed location_safety_buffers);
-- inbound_eligible: open purchase-order units expected within `atp_inbound_horizon_days` of the
-- snapshot (0 turns inbound off); allocated: routing allocations not yet reflected in a
-- snapshot (macro allocations_with_outstanding, the one definition the router also runs);
-- restocked: returned units received back at the location in a restockable condition after the
-- end of its latest snapshot's day (a snapshot taken after the receipt already counts them, so
-- they are added exactly once, until that snapshot arrives; damaged or non-restockable units
-- never come back into stock).
with

snapshots as (

    select * from {{ ref('fct_inventory_snapshots') }}

),

ranked as (

    select
        location_id,
        sku,
        snapshot_date,
        on_hand,
        row_number() over (partition by location_id, sku order by snapshot_date desc) as recency

    from snapshots

),

latest as (

    select location_id, sku, snapshot_date, on_hand from ranked where recency = 1

),

locations as (

    select * from {{ ref('dim_locations') }}

),

buffers as (

    select * from {{ ref('location_safety_buffers') }}

),

as_of as (

    select max(snapshot_date) as snapshot_date from latest

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

reserved as (

    select
        fulfilling_location_id as location_id,
        sku,
        sum(units_labelled - units_shipped) as reserved

    from order_lines
    where line_status in ('open', 'partially_shipped')
        and units_labelled > units_shipped
    group by fulfilling_location_id, sku

),

po_lines as (

    select * from {{ ref('stg_inbound__purchase_order_lines') }}

),

receipts as (

    select po_id, po_line, sum(received_quantity) as received_quantity
    from {{ ref('stg_inbound__receipts') }}
    group by po_id, po_line

),

inbound as (

    select
        po_lines.location_id,
        po_lines.sku,
        sum(po_lines.ordered_quantity - coalesce(receipts.received_quantity, 0)) as inbound_open,
        sum(
            case
                when po_lines.expected_date <= cast({{ dbt.dateadd(
                    'day', var('atp_inbound_horizon_days', 2), 'as_of.snapshot_date') }} as date)
                    then po_lines.ordered_quantity - coalesce(receipts.received_quantity, 0)
                else 0
            end
        ) as inbound_eligible

    from po_lines
    cross join as_of
    left join receipts
        on po_lines.po_id = receipts.po_id
        and po_lines.po_line = receipts.po_line
    where po_lines.ordered_quantity > coalesce(receipts.received_quantity, 0)
    group by po_lines.location_id, po_lines.sku

),

latest_at as (

    -- the moment each pair's stock figure describes: the end of its snapshot's business day
    select
        location_id,
        sku,
        cast({{ dbt.dateadd('day', 1, 'snapshot_date') }} as timestamp) as snapshot_at

    from latest

),

restocks as (

    select
        rma_lines.received_location_id as location_id,
        rma_lines.sku,
        sum(rma_lines.quantity) as restocked

    from {{ ref('stg_returns__rma_lines') }} as rma_lines
    inner join latest_at
        on rma_lines.received_location_id = latest_at.location_id
        and rma_lines.sku = latest_at.sku
    where rma_lines.is_restockable
        and rma_lines.item_condition <> 'damaged'
        and rma_lines.received_at >= latest_at.snapshot_at
    group by rma_lines.received_location_id, rma_lines.sku

),

allocations as (

    {{ allocations_with_outstanding(ref('stg_ops__allocations'), ref('stg_ops__outbox'),
                                    'latest_at') }}

),

allocated as (

    select
        location_id,
        sku,
        sum(units) as allocated

    from allocations
    where is_outstanding
    group by location_id, sku

),

components as (

    select
        latest.sku,
        latest.location_id,
        locations.location_kind,
        locations.can_ship,
        latest.snapshot_date,
        -- end of the snapshot's business day: the moment the stock figure describes
        cast({{ dbt.dateadd('day', 1, 'latest.snapshot_date') }} as timestamp) as snapshot_at,
        latest.on_hand,
        cast(coalesce(restocks.restocked, 0) as {{ dbt.type_bigint() }}) as restocked,
        cast(coalesce(reserved.reserved, 0) as {{ dbt.type_bigint() }}) as reserved,
        cast(
            case
                when latest.on_hand <= 0 then 0
                when ceil(latest.on_hand * buffers.buffer_share) > buffers.buffer_units
                    then ceil(latest.on_hand * buffers.buffer_share)
                else buffers.buffer_units
            end as {{ dbt.type_bigint() }}
        ) as safety_buffer,
        cast(coalesce(inbound.inbound_open, 0) as {{ dbt.type_bigint() }}) as inbound_open,
        cast(coalesce(inbound.inbound_eligible, 0) as {{ dbt.type_bigint() }}) as inbound_eligible,
        cast(coalesce(allocated.allocated, 0) as {{ dbt.type_bigint() }}) as allocated

    from latest
    inner join locations
        on latest.location_id = locations.location_id
    left join buffers
        on locations.location_kind = buffers.location_kind
    left join reserved
        on latest.location_id = reserved.location_id
        and latest.sku = reserved.sku
    left join inbound
        on latest.location_id = inbound.location_id
        and latest.sku = inbound.sku
    left join allocated
        on latest.location_id = allocated.location_id
        and latest.sku = allocated.sku
    left join restocks
        on latest.location_id = restocks.location_id
        and latest.sku = restocks.sku

),

final as (

    select
        {{ dbt.concat(['location_id', "':'", 'sku']) }} as atp_id,
        *,
        case
            when on_hand + restocked - reserved - safety_buffer + inbound_eligible > 0
                then on_hand + restocked - reserved - safety_buffer + inbound_eligible
            else 0
        end as available_before_allocations

    from components

)

select
    *,
    case
        when available_before_allocations - allocated > 0
            then available_before_allocations - allocated
        else 0
    end as available_to_promise
from final
