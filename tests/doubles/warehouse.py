"""A warehouse file for tests of `ops_actions`, opened the way the platform opens it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.warehouse import Warehouse, create_schemas


def open_ops_warehouse(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A writing connection to `path` (waiting for another process's lock) with every schema."""
    con = Warehouse(Path(path)).open()
    create_schemas(con)
    return con
