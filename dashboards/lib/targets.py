"""KPI targets and alerts for the pages: targets from the operational store (read directly:
it is small and never locked by a run), alerts from the published outbox (kind `kpi_alert`).

A change is written only by `save_target` / `retire_target`, which check the user's right to
set targets right before writing (`auth.require`), whatever the page showed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dashboards.lib.auth import SET_TARGETS, User, require
from dashboards.lib.published import MissingTableError, query
from ops_actions.alerts.metrics import DIRECTION_WORDS, METRICS
from ops_actions.alerts.run import ALERT_KIND
from ops_actions.alerts.targets import Target, TargetInput, TargetScope
from ops_actions.store import (
    StoredTarget,
    remove_target,
    set_target,
    target_history,
    targets_in_force,
)

RECENT_ALERTS = 200


def in_force(store: Path) -> list[Target]:
    return targets_in_force(store)


def targets_frame(targets: list[Target]) -> pl.DataFrame:
    """One row per target in force, as the page lists them."""
    return pl.DataFrame(
        {
            "kpi": [METRICS[t.scope.metric].label for t in targets],
            "weighting": [t.scope.weighting for t in targets],
            "dimension": [t.scope.dimension for t in targets],
            "member": [t.scope.member for t in targets],
            "target": [t.describe() for t in targets],
            "min_volume": [t.min_volume for t in targets],
            "version": [t.version for t in targets],
            "set_by": [t.set_by for t in targets],
            "set_role": [t.set_role for t in targets],
            "set_at": [t.set_at for t in targets],
            "note": [t.note for t in targets],
        },
        schema={
            "kpi": pl.String,
            "weighting": pl.String,
            "dimension": pl.String,
            "member": pl.String,
            "target": pl.String,
            "min_volume": pl.Float64,
            "version": pl.Int64,
            "set_by": pl.String,
            "set_role": pl.String,
            "set_at": pl.String,
            "note": pl.String,
        },
    )


def history_frame(store: Path) -> pl.DataFrame:
    """Every version of every target, newest first."""
    rows: list[StoredTarget] = target_history(store)
    return pl.DataFrame(
        {
            "set_at": [r.set_at for r in rows],
            "kpi": [METRICS[r.scope.metric].label for r in rows],
            "weighting": [r.scope.weighting for r in rows],
            "dimension": [r.scope.dimension for r in rows],
            "member": [r.scope.member for r in rows],
            "version": [r.version for r in rows],
            "change": [
                "removed"
                if not r.active
                else f"{DIRECTION_WORDS.get(r.direction or '', '')} "
                f"{METRICS[r.scope.metric].describe(r.threshold)}"
                for r in rows
            ],
            "set_by": [r.set_by for r in rows],
            "set_role": [r.set_role for r in rows],
            "note": [r.note for r in rows],
        },
        schema={
            "set_at": pl.String,
            "kpi": pl.String,
            "weighting": pl.String,
            "dimension": pl.String,
            "member": pl.String,
            "version": pl.Int64,
            "change": pl.String,
            "set_by": pl.String,
            "set_role": pl.String,
            "note": pl.String,
        },
    )


def save_target(
    user: User | None, store: Path, item: TargetInput, expected_version: int | None
) -> StoredTarget:
    """Store `item` as the signed-in user (PermissionDenied unless they may set targets)."""
    who = require(user, SET_TARGETS)
    return set_target(store, item, who.username, who.role, expected_version)


def retire_target(
    user: User | None, store: Path, scope: TargetScope, expected_version: int | None
) -> StoredTarget:
    who = require(user, SET_TARGETS)
    return remove_target(store, scope, who.username, who.role, expected_version)


def recent_alerts(published_dir: Path, limit: int = RECENT_ALERTS) -> pl.DataFrame | None:
    """The latest alerts in the published outbox, newest order day first: day, what broke,
    its delivery state; None when nothing was published yet."""
    try:
        return query(
            published_dir,
            f"""
            select
                cast(json_extract_string(payload, '$.order_date') as date) as order_date,
                json_extract_string(payload, '$.metric') as metric,
                json_extract_string(payload, '$.dimension') as dimension,
                json_extract_string(payload, '$.member') as member,
                json_extract_string(payload, '$.text') as alert,
                state,
                total_attempts as attempts,
                created_at,
                delivered_at,
                action_id
            from outbox
            where kind = '{ALERT_KIND}'
            order by order_date desc, metric, dimension, member
            limit {int(limit)}
            """,
            ["outbox"],
        )
    except MissingTableError:
        return None
