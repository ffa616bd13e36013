-- One row per order line across all channels, with its fulfilment (shipped units, fulfilling
-- location, on-time flags) and returns. POS sales are fulfilled at the till: shipped at sale
-- time from the store. Units shipped are the units in the line's shipments that the carrier
-- has scanned (picked up), capped at the ordered quantity. A channel that reports its own
-- fulfilment (the Olist export's sellers: `reported_shipped_at`, `reported_delivered_at`) has
-- its whole line shipped / delivered at the reported times where no carrier data says more.
--
-- Incremental: a run rewrites whole orders (delete+insert on channel_order_id) - those whose
-- lines, shipments or returns changed since the last run: order lines rewritten by
-- int_order_lines_unioned, lines whose shipment summary int_order_line_shipments_aggregated
-- rewrote (both found by their `_dbt_run_at` marker), and lines with RMA lines loaded since.
{{
    config(
        materialized='incremental',
        unique_key='channel_order_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

all_order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

shipped as (

    select * from {{ ref('int_order_line_shipments_aggregated') }}

),

rma_lines as (

    select * from {{ ref('int_rma_lines_matched') }}

),

{% if is_incremental() %}

touched_orders as (

    select channel_order_id
    from all_order_lines
    where _dbt_run_at > {{ high_water_mark('_order_run_at') }}
    union
    select all_order_lines.channel_order_id
    from shipped
    inner join all_order_lines
        on shipped.order_line_id = all_order_lines.order_line_id
    where shipped._dbt_run_at > {{ high_water_mark('_shipments_run_at') }}
    union
    select all_order_lines.channel_order_id
    from rma_lines
    inner join all_order_lines
        on rma_lines.order_line_id = all_order_lines.order_line_id
    where rma_lines._loaded_at > {{ high_water_mark('_returns_loaded_at') }}

),

{% endif %}

order_lines as (

    select * from all_order_lines
    {% if is_incremental() -%}
    where channel_order_id in (select channel_order_id from touched_orders)
    {%- endif %}

),

returned as (

    select
        order_line_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units_returned,
        count(*) as rma_lines,
        min(requested_at) as first_return_requested_at,
        max(_loaded_at) as _returns_loaded_at

    from rma_lines
    where order_line_id is not null
    group by order_line_id

),

joined as (

    select
        order_lines.*,
        case
            when order_lines.channel = 'pos' then order_lines.quantity
            when order_lines.reported_shipped_at is not null then order_lines.quantity
            else coalesce(shipped.units_shipped, 0)
        end as units_in_shipments,
        case
            when order_lines.channel = 'pos' then order_lines.store_location_id
            else shipped.fulfilling_location_id
        end as shipped_from_location_id,
        coalesce(shipped.shipments, 0) as shipments,
        case when order_lines.channel = 'pos' then order_lines.quantity
            else coalesce(shipped.units_labelled, 0) end as units_labelled,
        coalesce(shipped.ship_from_locations, 0) as ship_from_locations,
        case when order_lines.reported_delivered_at is not null then order_lines.quantity
            else shipped.units_delivered end as units_delivered,
        case when order_lines.channel = 'pos' then order_lines.ordered_at
            else shipped.first_label_created_at end as first_label_created_at,
        case when order_lines.channel = 'pos' then order_lines.ordered_at
            else coalesce(shipped.first_shipped_at, order_lines.reported_shipped_at)
        end as first_shipped_at,
        case when order_lines.channel = 'pos' then order_lines.ordered_at
            else coalesce(shipped.last_shipped_at, order_lines.reported_shipped_at)
        end as last_shipped_at,
        case when order_lines.channel = 'pos' then order_lines.ordered_at
            else coalesce(shipped.last_delivered_at, order_lines.reported_delivered_at)
        end as last_delivered_at,
        coalesce(returned.units_returned, 0) as units_returned,
        coalesce(returned.rma_lines, 0) as rma_lines,
        returned.first_return_requested_at,
        order_lines._dbt_run_at as _order_run_at,
        shipped._dbt_run_at as _shipments_run_at,
        returned._returns_loaded_at

    from order_lines
    left join shipped
        on order_lines.order_line_id = shipped.order_line_id
    left join returned
        on order_lines.order_line_id = returned.order_line_id

),

measured as (

    select
        *,
        case
            when units_in_shipments > quantity then quantity
            else units_in_shipments
        end as units_shipped

    from joined

),

final as (

    select
        order_line_id,
        channel_order_id,
        channel,
        order_id,
        line_ref,
        sku,
        quantity as units_ordered,
        unit_price,
        line_amount,
        currency,
        ordered_at,
        order_date,
        customer_id,
        service_level,
        promised_ship_date,
        promised_delivery_date,
        ship_to_postcode,
        ship_to_country,
        ship_to_latitude,
        ship_to_longitude,
        ship_to_coordinates_source,
        order_status as channel_order_status,
        case
            when channel = 'pos' then 'completed'
            when is_cancelled then 'cancelled'
            when units_shipped >= quantity then 'shipped'
            when units_shipped > 0 then 'partially_shipped'
            else 'open'
        end as line_status,
        is_cancelled,
        cancelled_at,
        units_shipped,
        case when is_cancelled then quantity - units_shipped else 0 end as units_cancelled,
        quantity - units_shipped
            - case when is_cancelled then quantity - units_shipped else 0 end as units_open,
        units_labelled,
        units_returned,
        rma_lines,
        first_return_requested_at,
        shipments,
        ship_from_locations,
        coalesce(shipped_from_location_id, 'unassigned') as fulfilling_location_id,
        first_label_created_at,
        first_shipped_at,
        last_shipped_at,
        last_delivered_at,
        -- On time = every unit shipped (delivered) on or before the promised date, compared as
        -- UTC dates. NULL while the line is not fully shipped (delivered), and for POS.
        case
            when channel = 'pos' or units_shipped < quantity or last_shipped_at is null
                then null
            when cast(last_shipped_at as date) <= promised_ship_date then true
            else false
        end as is_shipped_on_time,
        case
            when channel = 'pos' or coalesce(units_delivered, 0) < quantity
                or last_delivered_at is null
                then null
            when cast(last_delivered_at as date) <= promised_delivery_date then true
            else false
        end as is_delivered_on_time,
        _loaded_at,
        _order_run_at,
        _shipments_run_at,
        _returns_loaded_at,
        {{ run_marker() }} as _dbt_run_at

    from measured

)

select * from final
