"""Planning domain: the planners' decisions become reorder requests, delivered exactly once.

`reorder_requests` runs after dbt has rebuilt `ops_reorder_suggestions`: it consumes the open
decisions of the operational store against the suggestions just built (an approval of a version
that this build replaced is marked stale, never sent), commits the reorder requests to the
warehouse outbox, and delivers what is due to the suppliers' and DCs' adapters.
"""

import dagster as dg
import duckdb
import polars as pl

from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.reorders.decide import REORDER_KINDS
from ops_actions.reorders.destinations import reorder_adapters
from ops_actions.reorders.inputs import SUGGESTIONS_SQL
from ops_actions.reorders.run import consume_decisions
from ops_actions.retries import consume_retry_requests
from pipelines.db import frame, scalar
from pipelines.flow import warehouse_job
from pipelines.keys import PUBLISH_KEY, REORDERS_KEY, gate_key, model_key
from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseResource

GROUP = "planning"
SUGGESTIONS_KEY = model_key("ops_reorder_suggestions")


def read_suggestions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """The current suggestions, or None when the mart has not been built in this warehouse."""
    exists = scalar(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'ops_reorder_suggestions'",
    )
    return frame(con, SUGGESTIONS_SQL) if exists else None


@dg.asset(
    key=REORDERS_KEY,
    group_name=GROUP,
    kinds={"python", "duckdb"},
    # the gate: built only when the suggestions and what they come from passed their tests
    deps=[SUGGESTIONS_KEY, gate_key("planning")],
    op_tags={"oms/writes": "warehouse"},
)
def reorder_requests(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Reorder requests (one per supplier, or per transfer source, per as-of date) from the
    approved decisions on the current suggestion versions, committed with the outbox exactly
    once, then delivered (retries with backoff; dead letter after N)."""
    settings = get_settings()
    meta: dict[str, object] = {}
    with warehouse.connect() as con:
        suggestions = read_suggestions(con)
        if suggestions is None:
            # Decisions stay open in the store: nothing can be judged current or stale yet.
            context.log.warning("marts.ops_reorder_suggestions is not built; no decision consumed")
            meta["suggestions"] = 0
        else:
            report = consume_decisions(con, settings.ops_store_path, suggestions)
            context.log.info(f"reorder decisions: {report.as_dict()}")
            meta.update(suggestions=suggestions.height, **report.as_dict())
        # dead letters people asked to retry (any kind: the one retry path), before sending
        retries = consume_retry_requests(con, settings.ops_store_path)
        meta.update(retries.as_dict())
        adapters = reorder_adapters(dict(settings.supplier_destinations), settings.outbox_dir)
        delivery = dispatch_due(con, adapters, kinds=REORDER_KINDS)
    context.log.info(f"reorder deliveries: {delivery.as_dict()}")
    meta.update({f"delivery_{k}": v for k, v in delivery.as_dict().items()})
    meta["delivery_skipped_destinations"] = ", ".join(sorted(delivery.skipped_destinations))
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


planning_daily = warehouse_job(
    "planning_daily",
    # Every dbt model the suggestions are built from (demand history, forecasts, lead times,
    # safety stock: dbt's `+ops_reorder_suggestions`) and the gate, then the requests, then
    # the publish.
    (
        dg.AssetSelection.assets(SUGGESTIONS_KEY, gate_key("planning")).upstream()
        & dg.AssetSelection.kind("dbt")
    )
    # and the forecasts as the planner page reads them
    | dg.AssetSelection.assets(model_key("fct_forecast_daily"), REORDERS_KEY, PUBLISH_KEY),
    "Refresh demand history, forecasts and suggestions; turn approved suggestions into reorder "
    "requests and deliver them; publish.",
)

planning_daily_schedule = dg.ScheduleDefinition(
    name="planning_daily",
    job=planning_daily,
    # After the 05:00 daily build has loaded the night's files; planners see fresh suggestions
    # when they start the day.
    cron_schedule="30 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily forecasts, safety stock, reorder suggestions and reorder requests.",
)
