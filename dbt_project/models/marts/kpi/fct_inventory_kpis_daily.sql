-- One row per date and location: inventory accuracy from that day's cycle counts and
-- stock-outs from that day's end-of-day snapshot. Definitions: docs block `inventory_kpis`.
with

snapshots as (

    select * from {{ ref('fct_inventory_snapshots') }}

),

cycle_counts as (

    select * from {{ ref('fct_cycle_counts') }}

),

snapshot_metrics as (

    select
        snapshot_date as kpi_date,
        location_id,
        cast(sum(case when is_active_sku then 1 else 0 end) as {{ dbt.type_bigint() }}) as skus_tracked,
        cast(sum(case when is_active_sku and is_stockout then 1 else 0 end) as {{ dbt.type_bigint() }}) as stockout_skus,
        cast(sum(on_hand) as {{ dbt.type_bigint() }}) as units_on_hand

    from snapshots
    group by snapshot_date, location_id

),

count_metrics as (

    select
        count_date as kpi_date,
        location_id,
        count(*) as skus_counted,
        cast(sum(case when is_accurate then 1 else 0 end) as {{ dbt.type_bigint() }}) as counts_accurate

    from cycle_counts
    group by count_date, location_id

),

spine as (

    select kpi_date, location_id from snapshot_metrics
    union
    select kpi_date, location_id from count_metrics

),

final as (

    select
        spine.kpi_date,
        spine.location_id,
        coalesce(count_metrics.skus_counted, 0) as skus_counted,
        coalesce(count_metrics.counts_accurate, 0) as counts_accurate,
        {{ safe_ratio('count_metrics.counts_accurate', 'count_metrics.skus_counted') }}
            as inventory_accuracy,
        coalesce(snapshot_metrics.skus_tracked, 0) as skus_tracked,
        coalesce(snapshot_metrics.stockout_skus, 0) as stockout_skus,
        {{ safe_ratio('snapshot_metrics.stockout_skus', 'snapshot_metrics.skus_tracked') }}
            as stockout_rate,
        snapshot_metrics.units_on_hand

    from spine
    left join snapshot_metrics
        on spine.kpi_date = snapshot_metrics.kpi_date
        and spine.location_id = snapshot_metrics.location_id
    left join count_metrics
        on spine.kpi_date = count_metrics.kpi_date
        and spine.location_id = count_metrics.location_id

)

select * from final
