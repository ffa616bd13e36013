{#-
    One row per order line across the channels (web shop, marketplace, store POS, wholesale,
    the Olist export), in one vocabulary.

    Incremental: a run re-reads only the orders touched since the last run. Staging already
    keeps the latest version of each order (line), so an order whose latest version was loaded
    after the channel's high-water mark (`_loaded_at` of the newest version already in this
    table) is re-emitted whole. Strictly after: the ingest stamps one `_loaded_at` per source
    load, commits a load whole, never overlaps with dbt, and stamps each load later than the
    last (pipelines/ingest/engine.py), so a load is either entirely consumed or not at all and
    the history is not re-read on the next run. Delete+insert on `channel_order_id` replaces every line
    of that order (a line dropped by a later version goes too). Orders whose postcode centroid
    or store location was loaded after the newest order load in the table are re-emitted as well, so coordinates stay right.
    A change to the seeds (service levels) needs `--full-refresh`. Rows written by a run carry
    its `_dbt_run_at`, which downstream incremental models use to find the orders that changed.
-#}
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

webshop_orders as (

    select * from {{ ref('stg_webshop__orders') }}

),

webshop_lines as (

    select * from {{ ref('stg_webshop__order_lines') }}

),

marketplace_items as (

    select * from {{ ref('stg_marketplace__order_items') }}

),

pos_sales as (

    select * from {{ ref('stg_pos__sales') }}

),

wholesale_lines as (

    select * from {{ ref('stg_wholesale__order_lines') }}

),

olist_items as (

    select * from {{ ref('stg_olist__order_items') }}

),

olist_orders as (

    select * from {{ ref('stg_olist__orders') }}

),

olist_customers as (

    select * from {{ ref('stg_olist__customers') }}

),

service_levels as (

    select * from {{ ref('channel_service_levels') }}

),

postcodes as (

    select * from {{ ref('stg_reference__postcodes') }}

),

locations as (

    select * from {{ ref('stg_reference__locations') }}

),

webshop as (

    select
        'webshop' as channel,
        webshop_orders.order_id,
        webshop_lines.line_item_id as line_ref,
        webshop_lines.sku,
        webshop_lines.quantity,
        webshop_lines.unit_price,
        webshop_lines.quantity * webshop_lines.unit_price as line_amount,
        webshop_orders.currency,
        webshop_orders.ordered_at,
        cast(webshop_orders.ordered_at as date) as order_date,
        webshop_orders.customer_id,
        coalesce(webshop_orders.service_level, 'standard') as service_level,
        cast(null as date) as reported_promised_ship_date,
        cast(null as date) as reported_promised_delivery_date,
        webshop_orders.ship_to_postcode,
        webshop_orders.ship_to_country,
        webshop_orders.ship_to_latitude as order_latitude,
        webshop_orders.ship_to_longitude as order_longitude,
        cast(null as {{ dbt.type_string() }}) as store_location_id,
        case
            when webshop_orders.cancelled_at is not null then 'cancelled'
            when webshop_orders.fulfillment_status = 'fulfilled' then 'shipped'
            when webshop_orders.fulfillment_status = 'partial' then 'partially_shipped'
            else 'open'
        end as order_status,
        webshop_orders.cancelled_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_shipped_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_delivered_at,
        webshop_orders._loaded_at

    from webshop_lines
    inner join webshop_orders
        on webshop_lines.order_id = webshop_orders.order_id
        and webshop_lines.order_updated_at = webshop_orders.updated_at

),

marketplace as (

    select
        'marketplace' as channel,
        order_id,
        order_item_id as line_ref,
        sku,
        quantity,
        unit_price,
        line_price as line_amount,
        currency,
        purchased_at as ordered_at,
        cast(purchased_at as date) as order_date,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        coalesce(service_level, 'standard') as service_level,
        cast(promised_ship_at as date) as reported_promised_ship_date,
        cast(promised_delivery_at as date) as reported_promised_delivery_date,
        ship_to_postcode,
        ship_to_country,
        cast(null as {{ oms.type_double() }}) as order_latitude,
        cast(null as {{ oms.type_double() }}) as order_longitude,
        cast(null as {{ dbt.type_string() }}) as store_location_id,
        case order_status
            when 'Shipped' then 'shipped'
            when 'Canceled' then 'cancelled'
            else 'open'
        end as order_status,
        case when order_status = 'Canceled' then last_updated_at end as cancelled_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_shipped_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_delivered_at,
        _loaded_at

    from marketplace_items

),

-- A store receipt is an order; its sales lines (positive quantity) are the order lines.
-- Till returns (negative quantity) are returns, not order lines (see fct_returns).
pos as (

    select
        'pos' as channel,
        {{ dbt.concat(['store_id', "'-'", 'register_id', "'-'", 'receipt_no']) }} as order_id,
        cast(line_no as {{ dbt.type_string() }}) as line_ref,
        sku,
        quantity,
        unit_price,
        quantity * unit_price as line_amount,
        currency,
        sold_at as ordered_at,
        cast(sold_at as date) as order_date,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        'in_store' as service_level,
        cast(null as date) as reported_promised_ship_date,
        cast(null as date) as reported_promised_delivery_date,
        cast(null as {{ dbt.type_string() }}) as ship_to_postcode,
        cast(null as {{ dbt.type_string() }}) as ship_to_country,
        cast(null as {{ oms.type_double() }}) as order_latitude,
        cast(null as {{ oms.type_double() }}) as order_longitude,
        store_id as store_location_id,
        'completed' as order_status,
        cast(null as {{ dbt.type_timestamp() }}) as cancelled_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_shipped_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_delivered_at,
        _loaded_at

    from pos_sales
    where quantity > 0

),

wholesale as (

    select
        'wholesale' as channel,
        po_number as order_id,
        {{ dbt.concat(['po_number', "'-'", 'cast(line_no as ' ~ dbt.type_string() ~ ')']) }} as line_ref,
        sku,
        quantity,
        unit_price,
        quantity * unit_price as line_amount,
        'USD' as currency,
        cast(order_date as {{ dbt.type_timestamp() }}) as ordered_at,
        order_date,
        customer_id,
        'standard' as service_level,
        requested_ship_date as reported_promised_ship_date,
        cast(null as date) as reported_promised_delivery_date,
        ship_to_postcode,
        ship_to_country,
        cast(null as {{ oms.type_double() }}) as order_latitude,
        cast(null as {{ oms.type_double() }}) as order_longitude,
        cast(null as {{ dbt.type_string() }}) as store_location_id,
        -- The purchase-order file carries no status: fulfilment follows from carrier data.
        'open' as order_status,
        cast(null as {{ dbt.type_timestamp() }}) as cancelled_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_shipped_at,
        cast(null as {{ dbt.type_timestamp() }}) as reported_delivered_at,
        _loaded_at

    from wholesale_lines

),

-- The Olist export (docs/olist.md): every item is one unit; the sellers fulfil, so the channel
-- reports the hand-over to the carrier and the delivery (`reported_*`, used where there is no
-- carrier data) and its own promises: the seller's shipping limit and the estimated delivery
-- date. No fulfilling location of ours; the ship-to is the customer's zip prefix in Brazil.
olist as (

    select
        'olist' as channel,
        olist_items.order_id,
        olist_items.line_ref,
        olist_items.sku,
        1 as quantity,
        olist_items.price as unit_price,
        olist_items.price as line_amount,
        'BRL' as currency,
        olist_orders.purchased_at as ordered_at,
        cast(olist_orders.purchased_at as date) as order_date,
        olist_customers.customer_unique_id as customer_id,
        'standard' as service_level,
        cast(olist_items.shipping_limit_at as date) as reported_promised_ship_date,
        olist_orders.estimated_delivery_date as reported_promised_delivery_date,
        olist_customers.zip_code_prefix as ship_to_postcode,
        'BR' as ship_to_country,
        cast(null as {{ oms.type_double() }}) as order_latitude,
        cast(null as {{ oms.type_double() }}) as order_longitude,
        cast(null as {{ dbt.type_string() }}) as store_location_id,
        case
            when olist_orders.order_status in ('canceled', 'unavailable') then 'cancelled'
            when olist_orders.delivered_to_carrier_at is not null then 'shipped'
            else 'open'
        end as order_status,
        -- the export has no cancellation time
        cast(null as {{ dbt.type_timestamp() }}) as cancelled_at,
        olist_orders.delivered_to_carrier_at as reported_shipped_at,
        olist_orders.delivered_to_customer_at as reported_delivered_at,
        -- a later export's new order version re-emits the order's lines
        greatest(olist_items._loaded_at, olist_orders._loaded_at) as _loaded_at

    from olist_items
    inner join olist_orders
        on olist_items.order_id = olist_orders.order_id
    left join olist_customers
        on olist_orders.customer_id = olist_customers.customer_id

),

unioned as (

    select * from webshop
    union all
    select * from marketplace
    union all
    select * from pos
    union all
    select * from wholesale
    union all
    select * from olist

),

enriched as (

    select
        {{ dbt.concat(['unioned.channel', "':'", 'unioned.order_id', "':'", 'unioned.line_ref']) }}
            as order_line_id,
        {{ dbt.concat(['unioned.channel', "':'", 'unioned.order_id']) }} as channel_order_id,
        unioned.channel,
        unioned.order_id,
        unioned.line_ref,
        unioned.sku,
        unioned.quantity,
        unioned.unit_price,
        unioned.line_amount,
        unioned.currency,
        unioned.ordered_at,
        unioned.order_date,
        unioned.customer_id,
        unioned.service_level,
        case
            when service_levels.promise_source = 'service_level'
                then cast({{ dbt.dateadd('day', 'service_levels.ship_within_days', 'unioned.order_date') }} as date)
            when service_levels.promise_source = 'at_sale' then unioned.order_date
            else unioned.reported_promised_ship_date
        end as promised_ship_date,
        case
            when service_levels.promise_source = 'service_level'
                then cast({{ dbt.dateadd('day', 'service_levels.deliver_within_days', 'unioned.order_date') }} as date)
            when service_levels.promise_source = 'at_sale' then unioned.order_date
            when service_levels.promise_source = 'customer_requested'
                then cast({{ dbt.dateadd('day', 'service_levels.deliver_within_days', 'unioned.reported_promised_ship_date') }} as date)
            else unioned.reported_promised_delivery_date
        end as promised_delivery_date,
        coalesce(unioned.ship_to_postcode, stores.postcode) as ship_to_postcode,
        unioned.ship_to_country,
        case
            when unioned.store_location_id is not null then stores.latitude
            when unioned.order_latitude is not null then unioned.order_latitude
            else postcodes.latitude
        end as ship_to_latitude,
        case
            when unioned.store_location_id is not null then stores.longitude
            when unioned.order_longitude is not null then unioned.order_longitude
            else postcodes.longitude
        end as ship_to_longitude,
        case
            when unioned.store_location_id is not null then 'store'
            when unioned.order_latitude is not null then 'order'
            when postcodes.postcode is not null then 'postcode_centroid'
        end as ship_to_coordinates_source,
        unioned.store_location_id,
        unioned.order_status,
        unioned.order_status = 'cancelled' as is_cancelled,
        unioned.cancelled_at,
        unioned.reported_shipped_at,
        unioned.reported_delivered_at,
        unioned._loaded_at,
        postcodes._loaded_at as _postcode_loaded_at,
        stores._loaded_at as _store_loaded_at,
        {{ run_marker() }} as _dbt_run_at

    from unioned
    left join service_levels
        on unioned.channel = service_levels.channel
        and unioned.service_level = service_levels.service_level
    left join postcodes
        on unioned.ship_to_postcode = postcodes.postcode
        and unioned.order_latitude is null
        and unioned.store_location_id is null
        -- the postcode reference is the merchant's own country's; Olist ships within Brazil
        and unioned.channel <> 'olist'
    left join locations as stores
        on unioned.store_location_id = stores.location_id

)

{% if is_incremental() %}

-- Per channel: the newest order version already in this table. Overall: the newest load of
-- any order; a reference row (postcode, store) loaded after it has changed since the last run.
, high_water_marks as (

    select channel, max(_loaded_at) as max_loaded_at
    from {{ this }}
    group by channel

),

last_run as (

    select max(_loaded_at) as max_loaded_at
    from {{ this }}

),

touched_orders as (

    select distinct enriched.channel_order_id
    from enriched
    cross join last_run
    left join high_water_marks
        on enriched.channel = high_water_marks.channel
    where high_water_marks.channel is null
        or enriched._loaded_at > high_water_marks.max_loaded_at
        or enriched._postcode_loaded_at > last_run.max_loaded_at
        or enriched._store_loaded_at > last_run.max_loaded_at

)

select enriched.*
from enriched
where enriched.channel_order_id in (select channel_order_id from touched_orders)

{% else %}

select * from enriched

{% endif %}
