"""One routing run end to end against a DuckDB file: atomic commit, concurrency, crashes."""

from __future__ import annotations

import ast
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

from ops_actions.crashpoints import CRASH_ENV, CrashPoint, points_of
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


def _child(wh: Path, url: str, *extra: str, crash_at: CrashPoint | None = None) -> subprocess.Popen:
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


def _wait(p: subprocess.Popen) -> int:
    """The child's exit code (-9 when a crash point killed it), after it ended."""
    p.wait(timeout=120)
    return p.returncode


def _stderr(p: subprocess.Popen) -> str:
    return p.stderr.read().decode()[-2000:] if p.stderr else ""


@pytest.fixture(scope="module")
def uninterrupted_deliveries(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The action keys a run that is never killed delivers (the reference for every crash)."""
    with FakeWarehouse(dedupes_by_key=False) as server:
        p = _child(tmp_path_factory.mktemp("clean") / "clean.duckdb", server.url)
        assert _wait(p) == 0, _stderr(p)
        return set(server.stored)


def _assert_delivered_once_like_the_uninterrupted_run(
    wh: Path, server: FakeWarehouse, expected: set[str]
) -> None:
    con = duckdb.connect(str(wh))
    try:
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
    finally:
        con.close()


ROUTING_POINTS = points_of("routing", "dispatch")


@pytest.mark.parametrize("point", ROUTING_POINTS, ids=str)
def test_a_crash_at_each_point_then_a_restart_delivers_every_decision_exactly_once(
    tmp_path: Path, uninterrupted_deliveries: set[str], point: CrashPoint
) -> None:
    """Killed at `point` (the list the code calls, so a new point is tested here), then
    restarted, against a destination that does NOT deduplicate: the same requests as an
    uninterrupted run, each delivered once."""
    with FakeWarehouse(dedupes_by_key=False) as server:
        wh = tmp_path / "crashy.duckdb"
        p = _child(wh, server.url, crash_at=point)
        assert _wait(p) == -9, (f"{point} was never reached", _stderr(p))
        p = _child(wh, server.url)
        assert _wait(p) == 0, _stderr(p)
        _assert_delivered_once_like_the_uninterrupted_run(wh, server, uninterrupted_deliveries)


def test_crashes_at_every_point_in_turn_still_deliver_every_decision_exactly_once(
    tmp_path: Path, uninterrupted_deliveries: set[str]
) -> None:
    """Kill the process at every crash point in turn on the same warehouse, restarting after
    each, so each restart also recovers from all the crashes before it."""
    with FakeWarehouse(dedupes_by_key=False) as server:
        wh = tmp_path / "crashy.duckdb"
        for point in ROUTING_POINTS:
            p = _child(wh, server.url, crash_at=point)
            assert _wait(p) == -9, (point, _stderr(p))
        p = _child(wh, server.url)
        assert _wait(p) == 0, _stderr(p)
        _assert_delivered_once_like_the_uninterrupted_run(wh, server, uninterrupted_deliveries)


def _crash_points_named_in_calls() -> dict[str, list[str]]:
    """Every `crashpoint(...)` call in the project's code -> what it passes, as source text."""
    calls: dict[str, list[str]] = {}
    for folder in ("ops_actions", "pipelines"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "crashpoint"
                ):
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    calls[where] = [ast.unparse(arg) for arg in node.args]
    return calls


def test_every_crash_point_the_code_calls_is_in_the_list_and_every_listed_one_is_called() -> None:
    calls = _crash_points_named_in_calls()
    assert calls, "no crashpoint() call found: the scan is looking in the wrong place"
    listed = {f"CrashPoint.{point.name}" for point in CrashPoint}
    for where, args in calls.items():
        assert len(args) == 1 and args[0] in listed, (where, args, sorted(listed))
    called = [args[0] for args in calls.values()]
    assert sorted(called) == sorted(listed)  # each listed point is called exactly once
