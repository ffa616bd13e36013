"""The holds page (AppTest from the entry point) on holds made by the real hold step.

The module fixture builds the hand-made marts of `tests/test_holds.py` in a DuckDB file, runs
the real `run_holds`, and publishes the folder with `pipelines.publish.publish.publish` as a
pipeline run does. Decisions recorded on the page are then consumed by another real hold run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib.auth import PermissionDenied, User
from dashboards.lib.holds import record_operator_decisions
from dashboards.lib.users import add_user
from ops_actions.holds.run import run_holds
from ops_actions.store import HoldDecisionInput, list_hold_decisions
from pipelines.publish.publish import publish
from tests.doubles.apptest import button, table_with
from tests.doubles.warehouse import open_ops_warehouse
from tests.test_dashboard_pages import loopback_server, run_app
from tests.test_dashboard_pages import sign_in as sign_in_as
from tests.test_holds import EXPECTED, RULES, T0, build_marts

PAGE = "app_pages/holds.py"
USERS = {"olga": ("operator", "olga-operates-42"), "victor": ("viewer", "victor-views-42")}


def publish_holds(root: Path, store: Path, run_id: str, *, build: bool = False) -> None:
    """Run the hold step (consuming the store's open decisions) and publish the result."""
    con = open_ops_warehouse(root / "warehouse.duckdb")
    try:
        if build:
            build_marts(con)
        run_holds(con, RULES, store, now=T0)
        publish(con, [("marts", "fct_orders")], root / "published", run_id)
    finally:
        con.close()


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    for name, (role, password) in USERS.items():
        add_user(path, name, role, password)
    return path


@pytest.fixture
def held(tmp_path: Path, monkeypatch, users_file) -> Iterator[Path]:
    import streamlit as st

    store = tmp_path / "ops_store.sqlite"
    publish_holds(tmp_path, store, "holds-test-1", build=True)
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(store))
    monkeypatch.setenv("OMS_USERS_FILE", str(users_file))
    with loopback_server():
        st.cache_data.clear()
        yield tmp_path
        st.cache_data.clear()


def page(root: Path, monkeypatch, user: str | None = None) -> AppTest:
    at = run_app(root / "published", monkeypatch, PAGE)
    if user is not None:
        sign_in_as(at, user, USERS[user][1])
    assert not at.exception, at.exception
    return at


def test_page_shows_held_orders_by_reason_read_only_for_a_viewer(held, monkeypatch) -> None:
    at = page(held, monkeypatch, "victor")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Held orders"] == str(len(EXPECTED))
    assert metrics["Decisions waiting"] == "0"
    reasons = table_with(at, "reason_code", "holds", "orders")
    expected = pl.DataFrame({"reason_code": [r for v in EXPECTED.values() for r in v]})[
        "reason_code"
    ].value_counts()
    assert dict(zip(reasons["reason_code"], reasons["orders"], strict=True)) == dict(
        zip(expected["reason_code"], expected["count"], strict=True)
    )
    orders = table_with(at, "channel_order_id", "reasons", "details")
    assert set(orders["channel_order_id"]) == set(EXPECTED)
    assert orders["details"].null_count() == 0
    assert any("Read-only" in c.value for c in at.caption)
    assert button(at, "Record decision").disabled


def test_operator_releases_a_filtered_selection_in_bulk_and_the_next_run_applies_it(
    held, monkeypatch
) -> None:
    at = page(held, monkeypatch, "olga")
    at.multiselect(key="ho_reason").select("payment_not_captured").run()
    assert table_with(at, "channel_order_id", "reasons")["channel_order_id"].to_list() == [
        "webshop:2"
    ]
    at.checkbox(key="ho_every").check()
    at.text_input(key="ho_note").input("paid by bank transfer")
    button(at, "Record decision").click().run()
    assert not at.exception, at.exception
    [decision] = list_hold_decisions(held / "ops_store.sqlite")
    assert (decision.channel_order_id, decision.decision) == ("webshop:2", "released")
    assert (decision.decided_by, decision.decided_role) == ("olga", "operator")
    assert decision.note == "paid by bank transfer"
    assert {m.label: m.value for m in at.metric}["Decisions waiting"] == "1"
    waiting = table_with(at, "hold_id", "decision", "decided_by")
    assert waiting["decided_by"].to_list() == ["olga"]

    publish_holds(held, held / "ops_store.sqlite", "holds-test-2")
    at = page(held, monkeypatch, "olga")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Held orders"] == str(len(EXPECTED) - 1)
    assert metrics["Released"] == "1" and metrics["Decisions waiting"] == "0"


def test_operator_cancels_picked_orders(held, monkeypatch) -> None:
    at = page(held, monkeypatch, "olga")
    at.multiselect(key="ho_pick").select("webshop:7")
    at.radio(key="ho_decision").set_value("cancelled")
    button(at, "Record decision").click().run()
    assert not at.exception, at.exception
    [decision] = list_hold_decisions(held / "ops_store.sqlite")
    assert (decision.channel_order_id, decision.decision) == ("webshop:7", "cancelled")
    publish_holds(held, held / "ops_store.sqlite", "holds-test-2")
    at = page(held, monkeypatch)
    assert {m.label: m.value for m in at.metric}["Cancelled"] == "1"


def test_a_viewer_writes_nothing_even_by_a_direct_call(held) -> None:
    with pytest.raises(PermissionDenied, match="operator or admin"):
        record_operator_decisions(
            User("victor", "Victor", "viewer"),
            held / "ops_store.sqlite",
            [HoldDecisionInput("webshop:2|payment_not_captured", "webshop:2", "released")],
        )
    assert not (held / "ops_store.sqlite").exists() or not list_hold_decisions(
        held / "ops_store.sqlite"
    )
