"""A day loaded on top of history gives exactly the marts a full rebuild gives."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from demo_generator import generate
from pipelines.ingest.engine import ingest_all
from pipelines.settings import PROJECT_ROOT
from pipelines.transform.project import dbt_env, dbt_executable

pytestmark = pytest.mark.e2e

MARTS = (
    "fct_order_lines",
    "fct_orders",
    "fct_shipments",
    "fct_returns",
    "fct_fulfillment_kpis_daily",
    "fct_inventory_kpis_daily",
    "fct_available_to_promise",
    "ops_open_order_lines",
)


def _dbt_build(warehouse: Path, work: Path) -> None:
    project = PROJECT_ROOT / "dbt_project"
    result = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--quiet",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        env={**dbt_env(), "OMS_WAREHOUSE_PATH": str(warehouse)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_incremental_day_equals_full_rebuild(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    staged, full = tmp_path / "staged.duckdb", tmp_path / "full.duckdb"
    # same daily volume in both calls, so day 20 continues the 20-day history exactly
    generate(landing, days=20, order_lines=4_000, seed=3)
    ingest_all(staged, landing)
    _dbt_build(staged, tmp_path)
    generate(landing, days=21, order_lines=4_200, seed=3, from_day=20)
    ingest_all(staged, landing)
    _dbt_build(staged, tmp_path)  # incremental models consume only the new day
    ingest_all(full, landing)
    _dbt_build(full, tmp_path)

    con = duckdb.connect()
    con.execute(f"attach '{staged}' as s (read_only)")
    con.execute(f"attach '{full}' as f (read_only)")
    for table in MARTS:
        cols = ", ".join(
            f'"{c}"'
            for (c,) in con.execute(
                """select column_name from information_schema.columns
                   where table_catalog = 'f' and table_schema = 'marts' and table_name = ?
                     and not starts_with(column_name, '_')""",
                [table],
            ).fetchall()
        )
        rows = con.execute(f"select count(*) from f.marts.{table}").fetchone()[0]
        assert rows > 0, table
        for a, b in (("s", "f"), ("f", "s")):
            diff = con.execute(
                f"select count(*) from (select {cols} from {a}.marts.{table} "
                f"except all select {cols} from {b}.marts.{table})"
            ).fetchone()[0]
            assert diff == 0, f"{table}: {diff} rows in {a} not in {b}"
