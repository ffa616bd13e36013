"""The Order page (AppTest from the entry point) over a real published demo.

The module fixture copies the demo of `demo_with_dead_letters` (tests/conftest.py: the real full
flow with one warehouse's fulfillment API failing) and publishes the copy again with the real
`publish`, with small row groups so that skipping them is visible at the demo's size. When the
warehouse has no lifecycle marts yet (built by the lifecycle models), contract-shaped ones are
made from `marts.fct_order_lines` first: placed, then shipped and delivered from the carrier
data, with the contract's columns. Expected figures come from SQL on the warehouse copy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib import order_timeline
from dashboards.lib.published import _query_folder, resolve_current
from pipelines.db import frame
from tests.conftest import FAILING_WAREHOUSE
from tests.doubles.apptest import table_with
from tests.test_dashboard_pages import loopback_server, run_app, unexpected_warnings

PAGE = "app_pages/order.py"
ROW_GROUP_ROWS = 2_048  # DuckDB's smallest row group (one vector)
LIFECYCLE_MARTS = ("fct_order_line_transitions", "fct_order_line_states", "fct_order_states")

CONTRACT_SHAPED_LIFECYCLE = """
create or replace table marts.fct_order_line_transitions as
with steps as (
    select l.*, 'placed' as to_state, ordered_at as occurred_at, channel as source, 1 as k
    from marts.fct_order_lines as l
    union all
    select l.*, 'shipped', first_shipped_at, 'carrier_events', 2
    from marts.fct_order_lines as l where units_shipped > 0 and first_shipped_at is not null
    union all
    select l.*, 'delivered', last_delivered_at, 'carrier_events', 3
    from marts.fct_order_lines as l where last_delivered_at is not null and channel <> 'pos'
)
select
    order_line_id || ':' || to_state || ':' as transition_id,
    order_line_id, channel_order_id, channel, order_id, line_ref,
    cast(row_number() over (partition by order_line_id order by k) as bigint) as transition_seq,
    lag(to_state) over (partition by order_line_id order by k) as from_state,
    to_state, occurred_at, _loaded_at as recorded_at, source,
    source || ':' || order_line_id as source_event_id,
    cast(null as varchar) as carrier, cast(null as varchar) as tracking_number,
    fulfilling_location_id as location_id, cast(units_ordered as bigint) as units,
    cast(null as varchar) as detail
from steps;
create or replace table marts.fct_order_line_states as
select
    t.order_line_id, t.channel_order_id, t.channel, t.order_id, t.line_ref, l.sku,
    l.units_ordered as quantity, t.to_state as state, t.occurred_at as state_since,
    l.units_shipped, cast(case when t.to_state = 'delivered' then l.units_shipped else 0 end
        as bigint) as units_delivered,
    l.units_cancelled, l.units_returned, cast(0 as bigint) as units_refunded,
    cast(null as varchar) as carrier, cast(null as varchar) as tracking_number,
    t.occurred_at as last_event_at
from marts.fct_order_line_transitions as t
join marts.fct_order_lines as l using (order_line_id)
qualify row_number() over (partition by t.order_line_id order by t.transition_seq desc) = 1;
create or replace table marts.fct_order_states as
select channel_order_id, any_value(channel) as channel, any_value(order_id) as order_id,
       min(state) as state, count(*) as lines, cast(sum(quantity) as bigint) as units,
       max(state_since) as state_since, false as is_held, cast(null as varchar) as hold_reasons
from marts.fct_order_line_states group by channel_order_id;
"""


@dataclass(frozen=True)
class OrderDemo:
    warehouse: Path
    published_dir: Path
    lifecycle_from_contract: bool


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]
    ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def order_demo(demo_with_dead_letters, tmp_path_factory) -> OrderDemo:
    from pipelines.publish.publish import contracts_from_manifest, publish
    from pipelines.transform.assets import published_models
    from pipelines.transform.project import dbt_project

    demo = demo_with_dead_letters
    if not demo.success:
        pytest.fail("the demo run with failing destinations (tests/conftest.py) failed")
    root = tmp_path_factory.mktemp("order_demo")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(demo.warehouse_path, warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        models = published_models()
        made = not set(LIFECYCLE_MARTS) <= _tables(con, "marts")
        if made and ("marts", LIFECYCLE_MARTS[0]) in models:
            pytest.fail("the lifecycle marts are dbt models here but the demo did not build them")
        if made:
            con.execute(CONTRACT_SHAPED_LIFECYCLE)
        models += [("marts", m) for m in LIFECYCLE_MARTS if ("marts", m) not in models]
        manifest = json.loads(dbt_project().manifest_path.read_text())
        publish(
            con,
            models,
            root / "published",
            "order-page-test",
            contracts=contracts_from_manifest(manifest),
            sorted_row_group_rows=ROW_GROUP_ROWS,
        )
    finally:
        con.close()
    return OrderDemo(warehouse, root / "published", made)


@pytest.fixture
def app_env(monkeypatch, tmp_path) -> Iterator[None]:
    import streamlit as st

    monkeypatch.setenv("OMS_USERS_FILE", str(tmp_path / "users.yaml"))
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(tmp_path / "ops_store.sqlite"))
    with loopback_server():
        st.cache_data.clear()
        yield
        st.cache_data.clear()


def sql(warehouse: Path, statement: str, params: list[object] | None = None) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return frame(con, statement, params)
    finally:
        con.close()


def search(order_demo: OrderDemo, monkeypatch, text: str) -> AppTest:
    at = run_app(order_demo.published_dir, monkeypatch, PAGE)
    at.text_input(key="order_search").input(text).run()
    assert not at.exception, at.exception
    return at


def found_order(at: AppTest) -> str | None:
    """The channel_order_id the page opened (its caption starts with it)."""
    for caption in at.caption:
        if "found by" in caption.value:
            return caption.value.split("`")[1]
    return None


def references(order_demo: OrderDemo) -> dict[str, tuple[str, str]]:
    """One id per way of naming an order -> (the id, the channel_order_id it names), straight
    from the warehouse's channel data."""
    w = order_demo.warehouse
    pick = {}
    for channel in ("webshop", "marketplace", "pos", "wholesale"):
        row = sql(
            w,
            "select order_id, channel_order_id from marts.fct_order_lines where channel = ? "
            "order by channel_order_id limit 1",
            [channel],
        ).row(0)
        pick[f"{channel} order id"] = (str(row[0]), str(row[1]))
    name = sql(
        w,
        "select o.order_name, l.channel_order_id from staging.stg_webshop__orders as o "
        "join marts.fct_order_lines as l on l.channel = 'webshop' and l.order_id = o.order_id "
        "order by o.order_name limit 1",
    ).row(0)
    pick["web shop order name"] = (str(name[0]), str(name[1]))
    pick["web shop name without #"] = (str(name[0]).lstrip("#"), str(name[1]))
    some = pick["marketplace order id"][1]
    pick["platform id"] = (f"  {some.upper()} ", some)
    return pick


def test_any_id_an_order_is_known_by_finds_it(order_demo, monkeypatch, app_env):
    for label, (text, expected) in references(order_demo).items():
        at = search(order_demo, monkeypatch, text)
        assert not unexpected_warnings(at), (label, unexpected_warnings(at))
        assert found_order(at) == expected, (label, text)


def test_a_search_for_an_unknown_id_says_so(order_demo, monkeypatch, app_env):
    at = search(order_demo, monkeypatch, "no-such-order-42")
    assert found_order(at) is None
    assert any("No order is known by `no-such-order-42`" in w.value for w in at.warning)
    assert not at.dataframe and not at.metric


def _order_with_most_transitions(order_demo: OrderDemo) -> str:
    return str(
        sql(
            order_demo.warehouse,
            "select channel_order_id from marts.fct_order_line_transitions "
            "group by channel_order_id order by count(*) desc, channel_order_id limit 1",
        )["channel_order_id"][0]
    )


def test_the_timeline_of_an_order_equals_its_transitions(order_demo, monkeypatch, app_env):
    order = _order_with_most_transitions(order_demo)
    at = search(order_demo, monkeypatch, order)
    assert found_order(at) == order
    shown = table_with(at, "to_state", "occurred_at", "source")
    expected = sql(
        order_demo.warehouse,
        "select line_ref, from_state, to_state, source, occurred_at, source_event_id "
        "from marts.fct_order_line_transitions where channel_order_id = ? "
        "order by occurred_at, order_line_id, transition_seq",
        [order],
    )
    assert shown.height == expected.height > 2
    for column in ("line_ref", "to_state", "source", "source_event_id"):
        assert shown[column].to_list() == expected[column].to_list(), column
    assert shown["occurred_at"].dt.replace_time_zone(None).to_list() == (
        expected["occurred_at"].to_list()
    )

    lines = table_with(at, "line_ref", "state", "quantity")
    line_states = sql(
        order_demo.warehouse,
        "select line_ref, state from marts.fct_order_line_states where channel_order_id = ? "
        "order by line_ref",
        [order],
    )
    assert lines.select("line_ref", "state").rows() == line_states.rows()
    state = sql(
        order_demo.warehouse,
        "select state from marts.fct_order_states where channel_order_id = ?",
        [order],
    )["state"][0]
    assert any(m.label == "State" and m.value == state for m in at.metric)


def test_decisions_and_actions_of_an_order_sent_to_the_failing_warehouse(
    order_demo, monkeypatch, app_env
):
    """An order whose request was dead-lettered: its routing decisions with their explanation
    and its actions, as the warehouse holds them."""
    order = sql(
        order_demo.warehouse,
        "select json_extract_string(payload, '$.order_id') as o from ops.outbox "
        "where destination = ? and state = 'dead_letter' order by action_id limit 1",
        [FAILING_WAREHOUSE],
    )["o"][0]
    at = search(order_demo, monkeypatch, order)
    assert found_order(at) == order
    decisions = table_with(at, "outcome", "rule", "decided_at")
    expected = sql(
        order_demo.warehouse,
        "select order_line_id, outcome, location_id, units from ops.routing_decisions "
        "where order_id = ? order by decided_at, order_line_id, outcome, location_id",
        [order],
    )
    assert decisions.select("order_line_id", "outcome", "location_id", "units").rows() == (
        expected.rows()
    )
    assert FAILING_WAREHOUSE in decisions["location_id"].to_list()
    assert at.json, "the picked decision's explanation is shown"

    sent = table_with(at, "kind", "destination", "state", "action_id")
    actions = sql(
        order_demo.warehouse,
        "select action_id, state from ops.outbox "
        "where json_extract_string(payload, '$.order_id') = ? or ordering_key = ? "
        "order by created_at, action_id",
        [order, order],
    )
    assert sent.select("action_id", "state").rows() == actions.rows()
    assert "dead_letter" in sent["state"].to_list()


def test_reading_one_order_pushes_the_filter_into_the_parquet_scan(order_demo):
    """Each read of the order page filters inside the Parquet scan and, the exports being
    sorted by order, reads only the row groups that can hold it."""
    order = _order_with_most_transitions(order_demo)
    folder = resolve_current(order_demo.published_dir)
    assert folder is not None
    reads = {
        "order_line_transitions": order_timeline.TIMELINE_SQL,
        "outbox": "select action_id from outbox where channel_order_id = ?",
        "order_line_states": "select * from order_line_states where channel_order_id = ?",
    }
    for table, statement in reads.items():
        plan = _query_folder(folder, f"explain analyze {statement}", [table], [order])
        text = "\n".join(str(v) for v in plan["explain_value"])
        assert "READ_PARQUET" in text and f"channel_order_id = '{order}'" in text, table
        scanned, total = _row_groups(text)
        if table != "outbox":  # the demo's outbox is one row group; the others are many
            assert total > 1 and scanned < total, (table, scanned, total)
    # the search too
    plan = _query_folder(
        folder,
        "explain analyze select * from order_references where list_contains(?, reference_key)",
        ["order_references"],
        [[order]],
    )
    text = "\n".join(str(v) for v in plan["explain_value"])
    scanned, total = _row_groups(text)
    assert scanned < total, (scanned, total)


def _row_groups(plan: str) -> tuple[int, int]:
    line = next(x for x in plan.splitlines() if "Row Groups Scanned" in x)
    scanned, total = line.split(":")[1].strip(" │").split("/")
    return int(scanned), int(total)


def test_every_ops_table_is_published_with_the_order_each_row_concerns(tmp_path):
    """A table a producer adds to `ops` is published without an edit to the publish step; the
    outbox carries the order of each action and the holds the order they hold."""
    from ops_actions.retries import ensure_retry_schema
    from ops_actions.schema import ensure_schema
    from pipelines.publish.publish import publish

    con = duckdb.connect()
    ensure_schema(con)
    ensure_retry_schema(con)
    con.execute(
        "create table ops.order_holds (hold_id varchar, channel_order_id varchar, "
        "reason_code varchar, held_at timestamp)"
    )
    con.execute("insert into ops.order_holds values ('h1', 'web:1', 'unknown_sku', now())")
    con.execute("create table ops.something_new (x integer)")
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_orders as select 'web:1' as channel_order_id, 'web' as channel, "
        "'1' as order_id, now() as ordered_at, 'c1' as customer_id, 9.5 as order_amount, "
        "'USD' as currency, '10001' as ship_to_postcode, 'US' as ship_to_country, "
        "2 as units_open"
    )
    now = "timestamp '2026-01-01 00:00:00'"
    con.execute(
        f"""insert into ops.outbox (action_id, kind, destination, payload, state, attempts,
            total_attempts, next_attempt_at, created_at) values
            ('a1', 'fulfillment_request', 'WH', '{{"order_id": "web:1"}}', 'pending', 0, 0,
             {now}, {now}),
            ('a2', 'purchase_order', 'SUP', '{{"supplier_id": "SUP"}}', 'pending', 0, 0,
             {now}, {now}),
            ('a3', 'alert', 'ops', '{{"channel_order_id": "web:2"}}', 'pending', 0, 0,
             {now}, {now})"""
    )
    result = publish(con, [("marts", "fct_orders")], tmp_path, "ops-export-test", contracts={})
    assert {"ops_outbox", "ops_order_holds", "ops_something_new", "ops_retry_requests_applied"} <= (
        set(result.tables)
    )
    assert "ops_routing_state" not in result.tables
    folder = resolve_current(tmp_path)
    assert folder is not None
    outbox = pl.read_parquet(folder / "ops_outbox.parquet")
    assert dict(outbox.select("action_id", "channel_order_id").iter_rows()) == {
        "a1": "web:1",
        "a3": "web:2",
        "a2": None,
    }
    holds = pl.read_parquet(folder / "ops_order_holds.parquet")
    assert holds.row(0, named=True)["order_amount"] == 9.5
    declared = json.loads((folder / "_contracts.json").read_text())
    assert {c["name"] for c in declared["ops_outbox"]} >= {"channel_order_id", "payload"}
