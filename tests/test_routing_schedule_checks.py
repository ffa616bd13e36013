"""The routing schedule's pieces: which business day a run plans for, and the blocking check
that no run allocated beyond the stock available (against a real DuckDB warehouse)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ops_actions.schema import ensure_schema
from pipelines.actions.assets import _oversell_check, routing_today
from pipelines.warehouse import Warehouse

SNAPSHOT_AT = dt.datetime(2026, 8, 14, 0, 0)  # end of the 13 August snapshot's business day


def planning_day(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, snapshot_at: dt.datetime | None
) -> dt.date:
    """`routing_today` under `OMS_ROUTING_TODAY=setting` (None: unset)."""
    if setting is None:
        monkeypatch.delenv("OMS_ROUTING_TODAY", raising=False)
    else:
        monkeypatch.setenv("OMS_ROUTING_TODAY", setting)
    return routing_today(snapshot_at)


# ------------------------------------------------------------------------------------------
# routing_today
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [None, "data"])
def test_by_default_a_run_plans_for_the_day_after_the_newest_snapshot(monkeypatch, setting):
    assert planning_day(monkeypatch, setting, SNAPSHOT_AT) == dt.date(2026, 8, 15)
    late_in_the_day = dt.datetime(2026, 8, 14, 23, 59, 59)
    assert planning_day(monkeypatch, setting, late_in_the_day) == dt.date(2026, 8, 15)


def test_without_a_snapshot_the_data_setting_plans_for_the_calendar_day(monkeypatch):
    before = dt.datetime.now(dt.UTC).date()
    got = planning_day(monkeypatch, "data", None)
    assert before <= got <= dt.datetime.now(dt.UTC).date()


def test_today_plans_for_the_utc_calendar_day_whatever_the_snapshot(monkeypatch):
    before = dt.datetime.now(dt.UTC).date()
    got = planning_day(monkeypatch, "today", dt.datetime(2001, 1, 1))
    assert before <= got <= dt.datetime.now(dt.UTC).date()


@pytest.mark.parametrize("snapshot_at", [SNAPSHOT_AT, None])
def test_an_iso_date_pins_the_planning_day(monkeypatch, snapshot_at):
    assert planning_day(monkeypatch, "2026-02-28", snapshot_at) == dt.date(2026, 2, 28)


@pytest.mark.parametrize("setting", ["tomorrow", "2026-02-30", "14/08/2026", "", "Data"])
def test_a_setting_that_is_no_planning_day_is_a_clear_error(monkeypatch, setting):
    with pytest.raises(ValueError, match=r"OMS_ROUTING_TODAY=.*'data'.*'today'.*YYYY-MM-DD"):
        planning_day(monkeypatch, setting, SNAPSHOT_AT)


# ------------------------------------------------------------------------------------------
# The oversell check
# ------------------------------------------------------------------------------------------

THIS_RUN, EARLIER_RUN = "run-2", "run-1"
BEFORE_SNAPSHOT = SNAPSHOT_AT - dt.timedelta(hours=6)  # delivered, and the snapshot shows it
AFTER_SNAPSHOT = SNAPSHOT_AT + dt.timedelta(hours=3)  # delivered after the stock was counted


def oversell_check(warehouse: Path, run_id: str | None) -> dg.AssetCheckResult:
    """The check as the routing asset runs it, on the routing step's connection."""
    with Warehouse(warehouse).connect() as con:
        return _oversell_check(con, run_id)


def build_warehouse(
    path: Path,
    stock: dict[tuple[str, str], int],
    allocations: list[tuple[str, str, str, int, dt.datetime | None]],
) -> Path:
    """A warehouse with the real `ops` tables, `stock` as the available-to-promise mart
    ((sku, location) -> available before allocations, all from one snapshot) and
    `allocations` (run, sku, location, units, delivered_at) each with its outbox row."""
    con = duckdb.connect(str(path))
    try:
        ensure_schema(con)
        con.execute("create schema if not exists marts")
        con.execute(
            """create table marts.fct_available_to_promise (
                   sku varchar, location_id varchar, snapshot_at timestamp,
                   available_before_allocations bigint)"""
        )
        for (sku, location), available in stock.items():
            con.execute(
                "insert into marts.fct_available_to_promise values (?, ?, ?, ?)",
                [sku, location, SNAPSHOT_AT, available],
            )
        for n, (run_id, sku, location, units, delivered_at) in enumerate(allocations):
            action_id = f"action-{n}"
            con.execute(
                """insert into ops.allocations (run_id, order_line_id, sku, location_id, units,
                                                action_id, allocated_at)
                   values (?, ?, ?, ?, ?, ?, ?)""",
                [run_id, f"line-{n}", sku, location, units, action_id, BEFORE_SNAPSHOT],
            )
            con.execute(
                """insert into ops.outbox (action_id, kind, destination, payload, state,
                                           next_attempt_at, created_at, delivered_at)
                   values (?, 'fulfillment_request', ?, '{}', ?, ?, ?, ?)""",
                [
                    action_id,
                    location,
                    "pending" if delivered_at is None else "delivered",
                    BEFORE_SNAPSHOT,
                    BEFORE_SNAPSHOT,
                    delivered_at,
                ],
            )
    finally:
        con.close()
    return path


def reported_pairs(result: dg.AssetCheckResult) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(sku, location) -> (outstanding units, this run's units, available), as reported."""
    rows = result.metadata["oversold_pairs"].value  # type: ignore[union-attr]
    return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4])) for r in rows}  # type: ignore[index]


@pytest.fixture
def oversold_pairs(tmp_path: Path) -> Path:
    return build_warehouse(
        tmp_path / "wh.duckdb",
        stock={
            ("SKU-A", "WH-1"): 5,  # oversold by this run: 4 earlier (undelivered) + 3 now
            ("SKU-B", "WH-1"): 5,  # oversold by the earlier run alone; this run left it alone
            ("SKU-C", "WH-1"): 5,  # fits exactly: 3 earlier + 2 now
            ("SKU-D", "WH-2"): 2,  # shrank to 2 after 6 went out and were counted, 2 now
            ("SKU-E", "WH-2"): 4,  # oversold: 3 delivered after the count (still held) + 2 now
        },
        allocations=[
            (EARLIER_RUN, "SKU-A", "WH-1", 4, None),
            (THIS_RUN, "SKU-A", "WH-1", 3, None),
            (EARLIER_RUN, "SKU-B", "WH-1", 8, None),
            (EARLIER_RUN, "SKU-C", "WH-1", 3, AFTER_SNAPSHOT),  # not in the snapshot yet
            (THIS_RUN, "SKU-C", "WH-1", 2, None),
            (EARLIER_RUN, "SKU-D", "WH-2", 6, BEFORE_SNAPSHOT),  # reflected in the snapshot
            (THIS_RUN, "SKU-D", "WH-2", 2, None),
            (EARLIER_RUN, "SKU-E", "WH-2", 3, AFTER_SNAPSHOT),
            (THIS_RUN, "SKU-E", "WH-2", 2, None),
        ],
    )


def test_the_check_reports_only_the_pairs_this_run_oversold(oversold_pairs: Path) -> None:
    result = oversell_check(oversold_pairs, THIS_RUN)
    assert reported_pairs(result) == {("SKU-A", "WH-1"): (7, 3, 5), ("SKU-E", "WH-2"): (5, 2, 4)}
    assert result.passed is False
    assert result.check_name == "no_unit_oversold"
    assert result.metadata["run_id"].value == THIS_RUN  # type: ignore[union-attr]


def test_a_pair_only_an_earlier_run_oversold_is_not_held_against_this_run(
    oversold_pairs: Path,
) -> None:
    """SKU-B is over its stock (8 outstanding, 5 available), but this run allocated none of it:
    the earlier run's own check reported it; this run's check must not fail for it."""
    con = duckdb.connect(str(oversold_pairs), read_only=True)
    outstanding = con.execute(
        "select sum(units) from ops.allocations where sku = 'SKU-B' and location_id = 'WH-1'"
    ).fetchone()
    con.close()
    assert outstanding == (8,)
    assert ("SKU-B", "WH-1") not in reported_pairs(oversell_check(oversold_pairs, THIS_RUN))


def test_a_run_that_fits_everywhere_passes(tmp_path: Path) -> None:
    warehouse = build_warehouse(
        tmp_path / "wh.duckdb",
        stock={("SKU-C", "WH-1"): 5, ("SKU-D", "WH-2"): 2, ("SKU-B", "WH-1"): 5},
        allocations=[
            (EARLIER_RUN, "SKU-B", "WH-1", 8, None),  # oversold before this run, untouched by it
            (EARLIER_RUN, "SKU-C", "WH-1", 3, AFTER_SNAPSHOT),
            (THIS_RUN, "SKU-C", "WH-1", 2, None),
            (EARLIER_RUN, "SKU-D", "WH-2", 6, BEFORE_SNAPSHOT),
            (THIS_RUN, "SKU-D", "WH-2", 2, None),
        ],
    )
    result = oversell_check(warehouse, THIS_RUN)
    assert reported_pairs(result) == {}
    assert result.passed is True


def test_an_allocation_where_no_stock_is_known_is_oversold(tmp_path: Path) -> None:
    warehouse = build_warehouse(
        tmp_path / "wh.duckdb",
        stock={("SKU-A", "WH-1"): 5},
        allocations=[(THIS_RUN, "SKU-A", "WH-9", 1, None)],
    )
    result = oversell_check(warehouse, THIS_RUN)
    assert reported_pairs(result) == {("SKU-A", "WH-9"): (1, 1, 0)}
    assert result.passed is False


def test_a_run_that_routed_nothing_passes_without_reading_the_warehouse() -> None:
    empty = duckdb.connect()  # no ops tables: any query of them would fail
    result = _oversell_check(empty, None)
    empty.close()
    assert result.passed is True
    assert reported_pairs(result) == {}
