"""Customer returns (RMAs) of shipped lines: who sends what back, why, and when it arrives.

The returns system exports each RMA line once, on the day its parcel is received at the
location it shipped from (`received_at` set); a return whose parcel never arrives is exported
two weeks after the request with `received_at` empty and the refund still pending.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo_generator.clock import DAY, HOUR, Clock
from demo_generator.geography import CHANNELS
from demo_generator.landing import money

REASONS = ("damaged", "wrong_item", "not_as_described", "no_longer_needed", "size_fit")
LATE_DELIVERY = "late_delivery"
_REASON_P = (0.12, 0.08, 0.18, 0.34, 0.28)
# Return propensity by channel, relative to the product's own rate.
_CHANNEL_FACTOR = {"webshop": 1.15, "marketplace": 1.0, "pos": 0.0, "wholesale": 0.6}
UNRECEIVED_EXPORT_DAYS = 14


@dataclass(frozen=True)
class Returns:
    """What one day's shipments will bring back."""

    rma_lines: pl.DataFrame  # returns records with `_day`, `_file`, `_t`
    restock: pl.DataFrame  # `_day`, location, sku, qty: units back on the shelf
    refunds: pl.DataFrame  # web shop refunds: order (index), units, received (seconds)
    units: int
    rma_count: int


def plan_returns(
    rng: np.random.Generator,
    clock: Clock,
    *,
    channel: np.ndarray,
    order: np.ndarray,
    order_ids: pl.Series,
    line_ref: pl.Series,
    sku: np.ndarray,
    qty: np.ndarray,
    price_cents: np.ndarray,
    shipment: np.ndarray,
    location: np.ndarray,
    delivered_t: np.ndarray,
    late: np.ndarray,
    return_rate: np.ndarray,
    fits_sizes: np.ndarray,
    sku_ids: pl.Series,
    location_ids: np.ndarray,
    first_rma: int,
) -> Returns:
    """Pick returned lines among shipped ones (arrays are per shipped line).

    `channel` indexes CHANNELS, `order` indexes `order_ids`.
    """
    factor = np.array([_CHANNEL_FACTOR[c] for c in CHANNELS])[channel]
    p = return_rate[sku] * factor * np.where(late, 1.8, 1.0)
    back = np.nonzero(rng.random(len(sku)) < p)[0]
    n = len(back)
    ret_qty = np.where(qty[back] > 1, rng.integers(1, qty[back] + 1), 1)
    ret_qty = np.where(rng.random(n) < 0.8, qty[back], ret_qty)

    # One RMA per returned shipment; its lines share the request.
    ships, rma_of = np.unique(shipment[back], return_inverse=True)
    by_rma = np.lexsort((back, rma_of))
    back, ret_qty, rma_of = back[by_rma], ret_qty[by_rma], rma_of[by_rma]
    first = np.r_[True, rma_of[1:] != rma_of[:-1]]
    rma_line = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) + 1
    n_rma = len(ships)
    wait_days = np.minimum(rng.geometric(0.3, n_rma), 12)
    requested = (
        delivered_t[back][first] + wait_days * DAY + rng.integers(-6 * HOUR, 6 * HOUR, n_rma)
    )
    arrives = rng.random(n_rma) < 0.88
    received = requested + rng.integers(2 * DAY, 7 * DAY, n_rma)
    requested, arrives, received = requested[rma_of], arrives[rma_of], received[rma_of]

    reason = np.array(REASONS, dtype=object)[rng.choice(len(REASONS), n, p=_REASON_P)]
    reason[(reason == "size_fit") & ~fits_sizes[sku[back]]] = "no_longer_needed"
    reason[late[back] & (rng.random(n) < 0.4)] = LATE_DELIVERY
    condition = np.array(["new", "opened", "damaged"], dtype=object)[
        rng.choice(3, n, p=[0.6, 0.35, 0.05])
    ]
    condition[reason == "damaged"] = "damaged"
    restockable = (condition == "new") | ((condition == "opened") & (rng.random(n) < 0.6))
    outcome = rng.choice(3, n, p=[0.9, 0.05, 0.05])  # refunded, rejected, pending
    refund_status = np.where(
        arrives, np.array(["refunded", "rejected", "pending"])[outcome], "pending"
    )
    amount = money(price_cents[back] * ret_qty).to_numpy().astype(object)
    amount[refund_status == "rejected"] = "0.00"
    amount[refund_status == "pending"] = ""

    export_t = np.where(arrives, received, requested + UNRECEIVED_EXPORT_DAYS * DAY)
    day = export_t // DAY
    received_at = clock.stamp(received).to_numpy().astype(object)
    received_at[~arrives] = ""
    back_to = np.where(arrives, location_ids[location[back]], "")
    rma_ids = "RMA-" + pl.Series(first_rma + rma_of).cast(pl.String).str.zfill(7)
    channel_names = pl.Series(CHANNELS).gather(channel[back])
    rma_lines = pl.DataFrame(
        {
            "rma_id": rma_ids,
            "rma_line": rma_line.astype(str),
            "channel": channel_names,
            "order_id": order_ids.gather(order[back]),
            "line_ref": line_ref.gather(back),
            "sku": sku_ids.gather(sku[back]),
            "quantity": ret_qty.astype(str),
            "reason_code": reason.astype(str),
            "condition": condition.astype(str),
            "restockable": np.where(restockable, "Y", "N"),
            "refund_status": refund_status,
            "refund_amount": amount.astype(str),
            "currency": np.full(n, "USD"),
            "requested_at": clock.stamp(requested),
            "received_at": received_at.astype(str),
            "received_location_id": back_to,
            "_day": day,
            "_file": "returns/rma_" + clock.iso_date(day, "%Y%m%d") + ".csv",
            "_t": export_t,
        }
    )
    shelf = arrives & restockable
    restock = pl.DataFrame(
        {
            "_day": received[shelf] // DAY,
            "location": location[back][shelf],
            "sku": sku[back][shelf],
            "qty": ret_qty[shelf],
        }
    )
    web = (channel[back] == CHANNELS.index("webshop")) & (refund_status == "refunded")
    refunds = (
        pl.DataFrame({"order": order[back][web], "units": ret_qty[web], "received": received[web]})
        .group_by("order", "received", maintain_order=True)
        .agg(pl.col("units").sum())
    )
    return Returns(rma_lines, restock, refunds, int(ret_qty.sum()), n_rma)
