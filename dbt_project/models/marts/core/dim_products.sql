-- One row per SKU (current version of the product reference), with its supplier.
with

products as (

    select * from {{ ref('stg_reference__products') }}

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

)

select * from final
