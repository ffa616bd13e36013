"""The routing run inside the main job: every open line accounted for, nothing oversold,
every fulfillment request dropped exactly once, and the dbt candidates priced like the router."""

from __future__ import annotations

import csv
from collections import Counter

import duckdb
import polars as pl
import pytest

from ops_actions.routing.candidates import haversine_km
from ops_actions.routing.rules import load_rules
from pipelines.settings import get_settings
from tests.conftest import DemoRun

pytestmark = pytest.mark.e2e


def _con(run: DemoRun) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run.warehouse_path), read_only=True)


def test_main_job_routes_every_open_line_and_records_the_rules_version(demo_run: DemoRun) -> None:
    con = _con(demo_run)
    # the first run of the demo warehouse (a later rerun routes only what is still open)
    runs = con.execute(
        "select run_id, rules_version, rules_sha from ops.routing_runs order by committed_at"
    ).fetchall()
    assert len(runs) >= 1
    assert runs[0][1] == load_rules(get_settings().routing_rules_path).version
    run_id = runs[0][0]
    # held orders are left out of routing (docs/holds.md; tests/test_holds_flow.py)
    open_units = dict(
        con.execute(
            """select order_line_id, quantity from marts.ops_open_order_lines
               where order_id not in (select channel_order_id from ops.order_holds
                                      where resolution is null or resolution = 'cancelled')"""
        ).fetchall()
    )
    decided = dict(
        con.execute(
            "select order_line_id, sum(units) from ops.routing_decisions where run_id = ? "
            "group by order_line_id",
            [run_id],
        ).fetchall()
    )
    assert open_units, "the demo data should leave open lines to route"
    # every unit of every open line is allocated, backordered or cancelled: none unaccounted
    assert decided == open_units
    con.close()


def test_every_allocation_has_stock_and_none_exceeds_it(demo_run: DemoRun) -> None:
    """Per SKU and location, the units allocated never exceed the stock available before
    allocations; an allocation where the mart knows no stock at all is a failure too (a left
    join, so such a pair is seen rather than dropped)."""
    con = _con(demo_run)
    pairs = con.execute(
        """with allocated as (
               select sku, location_id, sum(units) as units
               from ops.allocations group by sku, location_id)
           select a.sku, a.location_id, a.units, p.sku is not null as has_stock,
                  p.available_before_allocations
           from allocated a
           left join marts.fct_available_to_promise p using (sku, location_id)"""
    ).fetchall()
    con.close()
    assert pairs, "the demo run should allocate stock"
    without_stock = [(sku, loc) for sku, loc, _, has_stock, _ in pairs if not has_stock]
    assert without_stock == []
    over = [(sku, loc, units, avail) for sku, loc, units, _, avail in pairs if units > avail]
    assert over == []


def test_every_fulfillment_request_is_dropped_exactly_once(demo_run: DemoRun) -> None:
    con = _con(demo_run)
    outbox = dict(
        con.execute(
            "select action_id, state from ops.outbox where kind = 'fulfillment_request'"
        ).fetchall()
    )
    con.close()
    assert outbox and set(outbox.values()) == {"delivered"}
    drop = demo_run.data_dir / "outbox" / "fulfillment"
    keys: Counter[str] = Counter()
    for path in drop.glob("*.csv"):
        with path.open(newline="") as fh:
            keys.update({row["action_key"] for row in csv.DictReader(fh)})
    assert set(keys) == set(outbox)
    assert max(keys.values()) == 1


def test_dbt_candidates_use_the_routers_distance_and_transit(demo_run: DemoRun) -> None:
    """The allocation-candidates mart and the router must not drift apart."""
    rules = load_rules(get_settings().routing_rules_path)
    con = _con(demo_run)
    cand = pl.from_arrow(
        con.execute(
            """select c.distance_km, c.transit_days, l.service_level,
                      l.ship_to_latitude as lat1, l.ship_to_longitude as lon1,
                      d.latitude as lat2, d.longitude as lon2
               from marts.ops_allocation_candidates c
               join marts.ops_open_order_lines l using (order_line_id)
               join marts.dim_locations d using (location_id)"""
        ).to_arrow_table()
    )
    con.close()
    assert cand.height > 0
    speeds = {name: lvl.km_per_day for name, lvl in rules.service_levels.items()}
    checked = cand.with_columns(
        haversine_km(pl.col("lat1"), pl.col("lon1"), pl.col("lat2"), pl.col("lon2")).alias("py"),
        pl.col("service_level")
        .replace_strict(speeds, default=speeds["default"], return_dtype=pl.Float64)
        .alias("km_per_day"),
    ).with_columns((pl.col("py") / pl.col("km_per_day")).ceil().cast(pl.Int64).alias("py_days"))
    assert (checked["distance_km"] - checked["py"]).abs().max() < 1e-6
    assert (checked["transit_days"] == checked["py_days"]).all()
