"""The action log: every outbound action of any kind, for the Action log page (plain functions
of the published folder; the routing page and the order page read their slices from here too).

What is read (see `pipelines/publish/publish.py`): `ops_outbox`, one row per action whatever
produced it (fulfillment requests from routing, purchase orders and transfer requests from
planning, status updates, alerts …), with the order it concerns (`channel_order_id`, null for
actions about no order) and its payload JSON text; `ops_delivery_attempts`, one row per attempt;
`ops_retry_requests_applied`, the retry requests a pipeline step applied. Counts here are counts
of outbox rows (actions), never of attempts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dashboards.lib.published import MissingTableError, query
from dashboards.lib.schema import DEAD_LETTER, OUTBOX_STATES

MAX_ROWS = 2_000
"""Rows of a selection the page lists (its count is always the whole selection's)."""


def has_actions(published_dir: Path) -> bool:
    """True when the published run holds an outbox (a producer has run at least once)."""
    try:
        frame = query(published_dir, "select count(*) as n from outbox", ["outbox"])
    except MissingTableError:
        return False
    return bool(frame["n"][0])


@dataclass(frozen=True)
class ActionFilters:
    """The action log's selection; empty tuples and None mean "any".

    `created_from` / `created_to` bound `created_at` (UTC, both inclusive, to the second);
    `search` matches, case-insensitively, part of the action id or of the order id
    (the platform's `channel_order_id`, e.g. `webshop:1234`)."""

    kinds: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    search: str = ""

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition over the `outbox` view and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("kind", self.kinds),
            ("state", self.states),
            ("destination", self.destinations),
        ):
            if values:
                clauses.append(f"list_contains(?, {column})")
                params.append(list(values))
        if self.created_from is not None:
            clauses.append("created_at >= ?")
            params.append(self.created_from)
        if self.created_to is not None:
            clauses.append("created_at <= ?")
            params.append(self.created_to)
        text = self.search.strip().lower()
        if text:
            clauses.append(
                "(contains(lower(action_id), ?) or contains(lower(coalesce(channel_order_id, "
                "'')), ?))"
            )
            params += [text, text]
        return (" and ".join(clauses) or "true"), params


@dataclass(frozen=True)
class ActionOptions:
    """What the filters can choose from, and the span of creation times."""

    kinds: tuple[str, ...]
    states: tuple[str, ...]
    destinations: tuple[str, ...]
    first_created_at: dt.datetime | None
    last_created_at: dt.datetime | None


def _ordered_states(present: Sequence[str]) -> tuple[str, ...]:
    """States in the order an action moves through them, then any unknown one."""
    known = [s for s in OUTBOX_STATES if s in present]
    return tuple(known + sorted(set(present) - set(OUTBOX_STATES)))


def options(published_dir: Path) -> ActionOptions:
    row = query(
        published_dir,
        """
        select
            list_sort(list_distinct(list(kind))) as kinds,
            list_sort(list_distinct(list(state))) as states,
            list_sort(list_distinct(list(destination))) as destinations,
            min(created_at) as first_created_at,
            max(created_at) as last_created_at
        from outbox
        """,
        ["outbox"],
    ).row(0, named=True)
    return ActionOptions(
        kinds=tuple(row["kinds"] or ()),
        states=_ordered_states(row["states"] or ()),
        destinations=tuple(row["destinations"] or ()),
        first_created_at=row["first_created_at"],
        last_created_at=row["last_created_at"],
    )


def counts(published_dir: Path, filters: ActionFilters | None = None) -> pl.DataFrame:
    """Actions per (kind, state) over the selection (every action when None): one row per
    kind with a column per state of `OUTBOX_STATES` (0 when none), any other state present,
    and `total`; kinds with dead letters first."""
    where, params = (filters or ActionFilters()).where()
    long = query(
        published_dir,
        f"""select kind, state, count(*) as actions from outbox where {where}
            group by kind, state order by kind, state""",
        ["outbox"],
        params,
    )
    states = list(OUTBOX_STATES) + sorted(set(long["state"]) - set(OUTBOX_STATES))
    rows = []
    for kind in sorted(set(long["kind"])):
        per_kind = long.filter(pl.col("kind") == kind)
        found = dict(zip(per_kind["state"], per_kind["actions"], strict=True))
        row: dict[str, Any] = {"kind": kind}
        row.update({state: int(found.get(state, 0)) for state in states})
        row["total"] = int(per_kind["actions"].sum())
        rows.append(row)
    schema = {"kind": pl.String, **dict.fromkeys(states, pl.Int64), "total": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema)
    return frame.sort([DEAD_LETTER, "kind"], descending=[True, False])


def state_totals(table: pl.DataFrame) -> dict[str, int]:
    """Actions per state over every kind of a `counts` table (plus `total`)."""
    return {c: int(table[c].sum()) for c in table.columns if c != "kind"}


ACTION_COLUMNS = (
    "action_id, kind, destination, state, channel_order_id, attempts, total_attempts, "
    "last_error, created_at, next_attempt_at, delivered_at, source_run_id"
)


def actions(
    published_dir: Path, filters: ActionFilters | None = None, limit: int = MAX_ROWS
) -> tuple[pl.DataFrame, int]:
    """(the newest `limit` actions of the selection, how many the selection holds). No payload:
    see `action`."""
    where, params = (filters or ActionFilters()).where()
    frame = query(
        published_dir,
        f"""
        select {ACTION_COLUMNS}, count(*) over () as selected
        from outbox
        where {where}
        order by created_at desc, action_id
        limit ?
        """,
        ["outbox"],
        [*params, limit],
    )
    total = int(frame["selected"][0]) if frame.height else 0
    return frame.drop("selected"), total


def action(published_dir: Path, action_id: str) -> dict[str, Any] | None:
    """One action with its payload and acknowledgement (JSON text), or None when unknown."""
    frame = query(
        published_dir,
        f"select {ACTION_COLUMNS}, batch_key, payload, ack from outbox where action_id = ?",
        ["outbox"],
        [action_id],
    )
    return frame.row(0, named=True) if frame.height else None


def parse_json(text: str | None) -> Any:
    """A JSON document from its text; the text itself when it is not JSON, None when empty."""
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def attempts(published_dir: Path, action_id: str) -> pl.DataFrame:
    """Every delivery attempt of one action, in order (attempt numbers count across retry
    cycles)."""
    return query(
        published_dir,
        """
        select attempt_no, started_at, finished_at, outcome, http_status, error, response
        from delivery_attempts
        where action_id = ?
        order by attempt_no
        """,
        ["delivery_attempts"],
        [action_id],
    )


def retries_applied(published_dir: Path, action_id: str) -> pl.DataFrame:
    """Retry requests of one action that a pipeline step applied, oldest first (empty when
    none, or when the published run predates the retry record)."""
    try:
        return query(
            published_dir,
            """select requested_by, requested_role, requested_at, applied_at, outcome
               from retries_applied where action_id = ? order by applied_at, request_id""",
            ["retries_applied"],
            [action_id],
        )
    except MissingTableError:
        return pl.DataFrame()


def dead_letters(published_dir: Path, filters: ActionFilters | None = None) -> pl.DataFrame:
    """Dead-lettered actions of the selection (its state filter aside: every action listed here
    is dead-lettered) with their order, last error, attempts and last attempt time, most recent
    failure first."""
    filters = filters or ActionFilters()
    where, params = ActionFilters(
        filters.kinds,
        (),
        filters.destinations,
        filters.created_from,
        filters.created_to,
        filters.search,
    ).where()
    return query(
        published_dir,
        f"""
        with selected as (
            select * from outbox where state = '{DEAD_LETTER}' and {where}
        ),
        last_attempt as (
            select action_id, max(coalesce(finished_at, started_at)) as last_attempt_at
            from delivery_attempts
            where action_id in (select action_id from selected)
            group by action_id
        )
        select
            o.action_id, o.kind, o.destination, o.channel_order_id as order_id,
            o.total_attempts, o.attempts, o.last_error, l.last_attempt_at, o.created_at,
            o.source_run_id
        from selected as o
        left join last_attempt as l on l.action_id = o.action_id
        order by l.last_attempt_at desc nulls last, o.action_id
        """,
        ["outbox", "delivery_attempts"],
        params,
    )


def retrying_actions(
    published_dir: Path, kinds: Sequence[str] | None = None, limit: int = 500
) -> pl.DataFrame:
    """Actions not delivered yet that already failed at least once, next attempt first."""
    clause, params = "", []
    if kinds is not None:
        clause, params = "and list_contains(?, kind)", [list(kinds)]
    return query(
        published_dir,
        f"""
        select action_id, kind, destination, state, total_attempts, last_error
        from outbox
        where state not in ('delivered', '{DEAD_LETTER}') and total_attempts > 0 {clause}
        order by next_attempt_at, action_id
        limit ?
        """,
        ["outbox"],
        [*params, limit],
    )


def order_actions(published_dir: Path, channel_order_id: str) -> pl.DataFrame:
    """Every action concerning one order, oldest first (the outbox export is sorted by order,
    so this reads the few row groups holding it)."""
    return query(
        published_dir,
        f"""select {ACTION_COLUMNS}, payload from outbox where channel_order_id = ?
            order by created_at, action_id""",
        ["outbox"],
        [channel_order_id],
    )
