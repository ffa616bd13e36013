"""The overview (previous period, targets, movers, alerts) and the Targets and alerts page,
through AppTest from the entry point, on the real demo run's published folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dashboards.lib import kpis
from dashboards.lib.users import add_user
from ops_actions.alerts.run import ALERT_KIND
from ops_actions.store import target_history
from tests.doubles.apptest import button, table_with
from tests.test_dashboard_pages import loopback_server, run_app, sign_in

USERS = {"mona": ("manager", "mona-manages-42"), "victor": ("viewer", "victor-views-42")}
TARGETS_PAGE = "app_pages/targets.py"
OVERVIEW = "app_pages/overview.py"


@pytest.fixture
def app_env(demo_run, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    import streamlit as st

    users = tmp_path / "users.yaml"
    for name, (role, password) in USERS.items():
        add_user(users, name, role, password)
    store = tmp_path / "ops_store.sqlite"
    monkeypatch.setenv("OMS_USERS_FILE", str(users))
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(store))
    with loopback_server():
        st.cache_data.clear()
        yield store
        st.cache_data.clear()


def test_overview_shows_targets_movers_and_the_alerts_of_the_run(demo_run, app_env, monkeypatch):
    at = run_app(demo_run.published_dir, monkeypatch, OVERVIEW)
    assert not at.exception, at.exception
    # the last 7 days: the 14-day demo covers the 7 before them, so changes and movers show
    last = kpis.filter_options(demo_run.published_dir).max_date
    at.date_input[0].set_value((last - dt.timedelta(days=6), last)).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any("Changes against the previous 7 days" in c for c in captions), captions
    assert any("target at least 95.0%" in c for c in captions), captions
    assert [h.value for h in at.subheader][:3] == ["Trends", "Biggest movers", "Alerts"]
    movers = table_with(at, "dimension", "member", "impact_pp", "share")
    impacts = movers["impact_pp"].abs().to_list()
    assert impacts == sorted(impacts, reverse=True)
    # the impact is the share times the change, in points
    for row in movers.iter_rows(named=True):
        assert row["impact_pp"] == pytest.approx(row["share"] * row["change_pp"])
    con = duckdb.connect(str(demo_run.warehouse_path), read_only=True)
    try:
        raised = con.execute(
            "select count(*) from ops.outbox where kind = ?", [ALERT_KIND]
        ).fetchall()[0][0]
    finally:
        con.close()
    if raised:
        alerts = table_with(at, "order_date", "alert", "state")
        assert alerts.height == min(raised, 10)
    else:
        assert any("No target breached" in c for c in captions)


def test_a_manager_sets_a_channel_target_and_bad_input_is_refused(demo_run, app_env, monkeypatch):
    store = app_env
    at = run_app(demo_run.published_dir, monkeypatch, TARGETS_PAGE)
    sign_in(at, "mona", USERS["mona"][1])
    at.selectbox(key="tg_metric").set_value("on_time_delivery_rate").run()
    at.selectbox(key="tg_dimension").set_value("channel").run()
    at.text_input(key="tg_member_channel").input("webshop").run()
    # 120 % is no rate: refused with a message, nothing stored
    at.number_input(key="tg_threshold").set_value(120.0).run()
    button(at, "Save target").click().run()
    assert not at.exception, at.exception
    assert any("between 0 % and 100 %" in e.value for e in at.error), [e.value for e in at.error]
    assert target_history(store) == []
    at.number_input(key="tg_threshold").set_value(97.0).run()
    at.text_input(key="tg_note").input("peak season").run()
    button(at, "Save target").click().run()
    assert not at.exception, at.exception
    (stored,) = target_history(store)
    assert (stored.scope.member, stored.threshold, stored.version) == ("webshop", 0.97, 1)
    assert (stored.set_by, stored.set_role, stored.note) == ("mona", "manager", "peak season")
    in_force = table_with(at, "kpi", "member", "target", "set_by")
    row = in_force.filter(in_force["member"] == "webshop").row(0, named=True)
    assert (row["target"], row["set_by"]) == ("at least 97.0%", "mona")


def test_a_viewer_sees_the_targets_read_only(demo_run, app_env, monkeypatch):
    at = run_app(demo_run.published_dir, monkeypatch, TARGETS_PAGE)
    sign_in(at, "victor", USERS["victor"][1])
    assert not at.exception, at.exception
    assert "Save target" not in [b.label for b in at.button]
    assert any("Read-only" in c.value for c in at.caption)
    assert table_with(at, "kpi", "member", "target").height >= 6


def test_the_action_log_lists_the_alerts_among_every_kind(demo_run, app_env, monkeypatch):
    con = duckdb.connect(str(demo_run.warehouse_path), read_only=True)
    try:
        kinds = {k for (k,) in con.execute("select distinct kind from ops.outbox").fetchall()}
    finally:
        con.close()
    at = run_app(demo_run.published_dir, monkeypatch, "app_pages/actions.py")
    assert not at.exception, at.exception
    by_kind = table_with(at, "kind", "delivered", "dead_letter", "total")
    assert set(by_kind["kind"]) == kinds
