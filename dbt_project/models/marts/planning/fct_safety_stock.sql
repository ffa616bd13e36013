{#-
    One row per SKU × location to plan: safety stock, reorder point, order quantity by policy
    and the figures they come from, whether an order is due or not. The formulas (mirrored, and
    checked for parity, by pipelines/planning/policy.py; docs/planning.md explains them):
      P  = lead_time_mean_days + review_period_days                 (protection interval, days)
      d  = forecast_lt_units / P                                    (forecast units per day)
      forecast_lt_sigma = sqrt(P * sigma_daily^2 + d^2 * lead_time_sd_days^2)
      safety_stock  = z * forecast_lt_sigma
      reorder_point = forecast_lt_units + safety_stock
      eoq = sqrt(2 * 365 d * order_cost / (holding_rate_per_year * unit_cost))
            (without a unit cost: d * order_cycle_days)
      order_up_to   = reorder_point + d * order_cycle_days  (policy order_up_to)
                    = reorder_point + eoq                   (policies min_max and eoq)
      position = on_hand + inbound - allocated - backorders
      an order is due when position <= reorder_point and raw_qty > 0:
      raw_qty = order_up_to - position                       (order_up_to, min_max)
              = eoq * (floor((reorder_point - position) / eoq) + 1)   (eoq: whole lots)
      purchase_qty = pack_size * ceil(max(raw_qty, min_order_qty) / pack_size)
      transfer_qty = pack_size * ceil(raw_qty / pack_size)   (a DC has no supplier minimum)
-#}
with

inputs as (

    select * from {{ ref('int_planning_replenishment_inputs') }}

),

demand as (

    select
        *,
        case when protection_days > 0 then forecast_lt_units / protection_days else 0 end
            as demand_daily,
        on_hand + inbound - allocated - backorders as position

    from inputs

),

variability as (

    select
        *,
        sqrt(
            protection_days * sigma_daily * sigma_daily
            + demand_daily * demand_daily * lead_time_sd_days * lead_time_sd_days
        ) as forecast_lt_sigma,
        case
            when demand_daily > 0 and unit_cost > 0 and holding_rate_per_year > 0
                then sqrt(2 * 365 * demand_daily * order_cost / (holding_rate_per_year * unit_cost))
            else demand_daily * order_cycle_days
        end as eoq

    from demand

),

stocked as (

    select
        *,
        z * forecast_lt_sigma as safety_stock,
        forecast_lt_units + z * forecast_lt_sigma as reorder_point

    from variability

),

targeted as (

    select
        *,
        case
            when policy = 'order_up_to' then reorder_point + demand_daily * order_cycle_days
            else reorder_point + eoq
        end as order_up_to

    from stocked

),

raw as (

    select
        *,
        case
            when position > reorder_point then 0
            when policy = 'eoq' and eoq > 0
                then eoq * (floor((reorder_point - position) / eoq) + 1)
            when order_up_to > position then order_up_to - position
            else 0
        end as raw_qty

    from targeted

)

select
    {{ dbt.concat(['location_id', "':'", 'sku']) }} as safety_stock_id,
    as_of_date,
    sku,
    location_id,
    series_id,
    supplier_id,
    policy,
    abc_class,
    service_level,
    z,
    review_period_days,
    order_cycle_days,
    lead_time_mean_days,
    lead_time_sd_days,
    protection_days,
    forecast_lt_units,
    demand_daily,
    sigma_daily,
    forecast_lt_sigma,
    safety_stock,
    reorder_point,
    order_cost,
    holding_rate_per_year,
    eoq,
    order_up_to,
    on_hand,
    inbound,
    allocated,
    backorders,
    position,
    raw_qty > 0 as is_order_due,
    raw_qty,
    pack_size,
    min_order_qty,
    case
        when raw_qty > 0 then pack_size * ceil(
            (case when raw_qty > min_order_qty then raw_qty else min_order_qty end) / pack_size)
        else 0
    end as purchase_qty,
    case when raw_qty > 0 then pack_size * ceil(raw_qty / pack_size) else 0 end as transfer_qty,
    unit_cost,
    currency
from raw
