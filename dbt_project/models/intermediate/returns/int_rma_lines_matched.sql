-- One row per RMA line, matched to the order line it returns: by the channel's line reference,
-- or, when the RMA carries none, by SKU within the order (the first such line by line_ref).
-- RMA lines that match no known order line keep a NULL order_line_id.
with

rma_lines as (

    select * from {{ ref('stg_returns__rma_lines') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

by_sku as (

    {{ latest_version(
        'order_lines',
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
        end as order_line_match

    from rma_lines
    left join order_lines as by_ref
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
