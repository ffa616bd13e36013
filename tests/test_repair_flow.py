"""A record no model can compute with, already in `raw` (as an older version with looser rules
loaded it): the run builds and routes what it can, says what failed and where, keeps the
dashboards on their last consistent copy, and the documented repair brings everything back."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from tests.conftest import _point_settings_at, _restore

pytestmark = pytest.mark.e2e


def _count(warehouse: Path, sql: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


def test_a_bad_loaded_record_stops_only_what_it_reaches_and_repair_clears_it(
    tmp_path: Path,
) -> None:
    from demo_generator import generate
    from pipelines.cli import flow_result
    from pipelines.ingest.repair import rebuild_selection, recheck
    from pipelines.run_report import report
    from pipelines.settings import get_settings
    from pipelines.transform.project import rebuild
    from pipelines.warehouse import Warehouse

    previous = _point_settings_at(tmp_path)
    try:
        settings = get_settings()
        generate(settings.landing_dir, days=7, order_lines=1_500, seed=3)
        first, _ = flow_result()
        assert report(first).complete, report(first).errors
        published = os.readlink(settings.published_dir / "current")
        routing_runs = _count(settings.warehouse_path, "select count(*) from ops.routing_runs")

        con = Warehouse(settings.warehouse_path).open()
        con.execute(
            """insert into raw.pos__sales
            select * replace ('HX-1' as receipt_no, -2147483648 as qty,
                              now()::TIMESTAMP as _loaded_at)
            from raw.pos__sales limit 1"""
        )
        con.close()

        second = report(flow_result()[0])
        assert not second.complete
        assert any("fct_returns" in e for e in second.errors), second.errors
        # what does not read till returns was built and routed all the same ...
        after = _count(settings.warehouse_path, "select count(*) from ops.routing_runs")
        assert after == routing_runs + 1
        # ... and the dashboards kept their last consistent copy
        assert os.readlink(settings.published_dir / "current") == published

        con = Warehouse(settings.warehouse_path).open()
        moved = recheck(con)
        con.close()
        assert [(m.table, m.rows) for m in moved] == [("pos__sales", 1)]
        assert rebuild(rebuild_selection(moved)) == 0
        third = report(flow_result()[0])
        assert third.complete, third.errors
        assert os.readlink(settings.published_dir / "current") != published
        assert (
            _count(
                settings.warehouse_path,
                "select count(*) from raw._rejects where reason_code = 'invalid_quantity' "
                "and record like '%HX-1%'",
            )
            == 1
        )
    finally:
        _restore(previous)
