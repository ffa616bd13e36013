"""Decide (pure): the planners' decisions against the current suggestions -> reorder requests.

One reorder request per (kind, destination, as-of date) over the approved decisions on the
current version of their suggestion: a purchase order per supplier, a transfer request per
source location (the DC). Its lines are the approved suggestions, with the approved quantity
(the planner's edit, if any). The request's idempotency key hashes the kind, the destination,
the as-of date and per line (suggestion id and version, decision id, sku, location, quantity),
so the same decisions always give the same key.

Every decision gets an outcome:
- `requested`: approved on the current version; `action_id` names its request;
- `stale`: approved, but a newer run replaced the suggestion (another version) or no longer
  suggests it; never sent, shown back to the planner;
- `rejected`: recorded, nothing sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from ops_actions.delivery.keys import action_key
from ops_actions.reorders.inputs import conform_suggestions
from ops_actions.store import Decision

PURCHASE_KIND = "purchase_order"
TRANSFER_KIND = "transfer_request"
REORDER_KINDS = (PURCHASE_KIND, TRANSFER_KIND)
KIND_OF = {"purchase": PURCHASE_KIND, "transfer": TRANSFER_KIND}

REQUESTED = "requested"
STALE = "stale"
REJECTED = "rejected"
OUTCOMES = (REQUESTED, STALE, REJECTED)


@dataclass(frozen=True)
class DecisionOutcome:
    decision_id: str
    outcome: str
    action_id: str | None
    reason: str


@dataclass(frozen=True)
class ReorderPlan:
    """`requests`: one row per reorder request in the outbox's columns (`OUTBOX_COLUMNS`),
    plus `lines` and `value`; `outcomes`: one per decision."""

    requests: pl.DataFrame
    outcomes: list[DecisionOutcome]

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


REQUEST_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "action_id": pl.String,
    "kind": pl.String,
    "destination": pl.String,
    "payload": pl.String,
    "batch_key": pl.String,
    "source_run_id": pl.String,
    "lines": pl.Int64,
    "value": pl.Float64,
}


def _stale_reason(decision: Decision, current: dict[str, Any] | None) -> str | None:
    if current is None:
        return "the latest run no longer suggests this order"
    if current["suggestion_version"] != decision.suggestion_version:
        return (
            f"a newer run replaced version {decision.suggestion_version[:8]} with "
            f"{str(current['suggestion_version'])[:8]}"
        )
    return None


def decide_reorders(
    suggestions: pl.DataFrame, decisions: Sequence[Decision], run_id: str
) -> ReorderPlan:
    """Reorder requests and per-decision outcomes (see the module docstring)."""
    current = {
        r["suggestion_id"]: r for r in conform_suggestions(suggestions).iter_rows(named=True)
    }
    outcomes: dict[str, DecisionOutcome] = {}
    groups: dict[tuple[str, str, str], list[tuple[Decision, dict[str, Any]]]] = {}
    for d in sorted(decisions, key=lambda d: (d.suggestion_id, d.decision_id)):
        if d.decision != "approved":
            outcomes[d.decision_id] = DecisionOutcome(d.decision_id, REJECTED, None, "rejected")
            continue
        row = current.get(d.suggestion_id)
        stale = _stale_reason(d, row)
        if stale is not None or row is None:
            outcomes[d.decision_id] = DecisionOutcome(d.decision_id, STALE, None, stale or "")
            continue
        kind = KIND_OF[row["kind"]]
        destination = row["supplier_id"] if kind == PURCHASE_KIND else row["source_location_id"]
        groups.setdefault((kind, str(destination), str(row["as_of_date"])), []).append((d, row))

    requests: list[dict[str, Any]] = []
    for (kind, destination, as_of), members in sorted(groups.items()):
        lines = [
            {
                "suggestion_id": d.suggestion_id,
                "suggestion_version": d.suggestion_version,
                "decision_id": d.decision_id,
                "sku": row["sku"],
                "location_id": row["location_id"],
                "quantity": d.quantity,
            }
            for d, row in members
        ]
        content = {"kind": kind, "destination": destination, "as_of_date": as_of, "lines": lines}
        key = action_key(kind, destination, content)
        detailed = [
            {
                **line,
                "unit_cost": row["unit_cost"],
                "currency": row["currency"],
                "line_value": _value(d.quantity, row["unit_cost"]),
                "approved_by": d.decided_by,
                "approved_at": d.decided_at,
                "note": d.note,
            }
            for line, (d, row) in zip(lines, members, strict=True)
        ]
        party = "supplier_id" if kind == PURCHASE_KIND else "source_location_id"
        payload = {
            "request_type": kind,
            party: destination,
            "as_of_date": as_of,
            "lines": detailed,
            "total_value": sum(line["line_value"] or 0.0 for line in detailed),
            "currency": _one_currency(detailed),
        }
        requests.append(
            {
                "action_id": key,
                "kind": kind,
                "destination": destination,
                "payload": json.dumps(payload, sort_keys=True, default=str),
                "batch_key": f"{run_id}:{destination}",
                "source_run_id": run_id,
                "lines": len(lines),
                "value": payload["total_value"],
            }
        )
        for d, _ in members:
            outcomes[d.decision_id] = DecisionOutcome(d.decision_id, REQUESTED, key, kind)
    return ReorderPlan(
        requests=pl.DataFrame(requests, schema=REQUEST_SCHEMA),
        outcomes=[outcomes[d.decision_id] for d in decisions],
    )


def _value(quantity: float | None, unit_cost: float | None) -> float | None:
    return None if quantity is None or unit_cost is None else quantity * unit_cost


def _one_currency(lines: list[dict[str, Any]]) -> str | None:
    currencies = {line["currency"] for line in lines if line["currency"] is not None}
    return currencies.pop() if len(currencies) == 1 else None
