"""The Action log page (AppTest from the entry point) over a real published demo.

`demo_with_dead_letters` (tests/conftest.py) runs the small demo through the real full flow
with one warehouse's fulfillment API failing, drives those requests and two approved reorder
requests (suppliers failing too) to dead letters with the real dispatcher, and publishes with
the real `deliver_due` job. Expected figures are SQL counts on the warehouse's `ops.outbox`,
independent of the page's reading of the Parquet copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib.retry_panel import RETRY_MESSAGE, retry_message
from ops_actions.reorders.decide import REORDER_KINDS
from ops_actions.retries import NOT_DEAD_LETTERED, REQUEUED, consume_retry_requests
from ops_actions.run_routing import FULFILLMENT_KIND
from ops_actions.store import open_retry_requests, open_store, request_retry
from pipelines.db import frame
from tests.conftest import DASHBOARD_USERS, FAILED_REORDERS, FAILING_WAREHOUSE, run_job
from tests.doubles.apptest import table_with
from tests.test_dashboard_pages import loopback_server, metrics, run_app, unexpected_warnings
from tests.test_dashboard_pages import sign_in as sign_in_as

PAGE = "app_pages/actions.py"


@pytest.fixture(scope="module")
def demo(demo_with_dead_letters):
    if not demo_with_dead_letters.success:
        pytest.fail("the demo run with failing destinations (tests/conftest.py) failed")
    return demo_with_dead_letters


@pytest.fixture
def app_env(monkeypatch, tmp_path, users_file) -> Iterator[Path]:
    """Fresh caches, an empty operational store, the test users, a loopback server; yields
    the store path."""
    import streamlit as st

    store = tmp_path / "ops_store.sqlite"
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(store))
    monkeypatch.setenv("OMS_USERS_FILE", str(users_file))
    with loopback_server():
        st.cache_data.clear()
        yield store
        st.cache_data.clear()


def sql(warehouse: Path, statement: str, params: list[object] | None = None) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return frame(con, statement, params)
    finally:
        con.close()


def page(published_dir: Path, monkeypatch, user: str | None = None) -> AppTest:
    at = run_app(published_dir, monkeypatch, PAGE)
    if user is not None:
        sign_in_as(at, user, DASHBOARD_USERS[user][1])
    assert not at.exception, at.exception
    return at


def test_counts_by_kind_and_state_equal_a_count_on_the_warehouse_outbox(demo, monkeypatch, app_env):
    at = page(demo.published_dir, monkeypatch)
    assert not unexpected_warnings(at), unexpected_warnings(at)
    assert [t.value for t in at.title] == ["Action log"]
    expected = sql(
        demo.warehouse_path,
        "select kind, state, count(*) as n from ops.outbox group by kind, state",
    )
    shown = table_with(at, "kind", "total")
    seen = {
        (row["kind"], state): row[state]
        for row in shown.iter_rows(named=True)
        for state in ("pending", "in_flight", "delivered", "dead_letter")
    }
    for row in expected.iter_rows(named=True):
        assert seen[(row["kind"], row["state"])] == row["n"], row
    assert sum(seen.values()) == int(expected["n"].sum())
    assert {FULFILLMENT_KIND} <= set(shown["kind"]) and set(shown["kind"]) & set(REORDER_KINDS)
    tiles = metrics(at)
    dead = int(expected.filter(pl.col("state") == "dead_letter")["n"].sum())
    assert tiles["Dead letter"] == f"{dead:,}" and dead > FAILED_REORDERS
    assert tiles["Actions"] == f"{int(expected['n'].sum()):,}"


def test_filters_select_exactly_the_matching_actions(demo, monkeypatch, app_env):
    at = page(demo.published_dir, monkeypatch)
    at.multiselect(key="actions_states").select("dead_letter").run()
    at.multiselect(key="actions_destinations").select(FAILING_WAREHOUSE).run()
    assert not at.exception
    listed = table_with(at, "action_id", "state", "destination", "created_at")
    expected = sql(
        demo.warehouse_path,
        "select action_id from ops.outbox where state = 'dead_letter' and destination = ?",
        [FAILING_WAREHOUSE],
    )
    assert expected.height > 0
    assert sorted(listed["action_id"]) == sorted(expected["action_id"])
    assert any(f"{expected.height:,} action(s) in this selection" in c.value for c in at.caption)

    # text search on an order id: every action of that order, and only those
    order = sql(
        demo.warehouse_path,
        "select json_extract_string(payload, '$.order_id') as o from ops.outbox "
        "where kind = ? and destination = ? order by action_id limit 1",
        [FULFILLMENT_KIND, FAILING_WAREHOUSE],
    )["o"][0]
    at.multiselect(key="actions_states").unselect("dead_letter").run()
    at.multiselect(key="actions_destinations").unselect(FAILING_WAREHOUSE).run()
    at.text_input(key="actions_search").input(order).run()
    listed = table_with(at, "action_id", "state", "destination", "created_at")
    of_order = sql(
        demo.warehouse_path,
        # an action concerns the order by its fulfillment payload, by the order it is
        # delivered in order with (status updates), or by its action id
        "select action_id from ops.outbox "
        "where contains(lower(json_extract_string(payload, '$.order_id')), lower(?)) "
        "or contains(lower(coalesce(ordering_key, '')), lower(?)) "
        "or contains(lower(action_id), lower(?))",
        [order, order, order],
    )
    assert sorted(listed["action_id"]) == sorted(of_order["action_id"])

    at.text_input(key="actions_search").input("").run()
    at.multiselect(key="actions_kinds").select(REORDER_KINDS[0]).run()
    listed = table_with(at, "action_id", "state", "destination", "created_at")
    assert set(listed["kind"]) <= {REORDER_KINDS[0]}
    n = sql(
        demo.warehouse_path,
        "select count(*) as n from ops.outbox where kind = ?",
        [REORDER_KINDS[0]],
    )["n"][0]
    assert listed.height == n


def test_the_attempt_history_and_payload_of_one_action(demo, monkeypatch, app_env):
    dead = sql(
        demo.warehouse_path,
        "select action_id, payload from ops.outbox where state = 'dead_letter' and kind = ? "
        "order by action_id limit 1",
        [REORDER_KINDS[0]],
    ).row(0, named=True)
    at = page(demo.published_dir, monkeypatch)
    at.text_input(key="actions_action_id").input(dead["action_id"]).run()
    assert not at.exception
    history = table_with(at, "attempt_no", "outcome")
    expected = sql(
        demo.warehouse_path,
        "select attempt_no, outcome, http_status from ops.delivery_attempts "
        "where action_id = ? order by attempt_no",
        [dead["action_id"]],
    )
    assert history["attempt_no"].to_list() == expected["attempt_no"].to_list()
    assert [int(v) for v in history["http_status"]] == expected["http_status"].to_list() != []
    assert any(dead["action_id"] in m.value for m in at.markdown)
    assert at.json, "the payload is shown"

    at.text_input(key="actions_action_id").input("no-such-action").run()
    assert any("No action with id `no-such-action`" in w.value for w in at.warning)


@pytest.fixture
def copied(demo, tmp_path, monkeypatch) -> Path:
    """A copy of the demo's data folder, with every setting pointed at it: a test that runs a
    job changes only its copy."""
    data = tmp_path / "data"
    shutil.copytree(demo.data_dir, data, symlinks=True, ignore=shutil.ignore_patterns("landing"))
    for key, value in demo.settings_env.items():
        monkeypatch.setenv(key, value.replace(str(demo.data_dir), str(data)))
    return data


def test_a_retry_from_the_action_log_is_applied_once_at_the_next_run(
    demo, copied, monkeypatch, users_file
):
    """Any kind: a reorder request and a fulfillment request, retried from the page, are
    requeued by the next delivery run exactly once; a second run changes nothing."""
    import streamlit as st

    from pipelines.settings import get_settings

    settings = get_settings()
    warehouse, store = settings.warehouse_path, settings.ops_store_path
    before = sql(
        warehouse,
        "select action_id, kind, total_attempts from ops.outbox where state = 'dead_letter'",
    )
    monkeypatch.setenv("OMS_USERS_FILE", str(users_file))
    with loopback_server():
        st.cache_data.clear()
        at = page(settings.published_dir, monkeypatch, "olga")
        with_button = {str(b.key).removeprefix("retry_") for b in at.button}
        listed = before.filter(pl.col("action_id").is_in(list(with_button))).sort("action_id")
        reorder = listed.filter(pl.col("kind").is_in(REORDER_KINDS))["action_id"][0]
        fulfil = listed.filter(pl.col("kind") == FULFILLMENT_KIND)["action_id"][0]
        kind_of = dict(before.select("action_id", "kind").iter_rows())
        open_before = len(open_retry_requests(store))
        for action_id in (reorder, fulfil):
            at.button(key=f"retry_{action_id}").click().run()
            assert not at.exception
            message = retry_message(kind_of[action_id])
            assert any(message in s.value for s in at.success), (action_id, message)
        assert retry_message(kind_of[fulfil]) == RETRY_MESSAGE != retry_message(kind_of[reorder])
        requests = open_retry_requests(store)
        assert len(requests) == open_before + 2
        assert {r.action_id for r in requests} >= {reorder, fulfil}
        assert all(r.requested_by == "olga" for r in requests)
        # the page wrote only the store: the warehouse still has them dead-lettered
        still = sql(warehouse, "select count(*) as n from ops.outbox where state = 'dead_letter'")
        assert still["n"][0] == before.height

        assert run_job("deliver_due")
        applied = sql(warehouse, "select * from ops.retry_requests_applied")
        assert sorted(applied["action_id"]) == sorted([reorder, fulfil])
        assert set(applied["outcome"]) == {REQUEUED}
        assert open_retry_requests(store) == []
        after = sql(
            warehouse,
            "select action_id, state, attempts, total_attempts from ops.outbox "
            "where action_id in (?, ?)",
            [reorder, fulfil],
        )
        by_id = {r["action_id"]: r for r in after.iter_rows(named=True)}
        attempts_before = dict(before.select("action_id", "total_attempts").iter_rows())
        # the fulfillment request was sent again at once (and failed again: a retry later)
        assert by_id[fulfil]["total_attempts"] == attempts_before[fulfil] + 1
        assert by_id[fulfil]["state"] == "pending"
        # the reorder request waits for the step that delivers its kind, with a fresh cycle
        assert by_id[reorder]["state"] == "pending"
        assert by_id[reorder]["attempts"] == 0
        assert by_id[reorder]["total_attempts"] == attempts_before[reorder]

        assert run_job("deliver_due")  # the next run: nothing applied again
        again = sql(warehouse, "select count(*) as n from ops.retry_requests_applied")
        assert again["n"][0] == 2
        st.cache_data.clear()
        at = page(settings.published_dir, monkeypatch)
        at.text_input(key="actions_action_id").input(reorder).run()
        history = table_with(at, "requested_by", "applied_at")
        assert history["requested_by"].to_list() == ["olga"]
        assert history["outcome"].to_list() == [REQUEUED]
        st.cache_data.clear()


def test_a_retry_request_survives_a_crash_between_requeue_and_store_without_a_second_requeue(
    demo, copied
):
    """The requeue commits in the warehouse; the crash loses the store's mark. The next step
    finds the request applied and only copies the outcome."""
    from pipelines.settings import get_settings
    from pipelines.warehouse import Warehouse

    settings = get_settings()
    dead = sql(
        settings.warehouse_path,
        "select action_id from ops.outbox where state = 'dead_letter' order by action_id limit 1",
    )["action_id"][0]
    request_id = request_retry(settings.ops_store_path, dead, "olga", "operator")
    con = Warehouse(settings.warehouse_path).open()
    try:
        first = consume_retry_requests(con, settings.ops_store_path)
        assert first.outcomes == {REQUEUED: 1}
        with open_store(settings.ops_store_path) as store:  # the crash: the mark is lost
            store.execute(
                "update retry_requests set consumed_at = null, outcome = null where request_id = ?",
                (request_id,),
            )
        # meanwhile the action failed its new cycle again
        con.execute("update ops.outbox set state = 'dead_letter' where action_id = ?", [dead])
        second = consume_retry_requests(con, settings.ops_store_path)
        assert second.already_applied == 1 and second.outcomes == {}
        state = con.execute("select state from ops.outbox where action_id = ?", [dead]).fetchall()
        assert state == [("dead_letter",)]  # not requeued a second time
        # a request for an action no longer dead-lettered changes nothing
        request_retry(settings.ops_store_path, dead, "olga", "operator")
        con.execute("update ops.outbox set state = 'delivered' where action_id = ?", [dead])
        third = consume_retry_requests(con, settings.ops_store_path)
        assert third.outcomes == {NOT_DEAD_LETTERED: 1}
    finally:
        con.close()
    assert open_retry_requests(settings.ops_store_path) == []


def test_retry_buttons_are_disabled_for_a_viewer_and_a_click_writes_nothing(
    demo, monkeypatch, app_env
):
    at = page(demo.published_dir, monkeypatch, "victor")
    buttons = [b for b in at.button if str(b.key).startswith("retry_")]
    assert buttons and all(b.disabled for b in buttons)
    forged = next(b for b in buttons if b.key != "retry_all")
    forged.proto.disabled = False
    forged.click().run()
    assert not at.exception
    assert not app_env.exists() or open_retry_requests(app_env) == []


def test_empty_state_when_nothing_was_ever_sent(tmp_path, monkeypatch, app_env):
    from tests.test_dashboard_pages import _synthetic_tables, publish

    published = tmp_path / "published"
    publish(published, "synthetic-1", _synthetic_tables(seed=7))
    at = page(published, monkeypatch)
    assert any("No outbound action published yet" in i.value for i in at.info)
    assert not at.dataframe
