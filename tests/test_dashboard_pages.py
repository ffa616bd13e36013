"""Dashboards: the query functions against a published folder, and every page through AppTest.

Two kinds of published data:
- `synthetic_published`: a small folder written here with the exact published schemas, for the
  aggregation maths (figures recomputed in the test with polars, independently of the SQL);
- `published_dir`: the real pipeline output (`demo_run` from conftest) when that fixture exists,
  else the synthetic folder, for the page tests.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib import kpis, published, quality
from dashboards.lib.kpis import Filters, Kpis
from dashboards.lib.schema import BREAKDOWN_COLUMNS, KPI_RATES, RATES
from dashboards.lib.tiles import fmt_hours, fmt_int, fmt_pct, headline_tiles
from dashboards.lib.ui import STALE_SOURCE_ICON
from dashboards.lib.users import add_user, remove_user

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "dashboards" / "app.py"
PAGES = ("app_pages/overview.py", "app_pages/data_quality.py")
APP_TIMEOUT = 60

# --------------------------------------------------------------------------------------------
# Synthetic published folder (exact published schemas)
# --------------------------------------------------------------------------------------------

CHANNELS = {
    "webshop": "Web shop",
    "marketplace": "Marketplace",
    "pos": "Stores (POS)",
    "wholesale": "Wholesale",
}
LOCATIONS = {
    "WH-DAL": ("Dallas DC", "warehouse", 32.78, -96.80, True),
    "WH-NJ": ("New Jersey DC", "warehouse", 40.22, -74.76, True),
    "ST-001": ("Austin store", "store", 30.27, -97.74, False),
}
FIRST_DAY = date(2024, 3, 1)
DAYS = 40


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _catalogue_row(rng: random.Random, day: date, channel: str, location: str) -> dict:
    """A day row of the KPI catalogue per channel and location (fct_kpis, dimension
    channel_location) with random but consistent counts: numerators within denominators."""
    row: dict = {
        "period_grain": "day",
        "period_start": day,
        "dimension": "channel_location",
        "member": f"{channel}|{location}",
        "as_of_at": datetime(2024, 4, 10, 5, 0),
        "orders": rng.randint(1, 12),
        "order_lines": rng.randint(1, 20),
        "units_ordered": rng.randint(0, 40),
        "revenue": Decimal(rng.randint(0, 500_000)) / 100,
    }
    for rates in KPI_RATES.values():
        for numerator, denominator in rates.values():
            row[denominator] = row.get(denominator, rng.randint(0, 30))
            row[numerator] = rng.randint(0, row[denominator])
    row["return_units_shipped"] = rng.randint(0, 30)
    row["units_returned"] = rng.randint(0, row["return_units_shipped"] // 4)
    for column in BREAKDOWN_COLUMNS.values():
        row.setdefault(column, rng.randint(0, 9))
    return row


def _with_channel_rows(catalogue: pl.DataFrame) -> pl.DataFrame:
    """Add the catalogue's day rows per channel: the sums of its channel-and-location rows."""
    counts = [c for c in catalogue.columns if catalogue[c].dtype.is_numeric()]
    channel_rows = (
        catalogue.with_columns(
            channel=pl.col("member").str.split("|").list.first(), dimension=pl.lit("channel")
        )
        .group_by("period_grain", "period_start", "dimension", "channel")
        .agg(*[pl.col(c).sum() for c in counts], pl.col("as_of_at").max())
        .rename({"channel": "member"})
    )
    return pl.concat([catalogue, channel_rows.select(catalogue.columns)], how="vertical_relaxed")


def _sketch_rows(
    rng: random.Random, day: date, channel: str, location: str, hours: list[float]
) -> list[dict]:
    """The fulfilment-time sketch of one day, channel and location: times to 0.1 h, counted."""
    counted: dict[float, int] = {}
    for hour in hours:
        counted[round(hour, 1)] = counted.get(round(hour, 1), 0) + rng.randint(1, 3)
    return [
        {
            "kpi_date": day,
            "channel": channel,
            "location_id": location,
            "measure": "order_to_ship",
            "hours": value,
            "lines": lines,
        }
        for value, lines in counted.items()
    ]


CATEGORIES = ("kitchen", "garden", "tools")
INVENTORY_SKUS = 12
INVENTORY_WINDOW_DAYS = 28


def _inventory_positions(rng: random.Random) -> pl.DataFrame:
    """fct_inventory_position for every location and a dozen SKUs, with consistent figures
    (ATP within on hand, cover = ATP / demand, lost sales = stock-out days × in-stock rate ×
    price); some SKU-locations out of stock, some without demand, counts or a list price, one
    SKU inactive."""
    as_of = FIRST_DAY + timedelta(days=DAYS - 1)
    start = as_of - timedelta(days=INVENTORY_WINDOW_DAYS - 1)
    rows = []
    for location, (name, kind, *_) in LOCATIONS.items():
        for number in range(INVENTORY_SKUS):
            on_hand = rng.choice([0, 0, *range(1, 60)])
            atp = rng.randint(0, on_hand)
            demand = rng.choice([0.0, round(rng.uniform(0.1, 6), 3)])
            stockout_days = rng.randint(0, 6) if demand else 0
            in_stock_days = INVENTORY_WINDOW_DAYS - stockout_days
            in_stock_rate = demand * INVENTORY_WINDOW_DAYS / in_stock_days
            price = None if number == 11 else Decimal(rng.randint(100, 9_999)) / 100
            lost_units = stockout_days * in_stock_rate
            counts = rng.randint(0, 3)
            accurate = rng.randint(0, counts)
            rows.append(
                {
                    "inventory_position_id": f"{location}:SKU-{number:03d}",
                    "sku": f"SKU-{number:03d}",
                    "product_name": f"Product {number}",
                    "category": CATEGORIES[number % len(CATEGORIES)],
                    "is_active_sku": number != 7,
                    "location_id": location,
                    "location_name": name,
                    "location_kind": kind,
                    "as_of_date": as_of,
                    "window_start_date": start,
                    "window_days": INVENTORY_WINDOW_DAYS,
                    "snapshot_date": as_of,
                    "on_hand": on_hand,
                    "is_out_of_stock": on_hand == 0,
                    "available_to_promise": atp,
                    "demand_units": demand * INVENTORY_WINDOW_DAYS,
                    "avg_daily_demand": demand,
                    "cover_days": atp / demand if demand else None,
                    "snapshot_days": INVENTORY_WINDOW_DAYS,
                    "stockout_days": stockout_days,
                    "stockout_rate": stockout_days / INVENTORY_WINDOW_DAYS,
                    "in_stock_days": in_stock_days,
                    "in_stock_daily_demand": in_stock_rate,
                    "lost_sales_units": lost_units,
                    "lost_sales_value": None
                    if price is None
                    else (Decimal(lost_units) * price).quantize(Decimal("0.01")),
                    "list_price": price,
                    "currency": "USD",
                    "cycle_counts": counts,
                    "counts_accurate": accurate,
                    "inventory_accuracy": accurate / counts if counts else None,
                    "last_counted_at": datetime.combine(as_of, datetime.min.time())
                    if counts
                    else None,
                }
            )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "lost_sales_value": pl.Decimal(18, 2),
            "list_price": pl.Decimal(18, 2),
            "cover_days": pl.Float64,
            "inventory_accuracy": pl.Float64,
            "last_counted_at": pl.Datetime,
        },
        infer_schema_length=None,
    )


def _synthetic_tables(seed: int) -> dict[str, pl.DataFrame]:
    rng = random.Random(seed)
    fulfillment, shipments, inventory = [], [], []
    catalogue, sketch = [], []
    tracking = 0
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        for channel in CHANNELS:
            for location in [*LOCATIONS, "unassigned"]:
                if rng.random() < 0.15:
                    continue  # not every combination has orders every day
                shipped_here = location != "unassigned"
                units_ordered = rng.randint(0, 40)
                units_shipped = rng.randint(0, units_ordered) if shipped_here else 0
                n_shipments = rng.randint(0, 6) if shipped_here and units_shipped else 0
                on_time = rng.randint(0, n_shipments)
                delivered = rng.randint(0, n_shipments)
                delivered_on_time = rng.randint(0, delivered)
                returned = rng.randint(0, units_shipped // 4) if units_shipped else 0
                hours = [round(rng.uniform(2, 120), 2) for _ in range(n_shipments)]
                fulfillment.append(
                    {
                        "kpi_date": day,
                        "channel": channel,
                        "location_id": location,
                        "orders": rng.randint(1, 12),
                        "order_lines": rng.randint(1, 20),
                        "units_ordered": units_ordered,
                        "units_shipped": units_shipped,
                        "units_cancelled": units_ordered - units_shipped,
                        "revenue": Decimal(rng.randint(0, 500_000)) / 100,
                        "fill_rate": _rate(units_shipped, units_ordered),
                        "shipments": n_shipments,
                        "shipments_shipped_on_time": on_time,
                        "on_time_ship_rate": _rate(on_time, n_shipments),
                        "shipments_delivered": delivered,
                        "shipments_delivered_on_time": delivered_on_time,
                        "on_time_delivery_rate": _rate(delivered_on_time, delivered),
                        "fulfillment_hours_p50": (
                            float(pl.Series(hours).quantile(0.5, "linear")) if hours else None
                        ),
                        "fulfillment_hours_p90": (
                            float(pl.Series(hours).quantile(0.9, "linear")) if hours else None
                        ),
                        "units_returned": returned,
                        "return_rate": _rate(returned, units_shipped),
                        "till_return_units": rng.randint(0, 2) if channel == "pos" else 0,
                    }
                )
                catalogue.append(_catalogue_row(rng, day, channel, location))
                sketch.extend(_sketch_rows(rng, day, channel, location, hours))
                for i, hour in enumerate(hours):
                    tracking += 1
                    ordered_at = datetime.combine(day, datetime.min.time()) + timedelta(
                        hours=rng.uniform(0, 23)
                    )
                    picked_up = ordered_at + timedelta(hours=hour)
                    shipments.append(
                        {
                            "tracking_number": f"PW{tracking:09d}",
                            "channel": channel,
                            "order_id": f"{channel}-{offset}-{i}",
                            "ship_from_location_id": location,
                            "service_level": rng.choice(["standard", "express"]),
                            "ordered_at": ordered_at,
                            "label_created_at": ordered_at + timedelta(hours=1),
                            "picked_up_at": picked_up,
                            "delivered_at": picked_up + timedelta(hours=30)
                            if i < delivered
                            else None,
                            "promised_ship_date": day + timedelta(days=2),
                            "promised_delivery_date": day + timedelta(days=5),
                            "is_on_time_ship": i < on_time,
                            "is_on_time_delivery": (i < delivered_on_time)
                            if i < delivered
                            else None,
                            "fulfillment_hours": hour,
                            "ship_date": picked_up.date(),
                            "current_status": "delivered" if i < delivered else "in_transit",
                        }
                    )
        for location in LOCATIONS:
            counted = rng.randint(0, 30)
            accurate = rng.randint(0, counted)
            tracked = 200
            stockouts = rng.randint(0, 10)
            inventory.append(
                {
                    "kpi_date": day,
                    "location_id": location,
                    "skus_counted": counted,
                    "counts_accurate": accurate,
                    "inventory_accuracy": _rate(accurate, counted),
                    "skus_tracked": tracked,
                    "stockout_skus": stockouts,
                    "stockout_rate": _rate(stockouts, tracked),
                    "units_on_hand": rng.randint(1_000, 9_000),
                }
            )
    loaded_at = datetime(2024, 4, 10, 6, 0)
    landed = {  # the newest batch of each source landed hours before the load (freshness)
        "b-001": timedelta(hours=30),
        "b-002": timedelta(hours=2),
        "b-003": timedelta(hours=5),
        "b-004": timedelta(hours=50),
        "b-005": timedelta(minutes=20),
    }
    batches = [
        ("webshop", "b-001", "webshop/orders_20240409_01.jsonl", 120, 110, 6, 4),
        ("webshop", "b-002", "webshop/orders_20240409_02.jsonl", 80, 80, 0, 0),
        ("marketplace", "b-003", "marketplace/order_report_20240409.tsv", 95, 90, 5, 0),
        ("pos", "b-004", "pos/ST-001/sales_20240409.csv", 60, 58, 1, 1),
        ("carrier_events", "b-005", "carrier/events_20240409_01.jsonl", 299, 297, 2, 0),
    ]
    rejects = [
        ("webshop", "rejected", "invalid_timestamp", 4, '{"id": 17, "created_at": "1899-01-01"}'),
        ("webshop", "rejected", "unknown_sku", 2, '{"id": 18, "sku": "NOPE"}'),
        ("webshop", "duplicate", "duplicate", 4, '{"id": 3}'),
        ("marketplace", "rejected", "malformed_record", 5, "order-1\titem-1"),
        ("pos", "rejected", "invalid_quantity", 1, "ST-001,R1,9,1,SKU-1,0"),
        ("pos", "duplicate", "duplicate", 1, "ST-001,R1,8,1,SKU-1,2"),
        ("carrier_events", "rejected", "event_before_label", 2, '{"event_id": "ev-1"}'),
    ]
    return {
        "fct_fulfillment_kpis_daily": pl.DataFrame(
            fulfillment,
            schema_overrides={
                "revenue": pl.Decimal(18, 2),
                **{
                    c: pl.Int64
                    for c in [
                        "orders",
                        "order_lines",
                        "units_ordered",
                        "units_shipped",
                        "units_cancelled",
                        "shipments",
                        "shipments_shipped_on_time",
                        "shipments_delivered",
                        "shipments_delivered_on_time",
                        "units_returned",
                        "till_return_units",
                    ]
                },
                **{
                    c: pl.Float64
                    for c in [
                        "fill_rate",
                        "on_time_ship_rate",
                        "on_time_delivery_rate",
                        "fulfillment_hours_p50",
                        "fulfillment_hours_p90",
                        "return_rate",
                    ]
                },
            },
        ),
        "fct_inventory_kpis_daily": pl.DataFrame(inventory),
        "fct_kpis": _with_channel_rows(
            pl.DataFrame(
                catalogue,
                schema_overrides={"revenue": pl.Decimal(18, 2)},
                infer_schema_length=None,
            )
        ),
        "fct_kpi_time_sketch": pl.DataFrame(sketch, schema_overrides={"lines": pl.Int64}),
        "fct_shipments": pl.DataFrame(shipments),
        "dim_locations": pl.DataFrame(
            [
                {
                    "location_id": key,
                    "location_name": name,
                    "location_kind": kind,
                    "latitude": lat,
                    "longitude": lon,
                    "can_ship": can_ship,
                }
                for key, (name, kind, lat, lon, can_ship) in LOCATIONS.items()
            ]
        ),
        "dim_channels": pl.DataFrame(
            {"channel": list(CHANNELS), "channel_name": list(CHANNELS.values())}
        ),
        "ingest_batches": pl.DataFrame(
            batches,
            schema=[
                "source",
                "batch_id",
                "file",
                "records_seen",
                "loaded",
                "rejected",
                "duplicates",
            ],
            orient="row",
        ).with_columns(
            loaded_at=pl.lit(loaded_at),
            landed_at=pl.col("batch_id").replace_strict(
                {batch: loaded_at - age for batch, age in landed.items()}, return_dtype=pl.Datetime
            ),
        ),
        "ingest_rejects": pl.DataFrame(
            rejects,
            schema=["source", "kind", "reason_code", "records", "example_record"],
            orient="row",
        ),
        "fct_inventory_position": _inventory_positions(rng),
        "fct_unmatched_lines": pl.DataFrame(
            [
                (
                    "shipment_line",
                    "ev-9",
                    "wholesale",
                    "PO-7",
                    "PO-7-3",
                    "SKU-1",
                    2,
                    "no order line wholesale:PO-7:PO-7-3",
                    "carrier/events_1.jsonl",
                    loaded_at,
                ),
            ],
            schema=[
                "line_kind",
                "record_id",
                "channel",
                "order_id",
                "line_ref",
                "sku",
                "quantity",
                "reason",
                "_file",
                "_loaded_at",
            ],
            orient="row",
        ),
    }


def publish(published_dir: Path, run_id: str, tables: dict[str, pl.DataFrame]) -> Path:
    """Publish like a pipeline run: write a versioned folder, swap `current` atomically, then
    remove the previous version."""
    published_dir.mkdir(parents=True, exist_ok=True)
    link = published_dir / "current"
    previous = Path(os.path.realpath(link)) if link.is_symlink() else None
    folder = published_dir / f"run-{run_id}"
    folder.mkdir()
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")
    (folder / "_run.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "finished_at": datetime(2024, 4, 10, 6, 30, tzinfo=UTC).isoformat(),
                "tables": {name: frame.height for name, frame in tables.items()},
            }
        )
    )
    tmp_link = published_dir / f".current-{run_id}"
    tmp_link.symlink_to(folder.name)
    os.replace(tmp_link, link)
    if previous is not None and previous != folder:
        shutil.rmtree(previous)
    return folder


@pytest.fixture(scope="module")
def synthetic_tables() -> dict[str, pl.DataFrame]:
    return _synthetic_tables(seed=7)


@pytest.fixture
def synthetic_published(tmp_path: Path, synthetic_tables: dict[str, pl.DataFrame]) -> Path:
    """A published folder (`current` -> one run) with a few weeks of synthetic marts."""
    published_dir = tmp_path / "published"
    publish(published_dir, "synthetic-1", synthetic_tables)
    return published_dir


@pytest.fixture(params=["synthetic", "demo_run"])
def published_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Page tests run twice: on the synthetic folder (known figures) and on the real pipeline's
    published output (`demo_run` from conftest: generator -> ingest -> dbt -> publish)."""
    if request.param == "synthetic":
        published = tmp_path / "published"
        publish(published, "synthetic-1", _synthetic_tables(seed=7))
        return published
    demo_run = request.getfixturevalue("demo_run")
    if not demo_run.success:
        pytest.fail("the demo run (tests/conftest.py) failed, so nothing was published")
    return Path(demo_run.published_dir)


# --------------------------------------------------------------------------------------------
# Independent recomputation (polars straight from the Parquet files)
# --------------------------------------------------------------------------------------------


@dataclass
class Expected:
    orders: int
    units_ordered: int
    fill_rate: float | None
    on_time_ship_rate: float | None
    on_time_delivery_rate: float | None
    return_rate: float | None
    p50: float | None
    p90: float | None
    inventory_accuracy: float | None


def _ratio(frame: pl.DataFrame, numerator: str, denominator: str) -> float | None:
    den = frame[denominator].sum()
    return None if not den else frame[numerator].sum() / den


def catalogue_days(folder: Path, by_location: bool = True) -> pl.DataFrame:
    """The catalogue's day rows per channel and location, with the member split back, or per
    channel only (where an order fulfilled from two locations counts once)."""
    frame = pl.read_parquet(folder / "fct_kpis.parquet").filter(
        pl.col("period_grain") == "day",
        pl.col("dimension") == ("channel_location" if by_location else "channel"),
    )
    if not by_location:
        return frame.with_columns(
            _date=pl.col("period_start"), channel=pl.col("member"), location_id=pl.lit("all")
        )
    parts = pl.col("member").str.split_exact("|", 1)
    return frame.with_columns(
        _date=pl.col("period_start"),
        channel=parts.struct.field("field_0"),
        location_id=parts.struct.field("field_1"),
    )


def expected_kpis(published_dir: Path, filters: Filters) -> Expected:
    """The overview's figures recomputed with polars from the Parquet files: Σ numerator / Σ
    denominator of the catalogue's day rows at the filter's weighting, and the percentiles of
    the sketch's times, each repeated as many times as its line count."""
    folder = Path(os.path.realpath(published_dir / "current"))

    def selected(frame: pl.DataFrame, channel: str | None, location: str | None) -> pl.DataFrame:
        frame = frame.filter(pl.col("_date").is_between(filters.start, filters.end))
        if channel and filters.channels:
            frame = frame.filter(pl.col(channel).is_in(filters.channels))
        if location and filters.locations:
            frame = frame.filter(pl.col(location).is_in(filters.locations))
        return frame

    # the page reads per-channel rows unless a location is selected
    daily = selected(catalogue_days(folder, bool(filters.locations)), "channel", "location_id")
    sketch = pl.read_parquet(folder / "fct_kpi_time_sketch.parquet").with_columns(
        _date=pl.col("kpi_date")
    )
    sketch = selected(sketch.filter(pl.col("measure") == "order_to_ship"), "channel", "location_id")
    hours = sketch.select(pl.col("hours").repeat_by("lines").explode())["hours"].drop_nulls()
    inventory = pl.read_parquet(folder / "fct_inventory_kpis_daily.parquet").with_columns(
        _date=pl.col("kpi_date")
    )
    inventory = selected(inventory, None, "location_id")
    rates = {rate: pairs[filters.weighting] for rate, pairs in KPI_RATES.items()}
    return Expected(
        orders=int(daily["orders"].sum()),
        units_ordered=int(daily["units_ordered"].sum()),
        fill_rate=_ratio(daily, *rates["fill_rate"]),
        on_time_ship_rate=_ratio(daily, *rates["on_time_ship_rate"]),
        on_time_delivery_rate=_ratio(daily, *rates["on_time_delivery_rate"]),
        return_rate=_ratio(daily, "units_returned", "return_units_shipped"),
        p50=hours.quantile(0.5, "linear") if len(hours) else None,
        p90=hours.quantile(0.9, "linear") if len(hours) else None,
        inventory_accuracy=_ratio(inventory, "counts_accurate", "skus_counted"),
    )


def last_28_days(published_dir: Path) -> Filters:
    folder = Path(os.path.realpath(published_dir / "current"))
    last = catalogue_days(folder)["_date"].max()
    assert isinstance(last, date)
    return Filters(start=last - timedelta(days=27), end=last)


def approx(value: float | None) -> object:
    return None if value is None else pytest.approx(value, rel=1e-9)


# --------------------------------------------------------------------------------------------
# Query functions (pure, no Streamlit)
# --------------------------------------------------------------------------------------------


def test_headline_kpis_recompute_rates_from_counts_never_average_them(synthetic_published):
    filters = Filters(start=date(2024, 3, 5), end=date(2024, 3, 25))
    got = kpis.headline_kpis(synthetic_published, filters)
    want = expected_kpis(synthetic_published, filters)
    assert got.orders == want.orders
    assert got.units_ordered == want.units_ordered
    assert got.fill_rate == approx(want.fill_rate)
    assert got.on_time_ship_rate == approx(want.on_time_ship_rate)
    assert got.on_time_delivery_rate == approx(want.on_time_delivery_rate)
    assert got.return_rate == approx(want.return_rate)
    assert got.inventory_accuracy == approx(want.inventory_accuracy)
    # An average of the daily rates would be a different (wrong) number.
    daily = catalogue_days(synthetic_published / "current")
    averaged = (
        daily.filter(pl.col("_date").is_between(filters.start, filters.end))
        .select((pl.col("units_filled") / pl.col("units_due")).mean())
        .item()
    )
    assert got.fill_rate != pytest.approx(averaged, rel=1e-6)


def test_each_weighting_recomputes_its_own_counts_and_shows_the_open_volume(synthetic_published):
    period = dict(start=date(2024, 3, 5), end=date(2024, 3, 25))
    daily = catalogue_days(synthetic_published / "current").filter(
        pl.col("_date").is_between(period["start"], period["end"])
    )
    shown = set()
    for weighting in ("units", "lines", "orders"):
        got = kpis.headline_kpis(synthetic_published, Filters(**period, weighting=weighting))
        want = expected_kpis(synthetic_published, Filters(**period, weighting=weighting))
        assert got.fill_rate == approx(want.fill_rate)
        assert got.on_time_delivery_rate == approx(want.on_time_delivery_rate)
        assert got.open_not_due is not None
        assert got.open_not_due["fill_rate"] == daily[f"{weighting}_open_not_due"].sum()
        shown.add(got.fill_rate)
    assert len(shown) == 3  # three weightings, three different figures


def test_fulfillment_percentiles_come_from_shipments_not_daily_percentiles(synthetic_published):
    filters = Filters(start=date(2024, 3, 1), end=date(2024, 4, 9))
    got = kpis.headline_kpis(synthetic_published, filters)
    want = expected_kpis(synthetic_published, filters)
    assert got.fulfillment_hours_p50 == approx(want.p50)
    assert got.fulfillment_hours_p90 == approx(want.p90)


def test_channel_and_location_filters_select_only_their_rows(synthetic_published):
    filters = Filters(
        start=date(2024, 3, 10),
        end=date(2024, 4, 2),
        channels=("webshop", "wholesale"),
        locations=("WH-DAL",),
    )
    got = kpis.headline_kpis(synthetic_published, filters)
    want = expected_kpis(synthetic_published, filters)
    assert (got.orders, got.units_ordered) == (want.orders, want.units_ordered)
    assert got.fill_rate == approx(want.fill_rate)
    assert got.fulfillment_hours_p90 == approx(want.p90)
    assert got.inventory_accuracy == approx(want.inventory_accuracy)


def test_selection_without_data_gives_zero_counts_and_no_rates(synthetic_published):
    got = kpis.headline_kpis(synthetic_published, Filters(date(2020, 1, 1), date(2020, 1, 31)))
    assert (got.orders, got.units_ordered, got.revenue) == (0, 0, 0.0)
    assert got.fill_rate is None
    assert got.fulfillment_hours_p50 is None
    assert got.inventory_accuracy is None
    assert headline_tiles(got, got)[2].value == "–"


def test_previous_period_has_equal_length_and_ends_the_day_before():
    filters = Filters(start=date(2024, 3, 10), end=date(2024, 3, 16), channels=("pos",))
    previous = filters.previous()
    assert (previous.start, previous.end, previous.days) == (date(2024, 3, 3), date(2024, 3, 9), 7)
    assert previous.channels == ("pos",)


def test_default_filters_are_the_last_28_days_of_data(synthetic_published):
    options = kpis.filter_options(synthetic_published)
    assert options.max_date == FIRST_DAY + timedelta(days=DAYS - 1)
    default = options.default_filters()
    assert default is not None
    assert (default.end, default.days) == (options.max_date, 28)
    assert options.channels["webshop"] == "Web shop"
    assert options.locations["unassigned"] == kpis.UNASSIGNED_LABEL
    assert list(options.locations)[-1] == "unassigned"


def test_breakdown_rows_add_up_to_the_headline(synthetic_published):
    filters = Filters(start=date(2024, 3, 1), end=date(2024, 3, 31))
    headline = kpis.headline_kpis(synthetic_published, filters)
    for by in ("channel", "location"):
        table = kpis.breakdown(synthetic_published, filters, by)
        assert table["orders"].sum() == headline.orders
        assert table["units_ordered"].sum() == headline.units_ordered
        assert table["units_shipped"].sum() == headline.units_shipped
    by_channel = kpis.breakdown(synthetic_published, filters, "channel")
    webshop = by_channel.filter(pl.col("key") == "webshop").row(0, named=True)
    want = expected_kpis(synthetic_published, Filters(filters.start, filters.end, ("webshop",)))
    assert webshop["name"] == "Web shop"
    assert webshop["fill_rate"] == approx(want.fill_rate)
    assert webshop["fulfillment_hours_p50"] == approx(want.p50)
    by_location = kpis.breakdown(synthetic_published, filters, "location")
    dallas = by_location.filter(pl.col("key") == "WH-DAL").row(0, named=True)
    want = expected_kpis(synthetic_published, Filters(filters.start, filters.end, (), ("WH-DAL",)))
    assert (dallas["name"], dallas["location_kind"]) == ("Dallas DC", "warehouse")
    assert dallas["inventory_accuracy"] == approx(want.inventory_accuracy)


def test_daily_trend_rolling_rate_covers_the_seven_days_ending_each_day(synthetic_published):
    filters = Filters(start=date(2024, 3, 20), end=date(2024, 3, 31))
    trend = kpis.daily_trend(synthetic_published, filters)
    assert trend["kpi_date"].min() == filters.start
    assert trend["kpi_date"].max() == filters.end
    first = trend.row(0, named=True)
    window = expected_kpis(synthetic_published, Filters(date(2024, 3, 14), date(2024, 3, 20)))
    assert first["fill_rate_rolling"] == approx(window.fill_rate)
    day = expected_kpis(synthetic_published, Filters(date(2024, 3, 20), date(2024, 3, 20)))
    assert first["fill_rate"] == approx(day.fill_rate)
    assert first["orders"] == day.orders


def test_batches_reconcile_and_a_broken_batch_shows_as_fail(synthetic_published, tmp_path):
    summary = quality.source_summary(synthetic_published)
    assert set(summary["status"]) == {quality.OK}
    webshop = summary.filter(pl.col("source") == "webshop").row(0, named=True)
    assert (webshop["batches"], webshop["records_seen"], webshop["rejected"]) == (2, 200, 6)

    tables = _synthetic_tables(seed=7)
    tables["ingest_batches"] = tables["ingest_batches"].with_columns(
        loaded=pl.when(pl.col("batch_id") == "b-003").then(89).otherwise(pl.col("loaded"))
    )
    broken = tmp_path / "broken"
    publish(broken, "broken-1", tables)
    batches = quality.batches(broken)
    assert batches.filter(pl.col("status") == quality.FAIL)["batch_id"].to_list() == ["b-003"]
    summary = quality.source_summary(broken)
    marketplace = summary.filter(pl.col("source") == "marketplace").row(0, named=True)
    assert (marketplace["status"], marketplace["failed_batches"]) == (quality.FAIL, 1)


def test_rejects_list_reasons_with_an_example_most_records_first(synthetic_published):
    rejects = quality.rejects(synthetic_published)
    assert rejects.columns == ["source", "kind", "reason_code", "records", "example_record"]
    assert rejects["records"].to_list() == sorted(rejects["records"].to_list(), reverse=True)
    malformed = rejects.filter(pl.col("reason_code") == "malformed_record").row(0, named=True)
    assert malformed["source"] == "marketplace"
    assert malformed["example_record"] == "order-1\titem-1"


def test_lines_referring_to_nothing_known_are_listed_with_what_they_refer_to(
    synthetic_published,
):
    unmatched = quality.unmatched_lines(synthetic_published)
    assert unmatched["record_id"].to_list() == ["ev-9"]
    assert unmatched["reason"].to_list() == ["no order line wholesale:PO-7:PO-7-3"]
    assert unmatched["file"].to_list() == ["carrier/events_1.jsonl"]


def test_nothing_published_raises_a_friendly_error(tmp_path):
    assert published.read_run_info(tmp_path) is None
    with pytest.raises(published.NotPublishedError, match="python3 -m pipelines demo"):
        kpis.filter_options(tmp_path / "does-not-exist")


def test_run_info_reads_run_id_and_finished_at(synthetic_published):
    run = published.read_run_info(synthetic_published)
    assert run is not None
    assert run.run_id == "synthetic-1"
    assert run.finished_at == datetime(2024, 4, 10, 6, 30, tzinfo=UTC)
    assert run.tables["dim_channels"] == 4


def test_renamed_column_is_reported_by_name(synthetic_published, tmp_path):
    tables = _synthetic_tables(seed=7)
    tables["fct_kpis"] = tables["fct_kpis"].rename({"units_filled": "filled_units"})
    renamed = tmp_path / "renamed"
    publish(renamed, "renamed-1", tables)
    with pytest.raises(published.SchemaMismatchError, match="units_filled"):
        kpis.headline_kpis(renamed, Filters(date(2024, 3, 1), date(2024, 3, 2)))


def test_missing_table_is_reported_by_name(tmp_path):
    tables = _synthetic_tables(seed=7)
    del tables["ingest_rejects"]
    partial = tmp_path / "partial"
    publish(partial, "partial-1", tables)
    with pytest.raises(published.MissingTableError, match="ingest_rejects"):
        quality.rejects(partial)


def test_query_retries_once_when_the_run_is_swapped_after_resolving(
    synthetic_published, monkeypatch
):
    """`current` resolved, then a new run is published and the old folder removed before the
    files are opened: the query resolves again and answers from the new run."""
    filters = Filters(start=date(2024, 3, 1), end=date(2024, 3, 31))
    new_tables = _synthetic_tables(seed=99)
    real_resolve = published.resolve_current
    calls = []

    def resolve_then_swap(published_dir: Path) -> Path | None:
        folder = real_resolve(published_dir)
        if not calls:
            publish(published_dir, "synthetic-2", new_tables)  # removes `folder`
        calls.append(folder)
        return folder

    monkeypatch.setattr(published, "resolve_current", resolve_then_swap)
    got = kpis.headline_kpis(synthetic_published, filters)
    assert not calls[0].exists()
    assert got.orders == expected_kpis(synthetic_published, filters).orders  # the new run


def test_queries_never_fail_while_runs_keep_swapping_current(synthetic_published):
    """A publisher thread swaps `current` between two runs (deleting the old folder each time)
    while the dashboard queries: every answer is complete and from one of the two runs."""
    filters = Filters(start=date(2024, 3, 1), end=date(2024, 4, 9))
    variants = [_synthetic_tables(seed=7), _synthetic_tables(seed=11)]
    expected = {expected_kpis(synthetic_published, filters).orders}
    other = synthetic_published.parent / "other"
    publish(other, "other-1", variants[1])
    expected.add(expected_kpis(other, filters).orders)

    stop = threading.Event()
    read = threading.Event()  # set after each round of queries
    swaps = 0

    def publisher() -> None:
        nonlocal swaps
        while not stop.is_set():
            # far more often than real runs (minutes apart), but not more than once per round
            # of reads: a read retries on a swapped run a few times, not without end, and on a
            # loaded machine an unpaced publisher would swap many times during one read
            while not read.wait(timeout=0.2):
                if stop.is_set():
                    return
            read.clear()
            swaps += 1
            publish(synthetic_published, f"swap-{swaps}", variants[swaps % 2])

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        seen = set()
        # query until both runs were seen across many swaps; the deadline only bounds a broken
        # publisher (a loaded machine publishes slowly, so a fixed few seconds is not enough)
        deadline = time.monotonic() + 180
        while (seen != expected or swaps <= 10) and time.monotonic() < deadline:
            got = kpis.headline_kpis(synthetic_published, filters)
            assert got.orders in expected
            seen.add(got.orders)
            assert quality.source_summary(synthetic_published).height == 4
            read.set()
    finally:
        stop.set()
        thread.join()
    assert swaps > 10
    assert seen == expected


def test_tiles_show_rates_as_percent_and_deltas_in_points():
    previous = Kpis(100, 1000, 900, 5000.0, 0.90, 0.80, None, 20.0, 50.0, 0.05, 0.97)
    current = Kpis(110, 1100, 1045, 5500.0, 0.95, 0.85, 0.70, 18.0, 55.5, 0.04, 0.98)
    tiles = {tile.label: tile for tile in headline_tiles(current, previous)}
    assert (tiles["Orders"].value, tiles["Orders"].delta) == ("110", "+10.0%")
    fill = tiles["Fill rate (units)"]  # the weighting is named
    assert (fill.value, fill.delta) == ("95.0%", "+5.0 pp")
    assert tiles["On-time delivery (units)"].delta is None  # nothing to compare with
    p90 = tiles["Fulfillment time p90"]
    assert (p90.value, p90.delta, p90.delta_color) == ("55.5 h", "+5.5 h", "inverse")
    assert tiles["Return rate"].delta_color == "inverse"
    assert fmt_int(1234567) == "1,234,567"
    steady = Kpis(100, 1000, 900, 5000.0, 0.9, 0.8, 0.7, 20.0, 50.0, 0.05, 0.97)
    assert headline_tiles(steady, previous=steady)[7].delta == "+0.0 pp"  # never "-0.0"
    assert {tile.delta for tile in headline_tiles(current, previous=None)} == {None}
    assert (fmt_pct(None), fmt_hours(None)) == ("–", "–")


def test_rate_tiles_name_their_weighting_and_show_the_open_volume_beside():
    current = Kpis(
        110, 1100, 1045, 5500.0, 0.95, 0.85, 0.70, 18.0, 55.5, 0.04, 0.98,
        weighting="lines",
        open_not_due={"fill_rate": 12, "on_time_ship_rate": 12, "on_time_delivery_rate": 30,
                      "return_rate": 400},
        units_late_unshipped=7,
        units_late_in_transit=3,
    )  # fmt: skip
    tiles = {tile.label: tile for tile in headline_tiles(current, None)}
    assert tiles["Fill rate (lines)"].note == "not due yet: 12 lines"
    assert tiles["On-time ship (lines)"].note == "not due yet: 12 lines · late, unshipped: 7 units"
    assert "late in transit: 3 units" in (tiles["On-time delivery (lines)"].note or "")
    assert tiles["Return rate"].note == "not matured yet: 400 units shipped"
    assert tiles["Orders"].note is None


# --------------------------------------------------------------------------------------------
# Pages (AppTest from the entry point)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def app_env(monkeypatch, tmp_path) -> Iterator[None]:
    """Fresh caches; the app as `python3 -m pipelines dashboard` serves it (on loopback, so pages
    are readable without signing in) with a users file of its own (none yet)."""
    import streamlit as st

    monkeypatch.setenv("OMS_USERS_FILE", str(tmp_path / "users.yaml"))
    with loopback_server():
        st.cache_data.clear()
        yield
        st.cache_data.clear()


@contextmanager
def loopback_server(address: str | None = "127.0.0.1") -> Iterator[None]:
    """Streamlit's `server.address` as the app sees it (AppTest runs in this process)."""
    from streamlit import config

    previous = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        yield
    finally:
        config.set_option("server.address", previous)


def run_app(published_dir: Path, monkeypatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("OMS_PUBLISHED_DIR", str(published_dir))
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    """Sign in through the sidebar form, as a person would."""
    user_box, password_box = at.sidebar.text_input[0], at.sidebar.text_input[1]
    user_box.input(username)
    password_box.input(password)
    next(b for b in at.sidebar.button if b.label == "Sign in").click().run()
    assert not at.exception
    return at


def unexpected_warnings(at: AppTest) -> list[str]:
    """Warnings other than those about the data itself (lines referring to nothing known, a
    source that delivered nothing new for too long: the page doing its job): a missing column,
    a stale copy, … are failures."""
    about_the_data = {":material/link_off:", STALE_SOURCE_ICON}
    return [w.value for w in at.warning if w.icon not in about_the_data]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page, published_dir, monkeypatch, app_env):
    at = run_app(published_dir, monkeypatch, page)
    assert not at.exception
    assert not unexpected_warnings(at), unexpected_warnings(at)
    assert any("Data as of" in c.value for c in at.caption)
    assert len(at.metric) >= 6


def test_overview_tiles_match_figures_recomputed_from_parquet(published_dir, monkeypatch, app_env):
    at = run_app(published_dir, monkeypatch)
    assert not at.exception
    want = expected_kpis(published_dir, last_28_days(published_dir))
    shown = metrics(at)
    assert shown["Orders"] == fmt_int(want.orders)
    assert shown["Units ordered"] == fmt_int(want.units_ordered)
    assert shown["Fill rate (units)"] == fmt_pct(want.fill_rate)
    assert shown["On-time ship (units)"] == fmt_pct(want.on_time_ship_rate)
    assert shown["On-time delivery (units)"] == fmt_pct(want.on_time_delivery_rate)
    assert shown["Return rate"] == fmt_pct(want.return_rate)
    assert shown["Fulfillment time p50"] == fmt_hours(want.p50)
    assert shown["Fulfillment time p90"] == fmt_hours(want.p90)
    assert shown["Inventory accuracy"] == fmt_pct(want.inventory_accuracy)


def test_overview_channel_filter_changes_the_tiles(published_dir, monkeypatch, app_env):
    at = run_app(published_dir, monkeypatch)
    filters = last_28_days(published_dir)
    channel = sorted(
        pl.read_parquet(Path(os.path.realpath(published_dir / "current")) / "dim_channels.parquet")[
            "channel"
        ]
    )[0]
    at.multiselect(key="overview_channels").select(channel).run()
    assert not at.exception
    want = expected_kpis(published_dir, Filters(filters.start, filters.end, (channel,)))
    shown = metrics(at)
    assert shown["Orders"] == fmt_int(want.orders)
    assert shown["Fill rate (units)"] == fmt_pct(want.fill_rate)
    assert shown["Fulfillment time p90"] == fmt_hours(want.p90)


def test_data_quality_page_shows_reconciliation_per_source(published_dir, monkeypatch, app_env):
    at = run_app(published_dir, monkeypatch, "app_pages/data_quality.py")
    assert not at.exception
    assert metrics(at)["Reconciliation"] in {"OK"} | {f"{n} FAIL" for n in range(1, 10_000)}
    summary = at.dataframe[0].value
    assert set(summary["status"]) <= {quality.OK, quality.FAIL}
    batches = pl.read_parquet(
        Path(os.path.realpath(published_dir / "current")) / "ingest_batches.parquet"
    )
    assert sorted(summary["source"]) == sorted(batches["source"].unique().to_list())


@pytest.mark.parametrize("page", PAGES)
def test_empty_state_tells_the_user_to_run_the_main_job(page, tmp_path, monkeypatch, app_env):
    at = run_app(tmp_path / "nothing-here", monkeypatch, page)
    assert not at.exception
    assert any("python3 -m pipelines demo" in info.value for info in at.info)
    assert not at.metric


def test_a_new_run_shows_on_the_next_rerun_not_after_the_cache_ttl(
    synthetic_published, monkeypatch, app_env
):
    at = run_app(synthetic_published, monkeypatch)
    before = metrics(at)["Orders"]
    publish(synthetic_published, "synthetic-2", _synthetic_tables(seed=99))
    at.run()
    assert not at.exception
    want = expected_kpis(synthetic_published, last_28_days(synthetic_published))
    assert metrics(at)["Orders"] == fmt_int(want.orders) != before
    assert any("synthetic-2" in caption.value for caption in at.caption)


def test_rate_definitions_match_the_rates_the_marts_publish(published_dir):
    """The dashboard recomputes each rate as numerator / denominator (schema.RATES); on every
    published row that must equal the mart's own rate, else the two disagree on a definition."""
    folder = Path(os.path.realpath(published_dir / "current"))
    checks = [("fct_fulfillment_kpis_daily", rate, num, den) for rate, (num, den) in RATES.items()]
    checks.append(
        ("fct_inventory_kpis_daily", "inventory_accuracy", "counts_accurate", "skus_counted")
    )
    for file, rate, num, den in checks:
        frame = pl.read_parquet(folder / f"{file}.parquet")
        assert frame.filter((pl.col(den) == 0) & pl.col(rate).is_not_null()).is_empty(), rate
        defined = frame.filter(pl.col(den) > 0)
        recomputed = defined[num].cast(pl.Float64) / defined[den].cast(pl.Float64)
        largest_gap = (recomputed - defined[rate]).abs().max()
        assert largest_gap is None or largest_gap < 1e-9, rate


@pytest.mark.parametrize("exposed_by", ["0.0.0.0", "unset", "sign-in setting"])
def test_pages_need_a_sign_in_when_the_app_is_reachable_beyond_loopback(
    exposed_by, synthetic_published, monkeypatch, app_env, tmp_path
):
    add_user(tmp_path / "users.yaml", "vera", "viewer", "vera-views-42")  # app_env's users file
    if exposed_by == "sign-in setting":
        monkeypatch.setenv("OMS_DASHBOARD_SIGN_IN_TO_VIEW", "1")
    address = {"0.0.0.0": "0.0.0.0", "unset": None}.get(exposed_by, "127.0.0.1")
    with loopback_server(address):
        at = run_app(synthetic_published, monkeypatch)
        assert not at.exception
        assert [t.value for t in at.title] == ["OMS dashboards"]
        assert any("Sign in" in i.value for i in at.info)
        assert not at.metric and not at.dataframe  # no figure before the sign-in

        sign_in(at, "vera", "not-her-password")
        assert any("incorrect" in e.value for e in at.sidebar.error)
        assert not at.metric

        sign_in(at, "vera", "vera-views-42")
        assert [t.value for t in at.title] == ["Fulfillment overview"]
        assert len(at.metric) >= 6


def test_pages_are_readable_without_signing_in_on_loopback(
    synthetic_published, monkeypatch, app_env
):
    at = run_app(synthetic_published, monkeypatch)
    assert not at.exception
    assert [t.value for t in at.title] == ["Fulfillment overview"]
    assert any("Sign-in is off: no users file" in c.value for c in at.sidebar.caption)


def test_a_user_removed_from_the_users_file_is_signed_out_at_the_next_rerun(
    synthetic_published, monkeypatch, app_env, tmp_path
):
    users_file = tmp_path / "users.yaml"  # app_env's users file
    add_user(users_file, "otto", "operator", "otto-operates-42")
    at = sign_in(run_app(synthetic_published, monkeypatch), "otto", "otto-operates-42")
    assert any("Signed in as **otto**" in m.value for m in at.sidebar.markdown)
    remove_user(users_file, "otto")
    at.run()
    assert not at.exception
    assert not any("Signed in as" in m.value for m in at.sidebar.markdown)
    at.run()  # and stays signed out: the sign-in form is back
    assert any(b.label == "Sign in" for b in at.sidebar.button)
    assert not any("Signed in as" in m.value for m in at.sidebar.markdown)


def test_a_broken_users_file_turns_sign_in_off_without_breaking_the_pages(
    synthetic_published, monkeypatch, app_env, tmp_path
):
    (tmp_path / "users.yaml").write_text("credentials: [unclosed\n")
    at = run_app(synthetic_published, monkeypatch)
    assert not at.exception
    assert any("Sign-in is unavailable" in e.value for e in at.sidebar.error)
    assert [t.value for t in at.title] == ["Fulfillment overview"]
