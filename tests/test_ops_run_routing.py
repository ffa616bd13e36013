"""One routing run end to end against a DuckDB file: atomic commit, concurrency, crashes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.crashpoints import CRASH_ENV
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.routing.rules import DEFAULT_RULES_PATH, load_rules
from ops_actions.run_routing import run_routing
from tests.doubles.crash_child import CHILD_INPUTS
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.synthetic import make_inputs
from tests.doubles.warehouse import open_ops_warehouse

REPO = Path(__file__).resolve().parent.parent
RULES = load_rules(DEFAULT_RULES_PATH)


@pytest.fixture(scope="module")
def data():
    return make_inputs(n_lines=600, n_locations=8, n_skus=60, seed=5)


def assert_never_oversold(
    con: duckdb.DuckDBPyConnection, atp: pl.DataFrame, lines: pl.DataFrame
) -> None:
    stock = atp.select("sku", "location_id", "available")  # noqa: F841
    over = con.execute(
        """
        select a.sku, a.location_id, sum(a.units) as units, any_value(s.available) as available
        from ops.allocations a left join stock s using (sku, location_id)
        group by all having sum(a.units) > coalesce(any_value(s.available), 0)
        """
    ).fetchall()
    assert over == []
    ordered = lines.select("order_line_id", "quantity")  # noqa: F841
    over_lines = con.execute(
        """
        select d.order_line_id from ops.routing_decisions d join ordered o using (order_line_id)
        where d.outcome in ('allocated', 'cancelled')
        group by d.order_line_id having sum(d.units) > any_value(o.quantity)
        """
    ).fetchall()
    assert over_lines == []


def test_run_commits_decisions_allocations_and_outbox_with_rules_version(tmp_path, data) -> None:
    wh = tmp_path / "wh.duckdb"
    report = run_routing(
        open_ops_warehouse(wh),
        DEFAULT_RULES_PATH,
        data.lines,
        data.atp,
        data.locations,
        today=data.today,
    )
    con = duckdb.connect(str(wh))
    run = con.execute("select rules_version, rules_sha, status from ops.routing_runs").fetchall()
    assert run == [(RULES.version, RULES.sha, "committed")]
    n_alloc, n_missing = con.execute(
        "select count(*), count(*) filter (where action_id is null) from ops.routing_decisions "
        "where outcome = 'allocated'"
    ).fetchall()[0]
    assert n_alloc > 0 and n_missing == 0
    outbox = con.execute("select count(*) from ops.outbox").fetchall()[0][0]
    assert outbox == report.actions_created > 0
    explanation = json.loads(
        con.execute("select explanation from ops.routing_decisions limit 1").fetchall()[0][0]
    )
    assert explanation["rules_version"] == RULES.version
    assert_never_oversold(con, data.atp, data.lines)


def test_second_run_does_not_reallocate_or_duplicate_requests(tmp_path, data) -> None:
    wh = tmp_path / "wh.duckdb"
    first = run_routing(
        open_ops_warehouse(wh), RULES, data.lines, data.atp, data.locations, today=data.today
    )
    second = run_routing(
        open_ops_warehouse(wh), RULES, data.lines, data.atp, data.locations, today=data.today
    )
    assert second.actions_created == 0
    assert second.figures["units_allocated"] == 0  # stock already promised to run 1
    con = duckdb.connect(str(wh))
    assert con.execute("select count(*) from ops.outbox").fetchall()[0][0] == first.actions_created
    assert_never_oversold(con, data.atp, data.lines)


def test_allocations_expire_once_the_snapshot_reflects_the_acknowledged_request(
    tmp_path, data
) -> None:
    wh = tmp_path / "wh.duckdb"
    run_routing(
        open_ops_warehouse(wh), RULES, data.lines, data.atp, data.locations, today=data.today
    )
    with FakeWarehouse() as server:
        dispatch_due(open_ops_warehouse(wh), {"*": HttpJsonAdapter(server.url)})
    con = duckdb.connect(str(wh))
    from ops_actions.run_routing import outstanding_allocations

    before = outstanding_allocations(con, data.atp)
    assert before["outstanding"].sum() > 0  # delivered after the 06:00 snapshot: still deducted
    later = data.atp.with_columns(pl.lit(dt.datetime(2100, 1, 1)).alias("snapshot_at"))
    assert outstanding_allocations(con, later).height == 0


def test_two_concurrent_runs_never_oversell(tmp_path, data) -> None:
    db = open_ops_warehouse(tmp_path / "wh.duckdb")
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(
                run_routing(db, RULES, data.lines, data.atp, data.locations, today=data.today)
            )
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(reports) == 2
    assert db.execute("select count(*) from ops.routing_runs").fetchall()[0][0] == 2
    assert sorted(r.figures["units_allocated"] == 0 for r in reports) == [False, True]
    assert_never_oversold(db, data.atp, data.lines)


def _child(wh: Path, url: str, *extra: str, crash_at: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.crash_child", str(wh), url, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_two_concurrent_processes_never_oversell(tmp_path) -> None:
    wh = tmp_path / "wh.duckdb"
    procs = [_child(wh, "http://unused", "--no-dispatch") for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    child = make_inputs(**CHILD_INPUTS)  # type: ignore[arg-type]
    con = duckdb.connect(str(wh))
    assert con.execute("select count(*) from ops.routing_runs").fetchall()[0][0] == 2
    assert_never_oversold(con, child.atp, child.lines)


CRASH_SEQUENCE = (
    "routing.after_decide",
    "routing.before_commit",
    "routing.after_commit",
    "dispatch.after_claim",
    "dispatch.after_send",
    "dispatch.before_record",
    "dispatch.after_record",
)


def test_every_decision_delivered_exactly_once_across_crashes(tmp_path) -> None:
    """Kill the process at every crash point in turn, restarting after each, against a
    destination that does NOT deduplicate; then compare with an uninterrupted run."""
    with FakeWarehouse(dedupes_by_key=False) as clean_server:
        clean = tmp_path / "clean.duckdb"
        p = _child(clean, clean_server.url)
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        expected = set(clean_server.stored)

    with FakeWarehouse(dedupes_by_key=False) as server:
        wh = tmp_path / "crashy.duckdb"
        for point in CRASH_SEQUENCE:
            p = _child(wh, server.url, crash_at=point)
            assert p.wait(timeout=120) == -9, (point, p.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        p = _child(wh, server.url)
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()[-2000:]  # type: ignore[union-attr]

        con = duckdb.connect(str(wh))
        keys = {k for (k,) in con.execute("select action_id from ops.outbox").fetchall()}
        decided = {
            k
            for (k,) in con.execute(
                "select distinct action_id from ops.routing_decisions where outcome = 'allocated'"
            ).fetchall()
        }
        assert keys == decided == expected  # same decisions as the uninterrupted run
        assert set(server.stored) == keys
        assert all(len(records) == 1 for records in server.stored.values())
        states = con.execute("select distinct state from ops.outbox").fetchall()
        assert states == [("delivered",)]
        child = make_inputs(**CHILD_INPUTS)  # type: ignore[arg-type]
        assert_never_oversold(con, child.atp, child.lines)
