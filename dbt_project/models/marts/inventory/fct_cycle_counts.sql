-- One row per cycle count (location, SKU, count time): the system's quantity against the
-- counted one. A count is accurate when both are equal.
--
-- Incremental (delete+insert on cycle_count_id): a run writes the counts loaded since the last
-- run (`_loaded_at`; the ingest never replaces a loaded key, so a load is consumed once).
{{
    config(
        materialized='incremental',
        unique_key='cycle_count_id',
        incremental_strategy=oms.replace_by_key_strategy(),
        full_refresh=oms.replace_by_key_full_refresh(),
        on_schema_change='fail'
    )
}}

with

cycle_counts as (

    select * from {{ ref('stg_stock__cycle_counts') }}
    {% if is_incremental() -%}
    where _loaded_at > {{ high_water_mark('_loaded_at') }}
    {%- endif %}

),

final as (

    select
        {{ dbt.concat([
            'location_id', "':'", 'sku', "':'",
            'cast(counted_at as ' ~ dbt.type_string() ~ ')'
        ]) }} as cycle_count_id,
        location_id,
        sku,
        counted_at,
        cast(counted_at as date) as count_date,
        system_qty,
        counted_qty,
        counted_qty - system_qty as variance_units,
        counted_qty = system_qty as is_accurate,
        counter_id,
        _loaded_at

    from cycle_counts

)

select * from final
