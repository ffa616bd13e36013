-- One row per (store sale line, event): a sale completed at the till is placed and delivered
-- in the same instant, at the store. Till returns (negative quantities) are not order lines.
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

sales as (

    select * from {{ ref('stg_pos__sales') }}
    where quantity > 0
    {% if is_incremental() -%}
        and _loaded_at > {{ high_water_value('recorded_at') }}
    {%- endif %}

),

events as (

    select
        {{ dbt.concat(['store_id', "'-'", 'register_id', "'-'", 'receipt_no']) }} as order_id,
        cast(line_no as {{ dbt.type_string() }}) as line_ref,
        store_id,
        sold_at,
        _loaded_at,
        event_type

    from sales
    cross join (
        select 'placed' as event_type
        union all
        select 'delivered' as event_type
    ) as at_the_till

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'pos:'", 'order_id', "':'", 'line_ref', "':'", 'event_type']),
            channel="'pos'",
            order_id='order_id',
            line_ref='line_ref',
            event_type='event_type',
            occurred_at='sold_at',
            recorded_at='_loaded_at',
            source="'pos'",
            source_ref=dbt.concat(['order_id', "':'", 'line_ref']),
            location_id='store_id',
            detail="'sold at the till'"
        ) }}

    from events

)

select * from final
