"""The planning marts on a real demo run, against figures computed here from their sources.

fct_demand_daily against the order lines (net units, the location rules, zero days, stockouts,
outliers re-derived in Python), fct_safety_stock against pipelines/planning/policy.py row by
row, and ops_reorder_suggestions against fct_safety_stock.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import defaultdict
from datetime import timedelta
from typing import Any

import duckdb
import pytest

from pipelines.planning.policy import PolicyInputs, plan
from tests.conftest import DemoRun

OUTLIER_K = 5
OUTLIER_MIN_DAYS = 8


@pytest.fixture(scope="module")
def con(demo_run: DemoRun) -> duckdb.DuckDBPyConnection:
    assert demo_run.success, "the demo flow failed"
    return duckdb.connect(str(demo_run.warehouse_path), read_only=True)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def _nearest(line: dict[str, Any], locations: list[dict[str, Any]]) -> str | None:
    """The nearest location shipping for the line's channel (ties: the smaller id)."""
    candidates = [
        (
            _haversine(
                line["ship_to_latitude"],
                line["ship_to_longitude"],
                loc["latitude"],
                loc["longitude"],
            ),
            loc["location_id"],
        )
        for loc in locations
        if loc["can_ship"]
        and line["channel"] in (loc["ships_channels"] or "")
        and loc["latitude"] is not None
    ]
    return min(candidates)[1] if candidates else None


def test_demand_lines_are_located_by_the_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Store for POS, shipper once shipped, an allocation of the line, else the nearest.

    Routing runs after dbt in the flow, so allocations made since the build are in ops but not
    in the model: an 'allocated' line is checked against the line's allocations, a 'nearest'
    one against the distance rule."""
    lines = {
        r["order_line_id"]: r
        for r in _rows(
            con,
            "select order_line_id, channel, sku, order_date,"
            " units_ordered - units_cancelled as units, units_shipped, fulfilling_location_id,"
            " ship_to_latitude, ship_to_longitude from marts.fct_order_lines"
            " where units_ordered - units_cancelled > 0",
        )
    }
    located = {
        r["order_line_id"]: r
        for r in _rows(con, "select * from intermediate.int_demand_lines_located")
    }
    assert set(located) == set(lines)
    locations = _rows(con, "select * from marts.dim_locations")
    allocations = {
        (r["order_line_id"], r["location_id"])
        for r in _rows(con, "select order_line_id, location_id from ops.allocations")
    }
    sources: dict[str, int] = defaultdict(int)
    for line_id, line in lines.items():
        got = located[line_id]
        sources[got["location_source"]] += 1
        assert got["units"] == pytest.approx(float(line["units"]))
        assert got["demand_date"] == line["order_date"]
        if line["channel"] == "pos":
            assert (got["location_source"], got["demand_location_id"]) == (
                "store",
                line["fulfilling_location_id"],
            )
        elif line["units_shipped"] > 0:
            assert (got["location_source"], got["demand_location_id"]) == (
                "shipped",
                line["fulfilling_location_id"],
            )
        elif got["location_source"] == "allocated":
            assert (line_id, got["demand_location_id"]) in allocations
        elif got["location_source"] == "nearest":
            assert got["demand_location_id"] == _nearest(line, locations), line_id
        else:
            assert got["location_source"] == "unlocated"
            assert got["demand_location_id"] is None
            assert _nearest(line, locations) is None or line["ship_to_latitude"] is None
    assert sources["store"] and sources["shipped"] and sources["nearest"]


def test_demand_daily_adds_up_the_lines_with_zero_days(con: duckdb.DuckDBPyConnection) -> None:
    expected: dict[tuple[str, str], dict[Any, float]] = defaultdict(lambda: defaultdict(float))
    for line in _rows(con, "select * from intermediate.int_demand_lines_located"):
        if line["demand_location_id"] is not None:
            expected[(line["sku"], line["demand_location_id"])][line["demand_date"]] += line[
                "units"
            ]
    for line in _rows(
        con,
        "select sku, order_date, units_ordered - units_cancelled as units"
        " from marts.fct_order_lines where units_ordered - units_cancelled > 0",
    ):
        expected[(line["sku"], "ALL")][line["order_date"]] += float(line["units"])
    as_of = max(day for days in expected.values() for day in days)
    got: dict[tuple[str, str], dict[Any, float]] = defaultdict(dict)
    for row in _rows(
        con, "select sku, location_id, demand_date, units from marts.fct_demand_daily"
    ):
        got[(row["sku"], row["location_id"])][row["demand_date"]] = row["units"]
    assert set(got) == set(expected)
    for key, days in expected.items():
        first = min(days)
        calendar = {first + timedelta(days=i) for i in range((as_of - first).days + 1)}
        assert set(got[key]) == calendar, f"{key}: not every day from {first} to {as_of}"
        for day in calendar:
            assert got[key][day] == pytest.approx(days.get(day, 0.0)), (key, day)


def test_stockouts_and_outliers(con: duckdb.DuckDBPyConnection) -> None:
    empty = {
        (r["sku"], r["location_id"], r["snapshot_date"])
        for r in _rows(
            con,
            "select sku, location_id, snapshot_date from marts.fct_inventory_snapshots"
            " where on_hand <= 0",
        )
    }
    rows = _rows(con, "select * from marts.fct_demand_daily")
    by_series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_series[row["series_id"]].append(row)
        expected_stockout = row["location_id"] != "ALL" and (
            (row["sku"], row["location_id"], row["demand_date"]) in empty
        )
        assert row["is_stockout"] is expected_stockout, row
    flagged = 0
    for series_id, days in by_series.items():
        sold = [d["units"] for d in days if d["units"] > 0]
        threshold = math.inf
        if len(sold) >= OUTLIER_MIN_DAYS:
            median = statistics.median(sold)
            mad = statistics.median(abs(u - median) for u in sold)
            threshold = median + OUTLIER_K * max(1.4826 * mad, 1.0)
        for d in days:
            assert d["is_outlier"] is (d["units"] > threshold), (series_id, d)
            flagged += d["is_outlier"]
    assert flagged > 0, "the demo has outliers: the rule should flag some"


def test_safety_stock_rows_are_the_policy_figures(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(
        con,
        "select s.*, i.order_cycle_days, i.forecast_lt_units as input_forecast"
        " from marts.fct_safety_stock s"
        " inner join intermediate.int_planning_replenishment_inputs i using (sku, location_id)",
    )
    assert rows
    names = {
        "policy",
        "z",
        "lead_time_mean_days",
        "lead_time_sd_days",
        "review_period_days",
        "order_cycle_days",
        "forecast_lt_units",
        "sigma_daily",
        "on_hand",
        "inbound",
        "allocated",
        "backorders",
        "pack_size",
        "min_order_qty",
        "unit_cost",
        "order_cost",
        "holding_rate_per_year",
    }
    for row in rows:
        inputs = PolicyInputs(**{k: row[k] for k in names})
        figures = plan(inputs)
        for column in (
            "safety_stock",
            "reorder_point",
            "eoq",
            "order_up_to",
            "position",
            "raw_qty",
            "purchase_qty",
            "transfer_qty",
            "forecast_lt_sigma",
        ):
            assert row[column] == pytest.approx(getattr(figures, column), rel=1e-9, abs=1e-9), (
                row["safety_stock_id"],
                column,
            )
        assert row["is_order_due"] is figures.is_order_due


def test_suggestions_follow_the_safety_stock(con: duckdb.DuckDBPyConnection) -> None:
    due = {
        (r["sku"], r["location_id"]): r
        for r in _rows(con, "select * from marts.fct_safety_stock where is_order_due")
    }
    kinds = {
        r["location_id"]: r["location_kind"]
        for r in _rows(con, "select * from marts.dim_locations")
    }
    suggestions = _rows(con, "select * from marts.ops_reorder_suggestions")
    assert {(s["sku"], s["location_id"]) for s in suggestions} == set(due)
    assert suggestions, "the demo should need some orders"
    for s in suggestions:
        source = due[(s["sku"], s["location_id"])]
        key = f"{s['sku']}|{s['location_id']}|{s['as_of_date']}"
        assert s["suggestion_id"] == hashlib.md5(key.encode()).hexdigest()
        if s["kind"] == "transfer":
            assert kinds[s["location_id"]] == "store"
            assert kinds[s["source_location_id"]] == "warehouse"
            assert s["suggested_qty"] == source["transfer_qty"]
            assert s["supplier_id"] is None
        else:
            assert s["source_location_id"] is None
            assert s["suggested_qty"] == source["purchase_qty"]
            assert s["supplier_id"] == source["supplier_id"]
        assert s["suggested_value"] == pytest.approx(s["suggested_qty"] * s["unit_cost"])
        assert str(round(s["reorder_point"], 1)) in s["explanation"]
