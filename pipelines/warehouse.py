"""The warehouse DuckDB file: the one owner of how it is opened and which schemas it holds.

Every asset, check, publish step, CLI command, bench and test that opens the warehouse goes
through `Warehouse.connect` (in Dagster, through the `warehouse` resource, `WarehouseResource`),
so the policy is written once:

- DuckDB lets one process hold a file for writing; another process gets an IOException until
  the holder closes it. A writing connection waits for that lock with backoff (a second scheduled
  run queues up behind the first instead of failing); a read-only one does not need to.
- Timestamps without an offset are read as UTC, never as the machine's local time.
- A memory limit (`OMS_DUCKDB_MEMORY_LIMIT`, e.g. `4GB`), when set, bounds what DuckDB holds;
  unset, DuckDB's own default applies (80 % of RAM). Beyond it DuckDB spills to a temporary
  folder (`OMS_DUCKDB_TEMP_DIRECTORY`; unset, DuckDB's default `<file>.tmp`). Both are set here
  once: `duckdb_settings` gives them to every connection this module opens and, through
  `dbt_env`, to dbt's profile (dbt_project/profiles.yml), so the dbt build is bounded alike.

The schemas are created once, by `create_schemas` (the resource calls it when a run starts;
the CLI's commands and the tests call it where they create a warehouse): `raw` (the ingest
ledger, quarantine and one table per source, defined by `pipelines.ingest`) and `ops` (routing
decisions, allocations, outbox, delivery attempts, defined by `ops_actions.schema`; order
validations and holds, by `ops_actions.holds.schema`). Opening a
connection creates nothing, so a publish or a read never writes DDL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.settings import Settings, get_settings

if TYPE_CHECKING:
    pass

DUCKDB_DEFAULT_MEMORY_LIMIT = "80%"
"""DuckDB's own default memory limit, written out so that dbt's profile can be given it."""


@dataclass(frozen=True)
class Warehouse:
    """Where the warehouse file is and how it is opened."""

    path: Path
    memory_limit: str | None = None
    lock_timeout_s: float = 120.0
    temp_directory: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Warehouse:
        s = settings or get_settings()
        return cls(
            s.warehouse_path,
            s.duckdb_memory_limit,
            s.warehouse_lock_timeout_s,
            s.duckdb_temp_directory,
        )

    def duckdb_settings(self) -> dict[str, str]:
        """The DuckDB settings every connection to this warehouse runs with, the dbt build's
        included: the memory limit and the folder it spills to beyond it (DuckDB's defaults,
        80 % of RAM and `<file>.tmp`, where unset)."""
        return {
            "memory_limit": self.memory_limit or DUCKDB_DEFAULT_MEMORY_LIMIT,
            "temp_directory": str(self.temp_directory or Path(f"{self.path}.tmp")),
        }

    def dbt_env(self) -> dict[str, str]:
        """The same settings as the variables dbt's profile reads (dbt_project/profiles.yml)."""
        settings = self.duckdb_settings()
        return {
            "OMS_DUCKDB_MEMORY_LIMIT": settings["memory_limit"],
            "OMS_DUCKDB_TEMP_DIRECTORY": settings["temp_directory"],
        }

    def open(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A new connection; the caller closes it (prefer `connect`, which does)."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 1.0)
        con.execute("set TimeZone = 'UTC'")
        for name, value in self.duckdb_settings().items():
            con.execute(f"set {name} = '{value}'")
        return con

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self.open(read_only)
        try:
            yield con
        finally:
            con.close()

    def create_schemas(self) -> None:
        """Create every schema and table the platform writes, if missing (idempotent)."""
        with self.connect() as con:
            create_schemas(con)


def create_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """The `raw` and `ops` schemas with all their tables, on an open writing connection."""
    from ops_actions.holds.schema import ensure_holds_schema
    from ops_actions.reorders.schema import ensure_reorder_schema
    from ops_actions.retries import ensure_retry_schema
    from ops_actions.schema import ensure_schema
    from pipelines.ingest.tables import ensure_tables

    ensure_tables(con)
    ensure_schema(con)
    ensure_reorder_schema(con)
    ensure_holds_schema(con)
    ensure_retry_schema(con)


def __getattr__(name: str) -> Any:
    # The Dagster resource lives in `pipelines.warehouse_resource`, imported on first use:
    # opening the warehouse does not import Dagster (a run with nothing new never does).
    if name == "WarehouseResource":
        from pipelines.warehouse_resource import WarehouseResource

        return WarehouseResource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
