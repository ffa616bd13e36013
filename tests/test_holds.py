"""Order holds against a real DuckDB file and a real SQLite operational store.

The marts the hold step reads (fct_orders, fct_order_lines, dim_products, the web shop orders
and postcode staging) are written by hand here, one order per scenario, so each test says which
order must be held for which reason; `tests/test_holds_flow.py` checks the same on a generated
warehouse built by the real flow.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.holds.rules import (
    DEFAULT_HOLD_RULES_PATH,
    RulesError,
    load_hold_rules,
    parse_hold_rules,
)
from ops_actions.holds.run import run_holds
from ops_actions.routing.rules import DEFAULT_RULES_PATH, load_rules
from ops_actions.run_routing import run_routing
from ops_actions.status.keys import CANCELLED, STATUS_KIND, status_action_id
from ops_actions.store import (
    HoldDecisionConflict,
    HoldDecisionInput,
    list_hold_decisions,
    mark_hold_decisions_consumed,
    record_hold_decisions,
)
from tests.doubles.warehouse import open_ops_warehouse

RULES = load_hold_rules(DEFAULT_HOLD_RULES_PATH)
ROUTING_RULES = load_rules(DEFAULT_RULES_PATH)
T0 = dt.datetime(2026, 10, 28, 9, 0)
TODAY = dt.date(2026, 10, 30)

# channel_order_id -> (customer, minutes after T0, amount, postcode, country, payment, lines)
ORDERS: dict[str, tuple] = {
    "webshop:1": ("701", 0, 50.0, "10001", "US", "paid", [("SKU-A", 1)]),
    "webshop:2": ("702", 10, 60.0, "10001", "US", "pending", [("SKU-A", 2)]),
    "webshop:3": ("703", 20, 30.0, "99999", "US", "paid", [("SKU-B", 1)]),
    "webshop:4": ("704", 30, 30.0, None, "US", "paid", [("SKU-B", 1)]),
    "webshop:5": ("705", 40, 30.0, "10001", "CA", "paid", [("SKU-A", 1)]),
    "webshop:6": ("706", 50, 40.0, "10001", "US", "paid", [("SKU-OLD", 1), ("SKU-A", 1)]),
    # 701 again, identical lines 30 minutes after webshop:1: a duplicate
    "webshop:7": ("701", 30, 50.0, "10001", "US", "paid", [("SKU-A", 1)]),
    # a first order of 708 above the risk threshold to a new address
    "webshop:8": ("708", 60, 900.0, "10001", "US", "paid", [("SKU-A", 9)]),
    # 709 ordered before (to the same address): a large order that is not risky
    "webshop:9": ("709", 70, 900.0, "10001", "US", "paid", [("SKU-A", 9)]),
    "wholesale:PO1": ("WC1", 80, 2000.0, "10001", "US", None, [("SKU-B", 20)]),
}
# An earlier, shipped order of customer 709 (not a candidate: nothing open).
HISTORY = {"webshop:0": ("709", -5000, 20.0, "10001", "US", "paid", [("SKU-B", 1)])}
EXPECTED = {
    "webshop:2": {"payment_not_captured"},
    "webshop:3": {"undeliverable_address"},
    "webshop:4": {"incomplete_address"},
    "webshop:5": {"undeliverable_address"},
    "webshop:6": {"unknown_sku"},
    "webshop:7": {"duplicate_order"},
    "webshop:8": {"risk:high_value_first_order"},
}


def build_marts(con: duckdb.DuckDBPyConnection, orders: dict[str, tuple] | None = None) -> None:
    """The marts and staging views the hold step reads, holding `ORDERS` and `HISTORY`."""
    every = {**HISTORY, **(orders or ORDERS)}
    order_rows, line_rows, web_rows = [], [], []
    for coid, (cust, minutes, amount, pc, country, payment, lines) in every.items():
        channel, order_id = coid.split(":")
        open_ = coid not in HISTORY
        units = sum(q for _, q in lines)
        order_rows.append(
            (
                coid,
                channel,
                order_id,
                cust,
                T0 + dt.timedelta(minutes=minutes),
                amount,
                "USD",
                pc,
                country,
                False,
                units if open_ else 0,
            )
        )
        for i, (sku, qty) in enumerate(lines):
            line_rows.append((f"{coid}:{i}", coid, channel, order_id, sku, qty))
        if channel == "webshop":
            web_rows.append((order_id, f"#{order_id}", payment))
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists staging")
    con.execute(
        """create or replace table marts.fct_orders (channel_order_id varchar, channel varchar,
           order_id varchar, customer_id varchar, ordered_at timestamp,
           order_amount decimal(18, 2), currency varchar, ship_to_postcode varchar,
           ship_to_country varchar, is_cancelled boolean, units_open bigint)"""
    )
    con.executemany("insert into marts.fct_orders values (?,?,?,?,?,?,?,?,?,?,?)", order_rows)
    con.execute(
        """create or replace table marts.fct_order_lines (order_line_id varchar,
           channel_order_id varchar, channel varchar, order_id varchar, sku varchar,
           units_ordered bigint)"""
    )
    con.executemany("insert into marts.fct_order_lines values (?,?,?,?,?,?)", line_rows)
    con.execute(
        "create or replace table marts.dim_products as select * from (values "
        "('SKU-A', true), ('SKU-B', true), ('SKU-OLD', false)) as t(sku, is_active)"
    )
    con.execute(
        "create or replace table staging.stg_webshop__orders "
        "(order_id varchar, order_name varchar, financial_status varchar)"
    )
    con.executemany("insert into staging.stg_webshop__orders values (?, ?, ?)", web_rows)
    con.execute(
        "create or replace table staging.stg_reference__postcodes as "
        "select * from (values ('10001')) as t(postcode)"
    )


def open_lines(orders: dict[str, tuple] | None = None) -> pl.DataFrame:
    """The router's open lines for the candidate orders (order_id = channel_order_id)."""
    rows = []
    for coid, (_, minutes, _, _, _, _, lines) in (orders or ORDERS).items():
        for i, (sku, qty) in enumerate(lines):
            rows.append(
                {
                    "order_line_id": f"{coid}:{i}",
                    "order_id": coid,
                    "channel": coid.split(":")[0],
                    "sku": sku,
                    "quantity": qty,
                    "service_level": "standard",
                    "promised_ship_date": TODAY,
                    "promised_delivery_date": TODAY + dt.timedelta(days=3),
                    "ordered_at": T0 + dt.timedelta(minutes=minutes),
                    "ship_to_latitude": 40.75,
                    "ship_to_longitude": -73.99,
                    "weight_kg": 1.0,
                }
            )
    return pl.DataFrame(rows)


ATP = pl.DataFrame(
    {
        "sku": ["SKU-A", "SKU-B", "SKU-OLD"],
        "location_id": ["WH-1"] * 3,
        "available": [1000, 1000, 1000],
    }
)
LOCATIONS = pl.DataFrame(
    {
        "location_id": ["WH-1"],
        "latitude": [40.0],
        "longitude": [-75.0],
        "ships_channels": [["webshop", "marketplace", "wholesale"]],
    }
)


@pytest.fixture
def wh(tmp_path: Path):
    con = open_ops_warehouse(tmp_path / "wh.duckdb")
    build_marts(con)
    yield con
    con.close()


def holds_of(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for coid, reason in con.execute(
        "select channel_order_id, reason_code from ops.order_holds"
    ).fetchall():
        out.setdefault(coid, set()).add(reason)
    return out


def routed_orders(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select distinct order_id from ops.routing_decisions where outcome = 'allocated'"
        ).fetchall()
    }


def route(con: duckdb.DuckDBPyConnection) -> None:
    run_routing(con, ROUTING_RULES, open_lines(), ATP, LOCATIONS, today=TODAY)


def hold_id(con: duckdb.DuckDBPyConnection, coid: str) -> str:
    return str(
        con.execute(
            "select hold_id from ops.order_holds where channel_order_id = ?", [coid]
        ).fetchall()[0][0]
    )


# --------------------------------------------------------------------------------------------
# The rules file
# --------------------------------------------------------------------------------------------


def test_shipped_hold_rules_file_is_valid_and_versioned() -> None:
    assert RULES.version
    assert len(RULES.sha) == 64
    assert RULES.enabled == {
        "unknown_sku",
        "incomplete_address",
        "undeliverable_address",
        "payment_not_captured",
        "duplicate_order",
    }
    assert [r.reason_code for r in RULES.risk_rules] == ["risk:high_value_first_order"]


GOOD = DEFAULT_HOLD_RULES_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "hold_rules.yaml:1: the file is empty"),
        ("version: 1\nchecks: [\n", "invalid YAML"),
        (GOOD.replace("version:", "versoin:"), "<root>.versoin: unknown key"),
        (
            GOOD.replace("window_hours: 24", "window_hours: 0"),
            "checks.duplicate_order.window_hours: must be >= 1, got 0",
        ),
        (
            GOOD.replace("unknown_sku: {enabled: true}", "unknown_sku: {enabled: yes please}"),
            "checks.unknown_sku.enabled: expected true or false",
        ),
        (
            GOOD.replace("order_value_above: 250", "order_value_above: lots"),
            "risk_rules[0].order_value_above: expected a number, got 'lots'",
        ),
        (
            GOOD.replace("  unknown_sku: {enabled: true}\n", ""),
            "checks: missing required key 'unknown_sku'",
        ),
        (
            GOOD.replace("    captured: [paid, partially_refunded]\n", ""),
            "checks.payment_not_captured: missing required key 'captured'",
        ),
        (
            GOOD + "  - name: high_value_first_order\n    order_value_above: 1\n",
            "duplicate risk rule 'high_value_first_order'",
        ),
        (
            GOOD + "  - name: everything\n    channels: [webshop]\n",
            "needs at least one of order_value_above, first_order, new_ship_to",
        ),
        (GOOD + "  - name: Bad Name\n    first_order: true\n", "use lower-case letters"),
    ],
)
def test_a_bad_hold_rules_file_gives_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_hold_rules(text, source="hold_rules.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("hold_rules.yaml:")


def test_a_missing_hold_rules_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="hold rules file not found"):
        load_hold_rules(tmp_path / "nope.yaml")


def test_the_error_points_at_the_line_of_the_problem() -> None:
    text = GOOD.replace("window_hours: 24", "window_hours: -3")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "window_hours: -3" in s)
    with pytest.raises(RulesError, match=f"^hold_rules.yaml:{line}: "):
        parse_hold_rules(text, source="hold_rules.yaml")


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def test_each_scenario_is_held_for_its_reason_and_nothing_else(wh, tmp_path) -> None:
    report = run_holds(wh, RULES, tmp_path / "store.sqlite", now=T0)
    assert holds_of(wh) == EXPECTED
    assert report.evaluated == len(ORDERS)
    assert report.held == len(EXPECTED)
    outcomes = dict(
        wh.execute("select channel_order_id, outcome from ops.order_validations").fetchall()
    )
    assert outcomes == {c: "held" if c in EXPECTED else "validated" for c in ORDERS}
    versions = wh.execute(
        "select distinct rules_version, rules_sha from ops.order_validations"
    ).fetchall()
    assert versions == [(RULES.version, RULES.sha)]


def test_every_hold_has_a_reason_and_a_detail_naming_the_value(wh, tmp_path) -> None:
    run_holds(wh, RULES, tmp_path / "store.sqlite", now=T0)
    details = dict(wh.execute("select channel_order_id, detail from ops.order_holds").fetchall())
    assert all(details.values())
    assert wh.execute(
        "select count(*) from ops.order_holds where reason_code is null or detail = ''"
    ).fetchall() == [(0,)]
    assert "'pending'" in details["webshop:2"]
    assert "'99999'" in details["webshop:3"]
    assert "no ship-to postcode" in details["webshop:4"]
    assert "'CA'" in details["webshop:5"]
    assert "SKU-OLD (inactive" in details["webshop:6"]
    assert "webshop:1" in details["webshop:7"] and "30 min earlier" in details["webshop:7"]
    assert "900.0 USD above 250" in details["webshop:8"]
    assert "first order of customer 708" in details["webshop:8"]


def test_a_rerun_evaluates_nothing_twice(wh, tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    run_holds(wh, RULES, store, now=T0)
    before = wh.execute("select * from ops.order_holds order by hold_id").fetchall()
    again = run_holds(wh, RULES, store, now=T0 + dt.timedelta(hours=1))
    assert again.evaluated == 0 and again.held == 0
    assert wh.execute("select * from ops.order_holds order by hold_id").fetchall() == before
    assert again.open_holds_by_reason == {
        r: sum(r in v for v in EXPECTED.values()) for v in EXPECTED.values() for r in v
    }


def test_a_switched_off_check_holds_nothing(wh, tmp_path) -> None:
    rules = parse_hold_rules(
        GOOD.replace(
            "payment_not_captured:\n    enabled: true", "payment_not_captured:\n    enabled: false"
        )
    )
    run_holds(wh, rules, tmp_path / "store.sqlite", now=T0)
    assert "webshop:2" not in holds_of(wh)


# --------------------------------------------------------------------------------------------
# Routing leaves held orders out; decisions take effect once
# --------------------------------------------------------------------------------------------


def test_held_orders_are_not_routed(wh, tmp_path) -> None:
    run_holds(wh, RULES, tmp_path / "store.sqlite", now=T0)
    route(wh)
    routed = routed_orders(wh)
    assert routed == set(ORDERS) - set(EXPECTED)
    decided = {
        r[0] for r in wh.execute("select distinct order_id from ops.routing_decisions").fetchall()
    }
    assert decided.isdisjoint(EXPECTED)


def test_a_release_takes_effect_exactly_once_at_the_next_run(wh, tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    run_holds(wh, RULES, store, now=T0)
    target = hold_id(wh, "webshop:2")
    [decision_id] = record_hold_decisions(
        store,
        [HoldDecisionInput(target, "webshop:2", "released", "paid by phone")],
        "ana",
        "operator",
    )
    route(wh)  # before the next hold run: the decision is not in effect yet
    assert "webshop:2" not in routed_orders(wh)

    first = run_holds(wh, RULES, store, now=T0 + dt.timedelta(hours=1))
    assert (first.decisions_read, first.released) == (1, 1)
    row = wh.execute(
        "select resolution, resolved_by, resolution_id from ops.order_holds where hold_id = ?",
        [target],
    ).fetchall()
    assert row == [("released", "ana", decision_id)]
    [stored] = list_hold_decisions(store)
    assert (stored.outcome, stored.decided_by, stored.decided_role) == (
        "applied",
        "ana",
        "operator",
    )
    assert stored.consumed_at is not None

    second = run_holds(wh, RULES, store, now=T0 + dt.timedelta(hours=2))
    assert (second.decisions_read, second.released, second.cancelled) == (0, 0, 0)
    route(wh)
    assert "webshop:2" in routed_orders(wh)
    units = wh.execute(
        "select sum(units) from ops.routing_decisions where order_id = 'webshop:2' "
        "and outcome = 'allocated'"
    ).fetchall()
    assert units == [(2,)]  # routed once, not once per run


def test_a_cancelled_holds_order_is_never_routed(wh, tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    run_holds(wh, RULES, store, now=T0)
    record_hold_decisions(
        store, [HoldDecisionInput(hold_id(wh, "webshop:7"), "webshop:7", "cancelled")], "ana"
    )
    report = run_holds(wh, RULES, store, now=T0 + dt.timedelta(hours=1))
    assert report.cancelled == 1
    for _ in range(2):
        route(wh)
    assert "webshop:7" not in routed_orders(wh)
    assert wh.execute(
        "select count(*) from ops.routing_decisions where order_id = 'webshop:7'"
    ).fetchall() == [(0,)]


def test_a_cancellation_is_one_status_update_for_the_channel_enqueued_once(wh, tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    run_holds(wh, RULES, store, now=T0)
    record_hold_decisions(
        store, [HoldDecisionInput(hold_id(wh, "webshop:8"), "webshop:8", "cancelled")], "ana"
    )
    report = run_holds(wh, RULES, store, now=T0)
    run_holds(wh, RULES, store, now=T0)  # a second run enqueues nothing more
    rows = wh.execute(
        "select action_id, destination, payload from ops.outbox where kind = ? "
        "and ordering_key = 'webshop:8' order by ordering_seq",
        [STATUS_KIND],
    ).fetchall()
    cancelled_key = status_action_id("webshop:8", CANCELLED, None, {"webshop:8:0": None})
    assert [r[0] for r in rows][-1] == cancelled_key  # the status producer's own key
    assert report.cancellation_updates == len(rows) >= 1
    assert {r[1] for r in rows} == {"channel:webshop"}
    assert '"fraud"' in rows[-1][2]  # a risk hold is cancelled as fraud


def test_an_order_with_two_holds_is_routed_only_once_both_are_released(tmp_path) -> None:
    orders = {"webshop:20": ("720", 0, 30.0, "99999", "US", "pending", [("SKU-A", 1)])}
    con = open_ops_warehouse(tmp_path / "wh.duckdb")
    store = tmp_path / "store.sqlite"
    build_marts(con, orders)
    run_holds(con, RULES, store, now=T0)
    ids = dict(con.execute("select reason_code, hold_id from ops.order_holds").fetchall())
    assert set(ids) == {"payment_not_captured", "undeliverable_address"}
    lines = open_lines(orders)
    record_hold_decisions(
        store, [HoldDecisionInput(ids["payment_not_captured"], "webshop:20", "released")], "ana"
    )
    run_holds(con, RULES, store, now=T0)
    run_routing(con, ROUTING_RULES, lines, ATP, LOCATIONS, today=TODAY)
    assert routed_orders(con) == set()
    record_hold_decisions(
        store, [HoldDecisionInput(ids["undeliverable_address"], "webshop:20", "released")], "bo"
    )
    run_holds(con, RULES, store, now=T0)
    run_routing(con, ROUTING_RULES, lines, ATP, LOCATIONS, today=TODAY)
    assert routed_orders(con) == {"webshop:20"}
    con.close()


def test_a_crash_before_the_store_is_marked_applies_the_decision_only_once(
    wh, tmp_path, monkeypatch
) -> None:
    store = tmp_path / "store.sqlite"
    run_holds(wh, RULES, store, now=T0)
    target = hold_id(wh, "webshop:2")
    record_hold_decisions(store, [HoldDecisionInput(target, "webshop:2", "released")], "ana")

    def crash(*_: object) -> int:
        raise SystemExit("crash after the warehouse commit")

    monkeypatch.setattr("ops_actions.holds.run.mark_hold_decisions_consumed", crash)
    with pytest.raises(SystemExit):
        run_holds(wh, RULES, store, now=T0)
    monkeypatch.undo()
    assert list_hold_decisions(store, open_only=True)  # still open in the store
    again = run_holds(wh, RULES, store, now=T0)
    assert again.decisions_read == 1 and again.released == 0  # found applied, not re-applied
    assert list_hold_decisions(store, open_only=True) == []
    assert list_hold_decisions(store)[0].outcome == "applied"


def test_a_decision_on_a_hold_someone_decided_is_a_conflict(wh, tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    run_holds(wh, RULES, store, now=T0)
    a, b = hold_id(wh, "webshop:2"), hold_id(wh, "webshop:3")
    record_hold_decisions(store, [HoldDecisionInput(a, "webshop:2", "released")], "ana")
    with pytest.raises(HoldDecisionConflict, match="already released by ana"):
        record_hold_decisions(
            store,
            [
                HoldDecisionInput(b, "webshop:3", "cancelled"),
                HoldDecisionInput(a, "webshop:2", "cancelled"),
            ],
            "bo",
        )
    # all or nothing: the other hold of the bulk decision was not written either
    assert [d.hold_id for d in list_hold_decisions(store)] == [a]


def test_a_hold_decision_must_name_a_user_and_a_known_decision(tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    with pytest.raises(ValueError, match="name the user"):
        record_hold_decisions(store, [HoldDecisionInput("h", "o", "released")], " ")
    with pytest.raises(ValueError, match="decision must be one of"):
        record_hold_decisions(store, [HoldDecisionInput("h", "o", "approved")], "ana")


def test_marking_consumed_keeps_the_first_outcome(tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    [did] = record_hold_decisions(store, [HoldDecisionInput("h", "o", "released")], "ana")
    assert mark_hold_decisions_consumed(store, {did: "applied"}) == 1
    assert mark_hold_decisions_consumed(store, {did: "unknown_hold"}) == 0
    assert list_hold_decisions(store)[0].outcome == "applied"


def test_a_decision_for_a_hold_that_does_not_exist_is_reported(wh, tmp_path) -> None:
    store = tmp_path / "store.sqlite"
    record_hold_decisions(store, [HoldDecisionInput("nope|x", "nope", "released")], "ana")
    report = run_holds(wh, RULES, store, now=T0)
    assert report.unknown_hold == 1
    assert list_hold_decisions(store)[0].outcome == "unknown_hold"
