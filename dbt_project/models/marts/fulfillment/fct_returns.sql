-- One row per returned line: every RMA line (return_kind 'rma'), plus every return at a store
-- till (return_kind 'till', a negative-quantity POS receipt line). RMA lines carry the order
-- line they return when it is known; till returns do not reference the original sale.
--
-- Incremental (delete+insert on return_line_id): a run writes the RMA lines
-- int_rma_lines_matched (re)wrote since the last run (`_rma_run_at`: new lines, and lines of
-- orders that changed, so `order_date` follows the order) and the till returns loaded since
-- (`_loaded_at`; the ingest never replaces a loaded key, so a load is consumed once).
{{
    config(
        materialized='incremental',
        unique_key='return_line_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

rma_lines as (

    select * from {{ ref('int_rma_lines_matched') }}
    {% if is_incremental() -%}
    where _dbt_run_at > {{ high_water_mark('_rma_run_at') }}
    {%- endif %}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

pos_sales as (

    select * from {{ ref('stg_pos__sales') }}
    where quantity < 0
    {% if is_incremental() -%}
        and _loaded_at > (
            select coalesce(max(_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
            from {{ this }}
            where return_kind = 'till'
        )
    {%- endif %}

),

rma as (

    select
        {{ dbt.concat(["'rma:'", 'rma_lines.rma_line_id']) }} as return_line_id,
        'rma' as return_kind,
        rma_lines.rma_id,
        rma_lines.rma_line,
        rma_lines.channel,
        rma_lines.order_id,
        rma_lines.line_ref,
        rma_lines.order_line_id,
        rma_lines.order_line_match,
        order_lines.order_date,
        rma_lines.sku,
        rma_lines.quantity as units_returned,
        rma_lines.reason_code,
        rma_lines.item_condition,
        rma_lines.is_restockable,
        rma_lines.refund_status,
        rma_lines.refund_amount,
        rma_lines.currency,
        rma_lines.requested_at,
        rma_lines.received_at,
        rma_lines.received_location_id,
        rma_lines._loaded_at,
        rma_lines._dbt_run_at as _rma_run_at

    from rma_lines
    left join order_lines
        on rma_lines.order_line_id = order_lines.order_line_id

),

till as (

    select
        {{ dbt.concat([
            "'till:'", 'store_id', "':'", 'register_id', "':'", 'receipt_no', "':'",
            'cast(line_no as ' ~ dbt.type_string() ~ ')'
        ]) }} as return_line_id,
        'till' as return_kind,
        cast(null as {{ dbt.type_string() }}) as rma_id,
        cast(null as {{ dbt.type_int() }}) as rma_line,
        'pos' as channel,
        {{ dbt.concat(['store_id', "'-'", 'register_id', "'-'", 'receipt_no']) }} as order_id,
        cast(line_no as {{ dbt.type_string() }}) as line_ref,
        cast(null as {{ dbt.type_string() }}) as order_line_id,
        cast(null as {{ dbt.type_string() }}) as order_line_match,
        cast(null as date) as order_date,
        sku,
        -quantity as units_returned,
        cast(null as {{ dbt.type_string() }}) as reason_code,
        cast(null as {{ dbt.type_string() }}) as item_condition,
        cast(null as {{ dbt.type_boolean() }}) as is_restockable,
        'refunded' as refund_status,
        -quantity * unit_price as refund_amount,
        currency,
        sold_at as requested_at,
        sold_at as received_at,
        store_id as received_location_id,
        _loaded_at,
        cast(null as {{ dbt.type_timestamp() }}) as _rma_run_at

    from pos_sales

),

unioned as (

    select * from rma
    union all
    select * from till

),

final as (

    select
        *,
        cast(requested_at as date) as return_date,
        order_line_id is not null as is_matched_to_order_line,
        {{ run_marker() }} as _dbt_run_at

    from unioned

)

select * from final
