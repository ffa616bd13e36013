"""One hold step: evaluate the orders not evaluated yet, and apply people's hold decisions.

1. Read the open hold decisions from the operational store (SQLite).
2. In ONE DuckDB transaction:
   - read the candidates (open orders without a row in `ops.order_validations`) and evaluate
     them (pure `evaluate_orders`) under the hold rules;
   - insert one validation per candidate and one hold per (order, reason), ON CONFLICT DO
     NOTHING on their deterministic keys, so a rerun writes nothing twice;
   - apply each decision to its hold: `resolution`, `resolved_at`, `resolved_by` and
     `resolution_id` (the decision id) are set only on a hold still unresolved. A cancellation
     resolves the order's other open holds with it (the order is cancelled as a whole), and
     its channel status update is enqueued in the outbox in the same transaction
     (`enqueue_cancellation_updates`, with the status key function of contract 4).
3. Copy each decision's outcome to the store (`consumed_at`, `outcome`).

Exactly once: the warehouse transaction is the consumption. A crash after it but before step 3
leaves the decision open in the store; the next run finds its id in `ops.order_holds
.resolution_id`, changes nothing and only copies the outcome. A decision recorded while this
runs is not in step 1's read and waits for the next run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ops_actions.db import Warehouse, cursor
from ops_actions.delivery.outbox import enqueue
from ops_actions.holds.evaluate import HELD, Evaluation, evaluate_orders
from ops_actions.holds.inputs import read_hold_inputs
from ops_actions.holds.rules import RISK_PREFIX, HoldRules, load_hold_rules
from ops_actions.status.run import order_cancellation_actions
from ops_actions.store import HoldDecision, list_hold_decisions, mark_hold_decisions_consumed

APPLIED = "applied"
ALREADY_RESOLVED = "already_resolved"
UNKNOWN_HOLD = "unknown_hold"


@dataclass
class HoldsReport:
    """What one step did: orders evaluated, holds placed by reason, decisions applied, and the
    holds still open afterwards by reason (what the summary prints)."""

    rules_version: str
    rules_sha: str
    evaluated: int = 0
    validated: int = 0
    held: int = 0
    new_holds_by_reason: dict[str, int] = field(default_factory=dict)
    decisions_read: int = 0
    released: int = 0
    cancelled: int = 0
    already_resolved: int = 0
    unknown_hold: int = 0
    cancellation_updates: int = 0
    open_holds_by_reason: dict[str, int] = field(default_factory=dict)
    held_orders: int = 0

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def enqueue_cancellation_updates(
    con: duckdb.DuckDBPyConnection,
    cancelled: pl.DataFrame,
    run_id: str,
    shapes: Mapping[str, str] | None = None,
) -> int:
    """Enqueue, inside this step's transaction, the channel status update of every order a
    hold decision cancelled (contract 4): `ops_actions.status.run.order_cancellation_actions`
    builds them with the one key function (`ops_actions.status.keys.status_action_id`), so the
    status step's own path (the lifecycle marts) later finds them in place instead of sending
    them twice. `cancelled` has one row per order: channel_order_id, reason_code (of the hold
    the person cancelled) and resolved_at (when they decided). The channel is told `fraud` for
    a risk hold and the hold's reason otherwise. Returns how many actions were new."""
    created = 0
    for (resolved_at, reason), group in cancelled.group_by(
        ["resolved_at", "reason_code"], maintain_order=True
    ):
        detail = "fraud" if str(reason).startswith(RISK_PREFIX) else str(reason)
        actions = order_cancellation_actions(
            con, group.select("channel_order_id"), resolved_at, run_id, shapes, detail=detail
        )
        created += enqueue(con, actions, _utcnow())
    return created


def _insert_evaluation(
    con: duckdb.DuckDBPyConnection, ev: Evaluation, rules: HoldRules, now: dt.datetime
) -> None:
    validations = ev.validations  # noqa: F841 - read by DuckDB
    holds = ev.holds  # noqa: F841 - read by DuckDB
    con.execute(
        """insert into ops.order_validations
           select channel_order_id, ?, outcome, ?, ? from validations
           on conflict do nothing""",
        [now, rules.version, rules.sha],
    )
    con.execute(
        """insert into ops.order_holds (hold_id, channel_order_id, reason_code, detail,
               rules_version, held_at)
           select channel_order_id || '|' || reason_code, channel_order_id, reason_code,
                  detail, ?, ?
           from holds
           on conflict do nothing""",
        [rules.version, now],
    )


def _apply_decisions(
    con: duckdb.DuckDBPyConnection,
    decisions: Sequence[HoldDecision],
    report: HoldsReport,
    run_id: str,
    shapes: Mapping[str, str] | None,
) -> dict[str, str]:
    """Apply each decision to its hold (see the module docstring); returns id -> outcome."""
    outcomes: dict[str, str] = {}
    cancelled_ids: list[str] = []
    for d in decisions:
        rows = con.execute(
            "select resolution, resolution_id from ops.order_holds where hold_id = ?",
            [d.hold_id],
        ).fetchall()
        if not rows:
            outcomes[d.decision_id] = UNKNOWN_HOLD
            report.unknown_hold += 1
            continue
        resolution, resolution_id = rows[0]
        if resolution_id == d.decision_id:
            outcomes[d.decision_id] = APPLIED  # this run's predecessor committed it already
            continue
        if resolution is not None:
            outcomes[d.decision_id] = ALREADY_RESOLVED
            report.already_resolved += 1
            continue
        decided_at = dt.datetime.fromisoformat(d.decided_at)
        # A cancellation resolves every open hold of the order: it is the order that is
        # cancelled. A release resolves its own hold only.
        scope = "channel_order_id = ?" if d.decision == "cancelled" else "hold_id = ?"
        con.execute(
            f"""update ops.order_holds
                set resolution = ?, resolved_at = ?, resolved_by = ?, resolution_id = ?
                where {scope} and resolution is null""",
            [
                d.decision,
                decided_at,
                d.decided_by,
                d.decision_id,
                d.channel_order_id if d.decision == "cancelled" else d.hold_id,
            ],
        )
        outcomes[d.decision_id] = APPLIED
        if d.decision == "cancelled":
            report.cancelled += 1
            cancelled_ids.append(d.decision_id)
        else:
            report.released += 1
    if cancelled_ids:
        ids = pl.DataFrame({"decision_id": cancelled_ids})  # noqa: F841 - read by DuckDB
        cancelled = con.sql(
            """select h.channel_order_id, h.reason_code, h.resolved_at
               from ops.order_holds as h
               inner join ids on h.resolution_id = ids.decision_id
               qualify row_number() over (
                   partition by h.channel_order_id order by h.hold_id) = 1
               order by h.channel_order_id"""
        ).pl()
        report.cancellation_updates = enqueue_cancellation_updates(con, cancelled, run_id, shapes)
    return outcomes


def _open_by_reason(con: duckdb.DuckDBPyConnection, report: HoldsReport) -> None:
    rows = con.execute(
        """select reason_code, count(*) from ops.order_holds where resolution is null
           group by reason_code order by reason_code"""
    ).fetchall()
    report.open_holds_by_reason = {str(r): int(n) for r, n in rows}
    report.held_orders = int(
        con.execute(
            "select count(distinct channel_order_id) from ops.order_holds where resolution is null"
        ).fetchall()[0][0]
    )


def run_holds(
    warehouse: Warehouse,
    rules: HoldRules | str | Path,
    store_path: Path,
    *,
    now: dt.datetime | None = None,
    status_shapes: Mapping[str, str] | None = None,
) -> HoldsReport:
    """Evaluate new orders and apply open hold decisions; see the module docstring.
    `status_shapes`: channel -> status update shape overrides (`ops_actions.status.shapes`)
    for the cancellation updates."""
    ruleset = rules if isinstance(rules, HoldRules) else load_hold_rules(rules)
    now = now or _utcnow()
    run_id = f"holds-{_utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    decisions = list_hold_decisions(store_path, open_only=True)
    report = HoldsReport(ruleset.version, ruleset.sha, decisions_read=len(decisions))
    with cursor(warehouse) as con:
        con.begin()
        try:
            ev = evaluate_orders(read_hold_inputs(con), ruleset)
            _insert_evaluation(con, ev, ruleset, now)
            outcomes = _apply_decisions(con, decisions, report, run_id, status_shapes)
            _open_by_reason(con, report)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    report.evaluated = ev.validations.height
    report.held = ev.validations.filter(pl.col("outcome") == HELD).height
    report.validated = report.evaluated - report.held
    counts = ev.holds["reason_code"].value_counts(sort=True)
    report.new_holds_by_reason = dict(zip(counts["reason_code"], counts["count"], strict=True))
    mark_hold_decisions_consumed(store_path, outcomes)
    return report
