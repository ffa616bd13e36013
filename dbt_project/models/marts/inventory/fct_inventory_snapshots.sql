-- One row per location, SKU and end-of-day snapshot date: units on hand and whether the SKU
-- was out of stock. `is_active_sku` is the product's current status (the product reference
-- keeps no history of it).
with

snapshots as (

    select * from {{ ref('stg_stock__snapshots') }}

),

products as (

    select * from {{ ref('stg_reference__products') }}

),

final as (

    select
        {{ dbt.concat([
            'snapshots.location_id', "':'", 'snapshots.sku', "':'",
            'cast(snapshots.snapshot_date as ' ~ dbt.type_string() ~ ')'
        ]) }} as inventory_snapshot_id,
        snapshots.location_id,
        snapshots.sku,
        snapshots.snapshot_date,
        snapshots.on_hand,
        snapshots.on_hand = 0 as is_stockout,
        coalesce(products.is_active, false) as is_active_sku,
        snapshots._loaded_at

    from snapshots
    left join products
        on snapshots.sku = products.sku

)

select * from final
