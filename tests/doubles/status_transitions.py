"""Synthetic order-line transitions in the columns of `marts.fct_order_line_transitions`
(contract 2), for the status tests and the bench, built vectorised so a million lines take
seconds. Deterministic for a seed.

Every line is placed and validated; most are allocated, released, shipped (an order of three
lines or more ships in two parcels, one tracking number each), in transit and delivered; a few
are cancelled by the router instead of shipping, a few delivered lines are returned and then
refunded. POS sales are placed and delivered at the till.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

T0 = dt.datetime(2026, 3, 2, 8, 0)
CHANNEL_SHARES = {"webshop": 0.45, "marketplace": 0.30, "wholesale": 0.10, "pos": 0.15}
# state, hours after the order was placed, source
STEPS = (
    ("placed", 0.0, None),
    ("validated", 0.2, "ops_holds"),
    ("allocated", 1.0, "ops_routing"),
    ("released", 2.0, "ops_routing"),
    ("shipped", 24.0, "carrier_events"),
    ("in_transit", 30.0, "carrier_events"),
    ("delivered", 72.0, "carrier_events"),
    ("returned", 240.0, "returns"),
    ("refunded", 288.0, "returns"),
)


def make_transitions(n_lines: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, size=n_lines)  # lines per order, 1..4 (more than enough orders)
    order_of_line = np.repeat(np.arange(n_lines), sizes)[:n_lines]
    position = np.arange(n_lines) - np.searchsorted(order_of_line, order_of_line)
    n_orders = int(order_of_line[-1]) + 1
    lines_in_order = np.bincount(order_of_line, minlength=n_orders)[order_of_line]
    channels = np.array(list(CHANNEL_SHARES))
    order_channel = rng.choice(channels, size=n_orders, p=list(CHANNEL_SHARES.values()))
    channel = order_channel[order_of_line]
    is_pos = channel == "pos"
    cancelled = (~is_pos) & (rng.random(n_lines) < 0.04)
    delivered = (~is_pos) & (~cancelled) & (rng.random(n_lines) < 0.9)
    returned = delivered & (rng.random(n_lines) < 0.05)
    shipment = np.where((lines_in_order >= 3) & (position >= 2), 1, 0)
    placed_minutes = rng.integers(0, 60 * 24 * 30, size=n_orders)[order_of_line]
    base = (
        pl.DataFrame(
            {
                "order_no": order_of_line,
                "channel": channel,
                "position": position,
                "shipment": shipment,
                "placed_min": placed_minutes,
                "is_pos": is_pos,
                "cancelled": cancelled,
                "delivered": delivered,
                "returned": returned,
                "units": rng.integers(1, 4, size=n_lines),
            }
        )
        .with_columns(
            pl.concat_str(
                pl.col("channel"), pl.lit(":O"), pl.col("order_no").cast(pl.String)
            ).alias("channel_order_id"),
            pl.concat_str(pl.lit("O"), pl.col("order_no").cast(pl.String)).alias("order_id"),
            pl.concat_str(pl.lit("L"), pl.col("position").cast(pl.String)).alias("line_ref"),
        )
        .with_columns(
            pl.concat_str("channel_order_id", pl.lit(":"), "line_ref").alias("order_line_id"),
            pl.concat_str(
                pl.lit("TRK"),
                pl.col("order_no").cast(pl.String),
                pl.lit("-"),
                pl.col("shipment").cast(pl.String),
            ).alias("parcel"),
        )
    )
    frames = []
    for state, hours, source in STEPS:
        if state == "placed":
            keep = pl.lit(True)
        elif state == "validated":
            keep = ~pl.col("is_pos")
        elif state in ("allocated", "released", "shipped", "in_transit"):
            keep = ~pl.col("is_pos") & ~pl.col("cancelled")
        elif state == "delivered":
            keep = pl.col("delivered") | pl.col("is_pos")
        else:
            keep = pl.col("returned")
        shipped_like = state in ("shipped", "in_transit", "delivered")
        frames.append(
            base.filter(keep).select(
                "order_line_id",
                "channel_order_id",
                "channel",
                "order_id",
                "line_ref",
                pl.lit(state).alias("to_state"),
                (pl.col("placed_min") * 60 + int(hours * 3600) + pl.col("shipment") * 3600).alias(
                    "offset_s"
                ),
                (
                    pl.when(pl.col("is_pos")).then(pl.lit("pos")).otherwise(pl.lit(source))
                    if source
                    else pl.col("channel")
                ).alias("source"),
                (
                    pl.when(~pl.col("is_pos")).then(pl.col("parcel"))
                    if shipped_like
                    else pl.lit(None, pl.String)
                ).alias("tracking_number"),
                (
                    pl.when(~pl.col("is_pos")).then(pl.lit("DHL"))
                    if shipped_like
                    else pl.lit(None, pl.String)
                ).alias("carrier"),
                pl.col("units"),
            )
        )
    cancels = base.filter(pl.col("cancelled")).select(
        "order_line_id",
        "channel_order_id",
        "channel",
        "order_id",
        "line_ref",
        pl.lit("cancelled").alias("to_state"),
        (pl.col("placed_min") * 60 + 3600).alias("offset_s"),
        pl.lit("ops_routing").alias("source"),
        pl.lit(None, pl.String).alias("tracking_number"),
        pl.lit(None, pl.String).alias("carrier"),
        pl.col("units"),
    )
    t = pl.concat([*frames, cancels]).sort("order_line_id", "offset_s")
    occurred = pl.lit(T0) + pl.duration(seconds=pl.col("offset_s"))
    return t.with_columns(
        pl.col("to_state").shift(1).over("order_line_id").alias("from_state"),
        (pl.int_range(pl.len()).over("order_line_id") + 1).alias("transition_seq"),
        occurred.alias("occurred_at"),
        (occurred + pl.duration(minutes=5)).alias("recorded_at"),
    ).select(
        pl.concat_str(
            "order_line_id",
            pl.lit(":"),
            "to_state",
            pl.lit(":"),
            pl.col("tracking_number").fill_null(""),
        ).alias("transition_id"),
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
        (pl.col("source") + ":" + pl.col("order_line_id") + ":" + pl.col("to_state")).alias(
            "source_event_id"
        ),
        "carrier",
        "tracking_number",
        pl.lit(None, pl.String).alias("location_id"),
        pl.col("units").cast(pl.Int64),
        pl.lit(None, pl.String).alias("detail"),
    )
