-- One row per location, SKU and end-of-day snapshot date: units on hand and whether the SKU
-- was out of stock. `is_active_sku` is the product's current status (the product reference
-- keeps no history of it).
--
-- Incremental (delete+insert on inventory_snapshot_id): a run writes the snapshots loaded since
-- the last run (`_loaded_at`; the ingest never replaces a loaded key, so a load is consumed
-- once) and, when a product reference version was loaded since (`_product_loaded_at`), every
-- snapshot of those SKUs again, so `is_active_sku` stays the current status.
{{
    config(
        materialized='incremental',
        unique_key='inventory_snapshot_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

all_snapshots as (

    select * from {{ ref('stg_stock__snapshots') }}

),

products as (

    select * from {{ ref('stg_reference__products') }}

),

snapshots as (

    select * from all_snapshots
    {% if is_incremental() -%}
    where _loaded_at > {{ high_water_mark('_loaded_at') }}
        or sku in (
            select sku from products
            where _loaded_at > {{ high_water_mark('_product_loaded_at') }}
        )
    {%- endif %}

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
        snapshots._loaded_at,
        products._loaded_at as _product_loaded_at,
        {{ run_marker() }} as _dbt_run_at

    from snapshots
    left join products
        on snapshots.sku = products.sku

)

select * from final
