"""A failing dbt test's records can be read from a view named after it; passing tests get none,
and the views always describe the latest build."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.transform.test_failures import record_failing_tests
from pipelines.warehouse import Warehouse


def _results(*tests: tuple[str, str, str]) -> dict:
    return {
        "results": [
            {"unique_id": f"test.oms.{name}.abc123", "status": status, "compiled_code": sql}
            for name, status, sql in tests
        ]
    }


def test_failing_and_warning_tests_get_a_view_of_their_records(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create table t as select * from (values (1), (-2), (-3)) v(q)")
    con.close()
    views = record_failing_tests(
        Warehouse(warehouse),
        _results(
            ("not_negative_t_q", "fail", "select * from t where q < 0\n"),
            ("has_no_rows_t", "warn", "select * from t"),
            ("not_null_t_q", "pass", "select * from t where q is null"),
        ),
    )
    assert set(views) == {"not_negative_t_q", "has_no_rows_t"}
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(f"select q from {views['not_negative_t_q']} order by q").fetchall()
    con.close()
    assert rows == [(-3,), (-2,)]
    # the next build passes: no view is left describing a failure that is gone
    assert (
        record_failing_tests(Warehouse(warehouse), _results(("not_negative_t_q", "pass", "x")))
        == {}
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    left = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'test_failures'"
    ).fetchone()
    con.close()
    assert left == (0,)
