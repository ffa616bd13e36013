"""The KPI catalogue (fct_kpis, fct_kpi_inventory, fct_kpi_return_reasons) equals the corrected
definitions of docs/kpis.md recomputed independently from the landing files, at every grain
(day, week, month) and dimension (all, channel, location, carrier, category) it offers.

The landing files are read by `tests.test_kpi_figures` (plain Python, no dbt model involved);
this module applies the corrected rules: only what is due by the cut-off counts, late is late
whether shipped or not, promises are judged in the zone they were made in, customer
cancellations leave the units required, wholesale time runs from the requested ship day,
rejected refunds are no returns, return rates count matured cohorts with till returns, and
percentiles are recomputed for every row. Counts must match exactly, hours within 1e-9.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from tests.test_kpi_figures import (
    Landing,
    Line,
    Shipment,
    assert_rows_match,
    hours_between,
    percentile,
    published_table,
    read_landing,
)

pytestmark = pytest.mark.e2e

# The zone each channel's promises are made in (seed kpi_channel_zones); None: the store's.
CHANNEL_ZONES = {
    "webshop": "America/New_York",
    "marketplace": "UTC",
    "pos": None,
    "wholesale": "America/New_York",
}
WEBSHOP_SHIP_DAYS = {"standard": 2, "express": 1}
WEBSHOP_DELIVER_DAYS = {"standard": 5, "express": 2}
RETURN_MATURITY_DAYS = 35  # dbt var kpi_return_maturity_days
GRAINS = ("day", "week", "month")
DIMENSIONS = ("all", "channel", "location", "carrier", "category", "channel_location")


def local_date(moment: datetime, zone: str) -> date:
    """The calendar date of a naive-UTC moment in an IANA zone."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date()


def local_midnight_utc(day: date, zone: str) -> datetime:
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return start.astimezone(UTC).replace(tzinfo=None)


def period_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


@dataclass
class KpiLine:
    """One order line under the corrected definitions (what fct_kpi_order_lines holds)."""

    line: Line
    category: str
    carrier: str
    kpi_date: date
    units_required: int
    units_filled: int
    units_shipped_by_promise: int
    units_delivered: int
    units_delivered_by_promise: int
    units_first_shipment: int
    cancel_origin: str | None
    due_ship: bool
    due_deliver: bool
    matured: bool
    promise_ship: date | None
    returned: int
    wrong_or_damaged: int
    order_to_ship_hours: float | None
    ship_to_delivery_hours: float | None
    shipments: set[str] = field(default_factory=set)

    def member(self, dimension: str) -> str:
        return {
            "all": "all",
            "channel": self.line.channel,
            "location": self.line.location,
            "carrier": self.carrier,
            "category": self.category,
            "channel_location": f"{self.line.channel}|{self.line.location}",
        }[dimension]

    @property
    def is_pos(self) -> bool:
        return self.line.channel == "pos"

    @property
    def filled(self) -> bool:
        return self.due_ship and self.units_filled >= self.units_required

    @property
    def shipped_on_time(self) -> bool:
        return (
            self.due_ship
            and not self.is_pos
            and (self.units_shipped_by_promise >= self.units_required)
        )

    @property
    def delivered_on_time(self) -> bool:
        return self.due_deliver and self.units_delivered_by_promise >= self.units_required

    @property
    def late_unshipped(self) -> int:
        """Units still unshipped past the ship-by (0 when not late)."""
        if not self.due_ship or self.is_pos or self.cancel_origin is not None:
            return 0
        return max(self.units_required - self.line.shipped, 0)

    @property
    def backordered(self) -> int:
        if not self.due_ship or self.is_pos:
            return 0
        return max(self.units_required - self.units_first_shipment, 0)

    @property
    def accurate(self) -> bool:
        return self.filled and not self.is_pos and self.wrong_or_damaged == 0


def shipment_lines(
    shipments: dict[str, Shipment],
) -> dict[str, list[tuple[str, Shipment, int]]]:
    """Order line -> its shipped shipments (tracking number, shipment, units)."""
    by_line: dict[str, list[tuple[str, Shipment, int]]] = defaultdict(list)
    for number, shipment in shipments.items():
        if shipment.shipped_at is None:
            continue
        for line_id, quantity in zip(shipment.line_ids, shipment.quantities, strict=True):
            by_line[line_id].append((number, shipment, quantity))
    return by_line


def cut_off(data: Landing) -> datetime:
    latest_order = max(line.ordered_at for line in data.lines.values())
    event = data.latest_event_at
    return latest_order if event is None or latest_order > event else event


def kpi_lines(data: Landing) -> list[KpiLine]:
    """Every order line with the corrected flags, judged at the cut-off."""
    as_of = cut_off(data)
    shipped = shipment_lines(data.shipments)
    result = []
    for line in data.lines.values():
        zone = CHANNEL_ZONES[line.channel] or data.zones.get(line.store or "", "UTC")
        if line.channel == "wholesale":
            kpi_date = line.order_date  # the PO date, as written
        else:
            kpi_date = local_date(line.ordered_at, zone)
        promise_ship, promise_delivery = line.promised_ship, line.promised_delivery
        if line.channel == "webshop":
            promise_ship = kpi_date + timedelta(days=WEBSHOP_SHIP_DAYS[line.service_level])
            promise_delivery = kpi_date + timedelta(days=WEBSHOP_DELIVER_DAYS[line.service_level])
        elif line.channel == "pos":
            promise_ship = promise_delivery = kpi_date
        cut_off_date = local_date(as_of, zone)
        unshipped = line.quantity - line.shipped
        cancel_origin = None
        if line.cancelled:
            cancel_origin = "customer" if line.cancel_reason == "customer" else "ours"
        required = line.quantity - (unshipped if cancel_origin == "customer" else 0)

        parcels = sorted(shipped.get(line.order_line_id, []), key=lambda p: (p[1].shipped_at, p[0]))
        on_time = delivered = delivered_on_time = 0
        per_carrier: dict[str, list] = {}
        for _number, shipment, quantity in parcels:
            shipped_at = shipment.shipped_at
            assert shipped_at is not None
            origin_zone = data.zones.get(shipment.ship_from, "UTC")
            if promise_ship is not None and local_date(shipped_at, origin_zone) <= promise_ship:
                on_time += quantity
            if shipment.delivered_at is not None:
                delivered += quantity
                if promise_delivery is not None and (
                    local_date(shipment.delivered_at, zone) <= promise_delivery
                ):
                    delivered_on_time += quantity
            there = per_carrier.setdefault(shipment.carrier, [0, shipped_at])
            there[0] += quantity
            there[1] = min(there[1], shipped_at)
        if line.channel == "pos":
            on_time = delivered = delivered_on_time = first = line.quantity
            carrier = "none"
        else:
            first = parcels[0][2] if parcels else 0
            carrier = (
                min(per_carrier.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))[0]
                if per_carrier
                else "none"
            )
        cap = line.quantity
        on_time, delivered = min(on_time, cap), min(delivered, cap)
        delivered_on_time, first = min(delivered_on_time, cap), min(first, cap)

        last_shipped = max((p[1].shipped_at for p in parcels), default=None)
        deliveries = [p[1].delivered_at for p in parcels if p[1].delivered_at is not None]
        last_delivered = max(deliveries, default=None)
        to_ship = to_delivery = None
        if line.channel != "pos" and required > 0 and line.shipped >= required and last_shipped:
            start = line.ordered_at
            if line.requested_ship and promise_ship is not None:
                requested = local_midnight_utc(promise_ship, data.zones.get(line.location, "UTC"))
                start = max(start, requested)
            to_ship = max(hours_between(start, last_shipped), 0.0)
        if (
            line.channel != "pos"
            and line.shipped > 0
            and delivered >= line.shipped
            and last_delivered
            and last_shipped
        ):
            to_delivery = hours_between(last_shipped, last_delivered)

        counted = [(u, reason) for u, refund, reason in line.rma if refund != "rejected"]
        due_ship = required > 0 and (promise_ship or kpi_date) < cut_off_date
        result.append(
            KpiLine(
                line=line,
                category=data.categories.get(line.sku, "unknown"),
                carrier=carrier,
                kpi_date=kpi_date,
                units_required=required,
                units_filled=min(line.shipped, required),
                units_shipped_by_promise=on_time,
                units_delivered=delivered,
                units_delivered_by_promise=delivered_on_time,
                units_first_shipment=first,
                cancel_origin=cancel_origin,
                due_ship=due_ship,
                due_deliver=required > 0
                and line.channel != "pos"
                and (promise_delivery or kpi_date) < cut_off_date,
                matured=kpi_date <= cut_off_date - timedelta(days=RETURN_MATURITY_DAYS),
                promise_ship=promise_ship,
                returned=sum(u for u, _ in counted),
                wrong_or_damaged=sum(u for u, r in counted if r in ("wrong_item", "damaged")),
                order_to_ship_hours=to_ship,
                ship_to_delivery_hours=to_delivery,
                shipments={p[0] for p in parcels},
            )
        )
    return result


def _sum(lines: Iterable[KpiLine], value: Callable[[KpiLine], int | bool]) -> int:
    return sum(int(value(k)) for k in lines)


def line_figures(group: list[KpiLine]) -> dict:
    """The line- and unit-weighted counts and the percentiles of one row."""
    ship = [k for k in group if k.due_ship and not k.is_pos]
    to_ship = [k.order_to_ship_hours for k in group if k.order_to_ship_hours is not None]
    to_deliver = [k.ship_to_delivery_hours for k in group if k.ship_to_delivery_hours is not None]
    late = [k for k in group if k.late_unshipped > 0]
    return {
        "order_lines": len(group),
        "units_ordered": _sum(group, lambda k: k.line.quantity),
        "lines_due": _sum(group, lambda k: k.due_ship),
        "lines_filled": _sum(group, lambda k: k.filled),
        "units_due": _sum(group, lambda k: k.units_required if k.due_ship else 0),
        "units_filled": _sum(group, lambda k: k.units_filled if k.due_ship else 0),
        "lines_open_not_due": _sum(
            group, lambda k: not k.due_ship and k.units_required > k.units_filled
        ),
        "units_open_not_due": _sum(
            group, lambda k: 0 if k.due_ship else max(k.units_required - k.units_filled, 0)
        ),
        "ship_lines_due": len(ship),
        "ship_lines_on_time": _sum(group, lambda k: k.shipped_on_time),
        "ship_units_due": _sum(ship, lambda k: k.units_required),
        "ship_units_on_time": _sum(
            ship, lambda k: min(k.units_shipped_by_promise, k.units_required)
        ),
        "lines_late_unshipped": len(late),
        "units_late_unshipped": _sum(group, lambda k: k.late_unshipped),
        "oldest_late_unshipped_promise_date": min((k.promise_ship for k in late), default=None),
        "delivery_lines_due": _sum(group, lambda k: k.due_deliver),
        "delivery_lines_on_time": _sum(group, lambda k: k.delivered_on_time),
        "delivery_units_due": _sum(group, lambda k: k.units_required if k.due_deliver else 0),
        "delivery_units_on_time": _sum(
            group,
            lambda k: min(k.units_delivered_by_promise, k.units_required) if k.due_deliver else 0,
        ),
        "lines_late_in_transit": _sum(
            group, lambda k: k.due_deliver and k.line.shipped > k.units_delivered
        ),
        "units_late_in_transit": _sum(
            group, lambda k: max(k.line.shipped - k.units_delivered, 0) if k.due_deliver else 0
        ),
        "lines_backordered": _sum(group, lambda k: k.backordered > 0),
        "units_backordered": _sum(group, lambda k: k.backordered),
        "lines_accurate": _sum(group, lambda k: k.accurate),
        "units_accurate": _sum(ship, lambda k: max(k.units_filled - k.wrong_or_damaged, 0)),
        "lines_cancelled_customer": _sum(group, lambda k: k.cancel_origin == "customer"),
        "lines_cancelled_ours": _sum(group, lambda k: k.cancel_origin == "ours"),
        "return_units_shipped": _sum(group, lambda k: k.line.shipped if k.matured else 0),
        "rma_units_returned": _sum(group, lambda k: k.returned if k.matured else 0),
        "return_units_not_matured": _sum(group, lambda k: 0 if k.matured else k.line.shipped),
        "lines_timed_to_ship": len(to_ship),
        "lines_timed_to_delivery": len(to_deliver),
        "order_to_ship_hours_p50": percentile(to_ship, 0.5),
        "order_to_ship_hours_p90": percentile(to_ship, 0.9),
        "ship_to_delivery_hours_p50": percentile(to_deliver, 0.5),
        "ship_to_delivery_hours_p90": percentile(to_deliver, 0.9),
        "revenue": sum((k.line.amount for k in group), Decimal("0")),
    }


def order_figures(orders: dict[str, list[KpiLine]]) -> dict:
    """Order-weighted counts over the (order, member) pairs of one row."""
    figures: dict[str, int | Decimal] = defaultdict(int)
    figures["shipping_charged"] = Decimal("0")
    for group in orders.values():
        required = [k for k in group if k.units_required > 0]
        pos = any(k.is_pos for k in group)
        due = bool(required) and all(k.due_ship for k in required)
        deliverable = [k for k in required if not k.is_pos]
        due_deliver = bool(deliverable) and all(k.due_deliver for k in deliverable)
        ship_due = due and not pos
        figures["orders"] += 1
        figures["orders_due"] += due
        figures["orders_filled"] += due and all(k.filled for k in required)
        figures["orders_open_not_due"] += (
            bool(required) and not due and not all(k.filled for k in required)
        )
        figures["ship_orders_due"] += ship_due
        figures["ship_orders_on_time"] += ship_due and all(k.shipped_on_time for k in required)
        figures["delivery_orders_due"] += due_deliver
        figures["delivery_orders_on_time"] += due_deliver and all(
            k.delivered_on_time for k in required
        )
        figures["orders_accurate"] += ship_due and all(k.accurate for k in required)
        figures["orders_backordered"] += ship_due and any(k.backordered > 0 for k in group)
        figures["orders_cancelled_customer"] += any(k.cancel_origin == "customer" for k in group)
        figures["orders_cancelled_ours"] += any(k.cancel_origin == "ours" for k in group)
        shipments = set().union(*(k.shipments for k in group))
        figures["orders_shipped"] += len(shipments) > 0
        figures["orders_split"] += len(shipments) > 1
        figures["orders_shipping_to_customer"] += not pos
        figures["shipping_charged"] += sum((k.line.shipping for k in group), Decimal("0"))
    return dict(figures)


def expected_catalogue(data: Landing) -> pl.DataFrame:
    """fct_kpis recomputed: one row per grain, period, dimension and member with lines."""
    lines = kpi_lines(data)
    latest_cut_off = max(
        local_date(
            cut_off(data),
            CHANNEL_ZONES[k.line.channel] or data.zones.get(k.line.store or "", "UTC"),
        )
        for k in lines
    )
    matured_until = latest_cut_off - timedelta(days=RETURN_MATURITY_DAYS)
    tills: dict[tuple, int] = defaultdict(int)
    for sold_at, store, sku, units in data.till_return_records:
        day = local_date(sold_at, data.zones.get(store, "UTC"))
        if day > matured_until:
            continue
        members = {
            "all": "all",
            "channel": "pos",
            "location": store,
            "carrier": "none",
            "category": data.categories.get(sku, "unknown"),
            "channel_location": f"pos|{store}",
        }
        for grain in GRAINS:
            for dimension in DIMENSIONS:
                tills[(grain, period_start(day, grain), dimension, members[dimension])] += units

    rows = []
    for grain in GRAINS:
        for dimension in DIMENSIONS:
            groups: dict[tuple[date, str], list[KpiLine]] = defaultdict(list)
            orders: dict[tuple[date, str], dict[str, list[KpiLine]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for k in lines:
                key = (period_start(k.kpi_date, grain), k.member(dimension))
                groups[key].append(k)
            # an order's period is its earliest line's (all lines of an order share it)
            by_order: dict[tuple[str, str], list[KpiLine]] = defaultdict(list)
            for k in lines:
                by_order[(k.line.order_key, k.member(dimension))].append(k)
            for (order_key, member), group in by_order.items():
                start = period_start(min(k.kpi_date for k in group), grain)
                orders[(start, member)][order_key] = group
            for (start, member), group in groups.items():
                row = {
                    "period_grain": grain,
                    "period_start": start,
                    "dimension": dimension,
                    "member": member,
                    **line_figures(group),
                    **order_figures(orders[(start, member)]),
                }
                till = tills.get((grain, start, dimension, member), 0)
                row["units_returned"] = row.pop("rma_units_returned") + till
                rows.append(row)
    return pl.DataFrame(
        rows,
        schema_overrides={
            "revenue": pl.Decimal(38, 2),
            "shipping_charged": pl.Decimal(38, 2),
        },
        infer_schema_length=None,
    )


CATALOGUE_KEYS = ["period_grain", "period_start", "dimension", "member"]
CATALOGUE_HOURS = [
    "order_to_ship_hours_p50",
    "order_to_ship_hours_p90",
    "ship_to_delivery_hours_p50",
    "ship_to_delivery_hours_p90",
]


@pytest.fixture(scope="module")
def landing(demo_run) -> Landing:
    assert demo_run.success, "the demo run failed; see its Dagster run"
    return read_landing(Path(demo_run.landing_dir), Path(demo_run.truth_dir))


@pytest.fixture(scope="module")
def expected(landing: Landing) -> pl.DataFrame:
    return expected_catalogue(landing)


@pytest.fixture(scope="module")
def catalogue(demo_run) -> pl.DataFrame:
    return published_table(Path(demo_run.published_dir), "fct_kpis")


def test_every_count_of_the_catalogue_matches_the_landing_files_at_every_grain_and_dimension(
    catalogue: pl.DataFrame, expected: pl.DataFrame
) -> None:
    counts = [c for c in expected.columns if c not in CATALOGUE_KEYS + CATALOGUE_HOURS]
    got = catalogue.with_columns(
        pl.col("revenue").cast(pl.Decimal(38, 2)),
        pl.col("shipping_charged").cast(pl.Decimal(38, 2)),
    )
    assert got.height == expected.height
    assert set(got["period_grain"]) == set(GRAINS)
    assert set(got["dimension"]) == set(DIMENSIONS)
    assert_rows_match(got, expected, CATALOGUE_KEYS, counts)
    # the corrected rules have something to bite on in this data
    overall = expected.filter(pl.col("period_grain") == "month", pl.col("dimension") == "all")
    assert overall["lines_due"].sum() > 0 and overall["lines_open_not_due"].sum() > 0


def test_percentiles_are_recomputed_from_the_lines_of_every_row(
    catalogue: pl.DataFrame, expected: pl.DataFrame
) -> None:
    assert_rows_match(catalogue, expected, CATALOGUE_KEYS, CATALOGUE_HOURS)
    weekly = catalogue.filter(pl.col("period_grain") == "week")
    assert weekly["order_to_ship_hours_p90"].drop_nulls().len() > 0


def test_inventory_catalogue_matches_counts_and_snapshots_in_the_landing_files(
    demo_run, landing: Landing
) -> None:
    """Cycle counts on their local day at the location, SKU-location-days of active SKUs."""
    got = published_table(Path(demo_run.published_dir), "fct_kpi_inventory")
    # The landing reader keeps the UTC date of a count; recompute its local day here.
    figures: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    counts = read_count_days(Path(demo_run.landing_dir), Path(demo_run.truth_dir), landing)
    for day, location, sku, accurate in counts:
        for key in inventory_keys(day, location, landing.categories.get(sku, "unknown")):
            figures[key][0] += 1
            figures[key][1] += accurate
    for day, location, sku, on_hand in landing.snapshots:
        if sku not in landing.active_skus:
            continue
        for key in inventory_keys(day, location, landing.categories.get(sku, "unknown")):
            figures[key][2] += 1
            figures[key][3] += on_hand == 0
    want = pl.DataFrame(
        [
            dict(zip(CATALOGUE_KEYS, key, strict=True))
            | dict(
                zip(
                    ["skus_counted", "counts_accurate", "sku_days", "stockout_sku_days"],
                    value,
                    strict=True,
                )
            )
            for key, value in figures.items()
        ]
    )
    assert got.height == want.height
    assert_rows_match(
        got,
        want,
        CATALOGUE_KEYS,
        ["skus_counted", "counts_accurate", "sku_days", "stockout_sku_days"],
    )


def inventory_keys(day: date, location: str, category: str) -> list[tuple]:
    members = {"all": "all", "location": location, "category": category}
    return [
        (grain, period_start(day, grain), dimension, member)
        for grain in GRAINS
        for dimension, member in members.items()
    ]


def read_count_days(
    landing_dir: Path, truth_dir: Path, landing: Landing
) -> list[tuple[date, str, str, bool]]:
    """Clean cycle counts (the reader's own rules) with their local day at the location."""
    from tests.test_kpi_figures import csv_rows, faulty_keys, files, key_of, must_utc

    bad = faulty_keys(truth_dir)["cycle_counts"]
    seen: dict[str, tuple[date, str, str, bool]] = {}
    for path in files(landing_dir, "stock/*/cycle_count_*.csv"):
        for row in csv_rows(path):
            key = key_of(row["location_id"], row["sku"], row["counted_at"])
            if key in bad or key in seen:
                continue
            counted = must_utc(row["counted_at"])
            zone = landing.zones.get(row["location_id"], "UTC")
            seen[key] = (
                local_date(counted, zone),
                row["location_id"],
                row["sku"],
                int(row["counted_qty"]) == int(row["system_qty"]),
            )
    assert len(seen) == len(landing.cycle_counts)
    return list(seen.values())


def test_the_overviews_figures_at_every_weighting_match_the_landing_files(
    demo_run, expected: pl.DataFrame, landing: Landing
) -> None:
    """What the overview shows over the whole history, per channel and overall, at each
    weighting, against the day rows recomputed from the landing files; fulfilment-time
    percentiles from the published sketch are within its 0.1 h rounding of the exact ones."""
    from dashboards.lib import kpis
    from dashboards.lib.schema import KPI_RATES, RETURN_RATE, WEIGHTINGS

    published = Path(demo_run.published_dir)
    days = expected.filter(pl.col("period_grain") == "day", pl.col("dimension") == "channel")
    whole = dict(start=days["period_start"].min(), end=days["period_start"].max())
    exact_hours = [k.order_to_ship_hours for k in kpi_lines(landing)]
    for weighting in WEIGHTINGS:
        filters = kpis.Filters(**whole, weighting=weighting)  # type: ignore[arg-type]
        rates = {rate: pairs[weighting] for rate, pairs in KPI_RATES.items()}
        rates["return_rate"] = RETURN_RATE
        shown = kpis.breakdown(published, filters, by="channel")
        per_channel = days.group_by("member").agg(
            pl.col(c).sum() for pair in rates.values() for c in pair
        )
        assert sorted(shown["key"]) == sorted(per_channel["member"])
        for want in per_channel.iter_rows(named=True):
            got = shown.filter(pl.col("key") == want["member"]).row(0, named=True)
            for rate, (num, den) in rates.items():
                wanted = want[num] / want[den] if want[den] else None
                assert (got[rate] is None) == (wanted is None), (rate, want["member"])
                if wanted is not None:
                    assert got[rate] == pytest.approx(wanted, abs=1e-9), (rate, weighting)
        headline = kpis.headline_kpis(published, filters)
        overall = days.select(pl.col(c).sum() for pair in rates.values() for c in pair).row(
            0, named=True
        )
        for rate, (num, den) in rates.items():
            wanted = overall[num] / overall[den] if overall[den] else None
            assert (getattr(headline, rate) is None) == (wanted is None), rate
            if wanted is not None:
                assert getattr(headline, rate) == pytest.approx(wanted, abs=1e-9), rate
        assert headline.open_not_due is not None
    hours = [h for h in exact_hours if h is not None]
    assert headline.fulfillment_hours_p50 == pytest.approx(percentile(hours, 0.5), abs=0.05)
    assert headline.fulfillment_hours_p90 == pytest.approx(percentile(hours, 0.9), abs=0.05)
