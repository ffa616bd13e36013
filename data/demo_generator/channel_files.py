"""The shipped channels' own records: web shop order documents, marketplace report rows and
wholesale purchase-order lines, built from a day's orders and what allocation made of them.

Each function returns records with `_day` (the day of the file they belong in), `_file` and `_t`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from demo_generator.clock import DAY, HOUR
from demo_generator.demand import DayOrders
from demo_generator.geography import CHANNELS
from demo_generator.holds import (
    duplicate_orders,
    holds_rng,
    with_bad_addresses,
    with_risky_first_orders,
)
from demo_generator.landing import (
    MARKETPLACE_COLUMNS,
    WEBSHOP_LINE_COLUMNS,
    WEBSHOP_ORDER_COLUMNS,
    const,
    money,
    pick,
    text,
)

if TYPE_CHECKING:
    from demo_generator.simulation import Simulation


@dataclass
class ChannelDay:
    """One shipped channel's orders of the day, with what allocation made of them."""

    channel: str
    orders: DayOrders
    t: np.ndarray  # per order, UTC seconds
    postcode: np.ndarray  # per order
    express: np.ndarray  # per order
    cancelled: np.ndarray  # per order: cancelled by the customer before allocation
    order_id: pl.Series  # per order: the channel's order id
    line_ref: pl.Series  # per line: the channel's line id (carrier `line_ref`)
    ship_delay: np.ndarray  # per order, days
    promise_day: np.ndarray  # per order: last day of on-time delivery (destination clock)
    # Per line: ship-from location index, -1 when short or cancelled (set by allocation).
    location: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def price_cents(self) -> np.ndarray:
        return np.round(self.orders.unit_price * 100).astype(np.int64)


def webshop_documents(
    sim: Simulation, day: int, b: ChannelDay, refunds: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Order documents at creation, and again when cancelled or (partly) refunded."""
    o, clock, pc = b.orders, sim.clock, sim.postcodes
    n = o.n_orders
    cents = b.price_cents
    subtotal = np.bincount(o.order_of_line, weights=cents * o.qty, minlength=n).astype(np.int64)
    shipping = np.where(b.express, 1499, np.where(subtotal >= 5000, 0, 499))
    pending = rng.random(n) < 0.04
    customer = 700_000 + rng.integers(0, sim.web_customers, n)
    has_coords = rng.random(n) > 0.12
    ids = b.order_id.cast(pl.Int64).to_numpy()
    orders = pl.DataFrame(
        {
            "_o": np.arange(n),
            "id": ids,
            "name": "#" + text(ids - 5_000_000_000),
            "created_at": clock.stamp(b.t, sim.shop_zone),
            "currency": const("USD", n),
            "total_price": money(subtotal + shipping),
            "customer_id": customer,
            "customer_email": "c" + text(customer) + "@example.com",
            "zip": pick(pc.postcode, b.postcode),
            "country_code": const("US", n),
            "latitude": pl.Series(np.where(has_coords, pc.latitude[b.postcode], np.nan)).fill_nan(
                None
            ),
            "longitude": pl.Series(np.where(has_coords, pc.longitude[b.postcode], np.nan)).fill_nan(
                None
            ),
            "shipping_code": pick(["standard", "express"], b.express),
            "shipping_price": money(shipping),
        }
    )
    lines = pl.DataFrame(
        {
            "_o": o.order_of_line,
            "li_id": b.line_ref.cast(pl.Int64),
            "li_sku": sim.sku_ids.gather(o.sku),
            "li_quantity": o.qty,
            "li_price": money(cents),
        }
    )
    # Orders the hold step must hold (demo_generator/holds.py), from their own random stream.
    hrng = holds_rng(sim.seed, day)
    orders = with_bad_addresses(orders, has_coords, hrng)
    orders = with_risky_first_orders(orders, subtotal, hrng)

    created = pl.DataFrame(
        {
            "_o": np.arange(n),
            "_ut": b.t,
            "financial_status": pick(["paid", "pending"], pending),
            "cancelled": np.zeros(n, dtype=bool),
            "cancel_reason": pl.Series([None] * n, dtype=pl.String),
            "fulfillment_status": pl.Series([None] * n, dtype=pl.String),
        }
    )
    # Cancellations and short-shipment refunds go out in the next morning's batch.
    short = np.bincount(o.order_of_line, weights=b.location < 0, minlength=n)
    n_lines = np.bincount(o.order_of_line, minlength=n)
    all_short = (short == n_lines) & ~b.cancelled
    some_short = (short > 0) & ~all_short & ~b.cancelled
    morning = clock.local_to_utc(sim.shop_zone, day + 1, rng.integers(6 * HOUR, 12 * HOUR, n))
    voided = np.where(pending, "voided", "refunded")
    cancel = b.cancelled | all_short
    # A resubmitted basket lands the same local day (its cancellation is the next morning's).
    local_seconds = (b.t + clock.offset(sim.shop_zone, b.t // DAY)) % DAY
    same_day = local_seconds < DAY - HOUR
    copies, copy_lines, copy_versions = duplicate_orders(
        orders, lines, b.t, ~cancel & ~pending & same_day, morning, hrng
    )
    orders = pl.concat(
        [
            orders,
            copies.with_columns(
                created_at=clock.stamp(copies["_created_t"].to_numpy(), sim.shop_zone)
            ).drop("_created_t"),
        ]
    )
    master = pl.concat([lines, copy_lines]).join(orders, on="_o", how="left")
    changes = [
        created,
        pl.DataFrame(
            {
                "_o": np.nonzero(cancel)[0],
                "_ut": morning[cancel],
                "financial_status": voided[cancel],
                "cancelled": np.ones(int(cancel.sum()), dtype=bool),
                "cancel_reason": np.where(b.cancelled, "customer", "inventory")[cancel],
                "fulfillment_status": pl.Series([None] * int(cancel.sum()), dtype=pl.String),
            }
        ),
        pl.DataFrame(
            {
                "_o": np.nonzero(some_short)[0],
                "_ut": morning[some_short],
                "financial_status": np.full(int(some_short.sum()), "partially_refunded"),
                "cancelled": np.zeros(int(some_short.sum()), dtype=bool),
                "cancel_reason": pl.Series([None] * int(some_short.sum()), dtype=pl.String),
                "fulfillment_status": np.full(int(some_short.sum()), "partial"),
            }
        ),
    ]
    if refunds.height:
        units = np.bincount(o.order_of_line, weights=o.qty, minlength=n)
        idx = refunds["order"].to_numpy()
        whole = refunds["units"].to_numpy() >= units[idx]
        changes.append(
            pl.DataFrame(
                {
                    "_o": idx,
                    "_ut": refunds["received"].to_numpy()
                    + rng.integers(2 * HOUR, 20 * HOUR, len(idx)),
                    "financial_status": np.where(whole, "refunded", "partially_refunded"),
                    "cancelled": np.zeros(len(idx), dtype=bool),
                    "cancel_reason": pl.Series([None] * len(idx), dtype=pl.String),
                    "fulfillment_status": np.where(short[idx] > 0, "partial", "fulfilled"),
                }
            )
        )
    changes.append(copy_versions)
    versions = pl.concat(changes, how="diagonal_relaxed")
    ut = versions["_ut"].to_numpy()
    stamp = clock.stamp(ut, sim.shop_zone)
    local = ut + clock.offset(sim.shop_zone, ut // DAY)
    file_day = local // DAY
    half = pick(["_01.jsonl", "_02.jsonl"], local % DAY >= 12 * HOUR)
    versions = versions.with_columns(
        updated_at=stamp,
        cancelled_at=pl.when(pl.col("cancelled")).then(stamp).otherwise(None),
        _day=pl.Series(file_day),
        _file="webshop/orders_" + clock.iso_date(file_day, "%Y%m%d") + half,
        _t=pl.Series(ut),
    ).drop("cancelled", "_ut")
    docs = versions.join(master, on="_o", how="inner").sort(["_t", "_o"], maintain_order=True)
    return docs.select(*WEBSHOP_ORDER_COLUMNS, *WEBSHOP_LINE_COLUMNS, "_day", "_file", "_t")


def marketplace_rows(
    sim: Simulation, day: int, b: ChannelDay, label_t: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """A report row per item at purchase, and again when it ships or is cancelled.

    `label_t` is each item's label time, 0 for items that do not ship.
    """
    o, clock = b.orders, sim.clock
    n_items = len(o.sku)
    line_t = b.t[o.order_of_line]
    exp = b.express[o.order_of_line]
    cents = b.price_cents
    latest_ship = (day + np.where(exp, 1, 2) + 1) * DAY - 1
    latest_delivery = (b.promise_day[o.order_of_line] + 1) * DAY - 1
    base = pl.DataFrame(
        {
            "order-id": b.order_id.gather(o.order_of_line),
            "order-item-id": b.line_ref,
            "purchase-date": clock.stamp(line_t),
            "fulfillment-channel": const("MFN", n_items),
            "ship-service-level": pick(["Standard", "Expedited"], exp),
            "sku": sim.sku_ids.gather(o.sku),
            "quantity-purchased": text(o.qty),
            "currency": const("USD", n_items),
            "item-price": money(cents * o.qty),
            "shipping-price": money(np.where(exp, 499, 0)),
            "ship-postal-code": pick(sim.postcodes.postcode, b.postcode[o.order_of_line]),
            "ship-country": const("US", n_items),
            "latest-ship-date": clock.stamp(latest_ship),
            "latest-delivery-date": clock.stamp(latest_delivery),
        }
    )
    pending = rng.random(b.orders.n_orders) < 0.08
    # 0 Unshipped, 1 Pending (payment not yet cleared), 2 Canceled, 3 Shipped
    statuses = ["Unshipped", "Pending", "Canceled", "Shipped"]
    status_at_purchase = pending[o.order_of_line].astype(np.int64)
    cancelled = b.location < 0
    cancel_t = line_t + np.where(
        b.cancelled[o.order_of_line],
        rng.integers(HOUR, 20 * HOUR, n_items),
        rng.integers(2 * HOUR, 26 * HOUR, n_items),
    )
    is_shipped = label_t > 0
    ship_t = np.where(is_shipped, label_t + rng.integers(600, 3 * HOUR, n_items), 0)
    rows = []
    for mask, status, t in (
        (np.ones(n_items, dtype=bool), status_at_purchase, line_t),
        (cancelled, np.full(n_items, 2), cancel_t),
        (is_shipped, np.full(n_items, 3), ship_t),
    ):
        rows.append(
            base.filter(pl.Series(mask)).with_columns(
                pl.Series("last-updated-date", clock.stamp(t[mask])),
                pick(statuses, status[mask]).alias("order-status"),
                _day=pl.Series(t[mask] // DAY),
                _t=pl.Series(t[mask]),
            )
        )
    frame = pl.concat(rows)
    file_day = frame["_day"].to_numpy()
    frame = frame.with_columns(
        _file="marketplace/order_report_" + clock.iso_date(file_day, "%Y%m%d") + ".tsv"
    )
    return frame.select(*MARKETPLACE_COLUMNS, "_day", "_file", "_t")


def wholesale_details(
    sim: Simulation, day: int, b: ChannelDay, customer: np.ndarray
) -> pl.DataFrame:
    """Detail records of the day's purchase orders, one file per customer."""
    o, clock = b.orders, sim.clock
    n = len(o.sku)
    cust = pick(sim.customer_ids, customer[o.order_of_line])
    requested = b.promise_day[o.order_of_line]
    ymd = clock.ymd(day)
    frame = pl.DataFrame(
        {
            "customer_id": cust,
            "po_number": b.order_id.gather(o.order_of_line),
            "line_no": text(o.line_no).str.zfill(4),
            "sku": sim.sku_ids.gather(o.sku),
            "quantity": text(o.qty).str.zfill(7),
            "unit_price_cents": text(b.price_cents).str.zfill(9),
            "order_date": const(ymd, n),
            "requested_ship_date": clock.iso_date(requested, "%Y%m%d"),
            "ship_to_postcode": pick(sim.postcodes.postcode, b.postcode[o.order_of_line]),
            "ship_to_country": const("US", n),
            "_day": np.full(n, day),
            "_file": "wholesale/PO_" + cust + f"_{ymd}.txt",
            "_t": b.t[o.order_of_line] * 100 + o.line_no,
        }
    )
    return frame


# --- wholesale purchase orders one per file, as EDI delivers them -------------------------------

# Lines per EDI purchase order: 1 to 7, uniform (TPC-H's lines per order; the 298,002
# one-PO files held 1.2 M lines).
EDI_LINES = (1, 8)


def one_file_per_po(details: pl.DataFrame) -> pl.DataFrame:
    """Wholesale detail records with each purchase order in a file of its own,
    `wholesale/PO_<customer_id>_<YYYYMMDD>_<po_number>.txt` (EDI sends one message per PO)."""
    if not details.height:
        return details
    return details.with_columns(
        _file=pl.col("_file").str.strip_suffix(".txt") + "_" + pl.col("po_number") + ".txt"
    )


def edi_purchase_orders(
    sim: Simulation, day: int, n_pos: int, first_po: int, rng: np.random.Generator
) -> pl.DataFrame:
    """`n_pos` wholesale purchase orders of `day` (numbered from `first_po`), one file each.

    Drawn without the day's allocation: SKUs by the wholesale channel's popularity, the
    customers and their postcodes of the simulation, 1-7 lines, list prices. For a landing
    folder of many small files (`generate(wholesale_pos=...)`), not for the KPIs.
    """
    cat, clock = sim.catalog, sim.clock
    lines = rng.integers(*EDI_LINES, n_pos)
    order_of_line = np.repeat(np.arange(n_pos), lines)
    starts = np.cumsum(lines) - lines
    line_no = np.arange(len(order_of_line)) - starts[order_of_line] + 1
    popularity = cat.popularity[CHANNELS.index("wholesale")]
    sku = rng.choice(cat.size, len(order_of_line), p=popularity / popularity.sum())
    customer = rng.choice(len(sim.customer_ids), n_pos, p=sim.customer_weight)
    cust = pick(sim.customer_ids, customer[order_of_line])
    po = "PO" + text(first_po + np.arange(n_pos)).str.zfill(8)
    seconds = rng.integers(7 * HOUR, 18 * HOUR, n_pos)
    ymd = clock.ymd(day)
    packs = rng.integers(1, 11, len(order_of_line))
    cents = np.round(cat.list_price[sku] * 100).astype(np.int64)
    frame = pl.DataFrame(
        {
            "customer_id": cust,
            "po_number": po.gather(order_of_line),
            "line_no": text(line_no).str.zfill(4),
            "sku": sim.sku_ids.gather(sku),
            "quantity": text(packs * cat.pack_size[sku]).str.zfill(7),
            "unit_price_cents": text(cents).str.zfill(9),
            "order_date": const(ymd, len(order_of_line)),
            "requested_ship_date": clock.iso_date(
                np.full(len(order_of_line), day) + rng.integers(3, 8, n_pos)[order_of_line],
                "%Y%m%d",
            ),
            "ship_to_postcode": pick(
                sim.postcodes.postcode, sim.customer_postcode[customer][order_of_line]
            ),
            "ship_to_country": const("US", len(order_of_line)),
            "_day": np.full(len(order_of_line), day),
            "_file": "wholesale/PO_" + cust + f"_{ymd}.txt",
            "_t": clock.local_to_utc(sim.shop_zone, day, seconds)[order_of_line] * 100 + line_no,
        }
    )
    return one_file_per_po(frame)
