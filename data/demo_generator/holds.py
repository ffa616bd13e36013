"""Web shop orders the hold step must hold (docs/holds.md), written into the order documents.

Payment not captured needs nothing here: ~4 % of web orders are created `pending` already. On
top of that, per web order at creation:

- **bad address** (`BAD_ADDRESS_SHARE`): the ZIP typed with its last digit missing (no centroid
  in the postcode reference), on orders that carry coordinates, so the parcel still ships as
  simulated (someone fixed the address) and the figures downstream are unchanged. (An empty ZIP
  would not reach the hold step: the ingest quarantines it, the field is required.)
- **risky first order** (`RISKY_SHARE` of orders above `RISKY_SUBTOTAL_CENTS`): placed under a
  customer id never used before (`NEW_CUSTOMER_BASE + order number`), a high-value first order
  to a new address;
- **duplicate order** (`DUPLICATE_SHARE`): the customer submits the same basket again 2–30
  minutes later, under a new order id from a reserved range (ids `58…`, line items `98…`).
  The copy never ships: the shop cancels it the next morning (`cancel_reason: other`), so only
  the duplicates of the span's last day are still open when the platform first sees them.

Its randomness comes from its own generator (`HOLDS_PURPOSE`), so every other draw, and with
them every other source's files, stays as it was.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from demo_generator.clock import HOUR

HOLDS_PURPOSE = 9
BAD_ADDRESS_SHARE = 0.006
RISKY_SUBTOTAL_CENTS = 25_000
RISKY_SHARE = 0.35
DUPLICATE_SHARE = 0.006
NEW_CUSTOMER_BASE = 90_000_000
DUPLICATE_ORDER_OFFSET = 800_000_000
DUPLICATE_LINE_BASE = 9_800_000_000
MINUTE = 60


def holds_rng(seed: int, day: int) -> np.random.Generator:
    return np.random.default_rng([seed, day, HOLDS_PURPOSE])


def with_bad_addresses(
    orders: pl.DataFrame, has_coords: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """`orders` (one row per order, column `zip`) with a typo'd ZIP (last digit missing) on a
    share of the orders that carry coordinates."""
    bad = has_coords & (rng.random(orders.height) < BAD_ADDRESS_SHARE)
    zip_ = orders["zip"]
    return orders.with_columns(
        zip=pl.when(pl.Series(bad)).then(zip_.str.slice(0, 4)).otherwise(zip_)
    )


def with_risky_first_orders(
    orders: pl.DataFrame, subtotal_cents: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """A share of the high-value orders placed under a customer id never used before."""
    risky = (subtotal_cents > RISKY_SUBTOTAL_CENTS) & (rng.random(orders.height) < RISKY_SHARE)
    number = orders["id"] - 5_000_000_000
    new_id = NEW_CUSTOMER_BASE + number
    return orders.with_columns(
        customer_id=pl.when(pl.Series(risky)).then(new_id).otherwise(pl.col("customer_id")),
        customer_email=pl.when(pl.Series(risky))
        .then("c" + new_id.cast(pl.String) + "@example.com")
        .otherwise(pl.col("customer_email")),
    )


def duplicate_orders(
    orders: pl.DataFrame,
    lines: pl.DataFrame,
    created_t: np.ndarray,
    eligible: np.ndarray,
    morning: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Copies of a share of the `eligible` orders (same customer, address and lines, a new id)
    placed 2–30 minutes after them. Returns (copies, their lines, their versions: created,
    then cancelled at `morning` of the original order), `_o` numbered after `orders`; the
    copies' `_created_t` (UTC seconds) is for the caller to stamp `created_at` with."""
    n = orders.height
    picked = np.nonzero(eligible & (rng.random(n) < DUPLICATE_SHARE))[0]
    k = len(picked)
    new_o = n + np.arange(k)
    number = orders["id"].to_numpy()[picked] - 5_000_000_000
    copies = orders[picked].with_columns(
        _o=pl.Series(new_o),
        id=pl.Series(5_000_000_000 + DUPLICATE_ORDER_OFFSET + number),
        name=pl.Series("#" + pl.Series(DUPLICATE_ORDER_OFFSET + number).cast(pl.String)),
    )
    delay = rng.integers(2 * MINUTE, 30 * MINUTE, k)
    copy_lines = (
        lines.join(pl.DataFrame({"_o": picked, "_new": new_o}), on="_o", how="inner")
        .with_columns(_o=pl.col("_new"))
        .drop("_new")
    )
    copy_lines = copy_lines.with_columns(
        li_id=pl.Series(DUPLICATE_LINE_BASE + (copy_lines["li_id"].to_numpy() - 9_000_000_000))
    )
    created = created_t[picked] + delay
    copies = copies.with_columns(_created_t=pl.Series(created))
    versions = pl.DataFrame(
        {
            "_o": np.concatenate([new_o, new_o]),
            "_ut": np.concatenate([created, np.maximum(morning[picked], created + HOUR)]),
            "financial_status": ["paid"] * k + ["refunded"] * k,
            "cancelled": [False] * k + [True] * k,
            "cancel_reason": [None] * k + ["other"] * k,
            "fulfillment_status": pl.Series([None] * (2 * k), dtype=pl.String),
        },
        schema_overrides={"cancel_reason": pl.String, "financial_status": pl.String},
    )
    return copies, copy_lines, versions
