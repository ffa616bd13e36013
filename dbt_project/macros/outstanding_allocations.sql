{#- The one definition of an outstanding allocation: units a routing run allocated that the stock
    figures do not reflect yet. An allocation is outstanding until its fulfillment request was
    acknowledged (`outbox.delivered_at`) no later than the stock snapshot of its SKU and location
    was taken (`snapshot_at`); with no acknowledgement, no outbox row or no snapshot it stays
    outstanding (conservative: never oversell). A dead-lettered request keeps its allocation
    outstanding until it is delivered.

    One row per allocation, every allocation, with `is_outstanding`, so a reader that needs more
    (the oversell check also counts its own run's allocations) filters it itself.

    Read by dbt (`fct_available_to_promise`, over the `ops` sources and the latest snapshot) AND,
    at run time, by `ops_actions/routing/outstanding.py` (the router, over `ops.*` and the ATP
    rows it was given; the oversell check, over `ops.*` and the ATP mart), which fills in the three
    relations itself. So the body is plain, adapter-neutral SQL whose only Jinja is
    `{{ allocations }}`, `{{ outbox }}` and `{{ stock_as_of }}` (columns: sku, location_id,
    snapshot_at); the Python reader refuses anything else. -#}
{% macro allocations_with_outstanding(allocations, outbox, stock_as_of) -%}
select
    allocations.run_id,
    allocations.order_line_id,
    allocations.sku,
    allocations.location_id,
    allocations.units,
    allocations.action_id,
    case
        when outbox.delivered_at is null then true
        when stock_as_of.snapshot_at is null then true
        when outbox.delivered_at > stock_as_of.snapshot_at then true
        else false
    end as is_outstanding
from {{ allocations }} as allocations
left join {{ outbox }} as outbox
    on allocations.action_id = outbox.action_id
left join {{ stock_as_of }} as stock_as_of
    on allocations.sku = stock_as_of.sku
    and allocations.location_id = stock_as_of.location_id
{%- endmacro %}
