"""The holds page's queries and its write action: plain functions of the published folder and
the operational store.

Read (published Parquet, never the warehouse): `order_holds` (one row per hold: order and
reason, with the order's channel, value, customer and ship-to). Read live (never cached): the
operators' hold decisions in the operational store, so a release or cancellation shows at once
as "waiting for the next run", not after it.

An order is held while it has a hold without a resolution. Releasing an order records one
decision per open hold (it is routed once none remains); cancelling records one decision on
its first open hold (the run cancels the whole order and resolves its other holds with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.lib.auth import HOLD_ORDER, User, require
from dashboards.lib.published import MissingTableError, query
from ops_actions.store import (
    HOLD_DECISIONS,
    HoldDecision,
    HoldDecisionInput,
    list_hold_decisions,
    record_hold_decisions,
)

RELEASE, CANCEL = HOLD_DECISIONS


@dataclass(frozen=True)
class HoldFilters:
    """Empty tuples select everything; `search` matches the order id (case-insensitive)."""

    reasons: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    search: str = ""


def open_holds(published_dir: Path) -> pl.DataFrame | None:
    """Every hold without a resolution in the published run (None: no holds published)."""
    try:
        return query(
            published_dir,
            "select * from order_holds where resolution is null order by held_at, hold_id",
            ["order_holds"],
        )
    except MissingTableError:
        return None


def resolved_counts(published_dir: Path) -> dict[str, int]:
    """Orders released and cancelled so far (by decisions the runs consumed)."""
    frame = query(
        published_dir,
        """select resolution, count(distinct channel_order_id) as n from order_holds
           where resolution is not null group by 1""",
        ["order_holds"],
    )
    return dict(zip(frame["resolution"], frame["n"], strict=True))


def by_reason(holds: pl.DataFrame) -> pl.DataFrame:
    """Open holds and held orders per reason code, most first."""
    return (
        holds.group_by("reason_code")
        .agg(pl.len().alias("holds"), pl.col("channel_order_id").n_unique().alias("orders"))
        .sort(["holds", "reason_code"], descending=[True, False])
    )


def held_orders(holds: pl.DataFrame, filters: HoldFilters) -> pl.DataFrame:
    """One row per held order in the selection: its reasons and details (joined), when it was
    first held, its value and ship-to; oldest hold first. An order matches a reason filter
    when any of its open holds has that reason."""
    selected = holds
    if filters.channels:
        selected = selected.filter(pl.col("channel").is_in(list(filters.channels)))
    if filters.reasons:
        keep = selected.filter(pl.col("reason_code").is_in(list(filters.reasons)))
        selected = selected.filter(
            pl.col("channel_order_id").is_in(keep["channel_order_id"].unique().to_list())
        )
    if filters.search.strip():
        needle = filters.search.strip().lower()
        selected = selected.filter(
            pl.col("channel_order_id").str.to_lowercase().str.contains(needle, literal=True)
        )
    return (
        selected.sort("reason_code")
        .group_by("channel_order_id", maintain_order=True)
        .agg(
            pl.col("channel").first(),
            pl.col("order_id").first(),
            pl.col("reason_code").str.join(", ").alias("reasons"),
            pl.col("detail").str.join(" · ").alias("details"),
            pl.col("held_at").min(),
            pl.col("ordered_at").first(),
            pl.col("order_amount").first().cast(pl.Float64),
            pl.col("currency").first(),
            pl.col("customer_id").first(),
            pl.col("ship_to_postcode").first(),
            pl.col("ship_to_country").first(),
            pl.col("hold_id").alias("hold_ids"),
        )
        .sort(["held_at", "channel_order_id"])
    )


DECISION_SCHEMA: dict[str, type[pl.DataType]] = {
    "decision_id": pl.String,
    "hold_id": pl.String,
    "channel_order_id": pl.String,
    "decision": pl.String,
    "note": pl.String,
    "decided_by": pl.String,
    "decided_role": pl.String,
    "decided_at": pl.String,
    "consumed_at": pl.String,
    "outcome": pl.String,
}


def decisions_frame(decisions: Sequence[HoldDecision]) -> pl.DataFrame:
    return pl.DataFrame([d.__dict__ for d in decisions], schema=DECISION_SCHEMA)


def read_hold_decisions(store_path: Path) -> pl.DataFrame:
    """Every hold decision in the store (none when the store does not exist yet)."""
    if not Path(store_path).exists():
        return decisions_frame([])
    return decisions_frame(list_hold_decisions(store_path))


def waiting(decisions: pl.DataFrame) -> pl.DataFrame:
    """Decisions no run has consumed yet: they take effect at the next run."""
    return decisions.filter(pl.col("consumed_at").is_null()).sort("decided_at", descending=True)


def with_decisions(orders: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Held orders with the decision waiting on them (`pending`: 'released by ana', ...)."""
    pending = (
        waiting(decisions)
        .group_by("channel_order_id")
        .agg(
            pl.format("{} by {}", pl.col("decision").first(), pl.col("decided_by").first()).alias(
                "pending"
            )
        )
    )
    return orders.join(pending, on="channel_order_id", how="left")


def decisions_for(orders: pl.DataFrame, decision: str, note: str = "") -> list[HoldDecisionInput]:
    """The decisions that release or cancel `orders` (rows of `held_orders`), leaving out
    orders that already have a decision waiting (`pending`)."""
    if decision not in HOLD_DECISIONS:
        raise ValueError(f"decision must be one of {HOLD_DECISIONS}, not {decision!r}")
    undecided = orders.filter(pl.col("pending").is_null()) if "pending" in orders else orders
    items: list[HoldDecisionInput] = []
    for row in undecided.iter_rows(named=True):
        holds = sorted(row["hold_ids"])
        targets = holds if decision == RELEASE else holds[:1]
        items += [HoldDecisionInput(h, row["channel_order_id"], decision, note) for h in targets]
    return items


def record_operator_decisions(
    user: User | None, store_path: Path, items: Sequence[HoldDecisionInput]
) -> list[str]:
    """Record hold decisions (one order, or a bulk decision in one transaction) as `user`.

    Raises PermissionDenied, writing nothing, unless the user may hold orders (operator,
    admin): the check sits here, where the write happens. HoldDecisionConflict when someone
    decided one of these holds first (nothing is written)."""
    allowed = require(user, HOLD_ORDER)
    return record_hold_decisions(store_path, items, allowed.username, allowed.role)
