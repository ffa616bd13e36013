"""The dbt project built on Spark (dbt-spark, session mode, local[2]) equals the DuckDB build.

A small generated dataset is ingested into a DuckDB warehouse and built there with `dbt build`
as the flow does; its sources are then exported to Parquet, registered in a Spark metastore and
the same project is built on Spark (pipelines/transform/spark_sources.py, docs/spark.md). Every
mart Spark built (its Parquet files, read back here with DuckDB) must hold the rows of the
DuckDB mart of the same name, row for row: every column by name, text, dates, timestamps and
integers exactly, floating point to 1e-9 (relative beyond 1); bookkeeping columns (`_...`, the
build's own stamps) aside.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from demo_generator import generate
from pipelines.ingest.engine import ingest_all
from pipelines.settings import PROJECT_ROOT
from pipelines.transform.project import dbt_env
from pipelines.transform.spark_sources import build_on_spark, spark_table_path
from tests.test_incremental_models import _dbt_build

pytestmark = [
    pytest.mark.e2e,
    # Not yet part of the default suite: on the 2-core machines the Spark half alone takes over
    # 20 minutes and it has not yet passed end to end (docs/spark.md, "Status"); run it with
    # OMS_TEST_SPARK=1.
    pytest.mark.skipif(
        os.environ.get("OMS_TEST_SPARK") != "1",
        reason="the Spark build test runs only with OMS_TEST_SPARK=1 (docs/spark.md)",
    ),
    pytest.mark.skipif(
        shutil.which("java") is None,
        reason="Spark needs a Java runtime (17 or later) and no `java` is on PATH",
    ),
]

PROJECT = PROJECT_ROOT / "dbt_project"
# What Spark does not build (pipelines/transform/spark_sources.py, SPARK_EXCLUDED): the forecast
# Python model and the marts built on it.
NOT_ON_SPARK = {
    "fct_demand_forecasts",
    "fct_forecast_daily",
    "fct_forecast_selection",
    "fct_kpi_forecast_accuracy",
    "fct_safety_stock",
    "ops_reorder_suggestions",
}
TOLERANCE = 1e-9


def _marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The mart tables of the DuckDB build (the gates are views over them)."""
    return [
        name
        for (name,) in con.execute(
            """select table_name from information_schema.tables
               where table_schema = 'marts' and table_type = 'BASE TABLE'
               order by table_name"""
        ).fetchall()
    ]


def _normalised(value: Any) -> Any:
    # Spark writes its TIMESTAMP as instants (UTC), DuckDB's marts hold naive UTC timestamps
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _normalised(a), _normalised(b)
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))
    return bool(a == b)


def _rows(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[tuple]:
    """The rows in a stable order: every column, floating point ones last (a difference in
    the last digits then cannot reorder rows that the other columns tell apart)."""
    types = dict(
        con.execute(f"select column_name, column_type from (describe {relation})").fetchall()
    )
    floats = [
        c for c in columns if types[c] in ("DOUBLE", "FLOAT") or types[c].startswith("DECIMAL")
    ]
    order = [f'"{c}"' for c in columns if c not in floats] + [f'"{c}"' for c in floats]
    select = ", ".join(f'"{c}"' for c in columns)
    return con.execute(
        f"select {select} from {relation} order by {', '.join(order)} nulls first"
    ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """The columns compared: bookkeeping ones (`_dbt_run_at`, ...) stamp the build, not data."""
    described = con.execute(f"select column_name from (describe {relation})").fetchall()
    return [name for (name,) in described if not name.startswith("_")]


def _differences(con: duckdb.DuckDBPyConnection, mart: str, spark_dir: Path) -> list[str]:
    spark = f"read_parquet('{spark_table_path(spark_dir, 'marts', mart)}/*.parquet')"
    duck = f"d.marts.{mart}"
    duck_columns, spark_columns = _columns(con, duck), _columns(con, spark)
    if sorted(duck_columns) != sorted(spark_columns):
        return [f"{mart}: columns differ: {sorted(set(duck_columns) ^ set(spark_columns))}"]
    duck_rows, spark_rows = _rows(con, duck, duck_columns), _rows(con, spark, duck_columns)
    if len(duck_rows) != len(spark_rows):
        return [f"{mart}: {len(duck_rows)} rows on DuckDB, {len(spark_rows)} on Spark"]
    found = []
    for d, s in zip(duck_rows, spark_rows, strict=True):
        for column, a, b in zip(duck_columns, d, s, strict=True):
            if not _same(a, b):
                found.append(f"{mart}.{column}: DuckDB {a!r}, Spark {b!r}")
                break
        if len(found) >= 3:
            break
    return found


def test_spark_build_equals_the_duckdb_build(tmp_path: Path) -> None:
    landing, warehouse, spark_dir = tmp_path / "landing", tmp_path / "wh.duckdb", tmp_path / "spark"
    generate(landing, days=14, order_lines=2_000, seed=5)
    ingest_all(warehouse, landing)
    started = time.perf_counter()
    _dbt_build(warehouse, tmp_path / "duckdb")
    duckdb_seconds = time.perf_counter() - started
    started = time.perf_counter()
    build_on_spark(
        warehouse,
        spark_dir,
        PROJECT,
        {**dbt_env(), "OMS_WAREHOUSE_PATH": str(warehouse)},
        tmp_path / "spark_work",
        ("--vars", '{"kpi_return_maturity_days": 3}'),
    )
    spark_seconds = time.perf_counter() - started
    print(f"dbt build: DuckDB {duckdb_seconds:.1f} s, Spark {spark_seconds:.1f} s")

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"attach '{warehouse}' as d (read_only)")
    marts = [m for m in _marts(con) if m not in NOT_ON_SPARK]
    assert len(marts) >= 25, marts
    missing = [m for m in marts if not spark_table_path(spark_dir, "marts", m).is_dir()]
    assert not missing, f"not built on Spark: {missing}"
    differences = [line for mart in marts for line in _differences(con, mart, spark_dir)]
    assert not differences, "\n".join(differences)
    # the comparison compared something: the marts hold rows on both engines
    assert con.execute("select count(*) from d.marts.fct_order_lines").fetchone()[0] > 1_000
