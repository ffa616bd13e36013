-- One row per cycle count (location, SKU, count time): the system's quantity against the
-- counted one. A count is accurate when both are equal.
with

cycle_counts as (

    select * from {{ ref('stg_stock__cycle_counts') }}

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
