"""The transactional outbox (`ops.outbox`) and its audit trail (`ops.delivery_attempts`).

States: pending -> in_flight -> delivered | pending (retry later) | dead_letter.
`enqueue` is called inside the producer's transaction (with the decision and the stock it
consumes); everything else belongs to the dispatcher. An `in_flight` row whose lease has run out
(its dispatcher died) is due again; the adapter then reads the destination before resending
where the destination cannot deduplicate by key.

In-order delivery: an action with an `ordering_key` (status updates: the order) gets the next
`ordering_seq` of that key when it is enqueued, and `claim_due` never claims it while an action
of the same key with a lower (`ordering_seq`, `action_id`) is not delivered - pending, in
flight, or dead-lettered (a dead letter holds its order's later updates back until it is
requeued). Actions without an ordering key (fulfillment and reorder requests) are claimed as
before.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

OUTBOX_COLUMNS = ("action_id", "kind", "destination", "payload", "batch_key", "source_run_id")
# Optional columns of `enqueue`'s input: the ordering key and the order within this batch.
ORDERING_COLUMNS = ("ordering_key", "ordering_rank")
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
    """Insert actions (columns `OUTBOX_COLUMNS`, optionally `ORDERING_COLUMNS`) as pending; an
    existing key is left alone. An action with an ordering key is numbered after every action
    of that key already in the outbox, in `ordering_rank` order within this batch.
    Returns how many rows were new. Call inside the producer's transaction."""
    if actions.height == 0:
        return 0
    ordering = [
        pl.col(c) if c in actions.columns else pl.lit(None, pl.String if i == 0 else pl.Int64)
        for i, c in enumerate(ORDERING_COLUMNS)
    ]
    new_actions = actions.select(  # noqa: F841 - read by DuckDB below
        *OUTBOX_COLUMNS, *(e.alias(c) for e, c in zip(ordering, ORDERING_COLUMNS, strict=True))
    )
    before = con.execute("select count(*) from ops.outbox").fetchall()[0][0]
    con.execute(
        """
        insert into ops.outbox (action_id, kind, destination, payload, batch_key, state,
            attempts, total_attempts, next_attempt_at, created_at, source_run_id,
            ordering_key, ordering_seq)
        with fresh as (
            select * from new_actions as n
            where not exists (select 1 from ops.outbox as o where o.action_id = n.action_id)
            qualify row_number() over (partition by action_id order by ordering_rank) = 1
        ),
        last_seq as (
            select ordering_key, max(ordering_seq) as seq
            from ops.outbox
            where ordering_key in (select ordering_key from fresh)
            group by ordering_key
        )
        select f.action_id, f.kind, f.destination, f.payload, f.batch_key, 'pending', 0, 0,
            ?, ?, f.source_run_id, f.ordering_key,
            case when f.ordering_key is not null then coalesce(l.seq, 0) + row_number() over (
                partition by f.ordering_key order by f.ordering_rank, f.action_id) end
        from fresh as f
        left join last_seq as l on l.ordering_key = f.ordering_key
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
    `destinations` / `kinds` restrict the claim (None: all). Of an ordering key, only its
    head (its earliest undelivered action) can be claimed, so one claim never holds two
    actions of one order and a later action never goes out before an earlier one."""
    dest_filter = ""
    params: list[object] = [now]
    if destinations is not None:
        if not destinations:
            return []
        dest_filter = f"and o.destination in ({', '.join('?' for _ in destinations)})"
        params.extend(destinations)
    if kinds is not None:
        if not kinds:
            return []
        dest_filter += f" and o.kind in ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    params.append(limit)
    lease_until = now + dt.timedelta(seconds=lease_s)
    con.begin()
    try:
        # An ordered action is due only as the head of its key: no undelivered action of
        # that key has a lower (ordering_seq, action_id). Checked for a window of the first
        # due rows only (lowest ordering_seq first, where the heads are), so a claim costs a
        # scan of the outbox rather than a sort of every undelivered action; if that window
        # is full and holds no head at all, the full search below finds any there are.
        due = f"""
            select o.action_id, o.ordering_key, o.ordering_seq, o.next_attempt_at,
                   o.created_at
            from ops.outbox as o
            where o.state in ('pending', 'in_flight') and o.next_attempt_at <= ? {dest_filter}
        """
        order = "order by ordering_seq nulls first, next_attempt_at, created_at, action_id"
        rows = con.execute(
            f"""
            with candidates as ({due} {order} limit ?),
            blocked as (
                select distinct c.action_id
                from candidates as c
                inner join ops.outbox as e
                    on e.ordering_key = c.ordering_key
                   and e.state <> 'delivered'
                   and (e.ordering_seq < c.ordering_seq
                        or (e.ordering_seq = c.ordering_seq and e.action_id < c.action_id))
            )
            select action_id from candidates
            where action_id not in (select action_id from blocked)
            {order}
            limit ?
            """,
            [*params[:-1], limit * 4, limit],
        ).fetchall()
        window_full = (
            not rows
            and con.execute(
                f"select count(*) from ({due} limit ?)", [*params[:-1], limit * 4]
            ).fetchall()[0][0]
            == limit * 4
        )
        if window_full:
            rows = con.execute(
                f"""
                with heads as (
                    select action_id, row_number() over (
                        partition by ordering_key order by ordering_seq, action_id) as position
                    from ops.outbox
                    where ordering_key is not null and state <> 'delivered'
                )
                select d.action_id from ({due}) as d
                left join heads as h on h.action_id = d.action_id
                where d.ordering_key is null or h.position = 1
                {order}
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
    new_state, next_attempt_at, finished_at, outcome, http_status, error, response, ack and
    `counts` (false: a deferred attempt - throttled or held back by a rate limit - that does not
    count towards the attempts before a dead letter)."""
    if results.height == 0:
        return
    res = results  # noqa: F841 - read by DuckDB
    con.begin()
    try:
        con.execute(
            """
            update ops.outbox as o set
                state = r.new_state,
                attempts = case when r.counts then o.attempts else o.attempts - 1 end,
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
