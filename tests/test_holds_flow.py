"""The hold step inside the main job, on a small generated warehouse (`demo_run`).

The holds it placed are recomputed here independently, from the landing files the generator
wrote (web shop JSON documents, marketplace report, wholesale purchase orders, product and
postcode references) with plain Python, and must be exactly the same (order, reason) pairs; so
the figures of holds by reason are equal too. And no held order got a routing decision.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ops_actions.holds.rules import load_hold_rules
from pipelines.settings import get_settings
from pipelines.summary import build_summary
from tests.conftest import DemoRun

pytestmark = pytest.mark.e2e


def _con(run: DemoRun) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run.warehouse_path), read_only=True)


def _utc(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp).astimezone(dt.UTC).replace(tzinfo=None)


def _web_orders(landing: Path) -> dict[str, dict]:
    """Latest version of every web shop order that parses (the others are quarantined)."""
    latest: dict[str, tuple[tuple[str, str], dict]] = {}
    for path in sorted((landing / "webshop").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                doc = json.loads(line)
                updated = _utc(doc["updated_at"])
                lines = [
                    (li["sku"], int(li["quantity"]), float(li["price"])) for li in doc["line_items"]
                ]
                _utc(doc["created_at"])
            except (ValueError, KeyError, TypeError):
                continue
            if not lines or any(not sku or q <= 0 for sku, q, _ in lines):
                continue
            if doc["id"] >= 5_900_000_000:
                continue  # the generator's reserved range for corrupted copies (quarantined)
            key = f"webshop:{doc['id']}"
            rank = (updated.isoformat(), path.name)
            if key not in latest or rank > latest[key][0]:
                latest[key] = (rank, {**doc, "_lines": lines})
    return {k: v for k, (_, v) in latest.items()}


def _expected_holds(run: DemoRun, evaluated: set[str]) -> set[tuple[str, str]]:
    rules = load_hold_rules(get_settings().hold_rules_path)
    landing = run.landing_dir
    products: dict[str, bool] = {}
    for path in sorted((landing / "reference").glob("products_*.csv")):
        with path.open(newline="") as fh:
            products.update({r["sku"]: r["is_active"] == "Y" for r in csv.DictReader(fh)})
    postcodes: set[str] = set()
    for path in (landing / "reference").glob("postcodes_*.csv"):
        with path.open(newline="") as fh:
            postcodes |= {r["postcode"] for r in csv.DictReader(fh)}

    # channel_order_id -> (customer, ordered_at, postcode, country, amount, payment, lines)
    orders: dict[str, tuple] = {}
    cancelled: set[str] = set()
    for coid, doc in _web_orders(landing).items():
        addr = doc["shipping_address"]
        orders[coid] = (
            str(doc["customer"]["id"]) if doc.get("customer") else None,
            _utc(doc["created_at"]),
            addr.get("zip"),
            addr.get("country_code"),
            round(sum(q * p for _, q, p in doc["_lines"]), 2),
            doc["financial_status"],
            sorted((s, q) for s, q, _ in doc["_lines"]),
        )
        if doc.get("cancelled_at"):
            cancelled.add(coid)
    for path in (landing / "marketplace").glob("*.tsv"):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                coid = f"marketplace:{r['order-id']}"
                if coid in evaluated:
                    orders.setdefault(
                        coid, (None, None, r["ship-postal-code"], r["ship-country"], 0.0, None, [])
                    )
                    orders[coid][6].append((r["sku"], int(r["quantity-purchased"] or 0)))
    for path in (landing / "wholesale").glob("*.txt"):
        for d in path.read_text().splitlines():
            if d[:1] != "D" or len(d) < 81 or d[9:12] == "PO9":  # PO9...: corrupted copies
                continue
            coid = f"wholesale:{d[9:21].strip()}"
            ordered = dt.datetime.strptime(d[53:61], "%Y%m%d")
            orders.setdefault(
                coid, (d[1:9].strip(), ordered, d[69:79].strip(), d[79:81].strip(), 0.0, None, [])
            )
            orders[coid][6].append((d[25:37].strip(), int(d[37:44])))

    expected: set[tuple[str, str]] = set()
    window = dt.timedelta(hours=rules.duplicate_window_hours)
    [risk] = rules.risk_rules
    for coid in evaluated:
        customer, at, pc, country, amount, payment, lines = orders[coid]
        channel = coid.split(":")[0]
        if any(not products.get(sku, False) for sku, _ in lines):
            expected.add((coid, "unknown_sku"))
        if not pc or not country:
            expected.add((coid, "incomplete_address"))
        if (pc and pc not in postcodes) or (country and country not in rules.ship_to_countries):
            expected.add((coid, "undeliverable_address"))
        if channel in rules.payment_channels and payment not in rules.captured_statuses:
            expected.add((coid, "payment_not_captured"))
        if channel != "webshop" or customer is None:
            continue
        earlier = [
            (k, o)
            for k, o in orders.items()
            if k.startswith("webshop:")
            and k != coid
            and o[0] == customer
            and k not in cancelled
            and (o[1], k) < (at, coid)
        ]
        if any(sorted(o[6]) == sorted(lines) and at - o[1] <= window for _, o in earlier):
            expected.add((coid, "duplicate_order"))
        if channel not in (risk.channels or (channel,)):
            continue
        first = not earlier
        new_ship_to = not any((o[2], o[3]) == (pc, country) for _, o in earlier)
        if amount > risk.order_value_above and first and new_ship_to:
            expected.add((coid, risk.reason_code))
    return expected


def test_holds_by_reason_equal_an_independent_computation_from_the_landing_files(
    demo_run: DemoRun,
) -> None:
    assert demo_run.success
    con = _con(demo_run)
    evaluated = {
        r[0] for r in con.execute("select channel_order_id from ops.order_validations").fetchall()
    }
    open_orders = {
        r[0]
        for r in con.execute(
            """select channel_order_id from marts.fct_orders
           where channel <> 'pos' and not is_cancelled and units_open > 0"""
        ).fetchall()
    }
    held = set(con.execute("select channel_order_id, reason_code from ops.order_holds").fetchall())
    versions = con.execute("select distinct rules_version from ops.order_validations").fetchall()
    con.close()
    assert evaluated == open_orders  # every open order was evaluated, once
    assert versions == [(load_hold_rules(get_settings().hold_rules_path).version,)]
    expected = _expected_holds(demo_run, evaluated)
    assert held == expected
    by_reason = Counter(reason for _, reason in held)
    assert by_reason == Counter(reason for _, reason in expected)
    assert by_reason["payment_not_captured"] > 0, "the demo data should hold unpaid orders"


def test_every_hold_has_a_reason_and_no_held_order_is_routed(demo_run: DemoRun) -> None:
    con = _con(demo_run)
    assert con.execute(
        "select count(*) from ops.order_holds where coalesce(reason_code, '') = '' "
        "or coalesce(detail, '') = ''"
    ).fetchall() == [(0,)]
    routed_held = con.execute(
        """select count(*) from ops.routing_decisions
           where order_id in (select channel_order_id from ops.order_holds
                              where resolution is null)"""
    ).fetchall()
    outcomes = dict(
        con.execute("select outcome, count(*) from ops.order_validations group by 1").fetchall()
    )
    con.close()
    assert routed_held == [(0,)]
    assert outcomes.get("validated", 0) > outcomes.get("held", 0) > 0


def test_the_run_summary_prints_holds_by_reason(demo_run: DemoRun) -> None:
    con = _con(demo_run)
    by_reason = dict(
        con.execute(
            "select reason_code, count(*) from ops.order_holds where resolution is null group by 1"
        ).fetchall()
    )
    con.close()
    summary = build_summary(demo_run.warehouse_path)
    assert "Holds: " in summary
    for reason, n in by_reason.items():
        assert any(line.split() == [reason, f"{n:,}"] for line in summary.splitlines()), reason
