"""A warehouse file for tests of `ops_actions`, opened the way the platform opens it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.warehouse import Warehouse, create_schemas


def open_ops_warehouse(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A writing connection to `path` (waiting for another process's lock) with every schema."""
    con = Warehouse(Path(path)).open()
    create_schemas(con)
    return con


@contextmanager
def ops_warehouse(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_ops_warehouse` for a block, closed afterwards (a subprocess may need the file)."""
    con = open_ops_warehouse(path)
    try:
        yield con
    finally:
        con.close()
