"""The warehouse file's one owner: how it is opened and which schemas exist."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.instance import ensure_instance_config
from pipelines.warehouse import Warehouse, WarehouseResource, create_schemas


def _schemas(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            s
            for (s,) in con.execute(
                "select schema_name from information_schema.schemata"
            ).fetchall()
        }
    finally:
        con.close()


def test_opening_a_connection_creates_no_schema(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse(path).connect() as con:
        assert con.execute("select current_setting('TimeZone')").fetchone() == ("UTC",)
    assert not {"raw", "ops"} & _schemas(path)


def test_create_schemas_makes_raw_and_ops_tables_and_is_idempotent(tmp_path: Path) -> None:
    w = Warehouse(tmp_path / "w.duckdb")
    w.create_schemas()
    w.create_schemas()
    with w.connect(read_only=True) as con:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    assert {"raw._batches", "raw._rejects", "raw.webshop__orders"} <= tables
    assert {"ops.outbox", "ops.allocations", "ops.routing_decisions"} <= tables


def test_the_resource_creates_the_schemas_once_when_a_run_starts(tmp_path: Path) -> None:
    import dagster as dg

    path = tmp_path / "w.duckdb"
    seen: list[set[str]] = []

    @dg.asset
    def reads(warehouse: WarehouseResource) -> None:
        with warehouse.connect(read_only=True) as con:
            seen.append(
                {
                    s
                    for (s,) in con.execute(
                        "select schema_name from information_schema.schemata"
                    ).fetchall()
                }
            )

    result = dg.materialize([reads], resources={"warehouse": WarehouseResource(path=str(path))})
    assert result.success
    assert {"raw", "ops"} <= seen[0]


def _memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("select current_setting('memory_limit')").fetchall()[0][0])


def test_memory_limit_is_duckdbs_default_unless_set(tmp_path: Path) -> None:
    plain = duckdb.connect()
    default = _memory_limit(plain)
    plain.execute("set memory_limit = '300MB'")
    limited = _memory_limit(plain)
    plain.close()
    assert default != limited
    with Warehouse(tmp_path / "a.duckdb").connect() as con:
        assert _memory_limit(con) == default
    with Warehouse(tmp_path / "b.duckdb", memory_limit="300MB").connect() as con:
        assert _memory_limit(con) == limited


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_writer_waits_for_another_process_and_gives_up_after_its_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.duckdb"
    holder = _hold(path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(duckdb.IOException, match=r"(?i)lock"):
            Warehouse(path, lock_timeout_s=0.5).open()
        assert time.monotonic() - started >= 0.5  # it waited before giving up
    finally:
        holder.kill()
        holder.wait()
    holder = _hold(path, 1.5)
    try:
        with Warehouse(path, lock_timeout_s=60).connect() as con:  # waits for the release
            assert con.execute("select 1").fetchone() == (1,)
    finally:
        holder.wait()


def _limits(config: Path) -> list[dict[str, object]]:
    return yaml.safe_load(config.read_text())["concurrency"]["runs"]["tag_concurrency_limits"]


def test_a_new_instance_gets_the_one_writer_limit(tmp_path: Path) -> None:
    config = ensure_instance_config(tmp_path)
    assert _limits(config) == [{"key": "oms/warehouse", "value": "write", "limit": 1}]


def test_an_existing_instance_file_keeps_its_settings_and_gains_the_limit(tmp_path: Path) -> None:
    config = tmp_path / "dagster.yaml"
    config.write_text(
        "telemetry:\n  enabled: true\n"
        "concurrency:\n  runs:\n    max_concurrent_runs: 4\n    tag_concurrency_limits:\n"
        "      - key: team\n        limit: 2\n"
        "      - key: oms/warehouse\n        value: write\n        limit: 3\n"
    )
    ensure_instance_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    assert data["telemetry"] == {"enabled": True}
    assert data["concurrency"]["runs"]["max_concurrent_runs"] == 4
    assert {"key": "team", "limit": 2} in _limits(config)
    assert {"key": "oms/warehouse", "value": "write", "limit": 1} in _limits(config)
    before = config.read_text()
    ensure_instance_config(tmp_path)
    assert config.read_text() == before  # nothing to change the second time


def test_an_instance_file_that_is_not_a_mapping_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="not a YAML mapping"):
        ensure_instance_config(tmp_path)


def test_create_schemas_on_an_open_connection(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schemas(con)
    assert con.execute("select count(*) from ops.routing_state").fetchone() == (1,)
    con.close()
