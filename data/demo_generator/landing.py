"""The landing sources as files: columns, keys, paths and how a record becomes a line of text.

Records travel through the generator as polars frames whose columns are the source's own fields
(already formatted as they will be written) plus bookkeeping columns starting with `_`:
`_file` (path relative to the landing folder) and `_t` (sort position within the file). Webshop
orders and carrier `label_created` events are multi-row records (one row per line item).
See docs/landing_contract.md for the formats themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

Format = Literal["csv", "tsv", "jsonl", "fixed"]

WEBSHOP_ORDER_COLUMNS = (
    "id",
    "name",
    "created_at",
    "updated_at",
    "cancelled_at",
    "cancel_reason",
    "currency",
    "financial_status",
    "fulfillment_status",
    "total_price",
    "customer_id",
    "customer_email",
    "zip",
    "country_code",
    "latitude",
    "longitude",
    "shipping_code",
    "shipping_price",
)
WEBSHOP_LINE_COLUMNS = ("li_id", "li_sku", "li_quantity", "li_price")
MARKETPLACE_COLUMNS = (
    "order-id",
    "order-item-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "ship-service-level",
    "sku",
    "quantity-purchased",
    "currency",
    "item-price",
    "shipping-price",
    "ship-postal-code",
    "ship-country",
    "latest-ship-date",
    "latest-delivery-date",
)
POS_COLUMNS = (
    "store_id",
    "register_id",
    "receipt_no",
    "line_no",
    "sold_at",
    "sku",
    "qty",
    "unit_price",
    "currency",
)
# (field, width) of a wholesale detail line after its leading `D`.
WHOLESALE_LAYOUT = (
    ("customer_id", 8),
    ("po_number", 12),
    ("line_no", 4),
    ("sku", 12),
    ("quantity", 7),
    ("unit_price_cents", 9),
    ("order_date", 8),
    ("requested_ship_date", 8),
    ("ship_to_postcode", 10),
    ("ship_to_country", 2),
)
WHOLESALE_LINE_LENGTH = 1 + sum(w for _, w in WHOLESALE_LAYOUT)
SNAPSHOT_COLUMNS = ("location_id", "sku", "snapshot_date", "on_hand")
CYCLE_COUNT_COLUMNS = (
    "location_id",
    "sku",
    "counted_at",
    "system_qty",
    "counted_qty",
    "counter_id",
)
CARRIER_EVENT_COLUMNS = (
    "event_id",
    "tracking_number",
    "carrier",
    "status",
    "occurred_at",
    "exception_code",
)
CARRIER_SHIPMENT_COLUMNS = ("channel", "order_id", "ship_from", "service_level")
CARRIER_LINE_COLUMNS = ("line_ref", "sku", "quantity")
RETURN_COLUMNS = (
    "rma_id",
    "rma_line",
    "channel",
    "order_id",
    "line_ref",
    "sku",
    "quantity",
    "reason_code",
    "condition",
    "restockable",
    "refund_status",
    "refund_amount",
    "currency",
    "requested_at",
    "received_at",
    "received_location_id",
)
PURCHASE_ORDER_COLUMNS = (
    "po_id",
    "po_line",
    "supplier_id",
    "location_id",
    "sku",
    "ordered_qty",
    "unit_cost",
    "currency",
    "ordered_date",
    "expected_date",
)
RECEIPT_COLUMNS = (
    "receipt_id",
    "po_id",
    "po_line",
    "location_id",
    "sku",
    "received_qty",
    "received_date",
)


def money(cents: np.ndarray) -> pl.Series:
    """Integer cents as `12.34` text."""
    c = pl.col("c")
    sign = pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    expr = (
        sign + (c.abs() // 100).cast(pl.String) + "." + (c.abs() % 100).cast(pl.String).str.zfill(2)
    )
    frame = pl.DataFrame({"c": np.asarray(cents, dtype=np.int64)})
    return frame.select(expr.alias("money")).to_series()


def text(values: np.ndarray) -> pl.Series:
    """Integers as decimal text (much faster than numpy's string conversion)."""
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)


def pick(options: object, index: np.ndarray) -> pl.Series:
    """`options[index]` as a string Series; `index` may be a boolean array (False -> 0)."""
    return pl.Series(np.asarray(options), dtype=pl.String).gather(
        pl.Series(np.asarray(index, dtype=np.int64))
    )


def const(value: str, n: int) -> pl.Series:
    """A string repeated `n` times."""
    return pl.repeat(value, n, eager=True, dtype=pl.String)


def _joined(frame: pl.DataFrame, columns: tuple[str, ...], sep: str) -> pl.Series:
    return frame.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator=sep)
    ).to_series()


def _render_webshop(frame: pl.DataFrame) -> pl.DataFrame:
    orders = frame.group_by("_rec", maintain_order=True).agg(
        *[pl.col(c).first() for c in WEBSHOP_ORDER_COLUMNS],
        pl.col("_file").first(),
        pl.col("_t").first(),
        pl.col("_malformed").first(),
        pl.struct(
            pl.col("li_id").alias("id"),
            pl.col("li_sku").alias("sku"),
            pl.col("li_quantity").alias("quantity"),
            pl.col("li_price").alias("price"),
        ).alias("line_items"),
    )
    doc = pl.struct(
        *[pl.col(c) for c in WEBSHOP_ORDER_COLUMNS[:10]],
        pl.struct(pl.col("customer_id").alias("id"), pl.col("customer_email").alias("email")).alias(
            "customer"
        ),
        pl.struct("zip", "country_code", "latitude", "longitude").alias("shipping_address"),
        pl.concat_list(
            pl.struct(
                pl.col("shipping_code").alias("code"), pl.col("shipping_price").alias("price")
            )
        ).alias("shipping_lines"),
        pl.col("line_items"),
    )
    return orders.select("_file", "_t", "_malformed", doc.struct.json_encode().alias("_line"))


def _render_carrier(frame: pl.DataFrame) -> pl.DataFrame:
    is_label = pl.col("status") == "label_created"
    events = frame.filter(~is_label).select(
        "_file",
        "_t",
        "_malformed",
        pl.struct(*CARRIER_EVENT_COLUMNS).struct.json_encode().alias("_line"),
    )
    labels = (
        frame.filter(is_label)
        .group_by("_rec", maintain_order=True)
        .agg(
            *[pl.col(c).first() for c in (*CARRIER_EVENT_COLUMNS, *CARRIER_SHIPMENT_COLUMNS)],
            pl.col("_file").first(),
            pl.col("_t").first(),
            pl.col("_malformed").first(),
            pl.struct(*CARRIER_LINE_COLUMNS).alias("lines"),
        )
        .select(
            "_file",
            "_t",
            "_malformed",
            pl.struct(
                *CARRIER_EVENT_COLUMNS,
                pl.struct(*CARRIER_SHIPMENT_COLUMNS, "lines").alias("shipment"),
            )
            .struct.json_encode()
            .alias("_line"),
        )
    )
    return pl.concat([labels, events])


def _render_fixed(frame: pl.DataFrame) -> pl.DataFrame:
    parts = [pl.lit("D")]
    for name, width in WHOLESALE_LAYOUT:
        parts.append(pl.col(name).cast(pl.String).str.pad_end(width).str.slice(0, width))
    return frame.select("_file", "_t", "_malformed", pl.concat_str(parts).alias("_line"))


def _malform_delimited(sep: str) -> Callable[[str, int], str]:
    def malform(line: str, variant: int) -> str:
        # Drop the last field or add one: either way the field count is wrong, and no quote
        # character is involved, so the rows around it still parse.
        return line.rsplit(sep, 1)[0] if variant % 2 == 0 else f"{line}{sep}EXTRA"

    return malform


def _malform_json(line: str, variant: int) -> str:
    return line[: max(1, len(line) // 2 - variant % 7)]


def _malform_fixed(line: str, variant: int) -> str:
    return line[: 50 + variant % 20]


@dataclass(frozen=True)
class LandingSource:
    """How one source's records are keyed, corrupted and written."""

    name: str
    format: Format
    columns: tuple[str, ...]  # header row (CSV/TSV) or field list
    key: tuple[str, ...]  # the contract's unique key, as columns of the record frame
    # Columns that identify one record when it spans several rows (webshop line items).
    record_columns: tuple[str, ...] | None = None
    sku_column: str = "sku"
    quantity_column: str = "quantity"
    bad_quantities: tuple[object, ...] = ("0", "-1")
    timestamp_column: str = ""
    bad_timestamps: tuple[str, ...] = ("2026-13-45T25:61:00+00:00", "not-a-date")
    # False: a corrupted record replaces the real one (stock rows have no spare key).
    extra_copies: bool = True
    missing_required: bool = True
    # Daily single-file sources may also receive a duplicate in the next day's file.
    next_day_file: Callable[[str], str] | None = None

    def render(self, frame: pl.DataFrame) -> pl.DataFrame:
        """One `_line` of text per record, with `_file`, `_t` and `_malformed`."""
        if self.name == "webshop":
            out = _render_webshop(frame)
        elif self.name == "carrier_events":
            out = _render_carrier(frame)
        elif self.format == "fixed":
            out = _render_fixed(frame)
        else:
            sep = "\t" if self.format == "tsv" else ","
            out = frame.select("_file", "_t", "_malformed").with_columns(
                _joined(frame, self.columns, sep).alias("_line")
            )
        return out

    def malform(self, line: str, variant: int) -> str:
        if self.format == "jsonl":
            return _malform_json(line, variant)
        if self.format == "fixed":
            return _malform_fixed(line, variant)
        return _malform_delimited("\t" if self.format == "tsv" else ",")(line, variant)

    def header(self) -> str | None:
        if self.format == "csv":
            return ",".join(self.columns)
        if self.format == "tsv":
            return "\t".join(self.columns)
        return None


def _daily(pattern: str) -> Callable[[str], str]:
    return lambda ymd: pattern.format(ymd=ymd)


SOURCES: dict[str, LandingSource] = {
    s.name: s
    for s in (
        LandingSource(
            "webshop",
            "jsonl",
            WEBSHOP_ORDER_COLUMNS + WEBSHOP_LINE_COLUMNS,
            key=("id", "updated_at"),
            record_columns=("id", "updated_at"),
            sku_column="li_sku",
            quantity_column="li_quantity",
            bad_quantities=(0, -1),
            timestamp_column="created_at",
            bad_timestamps=("2026-13-45T25:61:00-04:00", "not-a-date"),
            next_day_file=_daily("webshop/orders_{ymd}_01.jsonl"),
        ),
        LandingSource(
            "marketplace",
            "tsv",
            MARKETPLACE_COLUMNS,
            key=("order-id", "order-item-id", "last-updated-date"),
            sku_column="sku",
            quantity_column="quantity-purchased",
            timestamp_column="purchase-date",
            next_day_file=_daily("marketplace/order_report_{ymd}.tsv"),
        ),
        LandingSource(
            "pos",
            "csv",
            POS_COLUMNS,
            key=("store_id", "register_id", "receipt_no", "line_no"),
            # A negative quantity is a valid till return; only zero is a fault.
            sku_column="sku",
            quantity_column="qty",
            bad_quantities=("0",),
            timestamp_column="sold_at",
            bad_timestamps=("2026-13-45 25:61:00-05:00", "not-a-date"),
        ),
        LandingSource(
            "wholesale",
            "fixed",
            tuple(n for n, _ in WHOLESALE_LAYOUT),
            key=("customer_id", "po_number", "line_no"),
            sku_column="sku",
            quantity_column="quantity",
            bad_quantities=("0000000",),
            timestamp_column="order_date",
            bad_timestamps=("20261345", "NOTADATE"),
            # A blank fixed-width field is indistinguishable from padding; not worth the doubt.
            missing_required=False,
        ),
        LandingSource(
            "stock_snapshots",
            "csv",
            SNAPSHOT_COLUMNS,
            key=("location_id", "sku", "snapshot_date"),
            sku_column="sku",
            quantity_column="on_hand",
            bad_quantities=("-3", "-12"),
            timestamp_column="snapshot_date",
            bad_timestamps=("2026-13-45", "not-a-date"),
            extra_copies=False,
        ),
        LandingSource(
            "cycle_counts",
            "csv",
            CYCLE_COUNT_COLUMNS,
            key=("location_id", "sku", "counted_at"),
            sku_column="sku",
            quantity_column="counted_qty",
            bad_quantities=("-1", "-4"),
            timestamp_column="counted_at",
            extra_copies=False,
        ),
        LandingSource(
            "carrier_events",
            "jsonl",
            CARRIER_EVENT_COLUMNS + CARRIER_SHIPMENT_COLUMNS,
            key=("event_id",),
            record_columns=("event_id",),
            sku_column="sku",
            quantity_column="quantity",
            bad_quantities=(0, -1),
            timestamp_column="occurred_at",
            next_day_file=_daily("carrier/events_{ymd}_01.jsonl"),
        ),
        LandingSource(
            "returns",
            "csv",
            RETURN_COLUMNS,
            key=("rma_id", "rma_line"),
            sku_column="sku",
            quantity_column="quantity",
            timestamp_column="requested_at",
            next_day_file=_daily("returns/rma_{ymd}.csv"),
        ),
        LandingSource(
            "purchase_orders",
            "csv",
            PURCHASE_ORDER_COLUMNS,
            key=("po_id", "po_line"),
            sku_column="sku",
            quantity_column="ordered_qty",
            bad_quantities=("0", "-24"),
            timestamp_column="ordered_date",
            bad_timestamps=("2026-13-45", "not-a-date"),
        ),
        LandingSource(
            "receipts",
            "csv",
            RECEIPT_COLUMNS,
            key=("receipt_id", "po_id", "po_line"),
            sku_column="sku",
            quantity_column="received_qty",
            bad_quantities=("0", "-6"),
            timestamp_column="received_date",
            bad_timestamps=("2026-13-45", "not-a-date"),
        ),
    )
}
