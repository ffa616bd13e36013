"""KPI alerts as Dagster assets: breaches judged once the KPI marts are built, alerts
delivered through the outbox before publish (so the dashboards show their states).

Neither step carries the key of `ops.outbox` (a dbt source, `pipelines/actions/ops_tables.py`):
they have keys of their own, upstream of the outbox's asset.
"""

import datetime as dt

import dagster as dg
import duckdb

from ops_actions.alerts.run import ALERT_KIND, raise_alerts
from ops_actions.alerts.webhook import alert_adapter
from ops_actions.delivery.adapters.base import Adapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.store import targets_in_force
from pipelines.keys import ALERT_DELIVERY_KEY, ALERTS_KEY, DELIVERY_KEY, model_key
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import WarehouseResource

GROUP = "alerts"
ALERTS_FOLDER = "alerts"
KPI_MODEL = "fct_kpis"


def alert_destination_adapter(settings: Settings) -> Adapter:
    """The adapter of `OMS_ALERT_DESTINATION` (default: JSON files in <outbox>/alerts/)."""
    return alert_adapter(settings.alert_destination, settings.outbox_dir / ALERTS_FOLDER)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dg.asset(
    key=ALERTS_KEY,
    group_name=GROUP,
    kinds={"python", "duckdb"},
    deps=[model_key(KPI_MODEL)],
    op_tags={"oms/writes": "warehouse"},
)
def kpi_alert_run(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Judge the KPI targets in force (operational store, else the defaults) on the day rows
    of marts.fct_kpis and enqueue one `kpi_alert` per breach and judged day (docs/alerts.md)."""
    settings = get_settings()
    targets = targets_in_force(settings.ops_store_path)
    with warehouse.connect() as con:
        report = raise_alerts(
            con,
            targets,
            run_id=context.run.run_id,
            now=_utcnow(),
            lookback_days=settings.alert_lookback_days,
        )
    if report.source_missing:
        context.log.warning(f"marts.{KPI_MODEL} is not built: no targets judged")
    context.log.info(f"kpi alerts: {report.as_dict()}")
    return dg.MaterializeResult(
        metadata={
            "cut_off": str(report.cut_off),
            "targets": report.targets,
            "breaches": report.breaches,
            "enqueued": report.enqueued,
            "by_metric": dg.MetadataValue.json(report.by_metric),
        }
    )


@dg.asset(
    key=ALERT_DELIVERY_KEY,
    group_name=GROUP,
    kinds={"python"},
    # after the fulfillment deliveries, which requeue the dead letters people asked to retry
    deps=[ALERTS_KEY, DELIVERY_KEY],
    op_tags={"oms/writes": "warehouse"},
)
def kpi_alert_deliveries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Deliver the due alerts to the webhook (or folder), retried with backoff and
    dead-lettered after `OMS_ALERT_MAX_ATTEMPTS`."""
    settings = get_settings()
    adapter = alert_destination_adapter(settings)
    policy = RetryPolicy(max_attempts=settings.alert_max_attempts)
    with warehouse.connect() as con:
        report = dispatch_due(con, {"*": adapter}, policy=policy, kinds=(ALERT_KIND,))
        waiting = undelivered(con)
    context.log.info(f"kpi alert deliveries: {report.as_dict()}; {waiting} not yet delivered")
    return dg.MaterializeResult(
        metadata={
            "attempted": report.attempted,
            "delivered": report.delivered,
            "retried": report.retried,
            "dead_lettered": report.dead_lettered,
            "undelivered": waiting,
        }
    )


def undelivered(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute(
        "select count(*) from ops.outbox where kind = ? and state <> 'delivered'", [ALERT_KIND]
    ).fetchall()
    return int(rows[0][0])


def alert_summary_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The run summary's lines: alerts raised per metric (all runs so far), by delivery
    state, and the latest judged order days."""
    from ops_actions.alerts.metrics import METRICS

    try:
        rows = con.execute(
            """select json_extract_string(payload, '$.metric') as metric, count(*),
                      count(*) filter (where state = 'delivered'),
                      count(*) filter (where state in ('pending', 'in_flight')),
                      count(*) filter (where state = 'dead_letter'),
                      max(json_extract_string(payload, '$.order_date'))
               from ops.outbox where kind = ? group by 1 order by 1""",
            [ALERT_KIND],
        ).fetchall()
    except duckdb.Error:
        return ["KPI alerts: none raised yet"]
    if not rows:
        return ["KPI alerts: no target breached"]
    out = [
        "KPI alerts raised (one per breach and judged order day; docs/alerts.md)",
        f"  {'metric':<24}{'raised':>8}{'delivered':>11}{'pending':>9}{'dead letter':>13}"
        "  latest day",
    ]
    for metric, raised, sent, waiting, dead, latest in rows:
        label = METRICS[metric].label if metric in METRICS else metric
        out.append(f"  {label:<24}{raised:>8,}{sent:>11,}{waiting:>9,}{dead:>13,}  {latest}")
    return out
