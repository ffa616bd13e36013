"""Reading the published marts: the Parquet snapshot a pipeline run swaps in at its end.

`<published_dir>/current` is a symlink to a versioned folder holding one `<table>.parquet` per
published table and `_run.json`. A run publishes by writing a new folder and replacing the
symlink atomically, then removes the old folder. So a reader resolves `current` once per query
(every file of one query comes from the same run), and when the folder it resolved vanishes
mid-read, resolves again and retries once. Nothing here opens the warehouse, so a dashboard never
waits for, or blocks, a pipeline run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from dashboards.lib.schema import TABLES, PublishedTable

CURRENT_LINK = "current"
RUN_FILE = "_run.json"
RUN_COMMAND = "python3 -m pipelines demo"


class DashboardDataError(RuntimeError):
    """The published data cannot answer a query; the page shows the message instead."""


class NotPublishedError(DashboardDataError):
    def __init__(self, published_dir: Path) -> None:
        super().__init__(
            f"No published data in {published_dir} yet. Run the main job (`{RUN_COMMAND}`) to "
            "build and publish the marts, then reload this page."
        )
        self.published_dir = published_dir


class MissingTableError(DashboardDataError):
    def __init__(self, table: PublishedTable, folder: Path) -> None:
        super().__init__(
            f"The published run in {folder} has no `{table.file}.parquet`; "
            "this part of the page needs it."
        )


class SchemaMismatchError(DashboardDataError):
    def __init__(
        self, table: PublishedTable, missing: Sequence[str], *, contract: bool = False
    ) -> None:
        where = "The dbt contract of " if contract else ""
        super().__init__(
            f"{where}`{table.file}` lacks column(s) {', '.join(missing)}. If a model renamed "
            "them, update the mapping in dashboards/lib/schema.py."
        )


CONTRACTS_FILE = "_contracts.json"
"""Written by the publish step (pipelines/publish/publish.py) from the dbt manifest: published
file -> its model's contract columns. Read as plain JSON: the dashboards never need dbt."""


def _contract_columns(folder: Path, file: str) -> set[str] | None:
    """Columns the dbt contract declares for a published file; None when the run published no
    contract for it (the routing state, or a copy published before contracts existed)."""
    path = folder / CONTRACTS_FILE
    if not path.is_file():
        return None
    columns = json.loads(path.read_text()).get(file)
    return None if columns is None else {c["name"] for c in columns}


@dataclass(frozen=True)
class RunInfo:
    """The pipeline run whose marts are currently published."""

    run_id: str
    finished_at: datetime
    """UTC, timezone-aware."""
    tables: dict[str, int]
    """Published table -> rows."""
    folder: Path
    """The versioned folder `current` pointed to when this was read."""


def resolve_current(published_dir: Path) -> Path | None:
    """The versioned folder `current` points to now, or None when nothing is published."""
    folder = Path(os.path.realpath(Path(published_dir) / CURRENT_LINK))
    return folder if (folder / RUN_FILE).is_file() else None


def _parse_finished_at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_run_info(published_dir: Path) -> RunInfo | None:
    """Metadata of the published run, or None when nothing is published."""
    for attempt in range(2):
        folder = resolve_current(published_dir)
        if folder is None:
            return None
        try:
            meta = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            # Swapped and cleaned up between resolving and reading: resolve again.
            if attempt:
                raise
            continue
        return RunInfo(
            run_id=str(meta["run_id"]),
            finished_at=_parse_finished_at(str(meta["finished_at"])),
            tables={str(k): int(v) for k, v in (meta.get("tables") or {}).items()},
            folder=folder,
        )
    return None  # pragma: no cover - the loop returns or raises


# One in-memory DuckDB database per process; each query gets its own cursor (a connection with
# its own temporary views), which is cheap and safe to use from Streamlit's script threads.
# There is no warehouse connection to pool: the data is whatever Parquet folder is current.
_database: duckdb.DuckDBPyConnection | None = None
_database_lock = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    global _database
    with _database_lock:
        if _database is None:
            _database = duckdb.connect(":memory:")
        return _database.cursor()


class _MissingFileError(FileNotFoundError):
    """A table's file is not in the folder: either never published, or the folder is being
    removed after a newer run was swapped in. `query` tells the two apart."""

    def __init__(self, table: PublishedTable, folder: Path) -> None:
        super().__init__(str(folder / f"{table.file}.parquet"))
        self.table = table
        self.folder = folder


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _create_view(cur: duckdb.DuckDBPyConnection, name: str, folder: Path) -> None:
    table = TABLES[name]
    path = folder / f"{table.file}.parquet"
    if not path.is_file():
        raise _MissingFileError(table, folder)
    source = f"read_parquet({_sql_string(str(path))})"
    present = {row[0] for row in cur.execute(f"describe select * from {source}").fetchall()}
    missing = [col for col in table.columns.values() if col not in present]
    if missing:
        raise SchemaMismatchError(table, missing)
    contract = _contract_columns(folder, table.file)
    if contract is not None:
        undeclared = [col for col in table.columns.values() if col not in contract]
        if undeclared:
            raise SchemaMismatchError(table, undeclared, contract=True)
    renamed = ", ".join(f"{_quote(pub)} as {_quote(col)}" for col, pub in table.columns.items())
    derived = "".join(f", {expr} as {_quote(col)}" for col, expr in table.derived.items())
    rows = f" where {table.rows}" if table.rows else ""
    cur.execute(
        f"create temp view {_quote(name)} as "
        f"select *{derived} from (select {renamed} from {source}) as published{rows}"
    )


def _query_folder(
    folder: Path, sql: str, tables: Iterable[str], params: Sequence[Any] | None = None
) -> pl.DataFrame:
    """Run `sql` over the named views (see `schema.TABLES`) of one versioned folder."""
    cur = _cursor()
    try:
        for name in tables:
            _create_view(cur, name, folder)
        return cur.sql(sql, params=list(params or [])).pl()
    finally:
        cur.close()


_ATTEMPTS = 3
"""Reads of a run swapped out mid-read are retried on the new one; runs are minutes apart, so a
third swap during one read means something else is wrong."""


def query(
    published_dir: Path, sql: str, tables: Iterable[str], params: Sequence[Any] | None = None
) -> pl.DataFrame:
    """Run `sql` over the currently published run, retrying if it is swapped mid-read.

    Raises NotPublishedError when nothing is published, MissingTableError or
    SchemaMismatchError when the published run cannot answer.
    """
    published_dir = Path(published_dir)
    tables = tuple(tables)
    for attempt in range(_ATTEMPTS):
        folder = resolve_current(published_dir)
        if folder is None:
            raise NotPublishedError(published_dir)
        try:
            return _query_folder(folder, sql, tables, params)
        except (duckdb.IOException, FileNotFoundError) as exc:
            # A newer run was swapped in and this folder is being (or has been) removed.
            swapped = resolve_current(published_dir) != folder
            if swapped and attempt < _ATTEMPTS - 1:
                continue
            if isinstance(exc, _MissingFileError) and not swapped:
                raise MissingTableError(exc.table, exc.folder) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover
