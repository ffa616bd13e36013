"""The one retry path for dead-lettered actions of every kind (fulfillment requests, reorder
requests, status updates, alerts …).

A person asks for a retry on the dashboard (`ops_actions.store.request_retry`, in the
operational store: the dashboards never write the warehouse). A pipeline step that delivers
actions calls `consume_retry_requests` first: each open request whose action is dead-lettered
gets a fresh cycle of attempts (`requeue_dead_letters`), and the dispatcher of the action's kind
sends it. Nothing here depends on the kind, so every producer's actions share this path.

Exactly once: the requeue and the record that this request was applied
(`ops.retry_requests_applied`) commit in one warehouse transaction. The store's `consumed_at`
is a copy made after that commit; a crash between the two leaves the request open in the
store, and the next step finds it applied here and only copies the outcome, instead of
requeueing the action a second time (which would matter once it had failed again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ops_actions.delivery.outbox import requeue_dead_letters
from ops_actions.store import RetryRequest, mark_consumed, open_retry_requests

REQUEUED = "requeued"
NOT_DEAD_LETTERED = "not_dead_lettered"
UNKNOWN_ACTION = "unknown_action"
OUTCOMES = (REQUEUED, NOT_DEAD_LETTERED, UNKNOWN_ACTION)
"""What a step did with a retry request: gave the action a new cycle; found it not (or no
longer) dead-lettered, so nothing to do; or found no such action in the outbox."""

DDL = """
create table if not exists ops.retry_requests_applied (
    request_id   varchar primary key,
    action_id    varchar not null,
    kind         varchar,
    outcome      varchar not null,
    requested_by varchar not null,
    requested_role varchar,
    requested_at varchar not null,
    applied_at   timestamp not null
)
"""


@dataclass
class RetryReport:
    """What one call did: requests read and their outcome, by outcome and by action kind."""

    requests: int = 0
    already_applied: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    requeued_by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "retry_requests": self.requests,
            "retry_requests_already_applied": self.already_applied,
            **{f"retry_{k}": v for k, v in sorted(self.outcomes.items())},
        }


def ensure_retry_schema(con: duckdb.DuckDBPyConnection, attempts: int = 5) -> None:
    """Create `ops.retry_requests_applied` if missing (a concurrent creator retries)."""
    for attempt in range(1, attempts + 1):
        try:
            con.execute("create schema if not exists ops")
            con.execute(DDL)
            return
        except (duckdb.TransactionException, duckdb.CatalogException):
            if attempt == attempts:
                raise


def _applied(con: duckdb.DuckDBPyConnection, request_ids: list[str]) -> dict[str, str]:
    if not request_ids:
        return {}
    ids = pl.DataFrame({"request_id": request_ids})  # noqa: F841 - read by DuckDB
    rows = con.execute(
        "select request_id, outcome from ops.retry_requests_applied "
        "where request_id in (select request_id from ids)"
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _apply(
    con: duckdb.DuckDBPyConnection, request: RetryRequest, now: dt.datetime
) -> tuple[str, str | None]:
    """Requeue the request's action if dead-lettered and record it, in one transaction."""
    con.begin()
    try:
        found = con.execute(
            "select kind from ops.outbox where action_id = ?", [request.action_id]
        ).fetchall()
        kind = str(found[0][0]) if found else None
        if kind is None:
            outcome = UNKNOWN_ACTION
        else:
            n = requeue_dead_letters(con, now, [request.action_id])
            outcome = REQUEUED if n else NOT_DEAD_LETTERED
        con.execute(
            "insert into ops.retry_requests_applied values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                request.request_id,
                request.action_id,
                kind,
                outcome,
                request.requested_by,
                request.requested_role,
                request.requested_at,
                now,
            ],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return outcome, kind


def consume_retry_requests(
    con: duckdb.DuckDBPyConnection, store_path: Path, now: dt.datetime | None = None
) -> RetryReport:
    """Apply every open retry request of the operational store, whatever the action's kind,
    exactly once; then mark them consumed in the store with their outcome.

    A request for an action that is not dead-lettered (delivered meanwhile, or still being
    tried) is consumed as `not_dead_lettered` and changes nothing; one for an action the outbox
    does not hold is `unknown_action`.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    report = RetryReport()
    requests = open_retry_requests(store_path) if store_path.exists() else []
    report.requests = len(requests)
    if not requests:
        return report
    ensure_retry_schema(con)
    done = _applied(con, [r.request_id for r in requests])
    report.already_applied = len(done)
    outcomes = dict(done)
    for request in requests:
        if request.request_id in done:
            continue
        outcome, kind = _apply(con, request, now)
        outcomes[request.request_id] = outcome
        report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        if outcome == REQUEUED and kind is not None:
            report.requeued_by_kind[kind] = report.requeued_by_kind.get(kind, 0) + 1
    mark_consumed(store_path, outcomes)
    return report
