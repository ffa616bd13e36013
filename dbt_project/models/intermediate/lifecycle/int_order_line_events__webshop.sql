-- One row per (web shop order line, event): placed, cancelled and refunded, each at the first
-- order version that showed it. Read from every order version (not only the latest), so a
-- cancellation or refund that a later version supersedes still happened, and an event is the
-- same whichever version arrived first: occurred_at is the business time the version carries,
-- recorded_at the load of the first version that showed it.
-- A partial refund names no line (the shop reports an amount), so it is not a line event.
--
-- Incremental (delete+insert on event_id): a run recomputes, from all their versions, the
-- orders that received a version loaded after the newest event already recorded here.
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

{% if is_incremental() %}

touched_orders as (

    select distinct order_id
    from {{ ref('stg_webshop__order_versions') }}
    where _loaded_at > {{ high_water_value('recorded_at') }}

),

{% endif %}

order_versions as (

    select * from {{ ref('stg_webshop__order_versions') }}
    {% if is_incremental() -%}
    where order_id in (select order_id from touched_orders)
    {%- endif %}

),

line_versions as (

    select * from {{ ref('stg_webshop__order_line_versions') }}
    {% if is_incremental() -%}
    where order_id in (select order_id from touched_orders)
    {%- endif %}

),

versions as (

    select
        order_versions.order_id,
        line_versions.line_item_id,
        order_versions.ordered_at,
        order_versions.updated_at,
        order_versions.cancelled_at,
        order_versions.cancel_reason,
        order_versions.financial_status,
        order_versions._loaded_at

    from line_versions
    inner join order_versions
        on line_versions.order_id = order_versions.order_id
        and line_versions.order_updated_at = order_versions.updated_at

),

placed as (

    select
        order_id,
        line_item_id,
        'placed' as event_type,
        min(ordered_at) as occurred_at,
        min(_loaded_at) as recorded_at,
        min(updated_at) as first_version_at,
        cast(null as {{ dbt.type_string() }}) as detail

    from versions
    group by order_id, line_item_id

),

cancelled as (

    select
        order_id,
        line_item_id,
        'cancelled' as event_type,
        min(cancelled_at) as occurred_at,
        min(_loaded_at) as recorded_at,
        min(updated_at) as first_version_at,
        max(cancel_reason) as detail

    from versions
    where cancelled_at is not null
    group by order_id, line_item_id

),

refunded as (

    select
        order_id,
        line_item_id,
        'refunded' as event_type,
        min(updated_at) as occurred_at,
        min(_loaded_at) as recorded_at,
        min(updated_at) as first_version_at,
        'financial_status refunded' as detail

    from versions
    where financial_status = 'refunded'
    group by order_id, line_item_id

),

events as (

    select * from placed
    union all
    select * from cancelled
    union all
    select * from refunded

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'webshop:'", 'order_id', "':'", 'line_item_id', "':'", 'event_type']),
            channel="'webshop'",
            order_id='order_id',
            line_ref='line_item_id',
            event_type='event_type',
            occurred_at='occurred_at',
            recorded_at='recorded_at',
            source="'webshop'",
            source_ref='cast(first_version_at as ' ~ dbt.type_string() ~ ')',
            detail='detail'
        ) }}

    from events

)

select * from final
