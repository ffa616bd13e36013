"""Order holds as a Dagster asset: after the dbt build, before routing.

`order_holds` evaluates every open order not evaluated yet under the hold rules and applies
the hold decisions people recorded in the operational store, in one warehouse transaction
(`ops_actions.holds.run`). Routing depends on it, and reads `ops.order_holds` live, so an
order held or released by this step is left out of (or taken into) the same run's routing.
"""

import dagster as dg
import duckdb

from ops_actions.holds.run import run_holds
from pipelines.keys import HOLDS_KEY, model_key
from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseResource

GROUP = "actions"
HOLD_INPUTS = [
    model_key(m)
    for m in (
        "fct_orders",
        "fct_order_lines",
        "dim_products",
        "stg_webshop__orders",
        "stg_reference__postcodes",
    )
]


@dg.asset(
    key=HOLDS_KEY,
    group_name=GROUP,
    kinds={"python", "duckdb"},
    deps=HOLD_INPUTS,
    op_tags={"oms/writes": "warehouse"},
)
def order_holds(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Validate new open orders (holding those that must not be fulfilled yet, each hold with
    a reason a person can act on) and apply the operators' release / cancel decisions,
    exactly once. Writes ops.order_validations and ops.order_holds."""
    settings = get_settings()
    with warehouse.connect() as con:
        report = run_holds(
            con,
            settings.hold_rules_path,
            settings.ops_store_path,
            status_shapes=dict(settings.status_shapes),
        )
    context.log.info(f"order holds: {report.as_dict()}")
    return dg.MaterializeResult(
        metadata={
            "rules_version": report.rules_version,
            "evaluated": report.evaluated,
            "validated": report.validated,
            "held": report.held,
            "new_holds_by_reason": dg.MetadataValue.json(report.new_holds_by_reason),
            "decisions_read": report.decisions_read,
            "released": report.released,
            "cancelled": report.cancelled,
            "cancellation_status_updates": report.cancellation_updates,
            "already_resolved": report.already_resolved,
            "held_orders": report.held_orders,
            "open_holds_by_reason": dg.MetadataValue.json(report.open_holds_by_reason),
        }
    )


def holds_summary_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The run summary's lines on holds: orders held now, open holds by reason, and what
    people decided (released, cancelled) so far."""
    try:
        open_ = con.execute(
            """select reason_code, count(*) from ops.order_holds where resolution is null
               group by 1 order by 2 desc, 1"""
        ).fetchall()
        orders, evaluated = con.execute(
            """select (select count(distinct channel_order_id) from ops.order_holds
                       where resolution is null),
                      (select count(*) from ops.order_validations)"""
        ).fetchall()[0]
        resolved = dict(
            con.execute(
                """select resolution, count(distinct channel_order_id) from ops.order_holds
                   where resolution is not null group by 1"""
            ).fetchall()
        )
    except duckdb.Error:  # no hold step has run in this warehouse
        return ["Holds: no order evaluated yet"]
    out = [
        f"Holds: {orders:,} order(s) held of {evaluated:,} evaluated; "
        f"released {resolved.get('released', 0):,}, cancelled {resolved.get('cancelled', 0):,}"
    ]
    out += [f"  {reason:<34}{n:>8,}" for reason, n in open_]
    return out
