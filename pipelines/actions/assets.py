"""Routing decisions and their delivery to warehouses, as Dagster assets, jobs and schedules."""

import datetime as dt
import os
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.outbox import requeue_dead_letters
from ops_actions.run_routing import FULFILLMENT_KIND, run_routing
from ops_actions.schema import ensure_schema
from ops_actions.store import mark_consumed, open_retry_requests
from pipelines.actions.destinations import fulfillment_adapters
from pipelines.actions.inputs import read_routing_inputs
from pipelines.db import scalar
from pipelines.run_control import locked_in_process_executor
from pipelines.settings import PROJECT_ROOT, get_settings

GROUP = "actions"
ROUTING_INPUTS = [
    dg.AssetKey(["marts", "ops_open_order_lines"]),
    dg.AssetKey(["marts", "fct_available_to_promise"]),
    dg.AssetKey(["marts", "dim_locations"]),
    # built only when the three passed their tests in the same build
    dg.AssetKey(["gates", "gate_routing"]),
]
ROUTING_KEY = dg.AssetKey(["ops", "routing_run"])
DELIVERY_KEY = dg.AssetKey(["ops", "fulfillment_deliveries"])


def rules_path() -> Path:
    default = PROJECT_ROOT / "ops_actions" / "rules" / "routing_rules.yaml"
    return Path(os.environ.get("OMS_ROUTING_RULES", default))


def routing_today(snapshot_at: dt.datetime | None) -> dt.date:
    """The business day the router plans for.

    `OMS_ROUTING_TODAY=today` uses the calendar (production); an ISO date pins it; the default
    `data` plans for the day after the newest stock snapshot, so the demo's history (which ends
    on a fixed date) is routed as if it were this morning rather than weeks late.
    """
    setting = os.environ.get("OMS_ROUTING_TODAY", "data")
    if setting == "today" or (setting == "data" and snapshot_at is None):
        return dt.datetime.now(dt.UTC).date()
    if setting == "data":
        assert snapshot_at is not None
        return snapshot_at.date() + dt.timedelta(days=1)
    return dt.date.fromisoformat(setting)


@dg.asset(
    key=ROUTING_KEY,
    group_name=GROUP,
    kinds={"python", "duckdb"},
    deps=ROUTING_INPUTS,
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
def routing_run(context: dg.AssetExecutionContext):  # type: ignore[no-untyped-def]
    """One routing run: every open, releasable order line gets a location, a backorder or a
    cancellation; decisions, the stock they consume and their outbox rows commit together."""
    settings = get_settings()
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        ensure_schema(con)
        lines, atp, locations = read_routing_inputs(con)
    finally:
        con.close()
    snapshot = atp["snapshot_at"].max() if atp.height else None
    today = routing_today(snapshot)  # type: ignore[arg-type]
    meta: dict[str, Any] = {"open_lines": lines.height, "planning_date": str(today)}
    run_id: str | None = None
    if lines.height:
        report = run_routing(
            settings.warehouse_path, rules_path(), lines, atp, locations, today=today
        )
        figures = report.figures
        run_id = report.run_id
        meta.update(
            run_id=report.run_id,
            rules_version=report.rules_version,
            actions_created=report.actions_created,
            attempts=report.attempts,
            figures=dg.MetadataValue.json(figures),
        )
        context.log.info(f"routing run {report.run_id}: {figures}")
    yield dg.MaterializeResult(asset_key=ROUTING_KEY, metadata=meta)
    yield _oversell_check(settings.warehouse_path, run_id)


def _oversell_check(warehouse: Path, run_id: str | None) -> dg.AssetCheckResult:
    """No run may allocate units of a SKU at a location beyond what is available to it.

    A pair is oversold by this run when the run allocated units there and the outstanding
    allocations (this run's and earlier runs' not yet reflected in a snapshot) exceed the stock
    available before allocations. Stock that shrinks after an earlier run allocated (a cycle
    count correction) is not the router's doing and is not counted against it.
    """
    over: list[tuple[object, ...]] = []
    if run_id is not None:
        con = duckdb.connect(str(warehouse))
        try:
            over = con.execute(
                """with outstanding as (
                       select a.sku, a.location_id, sum(a.units) as units,
                              sum(case when a.run_id = ? then a.units else 0 end) as this_run
                       from ops.allocations a join ops.outbox o using (action_id)
                       left join marts.fct_available_to_promise p using (sku, location_id)
                       where o.delivered_at is null or p.snapshot_at is null
                          or o.delivered_at > p.snapshot_at or a.run_id = ?
                       group by a.sku, a.location_id)
                   select s.sku, s.location_id, s.units, s.this_run,
                          coalesce(p.available_before_allocations, 0)
                   from outstanding s
                   left join marts.fct_available_to_promise p using (sku, location_id)
                   where s.this_run > 0
                     and s.units > coalesce(p.available_before_allocations, 0)
                   limit 20""",
                [run_id, run_id],
            ).fetchall()
        finally:
            con.close()
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
    deps=[ROUTING_KEY],
    op_tags={"oms/writes": "warehouse"},
)
def fulfillment_deliveries(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Deliver every due fulfillment request (retries with backoff; dead letter after N), after
    requeueing the dead letters that people asked to retry from the dashboard."""
    settings = get_settings()
    requests = open_retry_requests(settings.ops_store_path)
    outcomes: dict[str, str] = {}
    if requests:
        con = duckdb.connect(str(settings.warehouse_path))
        try:
            ensure_schema(con)
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            for req in requests:
                n = requeue_dead_letters(con, now, [req.action_id])
                outcomes[req.request_id] = "requeued" if n else "not_dead_lettered"
        finally:
            con.close()
        mark_consumed(settings.ops_store_path, outcomes)
    report = dispatch_due(
        settings.warehouse_path, fulfillment_adapters(), kinds=(FULFILLMENT_KIND,)
    )
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        pending = scalar(con, "select count(*) from ops.outbox where state <> 'delivered'")
    finally:
        con.close()
    context.log.info(f"deliveries: {report.as_dict()}; {pending} not yet delivered")
    return dg.MaterializeResult(
        metadata={
            "attempted": report.attempted,
            "delivered": report.delivered,
            "retried": report.retried,
            "dead_lettered": report.dead_lettered,
            "skipped_destinations": ", ".join(sorted(report.skipped_destinations)),
            "retry_requests": len(outcomes),
            "undelivered": pending,
        }
    )


ACTION_TAGS = {"oms/warehouse": "write"}
PUBLISH_KEY = dg.AssetKey(["published", "dashboard_marts"])

routing_job = dg.define_asset_job(
    "routing",
    selection=dg.AssetSelection.assets(*ROUTING_INPUTS, ROUTING_KEY, DELIVERY_KEY, PUBLISH_KEY),
    description="Rebuild and test the action marts, route open lines, deliver, publish.",
    tags=ACTION_TAGS,
    executor_def=locked_in_process_executor,
)

deliver_job = dg.define_asset_job(
    "deliver_due",
    selection=dg.AssetSelection.assets(DELIVERY_KEY, PUBLISH_KEY),
    description="Deliver what is due (retries, requeued dead letters) and publish the states.",
    tags=ACTION_TAGS,
    executor_def=locked_in_process_executor,
)

routing_schedule = dg.ScheduleDefinition(
    name="routing_every_5_minutes",
    job=routing_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

deliver_schedule = dg.ScheduleDefinition(
    name="deliver_due_every_minute",
    job=deliver_job,
    cron_schedule="* * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
