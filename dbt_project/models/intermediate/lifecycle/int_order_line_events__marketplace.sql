-- One row per (marketplace order item, event), from every version of the item the daily
-- reports carried: placed at the purchase date, shipped or cancelled at the first report that
-- showed that status (its last-updated time). A report names no tracking number, so the
-- marketplace's shipped is the channel's own account; the carrier's events carry the parcel.
--
-- Incremental (delete+insert on event_id): a run recomputes, from all their versions, the
-- items that received a version loaded after the newest event already recorded here.
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

touched_items as (

    select distinct order_id, order_item_id
    from {{ ref('stg_marketplace__order_item_versions') }}
    where _loaded_at > {{ high_water_value('recorded_at') }}

),

{% endif %}

versions as (

    select versions.*
    from {{ ref('stg_marketplace__order_item_versions') }} as versions
    {% if is_incremental() -%}
    inner join touched_items
        on versions.order_id = touched_items.order_id
        and versions.order_item_id = touched_items.order_item_id
    {%- endif %}

),

statuses as (

    select
        order_id,
        order_item_id,
        case order_status
            when 'Shipped' then 'shipped'
            when 'Canceled' then 'cancelled'
        end as event_type,
        last_updated_at,
        order_status,
        _loaded_at

    from versions
    where order_status in ('Shipped', 'Canceled')

),

placed as (

    select
        order_id,
        order_item_id,
        'placed' as event_type,
        min(purchased_at) as occurred_at,
        min(_loaded_at) as recorded_at,
        min(last_updated_at) as first_version_at,
        min(order_status) as detail

    from versions
    group by order_id, order_item_id

),

changed as (

    select
        order_id,
        order_item_id,
        event_type,
        min(last_updated_at) as occurred_at,
        min(_loaded_at) as recorded_at,
        min(last_updated_at) as first_version_at,
        min(order_status) as detail

    from statuses
    group by order_id, order_item_id, event_type

),

events as (

    select * from placed
    union all
    select * from changed

),

final as (

    select
        {{ order_line_event(
            event_id=dbt.concat(["'marketplace:'", 'order_id', "':'", 'order_item_id', "':'", 'event_type']),
            channel="'marketplace'",
            order_id='order_id',
            line_ref='order_item_id',
            event_type='event_type',
            occurred_at='occurred_at',
            recorded_at='recorded_at',
            source="'marketplace'",
            source_ref='cast(first_version_at as ' ~ dbt.type_string() ~ ')',
            detail='detail'
        ) }}

    from events

)

select * from final
