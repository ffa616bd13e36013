{#-
    Supplier lead times measured from receipts: one row per supplier (sku null, scope
    'supplier') and one per supplier × SKU with at least `planning_lead_time_min_sku_receipts`
    receipts (scope 'sku'). One observation per receipt: the days from the purchase order line's
    ordered_date to the receipt's received_date (a line received in parts gives one observation
    per part, each part being stock that arrived that late). Below
    `planning_lead_time_min_receipts` receipts the supplier reference's lead_time_days and
    lead_time_sd_days are used instead (lead_time_source says which).
-#}
with

po_lines as (

    select * from {{ ref('stg_inbound__purchase_order_lines') }}

),

receipts as (

    select * from {{ ref('stg_inbound__receipts') }}

),

suppliers as (

    select * from {{ ref('stg_reference__suppliers') }}

),

observations as (

    select
        po_lines.supplier_id,
        po_lines.sku,
        cast({{ dbt.datediff('po_lines.ordered_date', 'receipts.received_date', 'day') }}
            as {{ oms.type_double() }}) as lead_time_days

    from receipts
    inner join po_lines
        on receipts.po_id = po_lines.po_id
        and receipts.po_line = po_lines.po_line
    where receipts.received_date >= po_lines.ordered_date

),

by_supplier as (

    select
        supplier_id,
        cast(null as {{ dbt.type_string() }}) as sku,
        count(*) as n_receipts,
        avg(lead_time_days) as measured_mean_days,
        stddev_samp(lead_time_days) as measured_sd_days

    from observations
    group by supplier_id

),

by_sku as (

    select
        supplier_id,
        sku,
        count(*) as n_receipts,
        avg(lead_time_days) as measured_mean_days,
        stddev_samp(lead_time_days) as measured_sd_days

    from observations
    group by supplier_id, sku
    having count(*) >= {{ var('planning_lead_time_min_sku_receipts', 10) }}

),

supplier_ids as (

    select supplier_id from suppliers
    union
    select supplier_id from by_supplier

),

supplier_rows as (

    select
        supplier_ids.supplier_id,
        cast(null as {{ dbt.type_string() }}) as sku,
        'supplier' as scope,
        coalesce(by_supplier.n_receipts, 0) as n_receipts,
        by_supplier.measured_mean_days,
        by_supplier.measured_sd_days

    from supplier_ids
    left join by_supplier
        on supplier_ids.supplier_id = by_supplier.supplier_id

),

sku_rows as (

    select
        supplier_id,
        sku,
        'sku' as scope,
        n_receipts,
        measured_mean_days,
        measured_sd_days

    from by_sku

),

all_rows as (

    select * from supplier_rows
    union all
    select * from sku_rows

),

final as (

    select
        {{ dbt.concat(['all_rows.supplier_id', "':'", "coalesce(all_rows.sku, '*')"]) }}
            as lead_time_id,
        all_rows.supplier_id,
        all_rows.sku,
        all_rows.scope,
        all_rows.n_receipts,
        all_rows.measured_mean_days,
        all_rows.measured_sd_days,
        cast(suppliers.lead_time_days as {{ oms.type_double() }}) as reference_lead_time_days,
        cast(suppliers.lead_time_sd_days as {{ oms.type_double() }}) as reference_lead_time_sd_days,
        case
            when all_rows.n_receipts >= {{ var('planning_lead_time_min_receipts', 5) }}
                or suppliers.lead_time_days is null
                then 'measured'
            else 'reference'
        end as lead_time_source

    from all_rows
    left join suppliers
        on all_rows.supplier_id = suppliers.supplier_id

)

select
    lead_time_id,
    supplier_id,
    sku,
    scope,
    n_receipts,
    measured_mean_days,
    measured_sd_days,
    reference_lead_time_days,
    reference_lead_time_sd_days,
    lead_time_source,
    case
        when lead_time_source = 'measured' then measured_mean_days
        else reference_lead_time_days
    end as lead_time_mean_days,
    coalesce(
        case
            when lead_time_source = 'measured' then measured_sd_days
            else reference_lead_time_sd_days
        end,
        0
    ) as lead_time_sd_days
from final
