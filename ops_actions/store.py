"""The operational store: small transactional state written from outside a pipeline run.

Dashboards cannot write the warehouse (a run may hold DuckDB's single write lock), so requests
made by people — today a retry of a dead-lettered delivery, next the planners' approvals — go
to SQLite in WAL mode, which takes concurrent writers, and the pipeline consumes them
idempotently. Every request has its own id and records who asked (user name and role);
consuming one records when and with what outcome.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
