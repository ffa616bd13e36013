-- One row per shipment line, return (RMA) line or purchase-order receipt that refers to an order
-- line or purchase-order line the platform does not know. Such a record is loaded (its own
-- fields are valid) but would silently count for nothing: a shipment of an unknown line leaves
-- the real line open, a receipt of an unknown PO line never reaches its stock. Listed here, and
-- warned about by the test `has_no_rows`, so that a person can see and repair it.
with

shipment_lines as (

    select * from {{ ref('stg_carrier__shipment_lines') }}

),

rma_lines as (

    select * from {{ ref('int_rma_lines_matched') }}

),

receipts as (

    select * from {{ ref('stg_inbound__receipts') }}

),

purchase_order_lines as (

    select * from {{ ref('stg_inbound__purchase_order_lines') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

unmatched_shipment_lines as (

    select
        'shipment_line' as line_kind,
        shipment_lines.event_id as record_id,
        shipment_lines.channel,
        shipment_lines.order_id,
        shipment_lines.line_ref,
        shipment_lines.sku,
        shipment_lines.quantity,
        'no order line ' || coalesce(shipment_lines.channel, '?') || ':'
            || coalesce(shipment_lines.order_id, '?') || ':'
            || coalesce(shipment_lines.line_ref, '?') as reason,
        shipment_lines._file,
        shipment_lines._loaded_at
    from shipment_lines
    left join order_lines
        on shipment_lines.channel = order_lines.channel
        and shipment_lines.order_id = order_lines.order_id
        and shipment_lines.line_ref = order_lines.line_ref
    where order_lines.order_line_id is null

),

unmatched_rma_lines as (

    select
        'rma_line' as line_kind,
        rma_line_id as record_id,
        channel,
        order_id,
        line_ref,
        sku,
        quantity,
        'no order line ' || channel || ':' || order_id || ':'
            || coalesce(line_ref, 'sku ' || sku) as reason,
        _file,
        _loaded_at
    from rma_lines
    where order_line_id is null

),

unmatched_receipts as (

    select
        'receipt' as line_kind,
        receipts.receipt_id || ':' || receipts.po_id || ':'
            || cast(receipts.po_line as {{ dbt.type_string() }}) as record_id,
        cast(null as {{ dbt.type_string() }}) as channel,
        receipts.po_id as order_id,
        cast(receipts.po_line as {{ dbt.type_string() }}) as line_ref,
        receipts.sku,
        receipts.received_quantity as quantity,
        'no purchase-order line ' || receipts.po_id || ':'
            || cast(receipts.po_line as {{ dbt.type_string() }}) as reason,
        receipts._file,
        receipts._loaded_at
    from receipts
    left join purchase_order_lines
        on receipts.po_id = purchase_order_lines.po_id
        and receipts.po_line = purchase_order_lines.po_line
    where purchase_order_lines.po_id is null

)

select * from unmatched_shipment_lines
union all
select * from unmatched_rma_lines
union all
select * from unmatched_receipts
