"""Opening the warehouse DuckDB file for writing.

DuckDB lets one process hold a file for writing; another process gets an IOException until the
holder closes it. `connect` waits for the lock with backoff, so a second scheduled run queues up
behind the first instead of failing. Threads of one process share one database object and take
cursors from it; their concurrent transactions conflict on rows they both write.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ops_actions.schema import ensure_schema

Warehouse = str | Path | duckdb.DuckDBPyConnection


def connect(path: str | Path, timeout_s: float = 120.0) -> duckdb.DuckDBPyConnection:
    """Open `path` for writing, waiting up to `timeout_s` for another process's lock."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 1.0)


@contextmanager
def open_warehouse(
    warehouse: Warehouse, timeout_s: float = 120.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on `warehouse` (a path, or a connection whose database this thread shares),
    with the `ops` schema in place; closes what it opened."""
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        cur = warehouse.cursor()
        try:
            _ensure_schema_retrying(cur)
            yield cur
        finally:
            cur.close()
        return
    con = connect(warehouse, timeout_s)
    try:
        _ensure_schema_retrying(con)
        yield con
    finally:
        con.close()


def _ensure_schema_retrying(con: duckdb.DuckDBPyConnection, attempts: int = 10) -> None:
    for i in range(attempts):
        try:
            ensure_schema(con)
            return
        except (duckdb.TransactionException, duckdb.CatalogException):
            # Two threads creating the same table at once: one loses and retries.
            if i == attempts - 1:
                raise
            time.sleep(0.01 * (i + 1))
