"""The routing page, on data produced by the real router and dispatcher, published for real.

The module fixture routes synthetic open lines twice into a temporary DuckDB warehouse
(`run_routing`), delivers the first run's requests (`dispatch_due`) through a file drop for every
location but one, whose HTTP endpoint (the loopback fault-injecting server) answers 500 with one
attempt allowed, so its requests end as dead letters; the second run's requests stay pending.
Synthetic marts go into the same warehouse, and `pipelines.publish.publish.publish` exports
marts, ledger and `ops` tables into a published folder, as a pipeline run does. Expected figures
are recomputed here with polars straight from the published Parquet files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib import routing
from dashboards.lib.users import add_user
from ops_actions.delivery.adapters.file_drop import FileDropAdapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.routing.rules import DEFAULT_RULES_PATH
from ops_actions.run_routing import run_routing
from ops_actions.store import open_retry_requests
from pipelines.ingest.sql import LEDGER_DDL
from pipelines.publish.publish import publish
from tests.conftest import DASHBOARD_USERS
from tests.doubles.apptest import table_with
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.synthetic import make_inputs
from tests.doubles.warehouse import open_ops_warehouse
from tests.test_dashboard_pages import (
    _synthetic_tables,
    loopback_server,
    metrics,
    run_app,
    unexpected_warnings,
)
from tests.test_dashboard_pages import sign_in as sign_in_as

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "dashboards" / "app.py"
PAGE = "app_pages/routing.py"
FAILING_LOCATION = "LOC001"
RETRY_MESSAGE = "retry requested — it will be sent on the next delivery run (every minute)"
USERS = DASHBOARD_USERS  # the test users (tests/conftest.py: `users_file` holds them)
PAGE_TITLES = {
    "overview.py": "Fulfillment overview",
    "breakdowns.py": "Breakdowns",
    "inventory.py": "Inventory",
    "data_quality.py": "Data quality",
    "routing.py": "Routing",
    "planner.py": "Replenishment planner",
    "order.py": "Order",
    "actions.py": "Action log",
    "holds.py": "Order holds",
    "targets.py": "Targets and alerts",
}


@dataclass(frozen=True)
class RoutedWarehouse:
    warehouse: Path
    published_dir: Path
    dead_letter_ids: frozenset[str]


def _mart_models(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The overview's synthetic marts as warehouse tables, so `publish` exports them too."""
    con.execute("create schema if not exists marts")
    models = []
    for name, frame in _synthetic_tables(seed=7).items():
        con.register("frame", frame.to_arrow())
        con.execute(f'create table marts."{name}" as select * from frame')
        con.unregister("frame")
        models.append(("marts", name))
    return models


def _second_wave(first: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New orders (distinct ids) and fresh stock for the second run."""
    more = make_inputs(n_lines=200, n_locations=6, n_skus=40, seed=11)
    lines = more.lines.with_columns(
        pl.concat_str(pl.lit("B"), "order_line_id").alias("order_line_id"),
        pl.concat_str(pl.lit("B"), "order_id").alias("order_id"),
    )
    stock = (
        pl.concat([first, more.atp])
        .group_by("sku", "location_id")
        .agg(
            pl.col("on_hand", "allocated", "safety_buffer", "inbound", "available").sum(),
            pl.col("snapshot_at").max(),
        )
    )
    return lines, stock


def build_routed_warehouse(root: Path, *, with_ops: bool = True) -> RoutedWarehouse:
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse.duckdb"
    dead: frozenset[str] = frozenset()
    if with_ops:
        data = make_inputs(n_lines=300, n_locations=6, n_skus=40, seed=3)
        ops = open_ops_warehouse(warehouse)
        run_routing(ops, DEFAULT_RULES_PATH, data.lines, data.atp, data.locations, today=data.today)
        with FakeWarehouse() as server:
            server.fail_next("500", count=10_000)
            adapters = {
                FAILING_LOCATION: HttpJsonAdapter(server.url),
                "*": FileDropAdapter(root / "drop", "json"),
            }
            report = dispatch_due(ops, adapters, policy=RetryPolicy(max_attempts=1))
        assert report.dead_lettered > 0 and report.delivered > 0
        new_lines, stock = _second_wave(data.atp)
        run_routing(
            ops,
            DEFAULT_RULES_PATH,
            pl.concat([data.lines, new_lines]),
            stock,
            data.locations,
            today=data.today,
        )
        ops.close()
    con = duckdb.connect(str(warehouse))
    try:
        for statement in LEDGER_DDL:
            con.execute(statement)
        models = _mart_models(con)
        if with_ops:
            dead = frozenset(
                r[0]
                for r in con.execute(
                    "select action_id from ops.outbox where state = 'dead_letter'"
                ).fetchall()
            )
        publish(con, models, root / "published", "routing-test-1")
    finally:
        con.close()
    return RoutedWarehouse(warehouse, root / "published", dead)


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> RoutedWarehouse:
    return build_routed_warehouse(tmp_path_factory.mktemp("routed"))


@pytest.fixture
def app_env(monkeypatch, tmp_path, users_file) -> Iterator[Path]:
    """Fresh caches, an empty operational store and the test users, on a loopback server;
    yields the store path."""
    import streamlit as st

    store = tmp_path / "ops_store.sqlite"
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(store))
    monkeypatch.setenv("OMS_USERS_FILE", str(users_file))
    with loopback_server():
        st.cache_data.clear()
        yield store
        st.cache_data.clear()


def run_page(published_dir: Path, monkeypatch, page: str | None = PAGE) -> AppTest:
    return run_app(published_dir, monkeypatch, page)


def sign_in(at: AppTest, username: str, password: str | None = None) -> AppTest:
    """Sign in through the sidebar form as one of USERS (with their password unless given)."""
    return sign_in_as(at, username, password if password is not None else USERS[username][1])


def retry_buttons(at: AppTest) -> dict[str, Any]:
    return {b.key: b for b in at.button if str(b.key).startswith("retry_")}


def forged_click(at: AppTest, action_id: str) -> AppTest:
    """Click a Retry button even if it is disabled, as a hand-made request to the server
    could: AppTest refuses to click disabled widgets, so the flag is lifted first."""
    button = at.button(key=f"retry_{action_id}")
    button.proto.disabled = False
    return button.click().run()


def current(published_dir: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(Path(os.path.realpath(published_dir / "current")) / f"{table}.parquet")


def expected_split(decisions: pl.DataFrame) -> pl.DataFrame:
    """Per run: orders shipped (>= 1 allocated location) and split (> 1), recomputed."""
    return (
        decisions.group_by("run_id", "order_id")
        .agg(
            pl.col("location_id")
            .filter(pl.col("outcome") == "allocated")
            .n_unique()
            .alias("locations")
        )
        .group_by("run_id")
        .agg(
            (pl.col("locations") >= 1).sum().alias("shipped"),
            (pl.col("locations") > 1).sum().alias("split"),
        )
        .with_columns((pl.col("split") / pl.col("shipped")).alias("split_rate"))
    )


def latest_run_id(published_dir: Path) -> str:
    runs = current(published_dir, "ops_routing_runs")
    return str(runs.sort("committed_at", descending=True)["run_id"][0])


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def test_routing_page_renders_latest_run_from_the_entry_point(routed, monkeypatch, app_env):
    at = run_page(routed.published_dir, monkeypatch)
    assert not at.exception
    assert not unexpected_warnings(at), unexpected_warnings(at)
    assert [t.value for t in at.title] == ["Routing"]
    assert any("Data as of" in c.value for c in at.caption)

    latest = latest_run_id(routed.published_dir)
    decisions = current(routed.published_dir, "ops_routing_decisions").filter(
        pl.col("run_id") == latest
    )
    units = {
        outcome: int(decisions.filter(pl.col("outcome") == outcome)["units"].sum())
        for outcome in ("allocated", "backorder", "cancelled")
    }
    shown = metrics(at)
    assert shown["Lines routed"] == f"{decisions['order_line_id'].n_unique():,}"
    assert shown["Allocated"] == f"{units['allocated']:,}"
    assert shown["Backordered"] == f"{units['backorder']:,}"
    assert shown["Cancelled"] == f"{units['cancelled']:,}"
    assert shown["Total cost"] == f"{decisions['total_cost'].sum():,.0f}"
    assert "Gap to bound" in shown  # the solver reports its gap; greedy is not run on schedule
    assert "Cost vs greedy" not in shown
    assert any(latest in c.value for c in at.caption)

    runs = table_with(at, "rules_version")
    assert runs["run_id"].to_list()[0] == latest
    assert runs.height == 2

    queue = table_with(at, "promised_ship_date")
    backorders = decisions.filter(pl.col("outcome") == "backorder")
    assert backorders.height > 0
    assert sorted(queue["order_line_id"]) == sorted(backorders["order_line_id"])
    assert int(queue["units"].sum()) == units["backorder"]

    states = current(routed.published_dir, "ops_outbox")["state"].value_counts()
    counts = dict(zip(states["state"], states["count"], strict=True))
    assert shown["Pending"] == f"{counts.get('pending', 0):,}" != "0"
    assert shown["Delivered"] == f"{counts.get('delivered', 0):,}" != "0"
    assert shown["Dead letter"] == f"{len(routed.dead_letter_ids):,}"
    assert shown["In flight"] == "0"


def test_split_rate_equals_the_one_recomputed_from_the_decisions(routed, monkeypatch, app_env):
    at = run_page(routed.published_dir, monkeypatch)
    assert not at.exception
    expected = expected_split(current(routed.published_dir, "ops_routing_decisions"))
    latest = expected.filter(pl.col("run_id") == latest_run_id(routed.published_dir)).row(
        0, named=True
    )
    assert latest["split"] > 0  # the fixture's latest run splits some orders
    shown = metrics(at)
    assert shown["Split rate"] == f"{latest['split_rate']:.1%}"
    assert shown["Orders shipped"] == f"{latest['shipped']:,}"
    assert shown["Orders split"] == f"{latest['split']:,}"

    per_run = table_with(at, "rules_version").select("run_id", "split_rate")  # in percent
    joined = per_run.join(expected, on="run_id", suffix="_expected")
    assert joined.height == 2
    for row in joined.iter_rows(named=True):
        assert row["split_rate"] == pytest.approx(row["split_rate_expected"] * 100)


def test_decisions_filter_and_explanation(routed, monkeypatch, app_env):
    at = run_page(routed.published_dir, monkeypatch)
    latest = latest_run_id(routed.published_dir)
    decisions = current(routed.published_dir, "ops_routing_decisions").filter(
        pl.col("run_id") == latest
    )
    assert table_with(at, "outcome", "location_id").height == decisions.height

    at.multiselect(key="routing_outcomes").select("backorder").run()
    assert not at.exception
    shown = table_with(at, "outcome", "location_id")
    assert set(shown["outcome"]) == {"backorder"}
    assert shown.height == decisions.filter(pl.col("outcome") == "backorder").height

    at.multiselect(key="routing_outcomes").unselect("backorder").run()
    allocated = decisions.filter(pl.col("outcome") == "allocated").sort("order_id")
    pick = allocated.row(0, named=True)
    at.selectbox(key="routing_decision").select(pick["decision_id"]).run()
    assert not at.exception
    doc = routing.parse_figures(pick["explanation"])
    why = next(m.value for m in at.markdown if "Rule that applied" in m.value)
    assert f"`{doc['rule']}`" in why
    assert doc["reason"] in why
    alternatives = table_with(at, "chosen")
    assert alternatives.height == len(doc["alternatives"])
    assert pick["location_id"] in alternatives.filter(pl.col("chosen"))["location_id"].to_list()


def test_dead_letter_table_lists_exactly_the_dead_lettered_actions(routed, monkeypatch, app_env):
    at = run_page(routed.published_dir, monkeypatch)
    assert not at.exception
    dead = table_with(at, "last_error")
    assert dead.height == len(routed.dead_letter_ids) > 0
    assert set(dead["action_id"]) == routed.dead_letter_ids
    assert set(dead["destination"]) == {FAILING_LOCATION}
    assert set(dead["last_error"]) == {"HTTP 500"}
    assert set(retry_buttons(at)) == {f"retry_{a}" for a in routed.dead_letter_ids}

    attempts = table_with(at, "attempt_no")  # the first dead letter, selected by default
    assert attempts.height == 1
    assert attempts.row(0, named=True)["http_status"] == 500


def test_retry_by_an_operator_writes_one_open_request_naming_them(routed, monkeypatch, app_env):
    store = app_env
    at = sign_in(run_page(routed.published_dir, monkeypatch), "olga")
    assert any("Signed in as **olga** · operator" in m.value for m in at.sidebar.markdown)
    action_id = sorted(routed.dead_letter_ids)[0]
    assert not store.exists()  # viewing the page writes nothing
    assert not retry_buttons(at)[f"retry_{action_id}"].disabled

    at.button(key=f"retry_{action_id}").click().run()
    assert not at.exception
    assert any(RETRY_MESSAGE in s.value for s in at.success)
    requests = open_retry_requests(store)
    assert [(r.action_id, r.requested_by, r.requested_role) for r in requests] == [
        (action_id, "olga", "operator")
    ]

    at.run()  # a plain rerun shows the request next to the button, without requesting again
    assert any("retry requested" in c.value for c in at.caption)
    at.button(key=f"retry_{action_id}").click().run()
    assert not at.exception
    assert [r.request_id for r in open_retry_requests(store)] == [requests[0].request_id]

    con = duckdb.connect(str(routed.warehouse), read_only=True)
    try:  # the warehouse is untouched: the delivery job consumes the request
        state = con.execute(
            "select state from ops.outbox where action_id = ?", [action_id]
        ).fetchall()
    finally:
        con.close()
    assert state == [("dead_letter",)]


@pytest.mark.parametrize("username", [None, "victor", "paula"])
def test_retry_is_refused_without_the_operator_role_even_if_clicked(
    username, routed, monkeypatch, app_env
):
    """Not signed in, a viewer, a planner: the buttons are disabled, and a click sent anyway
    writes nothing (Streamlit discards it, and the action checks the role itself: see
    tests/test_auth.py for the action called directly)."""
    store = app_env
    at = run_page(routed.published_dir, monkeypatch)
    if username:
        sign_in(at, username)
    action_id = sorted(routed.dead_letter_ids)[0]
    buttons = retry_buttons(at)
    assert buttons and all(b.disabled for b in buttons.values())
    assert any("Retrying needs a signed-in operator or admin" in c.value for c in at.caption)

    forged_click(at, action_id)
    assert not at.exception
    assert not any(RETRY_MESSAGE in s.value for s in at.success)
    assert not store.exists() or open_retry_requests(store) == []


def test_a_wrong_password_is_refused(routed, monkeypatch, app_env):
    at = sign_in(run_page(routed.published_dir, monkeypatch), "olga", "not-her-password")
    assert any("incorrect" in e.value for e in at.sidebar.error)
    assert not any("Signed in as" in m.value for m in at.sidebar.markdown)
    assert all(b.disabled for b in retry_buttons(at).values())
    at = sign_in(at, "nobody", "olga-operates-42")  # an unknown user with a real password
    assert any("incorrect" in e.value for e in at.sidebar.error)
    assert all(b.disabled for b in retry_buttons(at).values())


def test_a_removed_user_loses_the_right_to_retry_at_the_next_click(
    routed, monkeypatch, app_env, tmp_path
):
    users = tmp_path / "users.yaml"
    add_user(users, "otto", "operator", "otto-operates-42")
    monkeypatch.setenv("OMS_USERS_FILE", str(users))
    at = sign_in(run_page(routed.published_dir, monkeypatch), "otto", "otto-operates-42")
    action_id = sorted(routed.dead_letter_ids)[0]
    assert not retry_buttons(at)[f"retry_{action_id}"].disabled
    add_user(users, "otto", "viewer", "otto-operates-42", replace=True)  # demoted meanwhile
    forged_click(at, action_id)  # the button on their screen was still enabled
    assert not at.exception
    assert not any(RETRY_MESSAGE in s.value for s in at.success)
    assert not app_env.exists() or open_retry_requests(app_env) == []
    assert retry_buttons(at)[f"retry_{action_id}"].disabled
    assert any("otto is a viewer" in c.value for c in at.caption)


def test_empty_state_when_no_routing_run_was_published(tmp_path, monkeypatch, app_env):
    no_ops = build_routed_warehouse(tmp_path / "no_ops", with_ops=False)
    assert not (
        Path(os.path.realpath(no_ops.published_dir / "current")) / "ops_outbox.parquet"
    ).exists()
    at = run_page(no_ops.published_dir, monkeypatch)
    assert not at.exception
    assert any("No routing run published yet" in i.value for i in at.info)
    assert not at.metric
    assert not at.dataframe
    assert not routing.has_routing_runs(no_ops.published_dir)


def test_nothing_published_shows_the_main_empty_state(tmp_path, monkeypatch, app_env):
    at = run_page(tmp_path / "nothing-here", monkeypatch)
    assert not at.exception
    assert any("python3 -m pipelines demo" in i.value for i in at.info)
    assert not at.metric


def test_every_page_of_the_navigation_renders(routed, monkeypatch, app_env):
    pages = sorted(p.name for p in (APP.parent / "app_pages").glob("*.py"))
    assert pages == sorted(PAGE_TITLES)  # a new page needs a title here (and a test)
    at = run_page(routed.published_dir, monkeypatch, page=None)
    assert [t.value for t in at.title] == [PAGE_TITLES["overview.py"]]  # the default page
    for page in pages:
        at.switch_page(f"app_pages/{page}")
        at.run()
        assert not at.exception, page
        assert not unexpected_warnings(at), (page, unexpected_warnings(at))
        assert [t.value for t in at.title] == [PAGE_TITLES[page]]
        assert at.metric or at.info, page  # figures, or the page's own empty state


# --------------------------------------------------------------------------------------------
# Figures and explanations (pure)
# --------------------------------------------------------------------------------------------


def test_figures_show_what_exists_without_assuming_keys():
    solver = {"cost": {"total": 96.7}, "gap": 0.072, "stages": [{"rule": "a", "lines": 3}]}
    assert routing.gap(solver) == pytest.approx(0.072)
    assert routing.cost_vs_greedy(solver) is None
    assert routing.stage_figures(solver).to_dicts() == [{"rule": "a", "lines": 3}]
    assert routing.cost_vs_greedy({**solver, "greedy": {"cost": {"total": 100.0}}}) == (
        pytest.approx(0.967)
    )
    assert routing.cost_vs_greedy({"cost_vs_greedy": 0.95}) == pytest.approx(0.95)
    assert routing.flatten_figures({"cost": {"split": 6.0}, "stages": []}) == {"cost.split": 6.0}
    assert routing.parse_figures("not json") == {}
    assert routing.parse_figures(None) == {}
    assert routing.gap({}) is None
    assert routing.stage_figures({}).is_empty()


def test_explanation_view_tolerates_missing_and_unknown_keys():
    view = routing.explanation_view({"rule": "r1", "new_key": 1, "rules_tried": ["r0"]})
    assert (view.rule, view.rules_tried, view.outcome) == ("r1", ("r0",), None)
    assert view.alternatives.is_empty()
    assert view.other == {"new_key": 1}
