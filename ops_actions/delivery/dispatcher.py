"""Dispatch due outbox actions to their destinations' adapters, record every attempt.

One cycle: claim a batch (commit), deliver per destination through its adapter, record the
outcomes (commit). A crash after the claim leaves the actions in flight until their lease runs
out; they are then due again, and a destination that cannot deduplicate is read before the
resend (see the adapters). Retries back off exponentially with jitter; after `max_attempts`
failures an action goes to `dead_letter` until `requeue_dead_letters` gives it a new cycle.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Mapping, Sequence
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
    with cursor(warehouse) as con:
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
        while max_batches is None or batches < max_batches:
            at = now()
            # A destination that asked us to wait (a rate limit, a 429's Retry-After) is not
            # claimed for until then; its actions stay pending, due again later.
            ready = [d for d in routable if not _paused(_resolve(adapters, d), at)]
            claimed = claim_due(con, at, policy.lease_s, batch_size, ready, kinds)
            if not claimed:
                break
            batches += 1
            crashpoint(CrashPoint.DISPATCH_AFTER_CLAIM)
            rows: list[dict[str, object]] = []
            for destination, group in groupby(claimed, key=lambda c: c.destination):
                items = list(group)
                adapter = _resolve(adapters, destination)
                assert adapter is not None
                actions = [
                    Action(c.action_id, c.kind, c.destination, c.payload, c.attempt_no, c.batch_key)
                    for c in items
                ]
                outcomes = {o.action_id: o for o in adapter.deliver(actions)}
                crashpoint(CrashPoint.DISPATCH_AFTER_SEND)
                finished = now()
                for c in items:
                    o = outcomes.get(c.action_id) or Outcome(
                        c.action_id, "retry", error="no outcome"
                    )
                    rows.append(_result_row(c, o, policy, finished, rng))
            crashpoint(CrashPoint.DISPATCH_BEFORE_RECORD)
            results = pl.DataFrame(rows, schema=RESULT_SCHEMA)
            record_results(con, results)
            crashpoint(CrashPoint.DISPATCH_AFTER_RECORD)
            report.attempted += results.height
            states = (
                results.select(
                    pl.when(~pl.col("counts")).then(pl.lit("deferred")).otherwise("new_state")
                )
                .to_series()
                .value_counts()
            )
            counts = dict(zip(states[states.columns[0]], states["count"], strict=True))
            report.delivered += int(counts.get("delivered", 0))
            report.retried += int(counts.get("pending", 0))
            report.deferred += int(counts.get("deferred", 0))
            report.dead_lettered += int(counts.get("dead_letter", 0))
    return report
