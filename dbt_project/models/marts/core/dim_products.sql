-- One row per SKU (current version of the product reference), with its supplier; and the
-- Olist export's products, the SKUs of the olist channel (no supplier, cost or list price:
-- the marketplace's sellers stock them).
with

products as (

    select * from {{ ref('stg_reference__products') }}

),

olist_products as (

    select * from {{ ref('stg_olist__products') }}

),

suppliers as (

    select * from {{ ref('stg_reference__suppliers') }}

),

final as (

    select
        products.sku,
        products.product_name,
        products.category,
        products.weight_kg,
        products.pack_size,
        products.unit_cost,
        products.list_price,
        products.currency,
        products.supplier_id,
        suppliers.supplier_name,
        suppliers.lead_time_days,
        suppliers.lead_time_sd_days,
        suppliers.min_order_quantity,
        products.is_active

    from products
    left join suppliers
        on products.supplier_id = suppliers.supplier_id

    union all

    select
        sku,
        cast(null as {{ dbt.type_string() }}) as product_name,
        category,
        weight_kg,
        1 as pack_size,
        cast(null as decimal(18, 2)) as unit_cost,
        cast(null as decimal(18, 2)) as list_price,
        'BRL' as currency,
        cast(null as {{ dbt.type_string() }}) as supplier_id,
        cast(null as {{ dbt.type_string() }}) as supplier_name,
        cast(null as integer) as lead_time_days,
        cast(null as {{ oms.type_double() }}) as lead_time_sd_days,
        cast(null as integer) as min_order_quantity,
        true as is_active

    from olist_products
    -- a SKU in both is the product reference's
    where sku not in (select sku from products)

)

select * from final
