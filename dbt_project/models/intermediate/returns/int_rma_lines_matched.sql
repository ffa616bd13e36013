-- One row per RMA line, matched to the order line it returns: by the channel's line reference,
-- or, when the RMA carries none, by SKU within the order (the first such line by line_ref).
-- RMA lines that match no known order line keep a NULL order_line_id.
--
-- Incremental (delete+insert on rma_line_id): a run re-matches the RMA lines loaded since the
-- last run (`_loaded_at`; the ingest commits each load whole and never replaces a loaded key,
-- so a load is consumed once) and the RMA lines of the orders int_order_lines_unioned rewrote
-- since (`_order_lines_run_at`: an order arriving after its return, or a new version changing
-- its lines). Rows it writes carry `_dbt_run_at`.
{{
    config(
        materialized='incremental',
        unique_key='rma_line_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

all_rma_lines as (

    select * from {{ ref('stg_returns__rma_lines') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

{% if is_incremental() %}

touched_orders as (

    select channel_order_id
    from order_lines
    where _dbt_run_at > {{ high_water_mark('_order_lines_run_at') }}

),

{% endif %}

lines_to_match as (

    select * from all_rma_lines
    {% if is_incremental() -%}
    where _loaded_at > {{ high_water_mark('_loaded_at') }}
        or {{ dbt.concat(['channel', "':'", 'order_id']) }}
            in (select channel_order_id from touched_orders)
    {%- endif %}

),

-- the order lines of the orders returned from (the SKU match ranks within an order)
returned_order_lines as (

    select * from order_lines
    where channel_order_id in (
        select {{ dbt.concat(['channel', "':'", 'order_id']) }} from lines_to_match
    )

),

by_sku as (

    {{ latest_version(
        'returned_order_lines',
        ['channel', 'order_id', 'sku'],
        'line_ref asc'
    ) }}

),

matched as (

    select
        {{ dbt.concat(['rma_lines.rma_id', "':'", 'cast(rma_lines.rma_line as ' ~ dbt.type_string() ~ ')']) }}
            as rma_line_id,
        rma_lines.*,
        coalesce(by_ref.order_line_id, by_sku.order_line_id) as order_line_id,
        case
            when by_ref.order_line_id is not null then 'line_ref'
            when by_sku.order_line_id is not null then 'sku'
        end as order_line_match,
        coalesce(by_ref._dbt_run_at, by_sku._dbt_run_at) as _order_lines_run_at,
        {{ run_marker() }} as _dbt_run_at

    from lines_to_match as rma_lines
    left join returned_order_lines as by_ref
        on rma_lines.channel = by_ref.channel
        and rma_lines.order_id = by_ref.order_id
        and rma_lines.line_ref = by_ref.line_ref
    left join by_sku
        on rma_lines.line_ref is null
        and rma_lines.channel = by_sku.channel
        and rma_lines.order_id = by_sku.order_id
        and rma_lines.sku = by_sku.sku

)

select * from matched
