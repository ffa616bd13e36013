-- One row per channel order (channel + the channel's order id; a POS receipt is an order),
-- rolled up from its lines.
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

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
        sum(units_ordered) as units_ordered,
        sum(units_shipped) as units_shipped,
        sum(units_cancelled) as units_cancelled,
        sum(units_open) as units_open,
        sum(units_returned) as units_returned,
        sum(line_amount) as order_amount,
        sum(case when is_cancelled then 1 else 0 end) as cancelled_lines,
        count(distinct case when fulfilling_location_id <> 'unassigned'
            then fulfilling_location_id end) as fulfilling_locations,
        min(first_shipped_at) as first_shipped_at,
        max(last_delivered_at) as last_delivered_at

    from order_lines
    group by channel_order_id

),

final as (

    select
        *,
        case
            when channel = 'pos' then 'completed'
            when cancelled_lines = order_lines then 'cancelled'
            when units_open = 0 and units_shipped > 0 then 'shipped'
            when units_shipped > 0 then 'partially_shipped'
            else 'open'
        end as order_status,
        cancelled_lines = order_lines as is_cancelled

    from aggregated

)

select * from final
