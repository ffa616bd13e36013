"""One reorder step: consume the planners' open decisions exactly once.

1. Read the open decisions from the operational store (SQLite).
2. Leave out those the warehouse already consumed (`ops.reorder_decisions`: a run that crashed
   after its warehouse commit but before it marked the store).
3. Decide (pure `decide_reorders`) against the current suggestions.
4. In ONE DuckDB transaction: insert the decisions' outcomes into `ops.reorder_decisions`
   (primary key: the decision id) and the reorder requests into `ops.outbox`
   (ON CONFLICT DO NOTHING on the deterministic key). A concurrent run consuming the same
   decision makes one of the two fail on the key and start again from step 1.
5. Copy the outcomes to the store (`consumed_at`, `outcome`, `action_id`).

A decision recorded while this runs is not in step 1's read and stays open for the next run;
SQLite in WAL mode lets the dashboard write while this reads.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ops_actions.crashpoints import CrashPoint, crashpoint
from ops_actions.db import Warehouse, cursor
from ops_actions.delivery.outbox import OUTBOX_COLUMNS, enqueue
from ops_actions.reorders.decide import REQUESTED, STALE, ReorderPlan, decide_reorders
from ops_actions.store import Decision, list_decisions, mark_decisions_consumed


class ReorderConflictError(RuntimeError):
    """The step lost to concurrent steps more times than allowed."""


@dataclass
class ReorderReport:
    run_id: str
    decisions_read: int = 0
    already_consumed: int = 0
    requested: int = 0
    stale: int = 0
    rejected: int = 0
    requests_created: int = 0
    value_requested: float = 0.0
    attempts: int = 0
    stale_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d.pop("stale_ids")
        return d


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _consumed(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    if not ids:
        return {}
    wanted = pl.DataFrame({"decision_id": ids})  # noqa: F841 - read by DuckDB
    rows = con.execute(
        "select decision_id, outcome, action_id from ops.reorder_decisions "
        "where decision_id in (select decision_id from wanted)"
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _commit(
    con: duckdb.DuckDBPyConnection,
    plan: ReorderPlan,
    decisions: list[Decision],
    run_id: str,
    now: dt.datetime,
) -> int:
    by_id = {d.decision_id: d for d in decisions}
    rows = pl.DataFrame(  # noqa: F841 - read by DuckDB
        [
            {
                "decision_id": o.decision_id,
                "suggestion_id": by_id[o.decision_id].suggestion_id,
                "suggestion_version": by_id[o.decision_id].suggestion_version,
                "decision": by_id[o.decision_id].decision,
                "quantity": by_id[o.decision_id].quantity,
                "decided_by": by_id[o.decision_id].decided_by,
                "decided_role": by_id[o.decision_id].decided_role,
                "decided_at": by_id[o.decision_id].decided_at,
                "outcome": o.outcome,
                "reason": o.reason,
                "action_id": o.action_id,
            }
            for o in plan.outcomes
        ],
        schema={
            "decision_id": pl.String,
            "suggestion_id": pl.String,
            "suggestion_version": pl.String,
            "decision": pl.String,
            "quantity": pl.Float64,
            "decided_by": pl.String,
            "decided_role": pl.String,
            "decided_at": pl.String,
            "outcome": pl.String,
            "reason": pl.String,
            "action_id": pl.String,
        },
    )
    con.begin()
    try:
        con.execute(
            """insert into ops.reorder_decisions
               select decision_id, suggestion_id, suggestion_version, decision, quantity,
                      decided_by, decided_role, decided_at, outcome, reason, action_id,
                      ?, ? from rows""",
            [run_id, now],
        )
        created = enqueue(con, plan.requests.select(OUTBOX_COLUMNS), now)
        crashpoint(CrashPoint.REORDERS_BEFORE_COMMIT)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return created


def consume_decisions(
    warehouse: Warehouse,
    store_path: Path,
    suggestions: pl.DataFrame,
    *,
    now: dt.datetime | None = None,
    max_attempts: int = 20,
    lock_timeout_s: float = 120.0,
) -> ReorderReport:
    """Turn the open decisions into reorder requests in the outbox, exactly once; mark them
    consumed in the store. `suggestions` is the current `ops_reorder_suggestions`."""
    run_id = f"{_utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:10]}"
    report = ReorderReport(run_id=run_id)
    outcomes: dict[str, tuple[str, str | None]] = {}
    with cursor(warehouse) as con:
        for attempt in range(1, max_attempts + 1):
            report.attempts = attempt
            decisions = list_decisions(store_path, open_only=True)
            done = _consumed(con, [d.decision_id for d in decisions])
            todo = [d for d in decisions if d.decision_id not in done]
            plan = decide_reorders(suggestions, todo, run_id)
            crashpoint(CrashPoint.REORDERS_AFTER_DECIDE)
            try:
                created = _commit(con, plan, todo, run_id, now or _utcnow())
            except (duckdb.TransactionException, duckdb.ConstraintException):
                # another step consumed some of these decisions first: read again
                time.sleep(random.uniform(0.0, 0.05 * attempt))
                continue
            report.decisions_read = len(decisions)
            report.already_consumed = len(done)
            report.requested = plan.count(REQUESTED)
            report.stale = plan.count(STALE)
            report.rejected = len(todo) - report.requested - report.stale
            report.requests_created = created
            report.value_requested = float(plan.requests["value"].fill_null(0).sum())
            report.stale_ids = [o.decision_id for o in plan.outcomes if o.outcome == STALE]
            outcomes = {**done, **{o.decision_id: (o.outcome, o.action_id) for o in plan.outcomes}}
            break
        else:
            raise ReorderConflictError(f"step {run_id} lost {max_attempts} times")
    crashpoint(CrashPoint.REORDERS_AFTER_COMMIT)
    mark_decisions_consumed(store_path, outcomes)
    return report
