"""Raise alerts: judge the targets in force on the KPI catalogue and enqueue one alert action
per breach and judged day in the outbox (kind `kpi_alert`), in one transaction.

The action's key is made of the breach alone (metric, weighting, dimension, member, order day;
not the figure, the threshold or the run), so a rerun, a run redone after a crash, or a later
run judging the same day again finds the key in place and enqueues nothing: each breach is
sent once per day. The outbox then delivers it like any other action (retries, dead letter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import polars as pl

from ops_actions.alerts.breaches import Breach, find_breaches, judged_days
from ops_actions.alerts.metrics import METRICS
from ops_actions.alerts.targets import Target
from ops_actions.delivery.keys import action_key, canonical_json
from ops_actions.delivery.outbox import enqueue

ALERT_KIND = "kpi_alert"
ALERT_DESTINATION = "webhook:kpi_alerts"
KPI_MART = "marts.fct_kpis"


@dataclass
class AlertReport:
    cut_off: dt.date | None = None
    targets: int = 0
    breaches: int = 0
    enqueued: int = 0
    by_metric: dict[str, int] = field(default_factory=dict)
    source_missing: bool = False

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def alert_key(breach: Breach) -> str:
    """The idempotency key of a breach's alert: the same breach and day, the same key."""
    content = {
        "metric": breach.metric,
        "weighting": breach.weighting,
        "dimension": breach.dimension,
        "member": breach.member,
        "day": breach.day.isoformat(),
    }
    return action_key(ALERT_KIND, ALERT_DESTINATION, content)


def alert_payload(breach: Breach) -> dict[str, object]:
    """What the webhook receives: the breach, its figure and the target it broke."""
    t = breach.target
    return {
        "text": breach.text(),
        "metric": breach.metric,
        "metric_label": METRICS[breach.metric].label,
        "weighting": breach.weighting,
        "dimension": breach.dimension,
        "member": breach.member,
        "order_date": breach.day.isoformat(),
        "value": round(breach.value, 6),
        "numerator": breach.numerator,
        "volume": breach.volume,
        "direction": t.direction,
        "threshold": t.threshold,
        "min_volume": t.min_volume,
        "target_version": t.version,
        "target_set_by": t.set_by,
        "target_set_at": t.set_at,
    }


def alert_actions(breaches: Sequence[Breach], run_id: str | None) -> pl.DataFrame:
    """Outbox rows (ops_actions.delivery.outbox.OUTBOX_COLUMNS) of the alerts."""
    return pl.DataFrame(
        {
            "action_id": [alert_key(b) for b in breaches],
            "kind": [ALERT_KIND] * len(breaches),
            "destination": [ALERT_DESTINATION] * len(breaches),
            "payload": [canonical_json(alert_payload(b)) for b in breaches],
            "batch_key": [b.day.isoformat() for b in breaches],
            "source_run_id": [run_id] * len(breaches),
        },
        schema={
            "action_id": pl.String,
            "kind": pl.String,
            "destination": pl.String,
            "payload": pl.String,
            "batch_key": pl.String,
            "source_run_id": pl.String,
        },
    )


def cut_off_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The cut-off's date (the catalogue's `as_of_at`, UTC), None when the mart is empty."""
    value = con.execute(f"select max(as_of_at) from {KPI_MART}").fetchall()[0][0]
    return None if value is None else value.date()


def judged_rows(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    cut_off: dt.date,
    lookback_days: int,
) -> pl.DataFrame:
    """The day rows of fct_kpis the targets are judged on (their dimensions and days)."""
    dimensions = sorted({t.scope.dimension for t in targets})
    days = sorted({d for t in targets for d in judged_days(t.scope.metric, cut_off, lookback_days)})
    columns = sorted({c for m in METRICS.values() for pair in m.columns.values() for c in pair})
    return con.sql(
        f"""select period_start, dimension, member, {", ".join(columns)}
            from {KPI_MART}
            where period_grain = 'day' and list_contains($dimensions, dimension)
              and list_contains($days, period_start)""",
        params={"dimensions": dimensions, "days": days},
    ).pl()


def raise_alerts(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    *,
    run_id: str | None,
    now: dt.datetime,
    lookback_days: int = 1,
) -> AlertReport:
    """Judge `targets` and enqueue the alerts of the breaches not alerted yet (one
    transaction). The outbox (`ops_actions.schema`) must exist."""
    report = AlertReport(targets=len(targets))
    try:
        cut_off = cut_off_date(con)
    except duckdb.CatalogException:
        report.source_missing = True
        return report
    report.cut_off = cut_off
    if cut_off is None or not targets:
        return report
    rows = judged_rows(con, targets, cut_off, lookback_days)
    breaches = find_breaches(targets, rows, cut_off, lookback_days)
    report.breaches = len(breaches)
    for b in breaches:
        report.by_metric[b.metric] = report.by_metric.get(b.metric, 0) + 1
    con.begin()
    try:
        report.enqueued = enqueue(con, alert_actions(breaches, run_id), now)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return report
