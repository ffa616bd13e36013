"""Where the records of a failing dbt test can be seen: one view per failing test.

dbt can store every test's failures itself (`store_failures`), but that builds a relation for
each of the ~260 tests on every build, passing or not: 10 s of a 53 s build of the demo
(measured 2026-12-04). After the build, only the tests that failed or warned get a view
here, made from the test's own compiled query, so a person reads the records with
`select * from test_failures."<test name>"`. The schema is rebuilt after every build and so
always describes the latest one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.ingest.sql import q
from pipelines.warehouse import Warehouse

SCHEMA = "test_failures"


def _failing_tests(run_results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(test name, compiled query) of every test of the build that failed or warned."""
    return [
        (r["unique_id"].split(".")[2], r["compiled_code"])
        for r in run_results.get("results", [])
        if r["unique_id"].startswith("test.")
        and r.get("status") in ("fail", "warn")
        and (r.get("compiled_code") or "").strip()
    ]


def record_failing_tests(warehouse: Warehouse, run_results: Mapping[str, Any]) -> dict[str, str]:
    """Replace the views of failing tests with this build's; test name -> view to query."""
    failing = _failing_tests(run_results)
    with warehouse.connect() as con:
        con.execute(f"drop schema if exists {SCHEMA} cascade")
        views = {}
        if failing:
            con.execute(f"create schema {SCHEMA}")
        for name, sql in failing:
            view = f"{SCHEMA}.{q(name)}"
            con.execute(f"create view {view} as {sql.strip().rstrip(';')}")
            views[name] = view
        return views
