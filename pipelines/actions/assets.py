"""Routing decisions and their delivery to warehouses, as Dagster assets, jobs and schedules."""

import datetime as dt
from typing import Any

import dagster as dg
import duckdb

from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.retries import consume_retry_requests
from ops_actions.routing.outstanding import allocations_sql
from ops_actions.run_routing import FULFILLMENT_KIND, run_routing
from pipelines.actions.destinations import fulfillment_adapters
from pipelines.actions.inputs import read_routing_inputs
from pipelines.db import scalar
from pipelines.keys import (
    DELIVERY_KEY,
    HOLDS_KEY,
    ROUTING_KEY,
    STATUS_KEY,
    gate_key,
    model_key,
)
from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseResource

GROUP = "actions"
ROUTING_INPUTS = [
    *(model_key(m) for m in ("ops_open_order_lines", "fct_available_to_promise", "dim_locations")),
    # built only when the three passed their tests in the same build
    gate_key("routing"),
]
# Held orders are left out of routing (read live from ops.order_holds): the hold step runs first.
ROUTING_DEPS = [*ROUTING_INPUTS, HOLDS_KEY]


def routing_today(snapshot_at: dt.datetime | None) -> dt.date:
    """The business day the router plans for.

    `OMS_ROUTING_TODAY=today` uses the calendar (production); an ISO date pins it; the default
    `data` plans for the day after the newest stock snapshot, so the demo's history (which ends
    on a fixed date) is routed as if it were this morning rather than weeks late.
    """
    setting = get_settings().routing_today
    if setting == "today" or (setting == "data" and snapshot_at is None):
        return dt.datetime.now(dt.UTC).date()
    if setting == "data":
        assert snapshot_at is not None
        return snapshot_at.date() + dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(setting)
    except ValueError:
        raise ValueError(
            f"OMS_ROUTING_TODAY={setting!r} is not a planning day: use 'data' (the day after "
            "the newest stock snapshot), 'today' (the calendar, UTC) or a date as YYYY-MM-DD"
        ) from None


@dg.asset(
    key=ROUTING_KEY,
    group_name=GROUP,
    kinds={"python", "duckdb"},
    deps=ROUTING_DEPS,
    op_tags={"oms/writes": "warehouse"},
    check_specs=[
        dg.AssetCheckSpec(
            "no_unit_oversold",
            asset=ROUTING_KEY,
            blocking=True,
            description="Outstanding allocations per SKU and location never exceed the stock "
            "available before allocations.",
        )
    ],
)
def routing_run(context: dg.AssetExecutionContext, warehouse: WarehouseResource):  # type: ignore[no-untyped-def]
    """One routing run: every open, releasable order line gets a location, a backorder or a
    cancellation; decisions, the stock they consume and their outbox rows commit together."""
    settings = get_settings()
    with warehouse.connect() as con:
        lines, atp, locations = read_routing_inputs(con)
        snapshot = atp["snapshot_at"].max() if atp.height else None
        today = routing_today(snapshot)  # type: ignore[arg-type]
        meta: dict[str, Any] = {"open_lines": lines.height, "planning_date": str(today)}
        run_id: str | None = None
        if lines.height:
            report = run_routing(
                con,
                settings.routing_rules_path,
                lines,
                atp,
                locations,
                today=today,
                status_shapes=dict(settings.status_shapes),
            )
            figures = report.figures
            run_id = report.run_id
            meta.update(
                run_id=report.run_id,
                rules_version=report.rules_version,
                actions_created=report.actions_created,
                status_updates_created=report.status_updates_created,
                attempts=report.attempts,
                figures=dg.MetadataValue.json(figures),
            )
            context.log.info(f"routing run {report.run_id}: {figures}")
        check = _oversell_check(con, run_id)
    yield dg.MaterializeResult(asset_key=ROUTING_KEY, metadata=meta)
    yield check


def _oversell_check(con: duckdb.DuckDBPyConnection, run_id: str | None) -> dg.AssetCheckResult:
    """No run may allocate units of a SKU at a location beyond what is available to it.

    A pair is oversold by this run when the run allocated units there and the outstanding
    allocations (this run's and earlier runs' not yet reflected in a snapshot) exceed the stock
    available before allocations. Stock that shrinks after an earlier run allocated (a cycle
    count correction) is not the router's doing and is not counted against it.
    """
    over: list[tuple[object, ...]] = []
    if run_id is not None:
        over = con.execute(
            f"""with allocations as ({
                allocations_sql("ops.allocations", "ops.outbox", "marts.fct_available_to_promise")
            }),
               outstanding as (
                   select sku, location_id, sum(units) as units,
                          sum(case when run_id = ? then units else 0 end) as this_run
                   from allocations
                   where is_outstanding or run_id = ?
                   group by sku, location_id)
               select s.sku, s.location_id, s.units, s.this_run,
                      coalesce(p.available_before_allocations, 0)
               from outstanding s
               left join marts.fct_available_to_promise p using (sku, location_id)
               where s.this_run > 0
                 and s.units > coalesce(p.available_before_allocations, 0)
               limit 20""",
            [run_id, run_id],
        ).fetchall()
    return dg.AssetCheckResult(
        check_name="no_unit_oversold",
        asset_key=ROUTING_KEY,
        passed=not over,
        metadata={
            "run_id": run_id or "",
            "oversold_pairs": dg.MetadataValue.json([list(map(str, r)) for r in over]),
        },
    )


@dg.asset(
    key=DELIVERY_KEY,
    group_name=GROUP,
    kinds={"python"},
    # after the status updates are produced: delivery of every kind follows them (contract 5)
    deps=[ROUTING_KEY, STATUS_KEY],
    op_tags={"oms/writes": "warehouse"},
)
def fulfillment_deliveries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Deliver every due fulfillment request (retries with backoff; dead letter after N), after
    requeueing the dead letters, of any kind, that people asked to retry from the dashboard
    (`ops_actions.retries`: each kind's delivery step then sends its own)."""
    settings = get_settings()
    with warehouse.connect() as con:
        retries = consume_retry_requests(con, settings.ops_store_path)
        report = dispatch_due(con, fulfillment_adapters(), kinds=(FULFILLMENT_KIND,))
        pending = scalar(con, "select count(*) from ops.outbox where state <> 'delivered'")
    context.log.info(f"deliveries: {report.as_dict()}; {pending} not yet delivered")
    return dg.MaterializeResult(
        metadata={
            "attempted": report.attempted,
            "delivered": report.delivered,
            "retried": report.retried,
            "dead_lettered": report.dead_lettered,
            "skipped_destinations": ", ".join(sorted(report.skipped_destinations)),
            **retries.as_dict(),
            "undelivered": pending,
        }
    )
