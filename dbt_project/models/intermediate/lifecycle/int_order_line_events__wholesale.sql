-- One row per wholesale purchase-order line: placed on the PO's order date (the file carries
-- no status; fulfilment comes from the carrier and the router).
-- Incremental: rows are never revised, so a run adds the rows loaded since the newest here.
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

lines as (

    select * from {{ ref('stg_wholesale__order_lines') }}
    {% if is_incremental() -%}
    where _loaded_at > {{ high_water_value('recorded_at') }}
    {%- endif %}

),

events as (

    select
        po_number as order_id,
        {{ dbt.concat(['po_number', "'-'", 'cast(line_no as ' ~ dbt.type_string() ~ ')']) }} as line_ref,
        customer_id,
        order_date,
        _loaded_at

    from lines

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'wholesale:'", 'order_id', "':'", 'line_ref', "':placed'"]),
            channel="'wholesale'",
            order_id='order_id',
            line_ref='line_ref',
            event_type="'placed'",
            occurred_at='cast(order_date as ' ~ dbt.type_timestamp() ~ ')',
            recorded_at='_loaded_at',
            source="'wholesale'",
            source_ref=dbt.concat(['customer_id', "':'", 'line_ref'])
        ) }}

    from events

)

select * from final
