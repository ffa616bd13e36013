"""Decide (pure): order-line transitions -> status updates, one per (order, change).

Grain of the input: `marts.fct_order_line_transitions` (contract 2), one row per accepted state
change of a line. Grain of the output: one row per status update, i.e. per
- `accepted`: order (its lines reached `validated`); sent only as an order's first update,
  since every later change implies it;
- `shipped` / `delivered`: order and tracking number (one per shipment);
- `cancelled` / `returned` / `refunded`: order and business time (`occurred_at`: one router
  run, one hold resolution, one RMA receipt, one refund).

Transitions a channel does not care about (`placed`, `held`, `allocated`, `released`,
`in_transit`, `out_for_delivery`) give no update; neither do channels whose shape is `none`
(the till) or that have no shape, nor changes the channel itself reported (`source` equal to the
channel: it already knows). The key of each update is `status_action_id`, so a rerun over the
same transitions gives the same keys and the outbox turns it into a no-op.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from ops_actions.status.keys import (
    ACCEPTED,
    CANCELLED,
    CHANGES,
    DELIVERED,
    REFUNDED,
    RETURNED,
    SHIPPED,
    STATUS_KIND,
    status_action_id,
)
from ops_actions.status.shapes import NONE, RENDERERS, channel_destination, resolve_shapes

TRANSITION_COLUMNS = (
    "transition_id",
    "order_line_id",
    "channel_order_id",
    "channel",
    "order_id",
    "line_ref",
    "transition_seq",
    "from_state",
    "to_state",
    "occurred_at",
    "recorded_at",
    "source",
    "source_event_id",
    "carrier",
    "tracking_number",
    "location_id",
    "units",
    "detail",
)
CHANGE_OF_STATE = {
    "validated": ACCEPTED,
    "shipped": SHIPPED,
    "delivered": DELIVERED,
    "cancelled": CANCELLED,
    "returned": RETURNED,
    "refunded": REFUNDED,
}
PER_SHIPMENT = (SHIPPED, DELIVERED)
CHANGE_RANK = {c: i for i, c in enumerate(CHANGES)}

UPDATE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "action_id": pl.String,
    "kind": pl.String,
    "destination": pl.String,
    "payload": pl.String,
    "batch_key": pl.String,
    "source_run_id": pl.String,
    "ordering_key": pl.String,
    "ordering_rank": pl.Int64,
    "channel": pl.String,
    "change": pl.String,
}


def conform_transitions(transitions: pl.DataFrame) -> pl.DataFrame:
    """The contract columns, or a clear error naming the missing ones."""
    missing = [c for c in TRANSITION_COLUMNS if c not in transitions.columns]
    if missing:
        raise ValueError(
            f"order line transitions lack the contract columns {missing} "
            "(marts.fct_order_line_transitions, contract 2)"
        )
    return transitions.select(TRANSITION_COLUMNS)


def _iso(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds") + ("" if value.tzinfo else "Z")
    return str(value)


def update_record(
    *,
    channel: str,
    channel_order_id: str,
    order_id: str,
    change: str,
    occurred_at: object,
    lines: Iterable[Mapping[str, Any]],
    carrier: str | None = None,
    tracking_number: str | None = None,
    location_id: str | None = None,
    detail: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """One update in the form the renderers and the key take (lines sorted by line id)."""
    line_list = (
        []
        if change == ACCEPTED
        else sorted(
            (
                {
                    "order_line_id": str(line["order_line_id"]),
                    "line_ref": line["line_ref"],
                    "units": None if line["units"] is None else int(line["units"]),
                }
                for line in lines
            ),
            key=lambda line: line["order_line_id"],
        )
    )
    return {
        "channel": channel,
        "channel_order_id": channel_order_id,
        "order_id": order_id,
        "change": change,
        "occurred_at": _iso(occurred_at),
        "carrier": carrier,
        "tracking_number": tracking_number if change in PER_SHIPMENT else None,
        "location_id": location_id,
        "detail": detail,
        "customer_id": customer_id,
        "lines": line_list,
    }


def update_key(update: dict[str, Any]) -> str:
    """The update's outbox key (`status_action_id`)."""
    return status_action_id(
        update["channel_order_id"],
        update["change"],
        update["tracking_number"],
        {line["order_line_id"]: line["units"] for line in update["lines"]},
    )


def update_action(
    update: dict[str, Any], shape: str, run_id: str, rank: int = 0, key: str | None = None
) -> dict[str, Any]:
    """The outbox row of one update (columns of `UPDATE_SCHEMA`)."""
    key = key or update_key(update)
    payload = RENDERERS[shape](update)
    return {
        "action_id": key,
        "kind": STATUS_KIND,
        "destination": channel_destination(update["channel"]),
        "payload": json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str),
        "batch_key": f"{run_id}:{update['channel']}",
        "source_run_id": run_id,
        "ordering_key": update["channel_order_id"],
        "ordering_rank": rank,
        "channel": update["channel"],
        "change": update["change"],
    }


def _grouped(transitions: pl.DataFrame) -> pl.DataFrame:
    """One row per update: the group's lines, its earliest time and its shipment details."""
    per_shipment = pl.col("change").is_in(PER_SHIPMENT)
    return (
        transitions.with_columns(
            pl.when(per_shipment).then(pl.col("tracking_number")).alias("group_tracking"),
            pl.when(per_shipment | (pl.col("change") == ACCEPTED))
            .then(None)
            .otherwise(pl.col("occurred_at"))
            .alias("group_time"),
        )
        .sort("order_line_id", "occurred_at")
        .group_by(
            "channel_order_id",
            "channel",
            "change",
            "group_tracking",
            "group_time",
            maintain_order=True,
        )
        .agg(
            pl.col("order_id").first(),
            pl.col("occurred_at").min(),
            pl.col("carrier").drop_nulls().first(),
            pl.col("tracking_number").drop_nulls().first(),
            pl.col("location_id").drop_nulls().first(),
            pl.col("detail").drop_nulls().first(),
            pl.struct("order_line_id", "line_ref", "units").alias("lines"),
        )
        .with_columns(
            pl.col("change").replace_strict(CHANGE_RANK, return_dtype=pl.Int64).alias("rank")
        )
        .sort("channel_order_id", "occurred_at", "rank", "group_tracking", nulls_last=True)
    )


def status_updates(
    transitions: pl.DataFrame,
    *,
    run_id: str,
    customers: Mapping[str, str] | None = None,
    shapes: Mapping[str, str] | None = None,
    since: dt.datetime | None = None,
    existing_keys: Iterable[str] = (),
    orders_with_updates: Iterable[str] = (),
) -> pl.DataFrame:
    """The status updates the transitions call for and the outbox does not hold yet.

    `customers`: channel_order_id -> customer id (wholesale acknowledgements are per customer);
    `shapes`: channel -> shape overrides (`ops_actions.status.shapes`); `since`: changes that
    occurred earlier are not sent (a platform pointed at years of history); `existing_keys`:
    the status keys already in the outbox; `orders_with_updates`: orders that already have an
    update in the outbox, which an `accepted` would now overtake, so none is produced.
    Rows are in delivery order per order (`ordering_rank`)."""
    shape_of = resolve_shapes(dict(shapes or {}))
    t = conform_transitions(transitions).with_columns(
        pl.col("to_state").replace_strict(CHANGE_OF_STATE, default=None).alias("change")
    )
    speaking = [c for c, s in shape_of.items() if s != NONE]
    t = t.filter(
        pl.col("change").is_not_null()
        & pl.col("channel").is_in(speaking)
        & (pl.col("source").fill_null("") != pl.col("channel"))
    )
    if since is not None:
        t = t.filter(pl.col("occurred_at") >= since)
    customers = customers or {}
    known = set(existing_keys)
    started = set(orders_with_updates)
    rows: list[dict[str, Any]] = []
    rank_of: dict[str, int] = {}
    for g in _grouped(t).iter_rows(named=True):
        order = g["channel_order_id"]
        if g["change"] == ACCEPTED and (order in started or order in rank_of):
            continue  # a later change of this order is already queued
        update = update_record(
            channel=g["channel"],
            channel_order_id=order,
            order_id=g["order_id"],
            change=g["change"],
            occurred_at=g["occurred_at"],
            lines=g["lines"],
            carrier=g["carrier"],
            tracking_number=g["tracking_number"],
            location_id=g["location_id"],
            detail=g["detail"],
            customer_id=customers.get(order),
        )
        key = update_key(update)
        if key in known:
            rank_of.setdefault(order, 0)
            continue
        known.add(key)
        rank_of[order] = rank_of.get(order, 0) + 1
        rows.append(update_action(update, shape_of[g["channel"]], run_id, rank_of[order], key))
    return pl.DataFrame(rows, schema=UPDATE_SCHEMA)
