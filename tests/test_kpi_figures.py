"""The KPI marts agree with figures recomputed independently from the landing files.

The dbt models are not used here: every figure is rebuilt in plain Python straight from the
files the generator wrote (the same bytes the ingest read). Bad records are dropped by the
generator's own list of injected faults (`truth_dir/faults.csv`, matched on the contract's
unique key) or because they cannot be parsed; duplicates and older versions are dropped by key,
the latest version winning. The rules follow docs/kpis.md; the comparison is exact for counts
and money and within 1e-9 for rates.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.e2e

# Promise rules (seed channel_service_levels): days after the UTC order date.
WEBSHOP_SHIP_DAYS = {"standard": 2, "express": 1}
WEBSHOP_DELIVER_DAYS = {"standard": 5, "express": 2}
WHOLESALE_DELIVER_DAYS = 5
CSV_SOURCES = {"pos", "returns", "cycle_counts", "stock_snapshots"}
UNASSIGNED = "unassigned"  # the location of a line nothing has shipped yet


# ------------------------------------------------------------------------------------------
# Reading the landing files
# ------------------------------------------------------------------------------------------


def utc(text: str | None) -> datetime | None:
    """ISO 8601 with an offset -> naive UTC; None when empty, unparsable or implausible."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value if 2000 <= value.year <= 2100 else None


def must_utc(text: str | None) -> datetime:
    """A timestamp a clean record must carry (a failure means a fault slipped through)."""
    value = utc(text)
    if value is None:
        raise AssertionError(f"unparsable timestamp in a clean record: {text!r}")
    return value


def ymd(text: str) -> date:
    return datetime.strptime(text.strip(), "%Y%m%d").date()


def faulty_keys(truth_dir: Path) -> dict[str, set[str]]:
    """Record keys of injected faults per source (duplicates excluded: their key is real)."""
    keys: dict[str, set[str]] = defaultdict(set)
    with (truth_dir / "faults.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["fault_kind"] != "duplicate" and row["record_key"]:
                keys[row["source"]].add(row["record_key"])
    return keys


def files(landing: Path, pattern: str) -> list[Path]:
    """Files in name order (names carry the date), so a later file wins a tie."""
    return sorted(landing.glob(pattern), key=lambda p: p.relative_to(landing).as_posix())


def csv_rows(path: Path, delimiter: str = ",") -> Iterator[dict[str, str]]:
    """Rows with exactly the header's number of fields (anything else is malformed)."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        for fields in reader:
            if len(fields) == len(header):
                yield dict(zip(header, fields, strict=True))


def json_rows(path: Path) -> Iterator[dict]:
    with path.open() as handle:
        for line in handle:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                yield doc


def key_of(*parts: object) -> str:
    return "|".join("" if p is None else str(p).strip() for p in parts)


def as_int(text: object) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def as_money(text: object) -> Decimal | None:
    try:
        return Decimal(str(text).strip())
    except ArithmeticError:
        return None


# ------------------------------------------------------------------------------------------
# The clean, latest-version records
# ------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One order line, as the KPI rules see it."""

    order_line_id: str
    channel: str
    order_key: str
    order_date: date
    ordered_at: datetime
    quantity: int
    amount: Decimal
    cancelled: bool
    promised_ship: date | None
    promised_delivery: date | None
    shipped: int = 0
    returned: int = 0
    location: str = UNASSIGNED
    # What the corrected definitions (the KPI catalogue) read besides, straight from the files.
    sku: str = ""
    service_level: str = ""
    cancel_reason: str | None = None
    shipping: Decimal = Decimal("0")
    requested_ship: bool = False  # a customer-requested ship date (wholesale)
    store: str | None = None
    rma: list[tuple[int, str, str]] = field(default_factory=list)  # (units, refund, reason)


@dataclass
class Shipment:
    channel: str
    order_key: str
    ship_from: str
    line_ids: list[str] = field(default_factory=list)
    quantities: list[int] = field(default_factory=list)
    scans: list[tuple[str, datetime]] = field(default_factory=list)
    carrier: str = ""

    @property
    def shipped_at(self) -> datetime | None:
        times = [t for status, t in self.scans if status != "label_created"]
        return min(times) if times else None

    @property
    def delivered_at(self) -> datetime | None:
        times = [t for status, t in self.scans if status == "delivered"]
        return min(times) if times else None


@dataclass
class Landing:
    lines: dict[str, Line]
    shipments: dict[str, Shipment]
    till_returns: list[tuple[date, str, int]]  # (day, store, units)
    cycle_counts: list[tuple[date, str, bool]]  # (day, location, accurate)
    snapshots: list[tuple[date, str, str, int]]  # (day, location, sku, on_hand)
    active_skus: set[str]
    categories: dict[str, str] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)  # location -> IANA zone
    till_return_records: list[tuple[datetime, str, str, int]] = field(default_factory=list)
    latest_event_at: datetime | None = None


def read_products(landing: Path) -> tuple[set[str], set[str]]:
    """(known SKUs, active SKUs by their latest snapshot version)."""
    latest: dict[str, str] = {}
    for path in files(landing, "reference/products_*.csv"):
        for row in csv_rows(path):
            latest[row["sku"]] = row["is_active"]
    return set(latest), {sku for sku, active in latest.items() if active == "Y"}


def read_webshop(landing: Path, bad: set[str]) -> list[Line]:
    latest: dict[str, tuple[datetime, dict]] = {}
    for path in files(landing, "webshop/*.jsonl"):
        for doc in json_rows(path):
            if key_of(doc.get("id"), doc.get("updated_at")) in bad:
                continue
            updated = must_utc(doc["updated_at"])
            order_id = str(doc["id"])
            if order_id not in latest or updated >= latest[order_id][0]:
                latest[order_id] = (updated, doc)
    lines = []
    for order_id, (_, doc) in latest.items():
        ordered_at = must_utc(doc["created_at"])
        shipping_line = (doc.get("shipping_lines") or [{}])[0]
        level = (shipping_line.get("code") or "standard").lower()
        day = ordered_at.date()
        first_item = min(str(item["id"]) for item in doc["line_items"])
        for item in doc["line_items"]:
            quantity = int(item["quantity"])
            lines.append(
                Line(
                    order_line_id=f"webshop:{order_id}:{item['id']}",
                    channel="webshop",
                    order_key=f"webshop:{order_id}",
                    order_date=day,
                    ordered_at=ordered_at,
                    quantity=quantity,
                    amount=quantity * Decimal(item["price"]),
                    cancelled=doc.get("cancelled_at") is not None,
                    promised_ship=day + timedelta(days=WEBSHOP_SHIP_DAYS[level]),
                    promised_delivery=day + timedelta(days=WEBSHOP_DELIVER_DAYS[level]),
                    sku=item["sku"],
                    service_level=level,
                    cancel_reason=doc.get("cancel_reason"),
                    shipping=Decimal(shipping_line.get("price") or "0")
                    if str(item["id"]) == first_item
                    else Decimal("0"),
                )
            )
    return lines


def read_marketplace(landing: Path, bad: set[str]) -> list[Line]:
    latest: dict[tuple[str, str], tuple[datetime, dict[str, str]]] = {}
    for path in files(landing, "marketplace/*.tsv"):
        for row in csv_rows(path, delimiter="\t"):
            if key_of(row["order-id"], row["order-item-id"], row["last-updated-date"]) in bad:
                continue
            updated = must_utc(row["last-updated-date"])
            item = (row["order-id"], row["order-item-id"])
            if item not in latest or updated >= latest[item][0]:
                latest[item] = (updated, row)
    lines = []
    for (order_id, item_id), (_, row) in latest.items():
        ordered_at = must_utc(row["purchase-date"])
        ship_by, deliver_by = utc(row["latest-ship-date"]), utc(row["latest-delivery-date"])
        lines.append(
            Line(
                order_line_id=f"marketplace:{order_id}:{item_id}",
                channel="marketplace",
                order_key=f"marketplace:{order_id}",
                order_date=ordered_at.date(),
                ordered_at=ordered_at,
                quantity=int(row["quantity-purchased"]),
                amount=Decimal(row["item-price"]),
                cancelled=row["order-status"] == "Canceled",
                promised_ship=ship_by.date() if ship_by else None,
                promised_delivery=deliver_by.date() if deliver_by else None,
                sku=row["sku"],
                shipping=Decimal(row["shipping-price"] or "0"),
            )
        )
    return lines


def read_pos(
    landing: Path, bad: set[str]
) -> tuple[list[Line], list[tuple[date, str, int]], list[tuple[datetime, str, str, int]]]:
    seen: dict[str, dict[str, str]] = {}
    for path in files(landing, "pos/*/*.csv"):
        for row in csv_rows(path):
            key = key_of(row["store_id"], row["register_id"], row["receipt_no"], row["line_no"])
            if key not in bad:
                seen.setdefault(key, row)
    lines, till_returns, till_records = [], [], []
    for row in seen.values():
        sold_at, qty = must_utc(row["sold_at"]), int(row["qty"])
        if qty < 0:
            till_returns.append((sold_at.date(), row["store_id"], -qty))
            till_records.append((sold_at, row["store_id"], row["sku"], -qty))
            continue
        receipt = f"{row['store_id']}-{row['register_id']}-{row['receipt_no']}"
        lines.append(
            Line(
                order_line_id=f"pos:{receipt}:{int(row['line_no'])}",
                channel="pos",
                order_key=f"pos:{receipt}",
                order_date=sold_at.date(),
                ordered_at=sold_at,
                quantity=qty,
                amount=qty * Decimal(row["unit_price"]),
                cancelled=False,
                promised_ship=sold_at.date(),
                promised_delivery=sold_at.date(),
                shipped=qty,  # fulfilled at the till
                location=row["store_id"],
                sku=row["sku"],
                store=row["store_id"],
            )
        )
    return lines, till_returns, till_records


def read_wholesale(landing: Path, bad: set[str]) -> list[Line]:
    seen: dict[str, str] = {}
    for path in files(landing, "wholesale/*.txt"):
        for raw in path.read_text().splitlines():
            if not raw.startswith("D") or len(raw) < 81:
                continue
            key = key_of(raw[1:9], raw[9:21], raw[21:25])
            if key not in bad:
                seen.setdefault(key, raw)
    lines = []
    for raw in seen.values():
        po, line_no = raw[9:21].strip(), int(raw[21:25])
        quantity, cents = int(raw[37:44]), int(raw[44:53])
        ordered, requested = ymd(raw[53:61]), ymd(raw[61:69])
        lines.append(
            Line(
                order_line_id=f"wholesale:{po}:{po}-{line_no}",
                channel="wholesale",
                order_key=f"wholesale:{po}",
                order_date=ordered,
                ordered_at=datetime.combine(ordered, datetime.min.time()),
                quantity=quantity,
                amount=quantity * Decimal(cents) / 100,
                cancelled=False,
                promised_ship=requested,
                promised_delivery=requested + timedelta(days=WHOLESALE_DELIVER_DAYS),
                sku=raw[25:37].strip(),
                requested_ship=True,
            )
        )
    return lines


def read_carrier(landing: Path, bad: set[str]) -> tuple[dict[str, Shipment], datetime | None]:
    """Shipments by tracking number, and the latest clean event's time (the cut-off's part)."""
    shipments: dict[str, Shipment] = {}
    carriers: dict[str, str] = {}
    latest: datetime | None = None
    scans: dict[str, dict[str, tuple[str, datetime]]] = defaultdict(dict)  # number -> event
    for path in files(landing, "carrier/*.jsonl"):
        for doc in json_rows(path):
            if doc.get("event_id") in bad:
                continue
            occurred = must_utc(doc.get("occurred_at"))
            latest = occurred if latest is None else max(latest, occurred)
            number = doc["tracking_number"]
            carriers[number] = max(carriers.get(number, ""), doc.get("carrier") or "")
            scans[number][doc["event_id"]] = (doc["status"], occurred)
            body = doc.get("shipment")
            if doc["status"] == "label_created" and body and number not in shipments:
                shipment = Shipment(
                    channel=body["channel"],
                    order_key=f"{body['channel']}:{body['order_id']}",
                    ship_from=body["ship_from"],
                )
                for item in body["lines"]:
                    shipment.line_ids.append(
                        f"{body['channel']}:{body['order_id']}:{item['line_ref']}"
                    )
                    shipment.quantities.append(int(item["quantity"]))
                shipments[number] = shipment
    for number, shipment in shipments.items():
        shipment.scans = list(scans[number].values())
        shipment.carrier = carriers.get(number, "")
    return shipments, latest


def read_landing(landing: Path, truth_dir: Path) -> Landing:
    bad = faulty_keys(truth_dir)
    _, active = read_products(landing)
    pos_lines, till_returns, till_records = read_pos(landing, bad["pos"])
    lines = {
        line.order_line_id: line
        for line in [
            *read_webshop(landing, bad["webshop"]),
            *read_marketplace(landing, bad["marketplace"]),
            *pos_lines,
            *read_wholesale(landing, bad["wholesale"]),
        ]
    }
    shipments, latest_event_at = read_carrier(landing, bad["carrier_events"])
    shipped: dict[str, int] = defaultdict(int)
    # line -> location -> [units shipped from there, its first shipment's time]
    from_location: dict[str, dict[str, list]] = defaultdict(dict)
    for shipment in shipments.values():
        shipped_at = shipment.shipped_at
        if shipped_at is None:
            continue
        for line_id, quantity in zip(shipment.line_ids, shipment.quantities, strict=True):
            shipped[line_id] += quantity
            there = from_location[line_id].setdefault(shipment.ship_from, [0, shipped_at])
            there[0] += quantity
            there[1] = min(there[1], shipped_at)
    for line_id, units in shipped.items():
        if line_id in lines:
            lines[line_id].shipped = min(units, lines[line_id].quantity)
            # the location that shipped most of its units; ties: earliest, then by id
            lines[line_id].location = min(
                from_location[line_id].items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0])
            )[0]

    seen_rma: set[str] = set()
    for path in files(landing, "returns/*.csv"):
        for row in csv_rows(path):
            key = key_of(row["rma_id"], row["rma_line"])
            if key in bad["returns"] or key in seen_rma:
                continue
            seen_rma.add(key)
            line_id = f"{row['channel']}:{row['order_id']}:{row['line_ref']}"
            if line_id in lines:
                lines[line_id].returned += int(row["quantity"])
                lines[line_id].rma.append(
                    (int(row["quantity"]), row["refund_status"], row["reason_code"])
                )

    counts: dict[str, tuple[date, str, bool]] = {}
    for path in files(landing, "stock/*/cycle_count_*.csv"):
        for row in csv_rows(path):
            key = key_of(row["location_id"], row["sku"], row["counted_at"])
            if key not in bad["cycle_counts"]:
                counts.setdefault(
                    key,
                    (
                        must_utc(row["counted_at"]).date(),
                        row["location_id"],
                        int(row["counted_qty"]) == int(row["system_qty"]),
                    ),
                )
    snapshots: dict[str, tuple[date, str, str, int]] = {}
    for path in files(landing, "stock/*/snapshot_*.csv"):
        for row in csv_rows(path):
            key = key_of(row["location_id"], row["sku"], row["snapshot_date"])
            if key not in bad["stock_snapshots"]:
                snapshots.setdefault(
                    key,
                    (
                        date.fromisoformat(row["snapshot_date"]),
                        row["location_id"],
                        row["sku"],
                        int(row["on_hand"]),
                    ),
                )
    return Landing(
        lines=lines,
        shipments=shipments,
        till_returns=till_returns,
        cycle_counts=list(counts.values()),
        snapshots=list(snapshots.values()),
        active_skus=active,
        categories=read_categories(landing),
        zones=read_zones(landing),
        till_return_records=till_records,
        latest_event_at=latest_event_at,
    )


def read_categories(landing: Path) -> dict[str, str]:
    """SKU -> category, by the latest product snapshot."""
    latest: dict[str, str] = {}
    for path in files(landing, "reference/products_*.csv"):
        for row in csv_rows(path):
            latest[row["sku"]] = row["category"]
    return latest


def read_zones(landing: Path) -> dict[str, str]:
    """Location -> IANA time zone, by the latest location snapshot."""
    latest: dict[str, str] = {}
    for path in files(landing, "reference/locations_*.csv"):
        for row in csv_rows(path):
            latest[row["location_id"]] = row["timezone"]
    return latest


# ------------------------------------------------------------------------------------------
# Independent KPI figures
# ------------------------------------------------------------------------------------------


@dataclass
class Day:
    """Counts of one order date, channel and location (the grain of the fulfillment mart)."""

    kpi_date: date
    channel: str
    location_id: str
    orders: set[str] = field(default_factory=set)
    order_lines: int = 0
    units_ordered: int = 0
    units_shipped: int = 0
    units_cancelled: int = 0
    revenue: Decimal = Decimal("0")
    units_returned: int = 0
    shipments: int = 0
    shipments_shipped_on_time: int = 0
    shipments_delivered: int = 0
    shipments_delivered_on_time: int = 0
    till_return_units: int = 0
    fulfillment_hours: list[float] = field(default_factory=list)


def on_or_before(moment: datetime, promise: date | None) -> bool:
    """On time: the UTC date of the event is the promised date or earlier."""
    return promise is not None and moment.date() <= promise


def earliest(dates: list[date | None]) -> date | None:
    known = [d for d in dates if d is not None]
    return min(known) if known else None


def primary_location(lines: list[Line]) -> str:
    """Where most of the order's units are fulfilled from: a real location before
    'unassigned', then by id."""
    units: dict[str, int] = defaultdict(int)
    for line in lines:
        units[line.location] += line.quantity
    return min(units.items(), key=lambda kv: (-kv[1], kv[0] == UNASSIGNED, kv[0]))[0]


def hours_between(start: datetime, end: datetime) -> float:
    """Whole seconds crossed from start to end, in hours (how the warehouse counts them)."""
    seconds = int(end.timestamp() // 1) - int(start.timestamp() // 1)
    return seconds / 3600


def percentile(values: list[float], fraction: float) -> float | None:
    """Continuous percentile with linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def rate(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


def expected_daily(data: Landing) -> pl.DataFrame:
    """Per order date, channel and location: the counts, rates and fulfillment-time
    percentiles of docs/kpis.md, one row per combination the mart has."""
    days: dict[tuple[date, str, str], Day] = {}

    def day_of(kpi_date: date, channel: str, location: str) -> Day:
        return days.setdefault((kpi_date, channel, location), Day(kpi_date, channel, location))

    orders: dict[str, list[Line]] = defaultdict(list)
    for line in data.lines.values():
        orders[line.order_key].append(line)
        d = day_of(line.order_date, line.channel, line.location)
        d.order_lines += 1
        d.units_ordered += line.quantity
        d.units_shipped += line.shipped
        d.units_cancelled += line.quantity - line.shipped if line.cancelled else 0
        d.revenue += line.amount
        d.units_returned += line.returned
    for order_key, order_lines in orders.items():
        first = min(order_lines, key=lambda line: line.order_date)
        day_of(first.order_date, first.channel, primary_location(order_lines)).orders.add(order_key)

    for shipment in data.shipments.values():
        order_lines = orders.get(shipment.order_key)
        shipped_at, delivered_at = shipment.shipped_at, shipment.delivered_at
        if not order_lines or shipped_at is None or shipment.channel == "pos":
            continue  # unknown order, not handed to the carrier yet, or fulfilled at a till
        carried = [data.lines[i] for i in shipment.line_ids if i in data.lines]
        basis = carried or order_lines
        order_date = min(line.order_date for line in order_lines)
        d = day_of(order_date, shipment.channel, shipment.ship_from)
        d.shipments += 1
        d.shipments_shipped_on_time += on_or_before(
            shipped_at, earliest([line.promised_ship for line in basis])
        )
        d.fulfillment_hours.append(
            hours_between(min(line.ordered_at for line in order_lines), shipped_at)
        )
        if delivered_at is not None:
            d.shipments_delivered += 1
            d.shipments_delivered_on_time += on_or_before(
                delivered_at, earliest([line.promised_delivery for line in basis])
            )

    for kpi_date, store, units in data.till_returns:
        day_of(kpi_date, "pos", store).till_return_units += units

    rows = []
    for d in days.values():
        row = {k: v for k, v in vars(d).items() if k != "fulfillment_hours"}
        row["orders"] = len(d.orders)
        for name, (num, den) in RATES.items():
            row[name] = rate(row[num], row[den])
        row["fulfillment_hours_p50"] = percentile(d.fulfillment_hours, 0.5)
        row["fulfillment_hours_p90"] = percentile(d.fulfillment_hours, 0.9)
        rows.append(row)
    frame = pl.DataFrame(rows, schema_overrides={"revenue": pl.Decimal(38, 2)})
    return frame.sort(GRAIN)


def expected_inventory_daily(data: Landing) -> pl.DataFrame:
    """Per date and location: cycle counts and their accuracy, active SKUs tracked in the
    snapshot and those out of stock, units on hand (None on a day without a snapshot)."""
    days: dict[tuple[date, str], dict] = {}

    def day_of(kpi_date: date, location: str) -> dict:
        return days.setdefault(
            (kpi_date, location),
            {
                "kpi_date": kpi_date,
                "location_id": location,
                "skus_counted": 0,
                "counts_accurate": 0,
                "skus_tracked": 0,
                "stockout_skus": 0,
                "units_on_hand": None,
            },
        )

    for day, location, accurate in data.cycle_counts:
        d = day_of(day, location)
        d["skus_counted"] += 1
        d["counts_accurate"] += accurate
    for day, location, sku, on_hand in data.snapshots:
        d = day_of(day, location)
        d["units_on_hand"] = (d["units_on_hand"] or 0) + on_hand
        if sku in data.active_skus:
            d["skus_tracked"] += 1
            d["stockout_skus"] += on_hand == 0
    for d in days.values():
        d["inventory_accuracy"] = rate(d["counts_accurate"], d["skus_counted"])
        d["stockout_rate"] = rate(d["stockout_skus"], d["skus_tracked"])
    return pl.DataFrame(list(days.values())).sort("kpi_date", "location_id")


# ------------------------------------------------------------------------------------------
# The marts as published
# ------------------------------------------------------------------------------------------


GRAIN = ["kpi_date", "channel", "location_id"]
COUNTS = [
    "orders",
    "order_lines",
    "units_ordered",
    "units_shipped",
    "units_cancelled",
    "units_returned",
    "shipments",
    "shipments_shipped_on_time",
    "shipments_delivered",
    "shipments_delivered_on_time",
    "till_return_units",
]
RATES = {
    "fill_rate": ("units_shipped", "units_ordered"),
    "on_time_ship_rate": ("shipments_shipped_on_time", "shipments"),
    "on_time_delivery_rate": ("shipments_delivered_on_time", "shipments_delivered"),
    "return_rate": ("units_returned", "units_shipped"),
}
PERCENTILES = ["fulfillment_hours_p50", "fulfillment_hours_p90"]


def published_table(published_dir: Path, name: str) -> pl.DataFrame:
    folder = Path(os.path.realpath(published_dir / "current"))
    return pl.read_parquet(folder / f"{name}.parquet")


def assert_same_figure(got: object, want: object, what: str, where: object) -> None:
    """Equal, or within 1e-9 for a float; a missing (None) figure only matches None."""
    if want is None or got is None:
        assert got is None and want is None, (what, where, got, want)
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-9), (what, where, got, want)
    else:
        assert got == want, (what, where, got, want)


def assert_rows_match(
    got: pl.DataFrame, want: pl.DataFrame, keys: list[str], columns: list[str]
) -> None:
    """The same key combinations on both sides, and every column equal on each."""
    got_rows = {tuple(r[k] for k in keys): r for r in got.iter_rows(named=True)}
    want_rows = {tuple(r[k] for k in keys): r for r in want.iter_rows(named=True)}
    assert sorted(got_rows) == sorted(want_rows)
    for key, want_row in want_rows.items():
        for column in columns:
            assert_same_figure(got_rows[key][column], want_row[column], column, key)


# ------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landing_figures(demo_run) -> Landing:
    assert demo_run.success, "the demo run failed; see its Dagster run"
    return read_landing(Path(demo_run.landing_dir), Path(demo_run.truth_dir))


@pytest.fixture(scope="module")
def fulfillment_daily(demo_run) -> pl.DataFrame:
    return published_table(Path(demo_run.published_dir), "fct_fulfillment_kpis_daily")


@pytest.fixture(scope="module")
def expected_fulfillment(landing_figures: Landing) -> pl.DataFrame:
    return expected_daily(landing_figures)


def test_daily_counts_per_channel_and_location_match_the_landing_files_exactly(
    fulfillment_daily: pl.DataFrame, expected_fulfillment: pl.DataFrame
) -> None:
    got = fulfillment_daily.with_columns(
        *[pl.col(c).cast(pl.Int64) for c in COUNTS], pl.col("revenue").cast(pl.Decimal(38, 2))
    )
    assert got.height == expected_fulfillment.height
    assert_rows_match(got, expected_fulfillment, GRAIN, [*COUNTS, "revenue"])


def test_the_marts_daily_rates_match_rates_recomputed_from_the_landing_files(
    fulfillment_daily: pl.DataFrame, expected_fulfillment: pl.DataFrame
) -> None:
    """Each row's published fill, on-time and return rates against the landing files' own
    counts (not the mart's): a wrong rate formula or wrong counts under it both show."""
    assert_rows_match(fulfillment_daily, expected_fulfillment, GRAIN, list(RATES))
    assert fulfillment_daily["fill_rate"].drop_nulls().len() > 0


def test_the_marts_fulfillment_time_percentiles_match_the_shipments_in_the_landing_files(
    fulfillment_daily: pl.DataFrame, expected_fulfillment: pl.DataFrame
) -> None:
    assert_rows_match(fulfillment_daily, expected_fulfillment, GRAIN, PERCENTILES)
    assert fulfillment_daily["fulfillment_hours_p90"].drop_nulls().len() > 0


def test_inventory_accuracy_and_stockouts_per_day_and_location_match_the_landing_files(
    demo_run, landing_figures: Landing
) -> None:
    """Counts, the mart's own accuracy and stock-out rates, and units on hand, row by row."""
    daily = published_table(Path(demo_run.published_dir), "fct_inventory_kpis_daily")
    counts = ["skus_counted", "counts_accurate", "skus_tracked", "stockout_skus"]
    got = daily.with_columns(*[pl.col(c).cast(pl.Int64) for c in [*counts, "units_on_hand"]])
    want = expected_inventory_daily(landing_figures)
    assert got.height == want.height
    assert_rows_match(
        got,
        want,
        ["kpi_date", "location_id"],
        [*counts, "units_on_hand", "inventory_accuracy", "stockout_rate"],
    )
    assert daily["inventory_accuracy"].drop_nulls().len() > 0
