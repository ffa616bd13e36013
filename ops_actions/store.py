"""The operational store: small transactional state written from outside a pipeline run.

Dashboards cannot write the warehouse (a run may hold DuckDB's single write lock), so requests
made by people — today a retry of a dead-lettered delivery, next the planners' approvals — go
to SQLite in WAL mode, which takes concurrent writers, and the pipeline consumes them
idempotently. Every request has its own id and records who asked (user name and role);
consuming one records when and with what outcome.

Three kinds of request live here: `retry_requests` (an operator asks for a dead letter to be
sent again), `suggestion_decisions` (a planner approves or rejects one version of a reorder
suggestion; see `docs/reorders.md`) and `hold_decisions` (an operator releases or cancels a
held order's hold; see `docs/holds.md`). Beside them, `kpi_targets`: the versioned KPI
targets managers set, which the alert step judges the KPIs against (`docs/alerts.md`).
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops_actions.alerts.targets import (
    Target,
    TargetInput,
    TargetScope,
    in_force,
    validated,
)

SCHEMA = """
create table if not exists retry_requests (
    request_id   text primary key,
    action_id    text not null,
    requested_by text not null,
    requested_at text not null,
    consumed_at  text,
    outcome      text,
    requested_role text
);
create index if not exists retry_requests_open on retry_requests (consumed_at);
-- One decision per suggestion version: the unique rule is what turns the second of two
-- planners deciding the same version at once into a conflict instead of a second decision.
create table if not exists suggestion_decisions (
    decision_id        text primary key,
    suggestion_id      text not null,
    suggestion_version text not null,
    decision           text not null check (decision in ('approved', 'rejected')),
    quantity           real,
    note               text,
    decided_by         text not null,
    decided_role       text,
    decided_at         text not null,
    consumed_at        text,
    outcome            text,
    action_id          text,
    unique (suggestion_id, suggestion_version)
);
create index if not exists suggestion_decisions_open on suggestion_decisions (consumed_at);
-- One decision per hold (release or cancel); the unique rule turns the second of two operators
-- deciding the same hold into a conflict. Consumed once by the next run (docs/holds.md).
create table if not exists hold_decisions (
    decision_id      text primary key,
    hold_id          text not null unique,
    channel_order_id text not null,
    decision         text not null check (decision in ('released', 'cancelled')),
    note             text,
    decided_by       text not null,
    decided_role     text,
    decided_at       text not null,
    consumed_at      text,
    outcome          text
);
create index if not exists hold_decisions_open on hold_decisions (consumed_at);
-- KPI targets, versioned: every change of a scope (metric, weighting, dimension, member) is a
-- new row with the next version; the highest version is in force (`active` 0: removed, so the
-- default of that scope no longer applies either). The unique rule turns the second of two
-- managers changing the same version at once into a conflict (docs/alerts.md).
create table if not exists kpi_targets (
    target_id  text primary key,
    metric     text not null,
    weighting  text not null,
    dimension  text not null,
    member     text not null,
    version    integer not null check (version >= 1),
    active     integer not null check (active in (0, 1)),
    direction  text check (direction in ('at_least', 'at_most')),
    threshold  real,
    min_volume real,
    note       text,
    set_by     text not null,
    set_role   text,
    set_at     text not null,
    unique (metric, weighting, dimension, member, version)
);
"""
# Columns added after the first release: (table, column, type). `create table if not exists`
# leaves an existing store's table as it was, so opening a store adds whichever it lacks.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (("retry_requests", "requested_role", "text"),)


@dataclass(frozen=True)
class RetryRequest:
    request_id: str
    action_id: str
    requested_by: str
    requested_at: str
    requested_role: str | None = None


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


@contextmanager
def open_store(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.execute("pragma journal_mode=wal")
        con.execute("pragma busy_timeout=30000")
        con.executescript(SCHEMA)
        _migrate(con)
        yield con
    finally:
        con.close()


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"pragma table_info({table})")}


def _migrate(con: sqlite3.Connection) -> None:
    """Add the columns a store created by an older version lacks (existing rows get null)."""
    if all(column in _columns(con, table) for table, column, _ in ADDED_COLUMNS):
        return
    # Under the write lock, and looked at again: two processes opening an old store at once
    # must not both add a column (the second would fail on a duplicate column).
    con.execute("begin immediate")
    try:
        for table, column, type_ in ADDED_COLUMNS:
            if column not in _columns(con, table):
                con.execute(f"alter table {table} add column {column} {type_}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def request_retry(
    path: Path, action_id: str, requested_by: str, requested_role: str | None = None
) -> str:
    """Ask for a dead-lettered action to be delivered again; returns the request id.

    `requested_by` is the user who asked (their role in `requested_role`): a write always
    records who did it, so an empty name is refused. Asking twice before the pipeline consumed
    the first request does not queue two retries (the open request keeps its first requester).
    """
    if not requested_by or not requested_by.strip():
        raise ValueError("a retry request must name the user who asked for it")
    with open_store(path) as con:
        open_ = con.execute(
            "select request_id from retry_requests where action_id = ? and consumed_at is null",
            (action_id,),
        ).fetchone()
        if open_:
            return str(open_[0])
        request_id = uuid.uuid4().hex
        con.execute(
            "insert into retry_requests (request_id, action_id, requested_by, requested_at, "
            "requested_role) values (?, ?, ?, ?, ?)",
            (request_id, action_id, requested_by, _now(), requested_role),
        )
        return request_id


def open_retry_requests(path: Path) -> list[RetryRequest]:
    with open_store(path) as con:
        rows = con.execute(
            """select request_id, action_id, requested_by, requested_at, requested_role
               from retry_requests
               where consumed_at is null order by requested_at"""
        ).fetchall()
    return [RetryRequest(*r) for r in rows]


def mark_consumed(path: Path, outcomes: dict[str, str]) -> None:
    """Record, per request id, what the pipeline did with it (requeued, not_dead_lettered…)."""
    with open_store(path) as con:
        con.execute("begin immediate")
        con.executemany(
            "update retry_requests set consumed_at = ?, outcome = ? "
            "where request_id = ? and consumed_at is null",
            [(_now(), outcome, rid) for rid, outcome in outcomes.items()],
        )
        con.execute("commit")


# --------------------------------------------------------------------------------------------
# Planner decisions on reorder suggestions
# --------------------------------------------------------------------------------------------

DECISIONS = ("approved", "rejected")
DECISION_COLUMNS = (
    "decision_id, suggestion_id, suggestion_version, decision, quantity, note, decided_by, "
    "decided_role, decided_at, consumed_at, outcome, action_id"
)


@dataclass(frozen=True)
class DecisionInput:
    """What a planner decides on one version of one suggestion. `quantity` is the quantity to
    order (the suggested one, or the planner's edit) for an approval; none for a rejection."""

    suggestion_id: str
    suggestion_version: str
    decision: str
    quantity: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class Decision:
    """One row of `suggestion_decisions`: a decision, who made it, and what the pipeline did
    with it (`outcome`: sent, stale or rejected, with the reorder request's `action_id`)."""

    decision_id: str
    suggestion_id: str
    suggestion_version: str
    decision: str
    quantity: float | None
    note: str | None
    decided_by: str
    decided_role: str | None
    decided_at: str
    consumed_at: str | None = None
    outcome: str | None = None
    action_id: str | None = None


class DecisionConflict(RuntimeError):
    """Someone already decided these suggestion versions; nothing of the attempt was written.
    `existing` holds their decisions (who, what, when) to show to the planner."""

    def __init__(self, existing: Sequence[Decision]) -> None:
        self.existing = tuple(existing)
        shown = "; ".join(
            f"{d.suggestion_id} (version {d.suggestion_version[:8]}) already {d.decision} by "
            f"{d.decided_by} at {d.decided_at} UTC"
            for d in self.existing[:5]
        )
        more = f" and {len(self.existing) - 5} more" if len(self.existing) > 5 else ""
        super().__init__(f"already decided: {shown}{more}")


def _validated(item: DecisionInput) -> DecisionInput:
    if item.decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {item.decision!r}")
    if not item.suggestion_id or not item.suggestion_version:
        raise ValueError("a decision names the suggestion id and the version it decides")
    if item.decision == "approved":
        q = item.quantity
        if q is None or not math.isfinite(q) or q <= 0:
            raise ValueError(
                f"an approval of {item.suggestion_id} needs a positive quantity, not {q!r}"
            )
        return item
    return DecisionInput(
        item.suggestion_id, item.suggestion_version, item.decision, None, item.note
    )


def record_decisions(
    path: Path,
    items: Sequence[DecisionInput],
    decided_by: str,
    decided_role: str | None = None,
) -> list[str]:
    """Record decisions (one, or a bulk decision) in ONE transaction; returns their ids.

    All or nothing: if another planner already decided any of these suggestion versions (now,
    or a moment ago in another process), DecisionConflict names their decisions and none of
    these is written, so a bulk approval never half-lands. The same version twice within
    `items` is refused too. Bad input (unknown decision, approval without a positive quantity,
    no user) is refused with ValueError before anything is written.
    """
    if not decided_by or not decided_by.strip():
        raise ValueError("a decision must name the user who made it")
    checked = [_validated(i) for i in items]
    keys = [(i.suggestion_id, i.suggestion_version) for i in checked]
    if len(set(keys)) != len(keys):
        raise ValueError("the same suggestion version appears twice in one decision")
    if not checked:
        return []
    now = _now()
    rows = [
        (
            uuid.uuid4().hex,
            i.suggestion_id,
            i.suggestion_version,
            i.decision,
            i.quantity,
            (i.note or "").strip() or None,
            decided_by,
            decided_role,
            now,
        )
        for i in checked
    ]
    _insert_all_or_nothing(
        path,
        "insert into suggestion_decisions (decision_id, suggestion_id, suggestion_version, "
        "decision, quantity, note, decided_by, decided_role, decided_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
        lambda con: _decided(con, keys),
        DecisionConflict,
    )
    return [r[0] for r in rows]


def _insert_all_or_nothing(
    path: Path,
    insert_sql: str,
    rows: Sequence[tuple[object, ...]],
    existing: Callable[[sqlite3.Connection], Sequence[Any]],
    conflict: Callable[[Sequence[Any]], Exception],
) -> None:
    """Insert `rows` in ONE transaction unless `existing` finds any of them decided already,
    in which case `conflict(existing)` is raised and nothing is written. `begin immediate`
    takes SQLite's write lock first, so the look-up and the inserts see the same state; the
    table's unique rule backs it against any writer that skips the look-up."""
    with open_store(path) as con:
        con.execute("begin immediate")
        try:
            found = existing(con)
            if found:
                con.execute("rollback")
                raise conflict(found)
            con.executemany(insert_sql, rows)
            con.execute("commit")
        except sqlite3.IntegrityError:
            con.execute("rollback")
            raise conflict(existing(con)) from None
        except BaseException:
            if con.in_transaction:
                con.execute("rollback")
            raise


def _decided(con: sqlite3.Connection, keys: Sequence[tuple[str, str]]) -> list[Decision]:
    found: list[Decision] = []
    for start in range(0, len(keys), 400):  # SQLite's limit on bound parameters
        chunk = keys[start : start + 400]
        where = " or ".join("(suggestion_id = ? and suggestion_version = ?)" for _ in chunk)
        params = [v for key in chunk for v in key]
        found += [
            Decision(*r)
            for r in con.execute(
                f"select {DECISION_COLUMNS} from suggestion_decisions where {where}", params
            )
        ]
    return found


def list_decisions(path: Path, open_only: bool = False) -> list[Decision]:
    """Decisions, oldest first (only those the pipeline has not consumed yet if `open_only`)."""
    where = "where consumed_at is null" if open_only else ""
    with open_store(path) as con:
        rows = con.execute(
            f"select {DECISION_COLUMNS} from suggestion_decisions {where} "
            "order by decided_at, decision_id"
        ).fetchall()
    return [Decision(*r) for r in rows]


def mark_decisions_consumed(path: Path, outcomes: Mapping[str, tuple[str, str | None]]) -> int:
    """Record, per decision id, the outcome (sent, stale, rejected) and the reorder request's
    action id; decisions already consumed keep their first outcome. Returns rows updated."""
    if not outcomes:
        return 0
    with open_store(path) as con:
        con.execute("begin immediate")
        try:
            before = con.total_changes
            con.executemany(
                "update suggestion_decisions set consumed_at = ?, outcome = ?, action_id = ? "
                "where decision_id = ? and consumed_at is null",
                [(_now(), out, action, did) for did, (out, action) in outcomes.items()],
            )
            changed = con.total_changes - before
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return changed


# --------------------------------------------------------------------------------------------
# Operators' decisions on order holds
# --------------------------------------------------------------------------------------------

HOLD_DECISIONS = ("released", "cancelled")
HOLD_DECISION_COLUMNS = (
    "decision_id, hold_id, channel_order_id, decision, note, decided_by, decided_role, "
    "decided_at, consumed_at, outcome"
)


@dataclass(frozen=True)
class HoldDecisionInput:
    """What an operator decides on one hold: release it (the order may be routed once no other
    hold remains) or cancel it (the order is cancelled and never routed)."""

    hold_id: str
    channel_order_id: str
    decision: str
    note: str | None = None


@dataclass(frozen=True)
class HoldDecision:
    """One row of `hold_decisions`: the decision, who made it (name, role) and when, and what
    the run that consumed it did (`outcome`: applied, already_resolved, unknown_hold)."""

    decision_id: str
    hold_id: str
    channel_order_id: str
    decision: str
    note: str | None
    decided_by: str
    decided_role: str | None
    decided_at: str
    consumed_at: str | None = None
    outcome: str | None = None


class HoldDecisionConflict(RuntimeError):
    """Someone already decided these holds; nothing of the attempt was written. `existing`
    holds their decisions (who, what, when) to show to the operator."""

    def __init__(self, existing: Sequence[HoldDecision]) -> None:
        self.existing = tuple(existing)
        shown = "; ".join(
            f"{d.hold_id} already {d.decision} by {d.decided_by} at {d.decided_at} UTC"
            for d in self.existing[:5]
        )
        more = f" and {len(self.existing) - 5} more" if len(self.existing) > 5 else ""
        super().__init__(f"already decided: {shown}{more}")


def _holds_decided(con: sqlite3.Connection, hold_ids: Sequence[str]) -> list[HoldDecision]:
    found: list[HoldDecision] = []
    for start in range(0, len(hold_ids), 800):  # SQLite's limit on bound parameters
        chunk = hold_ids[start : start + 800]
        marks = ", ".join("?" for _ in chunk)
        found += [
            HoldDecision(*r)
            for r in con.execute(
                f"select {HOLD_DECISION_COLUMNS} from hold_decisions where hold_id in ({marks})",
                list(chunk),
            )
        ]
    return found


def record_hold_decisions(
    path: Path,
    items: Sequence[HoldDecisionInput],
    decided_by: str,
    decided_role: str | None = None,
) -> list[str]:
    """Record hold decisions (one, or a bulk decision) in ONE transaction; returns their ids.

    All or nothing: if any of these holds was decided already (by anyone, consumed or not),
    HoldDecisionConflict names those decisions and none of these is written. The same hold
    twice within `items`, an unknown decision or no user is refused with ValueError first.
    """
    if not decided_by or not decided_by.strip():
        raise ValueError("a hold decision must name the user who made it")
    for item in items:
        if item.decision not in HOLD_DECISIONS:
            raise ValueError(f"decision must be one of {HOLD_DECISIONS}, not {item.decision!r}")
        if not item.hold_id or not item.channel_order_id:
            raise ValueError("a hold decision names the hold and its order")
    hold_ids = [i.hold_id for i in items]
    if len(set(hold_ids)) != len(hold_ids):
        raise ValueError("the same hold appears twice in one decision")
    if not items:
        return []
    now = _now()
    rows = [
        (
            uuid.uuid4().hex,
            i.hold_id,
            i.channel_order_id,
            i.decision,
            (i.note or "").strip() or None,
            decided_by,
            decided_role,
            now,
        )
        for i in items
    ]
    _insert_all_or_nothing(
        path,
        "insert into hold_decisions (decision_id, hold_id, channel_order_id, decision, note, "
        "decided_by, decided_role, decided_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
        lambda con: _holds_decided(con, hold_ids),
        HoldDecisionConflict,
    )
    return [r[0] for r in rows]


def list_hold_decisions(path: Path, open_only: bool = False) -> list[HoldDecision]:
    """Hold decisions, oldest first (only those no run consumed yet if `open_only`)."""
    where = "where consumed_at is null" if open_only else ""
    with open_store(path) as con:
        rows = con.execute(
            f"select {HOLD_DECISION_COLUMNS} from hold_decisions {where} "
            "order by decided_at, decision_id"
        ).fetchall()
    return [HoldDecision(*r) for r in rows]


def mark_hold_decisions_consumed(path: Path, outcomes: Mapping[str, str]) -> int:
    """Record, per decision id, what the run did with it; decisions already consumed keep
    their first outcome. Returns rows updated."""
    if not outcomes:
        return 0
    with open_store(path) as con:
        con.execute("begin immediate")
        try:
            before = con.total_changes
            con.executemany(
                "update hold_decisions set consumed_at = ?, outcome = ? "
                "where decision_id = ? and consumed_at is null",
                [(_now(), outcome, did) for did, outcome in outcomes.items()],
            )
            changed = con.total_changes - before
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return changed


# --------------------------------------------------------------------------------------------
# KPI targets (versioned; ops_actions/alerts/targets.py validates them, docs/alerts.md)
# --------------------------------------------------------------------------------------------

TARGET_COLUMNS = (
    "metric, weighting, dimension, member, version, active, direction, threshold, min_volume, "
    "note, set_by, set_role, set_at"
)


class TargetConflict(RuntimeError):
    """The target changed since the manager looked at it; nothing was written. `current`
    is the version in force now (None: it was removed), to show them."""

    def __init__(self, scope: TargetScope, expected: int, current: StoredTarget) -> None:
        self.current = current
        super().__init__(
            f"{scope.describe()} was changed by {current.set_by} at {current.set_at} UTC "
            f"(version {current.version}; you edited version {expected}): look at it again "
            "before changing it"
        )


@dataclass(frozen=True)
class StoredTarget:
    """One row of `kpi_targets`: a version of a scope, with who set it and when."""

    scope: TargetScope
    version: int
    active: bool
    direction: str | None
    threshold: float | None
    min_volume: float | None
    note: str | None
    set_by: str
    set_role: str | None
    set_at: str

    def as_target(self) -> Target | None:
        """The target in force, None for a removal."""
        if not self.active or self.direction not in ("at_least", "at_most"):
            return None
        assert self.threshold is not None
        return Target(
            self.scope,
            "at_least" if self.direction == "at_least" else "at_most",
            self.threshold,
            self.min_volume if self.min_volume is not None else 0.0,
            self.version,
            self.set_by,
            self.set_role,
            self.set_at,
            self.note,
        )


def _stored(row: Sequence[Any]) -> StoredTarget:
    return StoredTarget(
        TargetScope(row[0], row[1], row[2], row[3]),
        int(row[4]),
        bool(row[5]),
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
    )


def _latest_version(con: sqlite3.Connection, scope: TargetScope) -> StoredTarget | None:
    row = con.execute(
        f"select {TARGET_COLUMNS} from kpi_targets where metric = ? and weighting = ? "
        "and dimension = ? and member = ? order by version desc limit 1",
        (scope.metric, scope.weighting, scope.dimension, scope.member),
    ).fetchone()
    return None if row is None else _stored(row)


def _write_target_version(
    path: Path,
    scope: TargetScope,
    values: tuple[int, str | None, float | None, float | None, str | None],
    set_by: str,
    set_role: str | None,
    expected_version: int | None,
) -> StoredTarget:
    """Insert the next version of `scope` (one transaction, under SQLite's write lock)."""
    if not set_by or not set_by.strip():
        raise ValueError("a target change must name the user who made it")
    with open_store(path) as con:
        con.execute("begin immediate")
        try:
            latest = _latest_version(con, scope)
            version = 0 if latest is None else latest.version
            if expected_version is not None and latest is not None and version != expected_version:
                raise TargetConflict(scope, expected_version, latest)
            con.execute(
                f"insert into kpi_targets (target_id, {TARGET_COLUMNS}) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    scope.metric,
                    scope.weighting,
                    scope.dimension,
                    scope.member,
                    version + 1,
                    *values,
                    set_by,
                    set_role,
                    _now(),
                ),
            )
            written = _latest_version(con, scope)
            con.execute("commit")
        except BaseException:
            if con.in_transaction:
                con.execute("rollback")
            raise
    assert written is not None
    return written


def set_target(
    path: Path,
    item: TargetInput,
    set_by: str,
    set_role: str | None = None,
    expected_version: int | None = None,
) -> StoredTarget:
    """Store a new version of a target; returns it. Bad input raises TargetError (a
    ValueError) before anything is written; `expected_version` (the version the manager
    edited, 0 for a default) turns a change someone made meanwhile into TargetConflict."""
    checked = validated(item)
    return _write_target_version(
        path,
        checked.scope,
        (1, checked.direction, checked.threshold, checked.min_volume, checked.note),
        set_by,
        set_role,
        expected_version,
    )


def remove_target(
    path: Path,
    scope: TargetScope,
    set_by: str,
    set_role: str | None = None,
    expected_version: int | None = None,
    note: str | None = None,
) -> StoredTarget:
    """Retire a scope's target (its default too): a new version that is not active."""
    checked = validated(TargetInput(scope, "at_least", 0.0, 0.0, note)).scope
    values = (0, None, None, None, (note or "").strip() or None)
    return _write_target_version(path, checked, values, set_by, set_role, expected_version)


def target_history(path: Path) -> list[StoredTarget]:
    """Every version of every target, newest first."""
    with open_store(path) as con:
        rows = con.execute(
            f"select {TARGET_COLUMNS} from kpi_targets order by set_at desc, version desc"
        ).fetchall()
    return [_stored(r) for r in rows]


def targets_in_force(path: Path) -> list[Target]:
    """The targets that apply now: each scope's latest stored version, and the defaults of
    the scopes nobody has set (ops_actions.alerts.targets.in_force)."""
    if not path.exists():
        return in_force([])
    with open_store(path) as con:
        rows = con.execute(
            f"""select {TARGET_COLUMNS} from kpi_targets as t
                where version = (select max(version) from kpi_targets as l
                                 where l.metric = t.metric and l.weighting = t.weighting
                                   and l.dimension = t.dimension and l.member = t.member)"""
        ).fetchall()
    latest = [_stored(r) for r in rows]
    return in_force(
        [s.as_target() for s in latest], removed=[s.scope for s in latest if not s.active]
    )
