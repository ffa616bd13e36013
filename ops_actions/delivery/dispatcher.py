"""Dispatch due outbox actions to their destinations' adapters, record every attempt.

One cycle: claim a batch (commit), deliver it through the destinations' adapters (each adapter
in its own thread), record the outcomes (commit). The cycles overlap: while one batch is on the
wire, the next is claimed and the one before is recorded, so the warehouse work no longer adds
to the time spent waiting on the destinations. A crash after the claim leaves the actions in
flight until their lease runs out; they are then due again, and a destination that cannot
deduplicate is read before the resend (see the adapters). Retries back off exponentially with
jitter; after `max_attempts` failures an action goes to `dead_letter` until
`requeue_dead_letters` gives it a new cycle.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

import polars as pl

from ops_actions.crashpoints import CrashPoint, crashpoint
from ops_actions.db import Warehouse, cursor
from ops_actions.delivery.adapters.base import Action, Adapter, Outcome
from ops_actions.delivery.outbox import ClaimedAction, claim_due, record_results
from ops_actions.delivery.retry import RetryPolicy

AdapterResolver = Mapping[str, Adapter] | Callable[[str], Adapter | None]

RESULT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "action_id": pl.String,
    "attempt_no": pl.Int32,
    "new_state": pl.String,
    "next_attempt_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
    "outcome": pl.String,
    "http_status": pl.Int32,
    "error": pl.String,
    "response": pl.String,
    "ack": pl.String,
    "counts": pl.Boolean,
}


@dataclass
class DispatchReport:
    attempted: int = 0
    delivered: int = 0
    retried: int = 0
    deferred: int = 0
    dead_lettered: int = 0
    skipped_destinations: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["skipped_destinations"] = sorted(self.skipped_destinations)
        return d


def _resolve(adapters: AdapterResolver, destination: str) -> Adapter | None:
    if callable(adapters) and not isinstance(adapters, Mapping):
        return adapters(destination)
    return adapters.get(destination) or adapters.get("*")


def _paused(adapter: Adapter | None, at: dt.datetime) -> bool:
    """Whether the adapter asked not to be called before some time after `at` (adapters that
    throttle expose `paused_until`; the others are never paused)."""
    until = getattr(adapter, "paused_until", None)
    return until is not None and until(at) is not None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _result_row(
    claimed: ClaimedAction,
    outcome: Outcome,
    policy: RetryPolicy,
    finished: dt.datetime,
    rng: random.Random,
) -> dict[str, object]:
    next_at = None
    if outcome.status == "delivered":
        state = "delivered"
    elif outcome.status == "deferred":
        state = "pending"
        next_at = finished + dt.timedelta(seconds=outcome.retry_after_s or 0.0)
    elif outcome.status == "failed" or policy.exhausted(claimed.attempts):
        state = "dead_letter"
    else:
        state = "pending"
        # Back off, and never sooner than the destination asked (Retry-After).
        delay = max(policy.delay_s(claimed.attempts, rng), outcome.retry_after_s or 0.0)
        next_at = finished + dt.timedelta(seconds=delay)
    label = outcome.status if outcome.detail is None else f"{outcome.status}: {outcome.detail}"
    return {
        "action_id": claimed.action_id,
        "attempt_no": claimed.attempt_no,
        "new_state": state,
        "next_attempt_at": next_at,
        "finished_at": finished,
        "outcome": label,
        "http_status": outcome.http_status,
        "error": outcome.error,
        "response": outcome.response,
        "ack": json.dumps(outcome.ack, sort_keys=True) if outcome.ack is not None else None,
        "counts": outcome.status != "deferred",
    }


Delivered = tuple[list[ClaimedAction], dict[str, Outcome], dt.datetime]


def _send(
    adapter: Adapter,
    groups: list[list[ClaimedAction]],
    now: Callable[[], dt.datetime],
) -> list[Delivered]:
    """Deliver each destination's share through `adapter`, one destination after the other:
    (the actions, their outcomes by action id, when the adapter finished)."""
    out: list[Delivered] = []
    for items in groups:
        actions = [
            Action(c.action_id, c.kind, c.destination, c.payload, c.attempt_no, c.batch_key)
            for c in items
        ]
        outcomes = {o.action_id: o for o in adapter.deliver(actions)}
        crashpoint(CrashPoint.DISPATCH_AFTER_SEND)
        out.append((items, outcomes, now()))
    return out


def _start(
    pool: ThreadPoolExecutor,
    adapters: AdapterResolver,
    claimed: list[ClaimedAction],
    now: Callable[[], dt.datetime],
) -> list[Future[list[Delivered]]]:
    """Start delivering a claim (sorted by destination): each adapter in its own thread.

    The destinations of one claim do not wait for each other: a claim holds at most one
    action per order, so nothing in it depends on another of its actions, and one slow
    channel no longer holds the others' requests back. Destinations that resolve to the same
    adapter object (a "*" fallback) share its connection, so they go one after the other in
    one thread. `_finish` hands the results back in this fixed order, whichever thread ends
    first."""
    by_adapter: dict[int, tuple[Adapter, list[list[ClaimedAction]]]] = {}
    for destination, group in groupby(claimed, key=lambda c: c.destination):
        adapter = _resolve(adapters, destination)
        assert adapter is not None
        by_adapter.setdefault(id(adapter), (adapter, []))[1].append(list(group))
    return [pool.submit(_send, adapter, groups, now) for adapter, groups in by_adapter.values()]


def _finish(
    futures: list[Future[list[Delivered]]],
    policy: RetryPolicy,
    rng: random.Random,
) -> pl.DataFrame:
    """Wait for a claim's deliveries; their result rows (`RESULT_SCHEMA`)."""
    rows: list[dict[str, object]] = []
    for future in futures:
        for items, outcomes, finished in future.result():
            for c in items:
                o = outcomes.get(c.action_id) or Outcome(c.action_id, "retry", error="no outcome")
                rows.append(_result_row(c, o, policy, finished, rng))
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def _count(report: DispatchReport, results: pl.DataFrame) -> None:
    report.attempted += results.height
    states = (
        results.select(pl.when(~pl.col("counts")).then(pl.lit("deferred")).otherwise("new_state"))
        .to_series()
        .value_counts()
    )
    counts = dict(zip(states[states.columns[0]], states["count"], strict=True))
    report.delivered += int(counts.get("delivered", 0))
    report.retried += int(counts.get("pending", 0))
    report.deferred += int(counts.get("deferred", 0))
    report.dead_lettered += int(counts.get("dead_letter", 0))


def dispatch_due(
    warehouse: Warehouse,
    adapters: AdapterResolver,
    *,
    policy: RetryPolicy | None = None,
    batch_size: int = 500,
    max_batches: int | None = None,
    now: Callable[[], dt.datetime] = _utcnow,
    rng: random.Random | None = None,
    kinds: Sequence[str] | None = None,
) -> DispatchReport:
    """Deliver every due action whose destination has an adapter; return what happened.

    `adapters` maps destination -> adapter (key "*" is the fallback) or is a function of the
    destination. Actions for destinations without an adapter stay pending (reported).
    `kinds` limits the cycle to those action kinds (None: every kind), so each producer's
    adapters (a "*" fallback included) only ever see its own actions."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    report = DispatchReport()
    with cursor(warehouse) as con, ThreadPoolExecutor(thread_name_prefix="dispatch") as pool:
        kind_filter = ""
        if kinds is not None:
            kind_filter = (
                f" and kind in ({', '.join('?' for _ in kinds)})" if kinds else " and false"
            )
        known = [
            d
            for (d,) in con.execute(
                "select distinct destination from ops.outbox "
                f"where state in ('pending','in_flight'){kind_filter}",
                list(kinds or []),
            ).fetchall()
        ]
        routable = [d for d in known if _resolve(adapters, d) is not None]
        report.skipped_destinations = set(known) - set(routable)
        batches = 0
        # One batch is on the wire while the warehouse work of its neighbours runs: the next
        # claim is made, and the previous results recorded, during its HTTP requests. Safe
        # for the order per order: the batch on the wire is in flight, so no later update of
        # its orders can be claimed meanwhile; and it is left out of that claim by id, so
        # even a lease running out during its requests never sends an action twice at once.
        inflight: tuple[list[ClaimedAction], list[Future[list[Delivered]]]] | None = None
        while True:
            claimed: list[ClaimedAction] = []
            if max_batches is None or batches < max_batches:
                at = now()
                # A destination that asked us to wait (a rate limit, a 429's Retry-After) is
                # not claimed for until then; its actions stay pending, due again later.
                ready = [d for d in routable if not _paused(_resolve(adapters, d), at)]
                busy = [c.action_id for c in inflight[0]] if inflight else []
                claimed = claim_due(con, at, policy.lease_s, batch_size, ready, kinds, busy)
            if not claimed and inflight is None:
                break
            if claimed:
                batches += 1
                crashpoint(CrashPoint.DISPATCH_AFTER_CLAIM)
            previous, inflight = inflight, None
            results = _finish(previous[1], policy, rng) if previous else None
            if claimed:
                inflight = (claimed, _start(pool, adapters, claimed, now))
            if results is not None:
                crashpoint(CrashPoint.DISPATCH_BEFORE_RECORD)
                record_results(con, results)
                crashpoint(CrashPoint.DISPATCH_AFTER_RECORD)
                _count(report, results)
    return report
