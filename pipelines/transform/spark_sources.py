"""The dbt project's sources on Spark: the warehouse's `raw` and `ops` tables as Parquet tables.

On DuckDB the sources are tables of the warehouse file. On Spark (docs/spark.md) the same
tables are exported from that file to Parquet, one folder per table
(`<spark dir>/sources/<schema>/<table>/`), and registered in the Spark metastore as external
tables of the same schema and name, so `source('webshop', 'orders')` resolves to
`raw.webshop__orders` on both engines. Registering goes through dbt itself
(`dbt run-operation register_parquet_sources`), so it uses the one Spark configuration there
is: the profile's `spark` target.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.transform.project import dbt_executable

SOURCE_SCHEMAS = ("raw", "ops")


@dataclass(frozen=True)
class ExportedTable:
    """One warehouse table written as a folder of Parquet files."""

    schema: str
    name: str
    path: Path
    rows: int


def export_sources(warehouse_path: Path, out_dir: Path) -> list[ExportedTable]:
    """Write every table of the source schemas to `out_dir/<schema>/<table>/`, replacing what
    an earlier export left there (a table gone from the warehouse goes from the export too)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        tables = con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_schema in (select unnest(?::varchar[])) and table_type = 'BASE TABLE'
               order by table_schema, table_name""",
            [list(SOURCE_SCHEMAS)],
        ).fetchall()
        exported = []
        for schema, name in tables:
            folder = out_dir / schema / name
            folder.mkdir(parents=True)
            relation = f'"{schema}"."{name}"'
            # one file per table is enough at this scale; Spark reads a folder of any number
            con.execute(f"copy {relation} to '{folder / 'part-0.parquet'}' (format parquet)")
            count = con.execute(f"select count(*) from {relation}").fetchone()
            exported.append(ExportedTable(schema, name, folder, count[0] if count else 0))
        return exported
    finally:
        con.close()


# dbt Python models run on Spark only through Databricks' job APIs, not in session mode, so the
# forecast (a Python model on polars) and what is built on it stay on DuckDB (docs/spark.md).
SPARK_EXCLUDED = "fct_demand_forecasts+"


def _dbt(args: list[str], project_dir: Path, env: dict[str, str], work_dir: Path) -> str:
    """Run one dbt command on the Spark target; its output, or an error with its tail."""
    result = subprocess.run(
        [
            dbt_executable(),
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--target-path",
            str(work_dir / "target"),
            "--log-path",
            str(work_dir / "logs"),
        ],
        env={**env, "OMS_DBT_ENGINE": "spark"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"dbt {args[0]} on Spark failed:\n{result.stdout[-6000:]}")
    return result.stdout


def register_sources(
    tables: list[ExportedTable], project_dir: Path, env: dict[str, str], work_dir: Path
) -> None:
    """Register the exported folders as Spark tables (macro `register_parquet_sources`)."""
    args = {"tables": [{"schema": t.schema, "name": t.name, "path": str(t.path)} for t in tables]}
    _dbt(["run-operation", "register_parquet_sources", "--args", json.dumps(args)],
         project_dir, env, work_dir)  # fmt: skip


def build_on_spark(
    warehouse_path: Path,
    spark_dir: Path,
    project_dir: Path,
    env: dict[str, str],
    work_dir: Path,
    extra_args: tuple[str, ...] = (),
) -> list[ExportedTable]:
    """Build the project on Spark from the warehouse's sources: export them under
    `spark_dir/sources`, register them in the metastore of the Spark target whose OMS_SPARK_DIR
    is `spark_dir`, then build the seeds and models (data tests stay with the DuckDB build,
    which runs them on the same SQL) into `spark_dir/warehouse/<schema>.db/<table>/`."""
    spark_env = {**env, "OMS_SPARK_DIR": str(spark_dir)}
    tables = export_sources(warehouse_path, spark_dir / "sources")
    register_sources(tables, project_dir, spark_env, work_dir)
    _dbt(
        ["build", "--exclude-resource-type", "test", "unit_test",
         "--exclude", SPARK_EXCLUDED, *extra_args],
        project_dir, spark_env, work_dir,
    )  # fmt: skip
    return tables


def spark_table_path(spark_dir: Path, schema: str, table: str) -> Path:
    """Where the Spark target keeps a table it built (a managed Parquet table)."""
    return spark_dir / "warehouse" / f"{schema}.db" / table
