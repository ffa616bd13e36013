"""The planner page (AppTest from the entry point) on data made by the real reorder step.

The module fixture writes contract-shaped suggestions (figures from the formulas in
`tests/test_reorder_decisions.py`), a demand history and forecasts into a temporary DuckDB
warehouse with the overview's synthetic marts, lets a planner approve two suggestions, runs the
real `consume_decisions` and delivers them through the purchase-order file drop, then publishes
the folder with `pipelines.publish.publish.publish` as a pipeline run does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib.auth import PermissionDenied, User
from dashboards.lib.planner import record_planner_decisions
from ops_actions.delivery.adapters.purchase_order_drop import PurchaseOrderDropAdapter
from ops_actions.store import DecisionInput, list_decisions, record_decisions
from pipelines.ingest.sql import LEDGER_DDL
from pipelines.publish.publish import publish
from tests.conftest import DASHBOARD_USERS
from tests.doubles.apptest import button, table_with
from tests.test_dashboard_pages import loopback_server, run_app
from tests.test_dashboard_pages import sign_in as sign_in_as
from tests.test_dashboard_routing import _mart_models
from tests.test_reorder_decisions import AS_OF, approve, make_suggestions
from tests.test_reorder_delivery import consume, deliver_all, write_suggestions

PAGE = "app_pages/planner.py"
USERS = DASHBOARD_USERS  # the test users (tests/conftest.py: `users_file` holds them)
N = 10
HISTORY_DAYS = 56
HORIZON = 28


def _series_tables(suggestions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    history, forecast = [], []
    for r in suggestions.iter_rows(named=True):
        sid = f"{r['sku']}@{r['location_id']}"
        daily = r["forecast_lt_units"] / r["lead_time_mean_days"]
        for k in range(HISTORY_DAYS):
            day = AS_OF - dt.timedelta(days=HISTORY_DAYS - 1 - k)
            history.append(
                {
                    "series_id": sid,
                    "sku": r["sku"],
                    "location_id": r["location_id"],
                    "demand_date": day,
                    "units": float(daily + (k % 7) - 3),
                    "is_stockout": k == HISTORY_DAYS - 3,
                    "is_outlier": False,
                }
            )
        for step in range(1, HORIZON + 1):
            forecast.append(
                {
                    "series_id": sid,
                    "sku": r["sku"],
                    "location_id": r["location_id"],
                    "forecast_date": AS_OF + dt.timedelta(days=step),
                    "step": step,
                    "units_forecast": daily,
                    "units_lo_80": daily - 1.28,
                    "units_hi_80": daily + 1.28,
                    "units_lo_95": daily - 1.96,
                    "units_hi_95": daily + 1.96,
                    "method": "ses",
                    "demand_class": "smooth",
                    "mase": 0.8,
                    "bias": 0.01,
                    "sigma_daily": 1.0,
                }
            )
    return pl.DataFrame(history), pl.DataFrame(forecast)


def build_published(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    warehouse, store = root / "warehouse.duckdb", root / "seed_store.sqlite"
    suggestions = make_suggestions(N)
    write_suggestions(warehouse, suggestions)
    rows = suggestions.to_dicts()
    record_decisions(store, [approve(rows[0]), approve(rows[1], 60, "promo")], "paula", "planner")
    consume(warehouse, store)
    assert deliver_all(warehouse, PurchaseOrderDropAdapter(root / "drop")) == 0
    history, forecast = _series_tables(suggestions)
    con = duckdb.connect(str(warehouse))
    try:
        for statement in LEDGER_DDL:
            con.execute(statement)
        models = _mart_models(con)
        for name, frame in (("fct_demand_daily", history), ("fct_forecast_daily", forecast)):
            con.register("frame", frame.to_arrow())
            con.execute(f"create table marts.{name} as select * from frame")
            con.unregister("frame")
        models += [
            ("marts", "ops_reorder_suggestions"),
            ("marts", "fct_demand_daily"),
            ("marts", "fct_forecast_daily"),
        ]
        publish(con, models, root / "published", "planner-test-1")
    finally:
        con.close()
    return root


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_published(tmp_path_factory.mktemp("planned"))


@pytest.fixture
def store(planned: Path, monkeypatch, tmp_path, users_file) -> Iterator[Path]:
    """A copy of the seeded store (the two consumed approvals) for this test, the test users,
    fresh caches, a loopback server."""
    import shutil

    import streamlit as st

    path = tmp_path / "ops_store.sqlite"
    shutil.copy(planned / "seed_store.sqlite", path)
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(path))
    monkeypatch.setenv("OMS_USERS_FILE", str(users_file))
    with loopback_server():
        st.cache_data.clear()
        yield path
        st.cache_data.clear()


def page(planned: Path, monkeypatch, user: str | None = None) -> AppTest:
    at = run_app(planned / "published", monkeypatch, PAGE)
    if user is not None:
        sign_in_as(at, user, USERS[user][1])
    assert not at.exception, at.exception
    return at


def test_page_shows_suggestions_status_delivery_and_every_figure(planned, monkeypatch, store):
    at = page(planned, monkeypatch)
    assert any("Read-only" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    suggestions = make_suggestions(N)
    assert metrics["Suggestions"] == str(N)
    assert metrics["Requested"] == "2" and metrics["Undecided"] == str(N - 2)
    assert metrics["Value"] == f"{suggestions['suggested_value'].sum():,.0f} USD"
    table = table_with(at, "status", "delivery_state", "sku")
    assert table.height == N
    requested = table.filter(pl.col("status") == "requested")
    assert sorted(requested["sku"]) == sorted(suggestions["sku"][:2])
    assert set(requested["delivery_state"]) == {"delivered"}
    assert requested.filter(pl.col("sku") == suggestions["sku"][1])["decided_qty"][0] == 60
    # the first suggestion in the table (largest value) is explained with every figure
    first = suggestions.sort("suggested_value", descending=True).row(0, named=True)
    figures = table_with(at, "figure", "value", "meaning")
    shown = dict(zip(figures["figure"], figures["value"], strict=True))
    ss = first["z"] * first["forecast_lt_sigma"]  # recomputed here from its inputs
    assert shown["Safety stock"] == f"{ss:,.1f}" if ss >= 10 else f"{ss:,.3f}"
    assert shown["Reorder point"] == f"{first['forecast_lt_units'] + ss:,.1f}"
    assert shown["Position"] == f"{first['position']:,.1f}"
    for label in (
        "z",
        "σ over lead time",
        "Lead time mean (days)",
        "Lead time σ (days)",
        "Forecast over lead time",
        "Pack size",
        "Raw quantity",
    ):
        assert shown[label] not in ("–", None), label
    assert len(at.get("vega_lite_chart")) == 1
    assert button(at, "Record decision").disabled  # read-only for anyone not a planner


def test_planner_approves_one_with_an_edited_quantity_and_a_note(planned, monkeypatch, store):
    at = page(planned, monkeypatch, "paula")
    assert not button(at, "Record decision").disabled
    picked = at.selectbox(key="pl_pick").value
    at.number_input(key=f"pl_one_qty_{picked}").set_value(48.0)
    at.text_input(key=f"pl_one_note_{picked}").input("pallet deal")
    button(at, "Record decision").click().run()
    assert not at.exception
    assert any("1 decision(s) recorded" in s.value for s in at.success)
    new = [d for d in list_decisions(store) if d.consumed_at is None]
    assert [(d.suggestion_id, d.quantity, d.note, d.decided_by, d.decided_role) for d in new] == [
        (picked, 48.0, "pallet deal", "paula", "planner")
    ]
    table = table_with(at, "status", "delivery_state", "sku")
    assert table.filter(pl.col("status") == "approved").height == 1


def test_bulk_approval_by_filter_is_one_transaction_over_the_selection(planned, monkeypatch, store):
    at = page(planned, monkeypatch, "paula")
    at.multiselect(key="pl_sup").select("SUP-A").run()
    undecided = table_with(at, "status", "sku").filter(pl.col("status") == "undecided")
    at.text_input(key="pl_bulk_note").input("weekly order")
    button(at, "Record bulk decision").click().run()
    assert not at.exception
    new = [d for d in list_decisions(store) if d.consumed_at is None]
    expected = make_suggestions(N).filter(
        (pl.col("supplier_id") == "SUP-A") & (pl.col("kind") == "purchase")
    )
    assert len(new) == undecided.height
    assert {d.suggestion_id for d in new} <= set(expected["suggestion_id"])
    assert {d.note for d in new} == {"weekly order"} and {d.decision for d in new} == {"approved"}
    assert len({d.decided_at for d in new}) == 1


def test_second_planner_sees_a_conflict_and_nothing_is_written(planned, monkeypatch, store):
    at = page(planned, monkeypatch, "paula")
    picked = at.selectbox(key="pl_pick").value
    version = make_suggestions(N).filter(pl.col("suggestion_id") == picked)["suggestion_version"][0]
    # another planner decides it after this page was drawn
    record_decisions(
        store, [DecisionInput(picked, version, "rejected", None, "no")], "peter", "planner"
    )
    button(at, "Record decision").click().run()
    assert any("someone decided first" in e.value and "peter" in e.value for e in at.error)
    mine = [d for d in list_decisions(store) if d.suggestion_id == picked]
    assert [d.decided_by for d in mine] == ["peter"]


def test_a_viewer_writes_nothing_even_by_a_forged_click_or_a_direct_call(
    planned, monkeypatch, store
):
    before = list_decisions(store)
    at = page(planned, monkeypatch, "victor")
    submit = button(at, "Record decision")
    assert submit.disabled
    submit.proto.disabled = False
    submit.click().run()  # a forged submit of the disabled form
    assert not at.exception
    assert not at.success
    assert list_decisions(store) == before
    row = make_suggestions(N).row(5, named=True)
    with pytest.raises(PermissionDenied):
        record_planner_decisions(User("victor", "Victor", "viewer"), store, [approve(row)])
    with pytest.raises(PermissionDenied):
        record_planner_decisions(None, store, [approve(row)])
    assert list_decisions(store) == before


def test_a_stale_approval_is_shown_back_to_the_planner(planned, monkeypatch, store):
    row = make_suggestions(N).row(3, named=True)
    record_decisions(
        store,
        [DecisionInput(row["suggestion_id"], "an-older-version", "approved", 12)],
        "paula",
        "planner",
    )
    at = page(planned, monkeypatch, "paula")
    assert any("1 approval(s) are stale" in w.value for w in at.warning)
    stale = table_with(at, "suggestion_version", "current")
    assert stale.rows() and stale["current"][0] == row["suggestion_version"]
