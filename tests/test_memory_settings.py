"""DuckDB's memory limit and spill folder are set once and bound dbt's connection as well."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import PROJECT_ROOT
from pipelines.transform.project import dbt_env, dbt_executable
from pipelines.warehouse import Warehouse


def _settings(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    row = con.execute(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert row
    return str(row[0]), str(row[1])


def _as_duckdb_shows(memory_limit: str) -> str:
    con = duckdb.connect()
    con.execute(f"set memory_limit = '{memory_limit}'")
    return _settings(con)[0]


def test_every_connection_takes_the_memory_limit_and_spill_folder(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    warehouse = Warehouse(tmp_path / "w.duckdb", memory_limit="300MB", temp_directory=spill)
    with warehouse.connect() as con:
        assert _settings(con) == (_as_duckdb_shows("300MB"), str(spill))
    # unset: DuckDB's own defaults, written out
    with Warehouse(tmp_path / "d.duckdb").connect() as con:
        assert _settings(con) == (_as_duckdb_shows("80%"), f"{tmp_path / 'd.duckdb'}.tmp")


@pytest.mark.e2e
def test_dbt_runs_under_the_same_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "w.duckdb"
    spill = tmp_path / "spill"
    monkeypatch.setenv("OMS_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("OMS_DUCKDB_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("OMS_DUCKDB_TEMP_DIRECTORY", str(spill))
    env = dbt_env()
    assert (env["OMS_DUCKDB_MEMORY_LIMIT"], env["OMS_DUCKDB_TEMP_DIRECTORY"]) == (
        "300MB",
        str(spill),
    )
    project = PROJECT_ROOT / "dbt_project"
    result = subprocess.run(
        [
            dbt_executable(),
            "show",
            "--inline",
            "select current_setting('memory_limit') as m, current_setting('temp_directory') as t",
            "--output",
            "json",
            "--log-format",
            "json",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    shown = None
    for line in result.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        preview = event.get("data", {}).get("preview")
        if preview:
            shown = json.loads(preview)[0]
    assert shown == {"m": _as_duckdb_shows("300MB"), "t": str(spill)}, result.stdout[-3000:]
