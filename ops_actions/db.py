"""The warehouse connection as `ops_actions` receives it.

`ops_actions` never opens the warehouse itself: the caller owns the connection, its lock wait,
time zone and schemas (`pipelines.warehouse`). Threads of one process share that connection's
database and take cursors from it; their concurrent transactions conflict on rows they both
write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

Warehouse = duckdb.DuckDBPyConnection


@contextmanager
def cursor(con: Warehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of `con` for this thread; closed afterwards."""
    cur = con.cursor()
    try:
        yield cur
    finally:
        cur.close()
