"""Routing runs, their decisions and the delivery of those decisions to the warehouses, for the
routing page: plain functions of the published folder (plus pure helpers for the JSON documents).

What is published (see `pipelines/publish/publish.py`): the `ops` tables of the warehouse,
cumulative over every run, as `ops_routing_runs`, `ops_routing_decisions`, `ops_outbox` (with its
payload JSON text) and `ops_delivery_attempts`. A pipeline run that never routed publishes none
of them; `has_routing_runs` tells the page so.

Definitions (per routing run, over that run's decisions):
- lines routed: distinct order lines the run decided on (allocated, backordered or cancelled);
- an order *ships* in a run when at least one of its lines was allocated in it, and is *split*
  when its allocated units go out from more than one location; split rate = split / shipped;
- total cost: the sum of the decisions' `total_cost` (shipping, handling, lateness, shipment base
  cost, split penalty and unfilled penalty; equal to the run's `figures.cost.total`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dashboards.lib import action_log
from dashboards.lib.action_log import ActionFilters
from dashboards.lib.published import MissingTableError, query
from dashboards.lib.schema import DEAD_LETTER, OUTBOX_STATES, ROUTING_OUTCOMES
from ops_actions.run_routing import FULFILLMENT_KIND

BACKORDER = "backorder"
ALLOCATED = "allocated"
CANCELLED = "cancelled"

RECENT_RUNS = 100
"""How many of the newest routing runs `runs` returns (runs happen every few minutes)."""


# --------------------------------------------------------------------------------------------
# Routing runs
# --------------------------------------------------------------------------------------------


def has_routing_runs(published_dir: Path) -> bool:
    """True when the published run holds at least one routing run."""
    try:
        frame = query(published_dir, "select count(*) as runs from routing_runs", ["routing_runs"])
    except MissingTableError:
        return False
    return bool(frame["runs"][0])


def parse_figures(text: str | None) -> dict[str, Any]:
    """The run's `figures` JSON document; {} when absent or not a JSON object."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def flatten_figures(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar figures by dotted key (`cost.total`); lists (the per-stage figures) are left out."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_figures(value, f"{name}."))
        elif value is None or isinstance(value, str | int | float | bool):
            flat[name] = value
    return flat


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


_GREEDY_TOTALS = ("greedy.cost.total", "greedy.total", "greedy_cost.total", "greedy_cost")


def gap(figures: Mapping[str, Any]) -> float | None:
    """Relative gap of the run's objective to its lower bound, when the run reported one."""
    return _number(flatten_figures(figures).get("gap"))


def cost_vs_greedy(figures: Mapping[str, Any]) -> float | None:
    """Solver cost / greedy-baseline cost when the run reported a greedy comparison: a figure
    named like `cost_vs_greedy` (or `*greedy*ratio*`) as is, else the ratio of `cost.total` to a
    greedy total. None when the run has no greedy figure (the scheduled runs do not compute one)."""
    flat = flatten_figures(figures)
    for key, value in flat.items():
        lowered = key.lower()
        if "greedy" in lowered and ("vs" in lowered or "ratio" in lowered):
            return _number(value)
    total = _number(flat.get("cost.total"))
    for key in _GREEDY_TOTALS:
        greedy = _number(flat.get(key))
        if total is not None and greedy:
            return total / greedy
    return None


def stage_figures(figures: Mapping[str, Any]) -> pl.DataFrame:
    """One row per (routing, rule) stage of the run, when the figures list them."""
    stages = figures.get("stages")
    if not isinstance(stages, list):
        return pl.DataFrame()
    rows = [flatten_figures(stage) for stage in stages if isinstance(stage, Mapping)]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def runs(published_dir: Path, limit: int = RECENT_RUNS) -> pl.DataFrame:
    """The newest `limit` routing runs, newest first: run columns, the raw `figures` text, and
    per run lines_routed, orders_routed, units and lines allocated / backordered / cancelled,
    total_cost, orders_shipped, orders_split, split_rate, plus `gap` and `cost_vs_greedy` from
    the figures (null when the run did not report them)."""
    frame = query(
        published_dir,
        """
        with recent as (
            select *
            from routing_runs
            order by coalesce(committed_at, started_at) desc, run_id desc
            limit ?
        ),
        decisions as (
            select * from routing_decisions where run_id in (select run_id from recent)
        ),
        per_run as (
            select
                run_id,
                count(distinct order_line_id) as lines_routed,
                count(distinct order_id) as orders_routed,
                cast(coalesce(sum(units) filter (where outcome = 'allocated'), 0) as bigint)
                    as units_allocated,
                cast(coalesce(sum(units) filter (where outcome = 'backorder'), 0) as bigint)
                    as units_backordered,
                cast(coalesce(sum(units) filter (where outcome = 'cancelled'), 0) as bigint)
                    as units_cancelled,
                count(distinct order_line_id) filter (where outcome = 'backorder')
                    as lines_backordered,
                count(distinct order_line_id) filter (where outcome = 'cancelled')
                    as lines_cancelled,
                sum(total_cost) as total_cost
            from decisions
            group by run_id
        ),
        per_order as (
            select
                run_id,
                order_id,
                count(distinct location_id) filter (where outcome = 'allocated') as locations
            from decisions
            group by run_id, order_id
        ),
        splits as (
            select
                run_id,
                count(*) filter (where locations >= 1) as orders_shipped,
                count(*) filter (where locations > 1) as orders_split
            from per_order
            group by run_id
        )
        select
            r.run_id, r.started_at, r.committed_at, r.rules_version, r.rules_sha, r.method,
            r.status, r.figures,
            coalesce(p.lines_routed, 0) as lines_routed,
            coalesce(p.orders_routed, 0) as orders_routed,
            coalesce(p.units_allocated, 0) as units_allocated,
            coalesce(p.units_backordered, 0) as units_backordered,
            coalesce(p.units_cancelled, 0) as units_cancelled,
            coalesce(p.lines_backordered, 0) as lines_backordered,
            coalesce(p.lines_cancelled, 0) as lines_cancelled,
            coalesce(p.total_cost, 0) as total_cost,
            coalesce(s.orders_shipped, 0) as orders_shipped,
            coalesce(s.orders_split, 0) as orders_split,
            cast(s.orders_split as double) / nullif(s.orders_shipped, 0) as split_rate
        from recent as r
        left join per_run as p on p.run_id = r.run_id
        left join splits as s on s.run_id = r.run_id
        order by coalesce(r.committed_at, r.started_at) desc, r.run_id desc
        """,
        ["routing_runs", "routing_decisions"],
        [limit],
    )
    parsed = [parse_figures(text) for text in frame["figures"].to_list()]
    return frame.with_columns(
        pl.Series("gap", [gap(doc) for doc in parsed], dtype=pl.Float64),
        pl.Series("cost_vs_greedy", [cost_vs_greedy(doc) for doc in parsed], dtype=pl.Float64),
    )


# --------------------------------------------------------------------------------------------
# Decisions of one run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionFilters:
    """The decisions table's selection (empty = all); `order_search` matches order or line id."""

    outcomes: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    order_search: str = ""


@dataclass(frozen=True)
class DecisionOptions:
    """What the decision filters can choose from in one run."""

    outcomes: tuple[str, ...]
    locations: tuple[str, ...]
    channels: tuple[str, ...]


def decision_options(published_dir: Path, routing_run_id: str) -> DecisionOptions:
    frame = query(
        published_dir,
        """
        select
            list_sort(list_distinct(list(outcome))) as outcomes,
            list_sort(list_distinct(list(location_id))) as locations,
            list_sort(list_distinct(list(channel))) as channels
        from routing_decisions
        where run_id = ?
        """,
        ["routing_decisions"],
        [routing_run_id],
    ).row(0, named=True)
    present = set(frame["outcomes"] or [])
    outcomes = [o for o in ROUTING_OUTCOMES if o in present]
    outcomes += sorted(present - set(ROUTING_OUTCOMES))
    return DecisionOptions(
        outcomes=tuple(outcomes),
        locations=tuple(v for v in frame["locations"] or [] if v is not None),
        channels=tuple(v for v in frame["channels"] or [] if v is not None),
    )


def decisions(
    published_dir: Path, routing_run_id: str, filters: DecisionFilters | None = None
) -> pl.DataFrame:
    """The run's decisions over `filters`, by order and line (no explanation: see
    `explanation`)."""
    filters = filters or DecisionFilters()
    clauses = ["run_id = ?"]
    params: list[Any] = [routing_run_id]
    for column, values in (
        ("outcome", filters.outcomes),
        ("location_id", filters.locations),
        ("channel", filters.channels),
    ):
        if values:
            clauses.append(f"list_contains(?, {column})")
            params.append(list(values))
    search = filters.order_search.strip()
    if search:
        clauses.append("(contains(lower(order_id), ?) or contains(lower(order_line_id), ?))")
        params += [search.lower(), search.lower()]
    return query(
        published_dir,
        f"""
        select
            decision_id, order_id, order_line_id, channel, sku, outcome, location_id, units,
            routing, rule, total_cost, late_days, distance_km, action_id
        from routing_decisions
        where {" and ".join(clauses)}
        order by order_id, order_line_id, outcome, location_id
        """,
        ["routing_decisions"],
        params,
    )


def explanation(published_dir: Path, decision_id: str) -> dict[str, Any] | None:
    """The decision's explanation document (None when unknown or not JSON)."""
    frame = query(
        published_dir,
        "select explanation from routing_decisions where decision_id = ?",
        ["routing_decisions"],
        [decision_id],
    )
    if frame.is_empty():
        return None
    doc = parse_figures(frame["explanation"][0])
    return doc or None


@dataclass(frozen=True)
class ExplanationView:
    """An explanation document laid out for display; every field optional."""

    outcome: str | None
    routing: str | None
    rule: str | None
    rules_tried: tuple[str, ...]
    reason: str | None
    split: str | None
    rules_version: str | None
    units: float | None
    cost_per_unit: float | None
    locations_considered: float | None
    alternatives: pl.DataFrame
    other: dict[str, Any] = field(default_factory=dict)
    """Keys this view does not know, shown as they are."""


_KNOWN_EXPLANATION_KEYS = frozenset(
    {
        "outcome",
        "routing",
        "rule",
        "rules_tried",
        "reason",
        "split",
        "rules_version",
        "units",
        "cost_per_unit",
        "locations_considered",
        "alternatives",
    }
)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def explanation_view(doc: Mapping[str, Any]) -> ExplanationView:
    tried = doc.get("rules_tried")
    alternatives = doc.get("alternatives")
    rows = (
        [a for a in alternatives if isinstance(a, Mapping)]
        if isinstance(alternatives, list)
        else []
    )
    return ExplanationView(
        outcome=_text(doc.get("outcome")),
        routing=_text(doc.get("routing")),
        rule=_text(doc.get("rule")),
        rules_tried=tuple(str(t) for t in tried) if isinstance(tried, list) else (),
        reason=_text(doc.get("reason")),
        split=_text(doc.get("split")),
        rules_version=_text(doc.get("rules_version")),
        units=_number(doc.get("units")),
        cost_per_unit=_number(doc.get("cost_per_unit")),
        locations_considered=_number(doc.get("locations_considered")),
        alternatives=pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(),
        other={k: v for k, v in doc.items() if k not in _KNOWN_EXPLANATION_KEYS},
    )


def open_queue(published_dir: Path, routing_run_id: str) -> pl.DataFrame:
    """Lines the run backordered (waiting for stock), earliest promise first.

    The routing tables carry no promised dates, so `promised_ship_date` is the one on the
    order's fulfillment requests (outbox payloads), null when no part of the order has been
    requested yet."""
    return query(
        published_dir,
        """
        with promised as (
            select
                json_extract_string(payload, '$.order_id') as order_id,
                min(try_cast(json_extract_string(payload, '$.promised_ship_date') as date))
                    as promised_ship_date
            from outbox
            group by 1
        )
        select
            d.order_id, d.order_line_id, d.sku, d.units, d.channel, p.promised_ship_date,
            d.routing, d.rule, json_extract_string(d.explanation, '$.reason') as reason,
            d.decided_at
        from routing_decisions as d
        left join promised as p on p.order_id = d.order_id
        where d.run_id = ? and d.outcome = 'backorder'
        order by p.promised_ship_date nulls last, d.order_id, d.order_line_id
        """,
        ["routing_decisions", "outbox"],
        [routing_run_id],
    )


# --------------------------------------------------------------------------------------------
# Deliveries (the outbox, all runs)
# --------------------------------------------------------------------------------------------


def outbox_states(published_dir: Path) -> dict[str, int]:
    """Fulfillment requests per outbox state: every state of `OUTBOX_STATES` (0 when none), then
    any other. (Reorder requests share the outbox; the Replenishment page shows theirs.)"""
    frame = query(
        published_dir,
        f"""select state, count(*) as actions from outbox where kind = '{FULFILLMENT_KIND}'
            group by state order by state""",
        ["outbox"],
    )
    counts = dict(zip(frame["state"], frame["actions"], strict=True))
    states = {state: int(counts.pop(state, 0)) for state in OUTBOX_STATES}
    states.update({str(k): int(v) for k, v in counts.items()})
    return states


def outbox_by_destination(published_dir: Path) -> pl.DataFrame:
    """One row per warehouse: fulfillment requests per state and in total, dead letters first."""
    per_state = ",\n".join(
        f"count(*) filter (where state = '{state}') as {state}" for state in OUTBOX_STATES
    )
    return query(
        published_dir,
        f"""
        select destination, {per_state}, count(*) as total
        from outbox
        where kind = '{FULFILLMENT_KIND}'
        group by destination
        order by {DEAD_LETTER} desc, pending desc, destination
        """,
        ["outbox"],
    )


def dead_letters(published_dir: Path) -> pl.DataFrame:
    """Dead-lettered fulfillment requests, most recent failure first (every kind: the Action
    log page, `dashboards/lib/action_log.py`)."""
    return action_log.dead_letters(published_dir, ActionFilters(kinds=(FULFILLMENT_KIND,)))


def retrying_actions(published_dir: Path, limit: int = 500) -> pl.DataFrame:
    """Fulfillment requests not delivered yet that already failed at least once."""
    return action_log.retrying_actions(published_dir, kinds=(FULFILLMENT_KIND,), limit=limit)


def attempts(published_dir: Path, action_id: str) -> pl.DataFrame:
    """Every delivery attempt of one action, in order."""
    return action_log.attempts(published_dir, action_id)
