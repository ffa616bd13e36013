-- One row per channel order (channel + the channel's order id; a POS receipt is an order),
-- rolled up from its lines. The primary location is the fulfilling location of most of the
-- order's units (a real location before 'unassigned', then by id), so an order split across
-- locations is still counted once in the KPI marts.
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

per_location as (

    select
        channel_order_id,
        fulfilling_location_id,
        sum(units_ordered) as units_ordered,
        case when fulfilling_location_id = 'unassigned' then 1 else 0 end as is_unassigned

    from order_lines
    group by channel_order_id, fulfilling_location_id

),

primary_location as (

    {{ latest_version(
        'per_location',
        ['channel_order_id'],
        'units_ordered desc, is_unassigned asc, fulfilling_location_id asc'
    ) }}

),

aggregated as (

    select
        channel_order_id,
        max(channel) as channel,
        max(order_id) as order_id,
        min(ordered_at) as ordered_at,
        min(order_date) as order_date,
        max(customer_id) as customer_id,
        max(service_level) as service_level,
        max(currency) as currency,
        min(promised_ship_date) as promised_ship_date,
        min(promised_delivery_date) as promised_delivery_date,
        max(ship_to_postcode) as ship_to_postcode,
        max(ship_to_country) as ship_to_country,
        count(*) as order_lines,
        cast(sum(units_ordered) as {{ dbt.type_bigint() }}) as units_ordered,
        cast(sum(units_shipped) as {{ dbt.type_bigint() }}) as units_shipped,
        cast(sum(units_cancelled) as {{ dbt.type_bigint() }}) as units_cancelled,
        cast(sum(units_open) as {{ dbt.type_bigint() }}) as units_open,
        cast(sum(units_returned) as {{ dbt.type_bigint() }}) as units_returned,
        cast(sum(line_amount) as numeric(18, 2)) as order_amount,
        cast(sum(case when is_cancelled then 1 else 0 end) as {{ dbt.type_bigint() }}) as cancelled_lines,
        count(distinct case when fulfilling_location_id <> 'unassigned'
            then fulfilling_location_id end) as fulfilling_locations,
        min(first_shipped_at) as first_shipped_at,
        max(last_delivered_at) as last_delivered_at

    from order_lines
    group by channel_order_id

),

final as (

    select
        aggregated.*,
        primary_location.fulfilling_location_id as primary_location_id,
        case
            when channel = 'pos' then 'completed'
            when cancelled_lines = order_lines then 'cancelled'
            when units_open = 0 and units_shipped > 0 then 'shipped'
            when units_shipped > 0 then 'partially_shipped'
            else 'open'
        end as order_status,
        cancelled_lines = order_lines as is_cancelled

    from aggregated
    inner join primary_location
        on aggregated.channel_order_id = primary_location.channel_order_id

)

select * from final
