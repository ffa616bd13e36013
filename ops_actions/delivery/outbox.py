"""The transactional outbox (`ops.outbox`) and its audit trail (`ops.delivery_attempts`).

States: pending -> in_flight -> delivered | pending (retry later) | dead_letter.
`enqueue` is called inside the producer's transaction (with the decision and the stock it
consumes); everything else belongs to the dispatcher. An `in_flight` row whose lease has run out
(its dispatcher died) is due again; the adapter then reads the destination before resending
where the destination cannot deduplicate by key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

OUTBOX_COLUMNS = ("action_id", "kind", "destination", "payload", "batch_key", "source_run_id")
STATES = ("pending", "in_flight", "delivered", "dead_letter")


@dataclass(frozen=True)
class ClaimedAction:
    action_id: str
    kind: str
    destination: str
    payload: dict
    batch_key: str | None
    attempts: int  # attempts in the current cycle, this one included
    attempt_no: int  # attempts ever made, this one included


def enqueue(con: duckdb.DuckDBPyConnection, actions: pl.DataFrame, now: dt.datetime) -> int:
    """Insert actions (columns `OUTBOX_COLUMNS`) as pending; an existing key is left alone.
    Returns how many rows were new. Call inside the producer's transaction."""
    if actions.height == 0:
        return 0
    new_actions = actions.select(OUTBOX_COLUMNS)  # noqa: F841 - read by DuckDB below
    before = con.execute("select count(*) from ops.outbox").fetchall()[0][0]
    con.execute(
        """
        insert into ops.outbox (action_id, kind, destination, payload, batch_key, state,
            attempts, total_attempts, next_attempt_at, created_at, source_run_id)
        select action_id, kind, destination, payload, batch_key, 'pending', 0, 0, ?, ?,
            source_run_id
        from new_actions
        on conflict do nothing
        """,
        [now, now],
    )
    after = con.execute("select count(*) from ops.outbox").fetchall()[0][0]
    return int(after - before)


def claim_due(
    con: duckdb.DuckDBPyConnection,
    now: dt.datetime,
    lease_s: float,
    limit: int,
    destinations: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[ClaimedAction]:
    """Mark up to `limit` due actions in flight (one transaction) and log a started attempt.
    `destinations` / `kinds` restrict the claim (None: all)."""
    dest_filter = ""
    params: list[object] = [now]
    if destinations is not None:
        if not destinations:
            return []
        dest_filter = f"and destination in ({', '.join('?' for _ in destinations)})"
        params.extend(destinations)
    if kinds is not None:
        if not kinds:
            return []
        dest_filter += f" and kind in ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    params.append(limit)
    lease_until = now + dt.timedelta(seconds=lease_s)
    con.begin()
    try:
        rows = con.execute(
            f"""
            select action_id from ops.outbox
            where state in ('pending', 'in_flight') and next_attempt_at <= ? {dest_filter}
            order by next_attempt_at, created_at, action_id
            limit ?
            """,
            params,
        ).fetchall()
        ids = [r[0] for r in rows]
        if not ids:
            con.commit()
            return []
        claimed_ids = pl.DataFrame({"action_id": ids})  # noqa: F841 - read by DuckDB
        con.execute(
            """
            update ops.outbox set state = 'in_flight', attempts = attempts + 1,
                total_attempts = total_attempts + 1, next_attempt_at = ?
            where action_id in (select action_id from claimed_ids)
            """,
            [lease_until],
        )
        claimed = con.execute(
            """
            select action_id, kind, destination, payload, batch_key, attempts, total_attempts
            from ops.outbox where action_id in (select action_id from claimed_ids)
            order by destination, batch_key, action_id
            """
        ).fetchall()
        con.execute(
            """
            insert into ops.delivery_attempts (action_id, attempt_no, started_at, outcome)
            select action_id, total_attempts, ?, 'started'
            from ops.outbox where action_id in (select action_id from claimed_ids)
            """,
            [now],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return [
        ClaimedAction(
            action_id=r[0],
            kind=r[1],
            destination=r[2],
            payload=json.loads(r[3]),
            batch_key=r[4],
            attempts=int(r[5]),
            attempt_no=int(r[6]),
        )
        for r in claimed
    ]


def record_results(con: duckdb.DuckDBPyConnection, results: pl.DataFrame) -> None:
    """Apply attempt results (one transaction). `results` holds action_id, attempt_no,
    new_state, next_attempt_at, finished_at, outcome, http_status, error, response, ack."""
    if results.height == 0:
        return
    res = results  # noqa: F841 - read by DuckDB
    con.begin()
    try:
        con.execute(
            """
            update ops.outbox as o set
                state = r.new_state,
                next_attempt_at = coalesce(r.next_attempt_at, o.next_attempt_at),
                last_error = coalesce(r.error, o.last_error),
                delivered_at = case when r.new_state = 'delivered' then r.finished_at
                                    else o.delivered_at end,
                ack = case when r.new_state = 'delivered' then r.ack else o.ack end
            from res as r
            where o.action_id = r.action_id and o.state = 'in_flight'
            """
        )
        con.execute(
            """
            update ops.delivery_attempts as a set
                finished_at = r.finished_at, outcome = r.outcome, http_status = r.http_status,
                error = r.error, response = r.response
            from res as r
            where a.action_id = r.action_id and a.attempt_no = r.attempt_no
            """
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def requeue_dead_letters(
    con: duckdb.DuckDBPyConnection,
    now: dt.datetime,
    action_ids: Sequence[str] | None = None,
) -> int:
    """Give dead-lettered actions a fresh cycle of attempts (all, or the ones named).
    History stays in `ops.delivery_attempts`; attempt numbers keep counting."""
    where = "state = 'dead_letter'"
    params: list[object] = [now]
    if action_ids is not None:
        if not action_ids:
            return 0
        where += f" and action_id in ({', '.join('?' for _ in action_ids)})"
        params.extend(action_ids)
    n = con.execute(
        f"update ops.outbox set state = 'pending', attempts = 0, next_attempt_at = ? where {where}",
        params,
    ).fetchall()
    return int(n[0][0]) if n else 0


def outbox_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per state (every state present, zero when empty)."""
    rows = con.execute("select state, count(*) from ops.outbox group by state").fetchall()
    counts = dict.fromkeys(STATES, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts
