"""Decide which orders to hold, and why: a pure function of the inputs and the hold rules.

`evaluate_orders` returns one row per hold (`channel_order_id, reason_code, detail`: one row per
order and reason, the detail naming every value behind it) and one validation per candidate
order (`held` when it has at least one hold, else `validated`). No I/O: the step in
`ops_actions.holds.run` reads the inputs and commits the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ops_actions.holds.inputs import HoldInputs
from ops_actions.holds.rules import (
    DUPLICATE_ORDER,
    INCOMPLETE_ADDRESS,
    PAYMENT_NOT_CAPTURED,
    UNDELIVERABLE_ADDRESS,
    UNKNOWN_SKU,
    HoldRules,
    RiskRule,
)

HOLD_SCHEMA: dict[str, type[pl.DataType]] = {
    "channel_order_id": pl.String,
    "reason_code": pl.String,
    "detail": pl.String,
}
VALIDATED = "validated"
HELD = "held"


@dataclass(frozen=True)
class Evaluation:
    holds: pl.DataFrame
    """One row per (order, reason): channel_order_id, reason_code, detail."""
    validations: pl.DataFrame
    """One row per candidate order: channel_order_id, outcome (validated | held)."""


def _blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")


def _holds(frame: pl.DataFrame, reason: str, detail: pl.Expr) -> pl.DataFrame:
    return frame.select(
        "channel_order_id", pl.lit(reason).alias("reason_code"), detail.alias("detail")
    )


def _unknown_skus(lines: pl.DataFrame) -> pl.DataFrame:
    bad = lines.filter(pl.col("sku_status") != "active").with_columns(
        pl.concat_str(
            pl.col("sku"),
            pl.lit(" ("),
            pl.when(pl.col("sku_status") == "inactive")
            .then(pl.lit("inactive"))
            .otherwise(pl.lit("not in the reference")),
            pl.lit(", line "),
            pl.col("order_line_id"),
            pl.lit(")"),
        ).alias("what")
    )
    per_order = bad.group_by("channel_order_id").agg(
        pl.col("what").sort().str.join("; ").alias("what"), pl.len().alias("n")
    )
    return _holds(
        per_order,
        UNKNOWN_SKU,
        pl.format("{} line(s) with a SKU not active in the product reference: {}", "n", "what"),
    )


def _address(orders: pl.DataFrame, rules: HoldRules, known: pl.Series) -> list[pl.DataFrame]:
    out = []
    if rules.is_on(INCOMPLETE_ADDRESS):
        missing = orders.filter(_blank("ship_to_postcode") | _blank("ship_to_country"))
        detail = pl.concat_str(
            pl.when(_blank("ship_to_postcode")).then(pl.lit("no ship-to postcode")),
            pl.when(_blank("ship_to_country")).then(pl.lit("no ship-to country")),
            separator="; ",
            ignore_nulls=True,
        )
        out.append(_holds(missing, INCOMPLETE_ADDRESS, detail))
    if rules.is_on(UNDELIVERABLE_ADDRESS):
        no_centroid = ~_blank("ship_to_postcode") & ~pl.col("ship_to_postcode").is_in(
            known.to_list()
        )
        not_served = ~_blank("ship_to_country") & ~pl.col("ship_to_country").is_in(
            list(rules.ship_to_countries)
        )
        served = ", ".join(rules.ship_to_countries)
        detail = pl.concat_str(
            pl.when(no_centroid).then(
                pl.format(
                    "ship-to postcode '{}' has no centroid in the postcode reference",
                    "ship_to_postcode",
                )
            ),
            pl.when(not_served).then(
                pl.format(
                    f"no location ships to country '{{}}' (ships to {served})", "ship_to_country"
                )
            ),
            separator="; ",
            ignore_nulls=True,
        )
        out.append(_holds(orders.filter(no_centroid | not_served), UNDELIVERABLE_ADDRESS, detail))
    return out


def _payment(orders: pl.DataFrame, rules: HoldRules) -> pl.DataFrame:
    captured = ", ".join(rules.captured_statuses)
    unpaid = orders.filter(
        pl.col("channel").is_in(list(rules.payment_channels))
        & (
            pl.col("payment_status").is_null()
            | ~pl.col("payment_status").is_in(list(rules.captured_statuses))
        )
    )
    detail = pl.format(
        f"{{}} payment status is '{{}}', not captured (captured: {captured})",
        "channel",
        pl.col("payment_status").fill_null("unknown"),
    )
    return _holds(unpaid, PAYMENT_NOT_CAPTURED, detail)


def _earlier(orders: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """Pairs (candidate order, an earlier order of the same customer on the same channel).
    Earlier: placed before it, or at the same instant with a smaller id (so of two identical
    orders exactly one is the later)."""
    h = history.select(
        "channel",
        "customer_id",
        pl.col("channel_order_id").alias("earlier_id"),
        pl.col("ordered_at").alias("earlier_at"),
        pl.col("ship_to_postcode").alias("earlier_postcode"),
        pl.col("ship_to_country").alias("earlier_country"),
        pl.col("is_cancelled").alias("earlier_cancelled"),
        pl.col("line_signature").alias("earlier_signature"),
    )
    return (
        orders.filter(pl.col("customer_id").is_not_null())
        .join(h, on=["channel", "customer_id"], how="inner")
        .filter(
            (pl.col("earlier_at") < pl.col("ordered_at"))
            | (
                (pl.col("earlier_at") == pl.col("ordered_at"))
                & (pl.col("earlier_id") < pl.col("channel_order_id"))
            )
        )
    )


def _duplicates(orders: pl.DataFrame, earlier: pl.DataFrame, rules: HoldRules) -> pl.DataFrame:
    window = pl.duration(seconds=int(rules.duplicate_window_hours * 3600))
    dupes = (
        earlier.filter(
            ~pl.col("earlier_cancelled")
            & (pl.col("earlier_signature") == pl.col("line_signature"))
            & (pl.col("ordered_at") - pl.col("earlier_at") <= window)
        )
        .sort("earlier_at", "earlier_id", descending=True)
        .group_by("channel_order_id", maintain_order=True)
        .first()
    )
    minutes = ((pl.col("ordered_at") - pl.col("earlier_at")).dt.total_seconds() / 60).round(0)
    detail = pl.format(
        "same customer {} and lines ({}) as {}, placed {} min earlier",
        "customer_id",
        "line_signature",
        "earlier_id",
        minutes.cast(pl.Int64),
    )
    return _holds(dupes, DUPLICATE_ORDER, detail)


def _risk(orders: pl.DataFrame, earlier: pl.DataFrame, rule: RiskRule) -> pl.DataFrame:
    kept = earlier.filter(~pl.col("earlier_cancelled"))
    has_earlier = kept.select("channel_order_id").unique()
    used_ship_to = (
        kept.filter(
            (pl.col("earlier_postcode") == pl.col("ship_to_postcode"))
            & (pl.col("earlier_country") == pl.col("ship_to_country"))
        )
        .select("channel_order_id")
        .unique()
    )
    known_customer = pl.col("customer_id").is_not_null()
    cond = pl.lit(True)
    parts: list[pl.Expr] = []
    if rule.channels is not None:
        cond &= pl.col("channel").is_in(list(rule.channels))
    if rule.order_value_above is not None:
        cond &= pl.col("order_amount") > rule.order_value_above
        parts.append(
            pl.format(
                f"order value {{}} {{}} above {rule.order_value_above:g}",
                pl.col("order_amount").round(2),
                pl.col("currency").fill_null(""),
            )
        )
    if rule.first_order is not None:
        first = known_customer & ~pl.col("channel_order_id").is_in(
            has_earlier["channel_order_id"].to_list()
        )
        cond &= first if rule.first_order else known_customer & ~first
        parts.append(
            pl.format("first order of customer {}", "customer_id")
            if rule.first_order
            else pl.format("customer {} has ordered before", "customer_id")
        )
    if rule.new_ship_to is not None:
        new = known_customer & ~pl.col("channel_order_id").is_in(
            used_ship_to["channel_order_id"].to_list()
        )
        cond &= new if rule.new_ship_to else known_customer & ~new
        where = pl.format("{} {}", "ship_to_postcode", "ship_to_country")
        parts.append(
            pl.format("ship-to {} never used by this customer before", where)
            if rule.new_ship_to
            else pl.format("ship-to {} used before", where)
        )
    detail = pl.concat_str(parts, separator="; ")
    if rule.description:
        detail = pl.concat_str(detail, pl.lit(f" — {rule.description}"))
    return _holds(orders.filter(cond), rule.reason_code, detail)


def evaluate_orders(inputs: HoldInputs, rules: HoldRules) -> Evaluation:
    """Holds and validations of the candidate orders under `rules`."""
    orders = inputs.candidates
    signatures = inputs.history.select("channel_order_id", "line_signature")
    orders = orders.join(signatures, on="channel_order_id", how="left")
    frames: list[pl.DataFrame] = []
    if rules.is_on(UNKNOWN_SKU):
        frames.append(_unknown_skus(inputs.lines))
    frames += _address(orders, rules, inputs.known_postcodes)
    if rules.is_on(PAYMENT_NOT_CAPTURED):
        frames.append(_payment(orders, rules))
    earlier = _earlier(orders, inputs.history)
    if rules.is_on(DUPLICATE_ORDER):
        frames.append(_duplicates(orders, earlier, rules))
    for rule in rules.risk_rules:
        frames.append(_risk(orders, earlier, rule))
    holds = (
        pl.concat([f.cast(HOLD_SCHEMA) for f in frames], how="vertical")  # type: ignore[arg-type]
        if frames
        else pl.DataFrame(schema=HOLD_SCHEMA)
    ).sort("channel_order_id", "reason_code")
    held = holds["channel_order_id"].unique()
    validations = orders.select(
        "channel_order_id",
        pl.when(pl.col("channel_order_id").is_in(held.to_list()))
        .then(pl.lit(HELD))
        .otherwise(pl.lit(VALIDATED))
        .alias("outcome"),
    ).sort("channel_order_id")
    return Evaluation(holds=holds, validations=validations)
