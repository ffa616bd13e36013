"""Small helpers over DuckDB connections used across the pipelines."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl


def fetch_row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple:
    """The single row of a query that always returns one (an aggregate)."""
    # fetchall, not fetchone: DuckDB 2 refuses a new query on a connection with an unfinished
    # result, and an aggregate's single row is cheap to fetch whole.
    rows = con.execute(sql, params or []).fetchall()
    if not rows:
        raise LookupError(f"query returned no row: {sql[:80]}")
    return rows[0]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    return fetch_row(con, sql, params)[0]


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()
