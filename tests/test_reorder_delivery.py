"""Reorder requests end to end against a DuckDB file, the SQLite store and loopback servers:
consumed exactly once across crashes, retried through failing servers, decided during a run.

This module is also the child process of the crash and during-a-run tests:

    python -m tests.test_reorder_delivery <warehouse> <store> <server_url|-> [--loop SECONDS]

It writes the contract's suggestions table into the warehouse (once), consumes the store's open
decisions and delivers them; `OMS_OPS_CRASH_AT` kills it at a crash point.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.crashpoints import CRASH_ENV, points_of
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.adapters.purchase_order_drop import PurchaseOrderDropAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.reorders.decide import REORDER_KINDS
from ops_actions.reorders.run import ReorderReport, consume_decisions
from ops_actions.store import DecisionInput, list_decisions, record_decisions
from pipelines.planning.assets import read_suggestions
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.warehouse import ops_warehouse
from tests.test_reorder_decisions import approve, make_suggestions, reject, suggestion_row

REPO = Path(__file__).resolve().parent.parent
CHILD_POLICY = RetryPolicy(max_attempts=50, base_delay_s=0.01, max_delay_s=0.05, lease_s=0.3)
N_SUGGESTIONS = 20


def write_suggestions(warehouse: Path | str, frame: pl.DataFrame) -> None:
    """The suggestions mart as dbt would leave it (replaced whole by each build)."""
    with ops_warehouse(warehouse) as con:
        con.execute("create schema if not exists marts")
        con.register("frame", frame.to_arrow())
        con.execute("create or replace table marts.ops_reorder_suggestions as select * from frame")
        con.unregister("frame")


def current_suggestions(warehouse: Path | str) -> pl.DataFrame:
    with ops_warehouse(warehouse) as con:
        found = read_suggestions(con)
    assert found is not None
    return found


def consume(warehouse: Path | str, store: Path) -> ReorderReport:
    """One reorder step's consumption: the current suggestions against the open decisions."""
    suggestions = current_suggestions(warehouse)
    with ops_warehouse(warehouse) as con:
        return consume_decisions(con, store, suggestions)


def deliver_all(warehouse: Path | str, adapter, deadline_s: float = 30) -> int:
    """Dispatch until nothing reorder-related is pending; returns what is left (0 = all)."""
    deadline = time.monotonic() + deadline_s
    left = -1
    while time.monotonic() < deadline:
        with ops_warehouse(warehouse) as con:
            dispatch_due(
                con, {"*": adapter}, policy=CHILD_POLICY, batch_size=2, kinds=REORDER_KINDS
            )
        with ops_warehouse(warehouse) as con:
            left = con.execute(
                "select count(*) from ops.outbox where state in ('pending', 'in_flight')"
            ).fetchall()[0][0]
        if left == 0:
            return 0
        time.sleep(0.1)
    return left


def _child_main(argv: list[str]) -> int:
    warehouse, store, url = argv[0], Path(argv[1]), argv[2]
    with ops_warehouse(warehouse) as con:
        built = read_suggestions(con) is not None
    if not built:
        write_suggestions(warehouse, make_suggestions(N_SUGGESTIONS))
    loop_s = float(argv[argv.index("--loop") + 1]) if "--loop" in argv else 0.0
    end = time.monotonic() + loop_s
    while True:
        consume(warehouse, store)
        if time.monotonic() >= end:
            break
        time.sleep(0.02)
    if url == "-":
        return 0
    return (
        0
        if deliver_all(warehouse, HttpJsonAdapter(url, dedupes_by_key=False, timeout_s=2.0)) == 0
        else 2
    )


def _child(wh: Path, store: Path, url: str, *extra: str, crash_at: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.test_reorder_delivery", str(wh), str(store), url, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _decide_some(store: Path) -> list[str]:
    """Approvals (two edited), rejections and an approval of an older version (stale)."""
    rows = make_suggestions(N_SUGGESTIONS).to_dicts()
    items = [approve(r) for r in rows[:14]] + [reject(r, "not now") for r in rows[14:17]]
    items[2] = approve(rows[2], quantity=42, note="edited")
    items.append(approve(suggestion_row(17, "v0")))  # a version the warehouse never had
    return record_decisions(store, items, "paula", "planner")


def _approved_lines(stored: dict[str, list[dict]]) -> list[str]:
    return [
        line["decision_id"]
        for copies in stored.values()
        for copy in copies
        for line in copy["body"]["payload"]["lines"]
    ]


CRASH_SEQUENCE = points_of("reorders", "dispatch")


def test_every_approval_is_requested_exactly_once_across_crashes(tmp_path: Path) -> None:
    """Kill the step at every crash point in turn, restarting after each, against a supplier
    API that does NOT deduplicate; then compare with an uninterrupted run of the same store."""
    seed_store = tmp_path / "seed.sqlite"
    decision_ids = _decide_some(seed_store)
    with FakeWarehouse(dedupes_by_key=False) as clean_server:
        clean_store = tmp_path / "clean.sqlite"
        shutil.copy(seed_store, clean_store)
        p = _child(tmp_path / "clean.duckdb", clean_store, clean_server.url)
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        expected = set(clean_server.stored)
    assert len(expected) == 3  # SUP-A, SUP-B and the DC's transfers

    with FakeWarehouse(dedupes_by_key=False) as server:
        store, wh = tmp_path / "crashy.sqlite", tmp_path / "crashy.duckdb"
        shutil.copy(seed_store, store)
        for point in CRASH_SEQUENCE:
            p = _child(wh, store, server.url, crash_at=point)
            assert p.wait(timeout=120) == -9, (point, p.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        p = _child(wh, store, server.url)
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()[-2000:]  # type: ignore[union-attr]

        con = duckdb.connect(str(wh))
        keys = {k for (k,) in con.execute("select action_id from ops.outbox").fetchall()}
        assert keys == set(server.stored) == expected
        assert all(len(copies) == 1 for copies in server.stored.values())
        assert con.execute("select distinct state from ops.outbox").fetchall() == [("delivered",)]
        lines = _approved_lines(server.stored)
        assert len(lines) == len(set(lines)) == 14  # every approval once, stale one never
        decisions = {d.decision_id: d for d in list_decisions(store)}
        assert set(decisions) == set(decision_ids)
        assert all(d.consumed_at is not None for d in decisions.values())
        outcomes = sorted(d.outcome or "" for d in decisions.values())
        assert outcomes == ["rejected"] * 3 + ["requested"] * 14 + ["stale"]
        assert {decisions[i].action_id for i in lines} <= keys
        edited = next(
            line
            for copies in server.stored.values()
            for line in copies[0]["body"]["payload"]["lines"]
            if line["note"] == "edited"
        )
        assert edited["quantity"] == 42


@pytest.mark.parametrize(
    ("faults", "dedupes"),
    [
        (["500", "500"], True),
        (["429", "429", "429"], True),
        (["timeout"], True),  # applied, the answer comes too late: resent, deduplicated by key
        (["timeout", "accept_then_500"], False),  # applied twice? read before each retry
    ],
)
def test_failing_supplier_servers_still_get_each_request_once(tmp_path, faults, dedupes) -> None:
    store, wh = tmp_path / "s.sqlite", tmp_path / "wh.duckdb"
    write_suggestions(wh, make_suggestions(N_SUGGESTIONS))
    _decide_some(store)
    consume(wh, store)
    with FakeWarehouse(dedupes_by_key=dedupes, timeout_sleep_s=0.6) as server:
        for fault in faults:
            server.fail_next(fault)
        adapter = HttpJsonAdapter(server.url, dedupes_by_key=dedupes, timeout_s=0.3)
        assert deliver_all(wh, adapter) == 0
        con = duckdb.connect(str(wh))
        keys = {k for (k,) in con.execute("select action_id from ops.outbox").fetchall()}
        assert set(server.stored) == keys and len(keys) == 3
        assert all(len(copies) == 1 for copies in server.stored.values())
        retried = con.execute(
            "select count(*) from ops.delivery_attempts where outcome like 'retry%'"
        ).fetchall()[0][0]
        assert retried == len(faults)
        assert sum(server.posts.values()) == 3 + len(faults) - (
            0 if dedupes else faults.count("accept_then_500") + faults.count("timeout")
        )


def test_purchase_order_files_one_per_supplier_with_every_approved_line(tmp_path) -> None:
    store, wh = tmp_path / "s.sqlite", tmp_path / "wh.duckdb"
    suggestions = make_suggestions(N_SUGGESTIONS)
    write_suggestions(wh, suggestions)
    _decide_some(store)
    consume(wh, store)
    folder = tmp_path / "outbox" / "reorders"
    assert deliver_all(wh, PurchaseOrderDropAdapter(folder)) == 0
    files = sorted(folder.glob("*.csv"))
    by_party: dict[str, list[dict[str, str]]] = {}
    for path in files:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        parties = {r["party_id"] for r in rows}
        assert len(parties) == 1, path  # one supplier (or DC) per file
        by_party.setdefault(parties.pop(), []).extend(rows)
    assert set(by_party) == {"SUP-A", "SUP-B", "WH-DAL"}
    approved = {d.suggestion_id: d for d in list_decisions(store) if d.outcome == "requested"}
    lines = [r for rows in by_party.values() for r in rows]
    assert sorted(r["suggestion_id"] for r in lines) == sorted(approved)
    for r in lines:
        assert float(r["quantity"]) == approved[r["suggestion_id"]].quantity
    # A retry after a lost answer finds the files and sends nothing twice.
    con = duckdb.connect(str(wh))
    con.execute("update ops.outbox set state = 'pending', total_attempts = 1")
    con.close()
    assert deliver_all(wh, PurchaseOrderDropAdapter(folder)) == 0
    assert sorted(folder.glob("*.csv")) == files


def test_decisions_made_during_a_run_are_neither_lost_nor_doubled(tmp_path) -> None:
    """A real step keeps consuming in another process (reading the store, writing the
    warehouse and the store) while two planners record decisions here."""
    store, wh = tmp_path / "s.sqlite", tmp_path / "wh.duckdb"
    suggestions = make_suggestions(60)
    write_suggestions(wh, suggestions)
    list_decisions(store)
    runner = _child(wh, store, "-", "--loop", "6")
    rows = suggestions.to_dicts()
    recorded: list[str] = []
    lock = threading.Lock()

    def planner(who: str, mine: list[dict]) -> None:
        for r in mine:
            ids = record_decisions(store, [approve(r, note=who)], who, "planner")
            with lock:
                recorded.extend(ids)
            time.sleep(0.05)

    threads = [
        threading.Thread(target=planner, args=("paula", rows[0::2])),
        threading.Thread(target=planner, args=("peter", rows[1::2])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runner.wait(timeout=120) == 0, runner.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    mid_run = {d.decision_id for d in list_decisions(store) if d.consumed_at is not None}
    assert mid_run, "the step consumed nothing while the planners were deciding"
    consume(wh, store)  # the next run takes the rest
    assert len(recorded) == 60
    decisions = list_decisions(store)
    assert {d.decision_id for d in decisions} == set(recorded)
    assert all(d.outcome == "requested" for d in decisions)
    con = duckdb.connect(str(wh))
    payloads = [json.loads(p) for (p,) in con.execute("select payload from ops.outbox").fetchall()]
    lines = [line["decision_id"] for p in payloads for line in p["lines"]]
    assert sorted(lines) == sorted(recorded)
    consumed = con.execute(
        "select count(*), count(distinct decision_id) from ops.reorder_decisions"
    ).fetchall()
    assert consumed == [(60, 60)]


def test_a_version_replaced_by_the_next_build_is_stale_and_shown_to_the_planner(tmp_path):
    store, wh = tmp_path / "s.sqlite", tmp_path / "wh.duckdb"
    write_suggestions(wh, make_suggestions(4))
    rows = make_suggestions(4).to_dicts()
    record_decisions(store, [approve(r) for r in rows], "paula", "planner")
    write_suggestions(wh, make_suggestions(4, changed={0: "v2"}))  # the next build
    report = consume(wh, store)
    assert (report.requested, report.stale, report.rejected) == (3, 1, 0)
    stale = [d for d in list_decisions(store) if d.outcome == "stale"]
    assert [d.suggestion_id for d in stale] == [rows[0]["suggestion_id"]]
    assert stale[0].action_id is None
    # deciding the new version is no conflict, and it is sent by the next step
    new = make_suggestions(4, changed={0: "v2"}).to_dicts()[0]
    record_decisions(
        store,
        [DecisionInput(new["suggestion_id"], new["suggestion_version"], "approved", 6)],
        "paula",
    )
    assert consume(wh, store).requested == 1


def test_fulfillment_deliveries_never_pick_up_reorder_requests(tmp_path) -> None:
    """Each producer dispatches its own kinds: a fulfillment cycle whose "*" adapter would take
    anything leaves the reorder requests pending for the planning step."""
    from ops_actions.delivery.adapters.file_drop import FileDropAdapter
    from ops_actions.delivery.outbox import enqueue
    from ops_actions.run_routing import FULFILLMENT_KIND

    store, wh = tmp_path / "s.sqlite", tmp_path / "wh.duckdb"
    write_suggestions(wh, make_suggestions(N_SUGGESTIONS))
    _decide_some(store)
    consume(wh, store)
    fulfillment = pl.DataFrame(
        [
            {
                "action_id": "f1",
                "kind": FULFILLMENT_KIND,
                "destination": "SUP-A",
                "payload": "{}",
                "batch_key": "r:SUP-A",
                "source_run_id": "r",
            }
        ]
    )
    with ops_warehouse(wh) as con:
        enqueue(con, fulfillment, dt.datetime(2026, 1, 1))
    with ops_warehouse(wh) as con:
        report = dispatch_due(
            con, {"*": FileDropAdapter(tmp_path / "fulfillment")}, kinds=(FULFILLMENT_KIND,)
        )
    assert report.delivered == 1
    with ops_warehouse(wh) as con:
        states = dict(
            con.execute(
                "select kind, string_agg(distinct state) from ops.outbox group by kind"
            ).fetchall()
        )
    assert states == {
        FULFILLMENT_KIND: "delivered",
        "purchase_order": "pending",
        "transfer_request": "pending",
    }
    assert deliver_all(wh, PurchaseOrderDropAdapter(tmp_path / "po")) == 0
    assert len(list((tmp_path / "po").glob("*.csv"))) == 3


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
