"""The one loader every source goes through: discover, parse, validate, deduplicate, commit.

A load of one source reads all its new files in one scan, decides each record's fate
(loaded, rejected with a reason, duplicate) and commits the raw rows, the quarantine rows and the
ledger rows in one transaction, so a crash leaves either the whole load or none of it and a
re-run picks up exactly what is missing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl

from pipelines.ingest.checks import (
    SMALL_FILE_BYTES,
    attach_record_texts,
    decide,
    header_ok,
    judge,
)
from pipelines.ingest.discovery import discover
from pipelines.ingest.readers import scan_source
from pipelines.ingest.small_files import (
    CHANGED,
    SMALL_CHUNK_BYTES,
    read_texts,
    stage_lines,
    stageable,
)
from pipelines.ingest.sources import SOURCES, SOURCES_BY_NAME
from pipelines.ingest.spec import Source
from pipelines.ingest.tables import ensure_tables, refresh_reference_lookups
from pipelines.ingest.writes import (
    load_timestamp,
    quarantine_files,
    record_files_not_read,
    write_load,
)
from pipelines.settings import get_settings
from pipelines.warehouse import Warehouse, create_schemas


class BatchResult(NamedTuple):
    """The reconciliation of one landing file: seen = loaded + rejected + duplicates (a
    tuple: a load of many small files makes hundreds of thousands)."""

    source: str
    batch_id: str
    file: str
    records_seen: int
    loaded: int
    rejected: int
    duplicates: int
    children_loaded: int


@dataclass
class SourceResult:
    source: str
    batches: list[BatchResult] = field(default_factory=list)
    seconds: float = 0.0
    # files left for a later run, with why (still being written)
    waiting: list[tuple[str, str]] = field(default_factory=list)
    # files refused, with why (a link leaving the landing folder)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(b, attr) for b in self.batches)


# New files are read in chunks of about this many bytes: few scans for a long history, and a
# memory use bounded by the chunk rather than by the history (10M order lines are ~8 GB of files).
CHUNK_BYTES = 1 << 30


def _chunks(files: pl.DataFrame, limit: int = CHUNK_BYTES) -> list[pl.DataFrame]:
    """Consecutive groups of files (in path order) of at most `limit` bytes, at least one file."""
    return _consecutive(files, limit)


def _consecutive(files: pl.DataFrame, limit: int) -> list[pl.DataFrame]:
    groups: list[pl.DataFrame] = []
    start, size = 0, 0
    sizes = files["bytes"].to_list()
    for i, b in enumerate(sizes):
        if i > start and size + b > limit:
            groups.append(files.slice(start, i - start))
            start, size = i, 0
        size += b
    if start < len(sizes):
        groups.append(files.slice(start, len(sizes) - start))
    return groups


def _load_chunk(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    chunk: pl.DataFrame,
    load_id: str,
    now: datetime,
    texts: list[str | None] | None = None,
    *,
    keep_rejects: bool,
) -> None:
    """Judge, deduplicate and write one chunk of files in ONE transaction: a crash leaves the
    whole chunk or none of it. (One transaction is also faster: DuckDB's first change to a
    freshly committed large table costs seconds; within the creating transaction it is free.)

    `texts`: the files' texts already read (small files, `small_files.read_texts`), staged
    from memory instead of by the scanner.
    """
    started = time.perf_counter()
    con.execute("begin transaction")
    try:
        # `_file`: the file's position in the chunk, as the scan reports it (`file_index`)
        con.register("_new_files", chunk.with_row_index("_file").to_arrow())
        con.execute(
            "create or replace temp table _files as "
            "select * replace (cast(_file as UBIGINT) as _file) from _new_files"
        )
        con.unregister("_new_files")
        if texts is not None:
            keep_rejects = stage_lines(con, source, chunk, texts, keep_rejects)
        scan = judge(con, source, chunk, keep_rejects, staged=texts is not None)
        decide(con, source)
        if scan.text_apart:
            attach_record_texts(con, scan.raw)
        write_load(con, source, load_id, now, started)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _drop_work_tables(con)


# Per-load work tables; dropped after each chunk so their memory is not held into the next.
_WORK_TABLES = (
    "_scanned",
    "_checked",
    "_children_checked",
    "_malformed",
    "_files",
    "_csv_rejects",
    "_csv_scans",
)


def _drop_work_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in _WORK_TABLES:
        con.execute(f"drop table if exists temp.{table}")


def _load_readable(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    chunk: pl.DataFrame,
    load_id: str,
    now: datetime,
    contents: dict[str, bytes],
) -> list[tuple[str, str]]:
    """Load a chunk; a file the scanner cannot read at all (say, one mixing Windows and Unix
    line endings) is quarantined whole with the scanner's reason, and the rest loads, so one
    bad file never blocks its source. Returns the files left for a later run (changed since
    they were fingerprinted), with why."""
    texts: list[str | None] | None = None
    waiting: list[tuple[str, str]] = []
    suspects = chunk["path"].to_list()  # the files that may be unreadable
    if stageable(source, chunk["bytes"].mean(), SMALL_FILE_BYTES):  # type: ignore[arg-type]
        found = read_texts(chunk, contents)
        if found.changed:
            waiting = [(chunk["rel"][i], CHANGED) for i in found.changed]
            keep = pl.Series(range(chunk.height)).is_in(found.changed).not_()
            chunk = chunk.filter(keep)
            gone = set(found.changed)
            texts = [t for i, t in enumerate(found.texts) if i not in gone]
        else:
            texts = found.texts
        suspects = [p for p, t in zip(chunk["path"], texts, strict=True) if t is None]
        if not chunk.height:
            return waiting
    try:
        try:
            _load_chunk(con, source, chunk, load_id, now, texts, keep_rejects=False)
        except duckdb.InvalidInputException:
            _load_chunk(con, source, chunk, load_id, now, texts, keep_rejects=True)
    except duckdb.InvalidInputException:
        unreadable = _unreadable_files(con, source, suspects)
        if not unreadable:
            raise
        is_bad = chunk["path"].is_in(list(unreadable))
        quarantine_files(con, source, chunk.filter(is_bad), unreadable, load_id, now)
        if (~is_bad).any():
            rest = (
                None if texts is None else [t for t, b in zip(texts, is_bad, strict=True) if not b]
            )
            _load_chunk(con, source, chunk.filter(~is_bad), load_id, now, rest, keep_rejects=True)
    return waiting


def _unreadable_files(
    con: duckdb.DuckDBPyConnection, source: Source, paths: list[str]
) -> dict[str, str]:
    """The files whose scan fails on its own, with the first line of the error (rare: each
    file is scanned alone)."""
    failed = {}
    for path in paths:
        scan = scan_source(source, [Path(path)], keep_rejects=True)
        try:
            con.execute(f"select count(*) from ({scan.sql})")
        except duckdb.InvalidInputException as exc:
            first = str(exc).strip().splitlines()[0]
            failed[path] = f"the file cannot be read: {first.removeprefix('Invalid Input Error: ')}"
    return failed


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing_dir: Path,
    load_id: str | None = None,
) -> SourceResult:
    """Load every new batch of one source. Loading the same files again is a no-op."""
    started = time.perf_counter()
    load_id = load_id or uuid.uuid4().hex[:12]
    # All raw tables, not only this source's: checks read the reference tables, which may not
    # have been delivered yet.
    ensure_tables(con)
    result = SourceResult(source.name)
    settings = get_settings()
    found = discover(
        con,
        source,
        str(landing_dir),
        settings.landing_settle_seconds,
        settings.landing_unterminated_grace_seconds,
    )
    result.waiting = found.waiting
    result.refused = [(r.rel, r.reason) for r in found.refused]
    files = found.new
    if files.height or found.copies or found.refused or found.restat:
        now = load_timestamp(con)
        refresh_reference_lookups(con)
        if source.format in ("csv", "tsv"):
            bad = {
                p: why for p in files["path"] for ok, why in [header_ok(source, Path(p))] if not ok
            }
            if bad:
                quarantine_files(
                    con, source, files.filter(pl.col("path").is_in(list(bad))), bad, load_id, now
                )
                files = files.filter(~pl.col("path").is_in(list(bad)))
        for chunk in _chunks(files):
            # small files are held in memory while they are staged: smaller chunks
            small = stageable(source, chunk["bytes"].mean(), SMALL_FILE_BYTES)  # type: ignore[arg-type]
            for part in _consecutive(chunk, SMALL_CHUNK_BYTES) if small else [chunk]:
                result.waiting += _load_readable(con, source, part, load_id, now, found.contents)
        # after the loads: a copy's counts are those of its original, possibly loaded just now
        record_files_not_read(con, source, found, load_id, now)
        result.batches = [
            BatchResult(source.name, *row)
            for row in con.execute(
                """select batch_id, file, records_seen, loaded, rejected, duplicates,
                          children_loaded
                   from raw._batches where source = ? and load_id = ? order by file""",
                [source.name, load_id],
            ).fetchall()
        ]
    result.seconds = time.perf_counter() - started
    return result


def ingest_all(
    warehouse: Warehouse | Path | str,
    landing_dir: Path | str,
    sources: list[str] | None = None,
) -> list[SourceResult]:
    """Load every source in dependency order (reference data first)."""
    selected = [SOURCES_BY_NAME[n] for n in sources] if sources else list(SOURCES)
    load_id = uuid.uuid4().hex[:12]
    if not isinstance(warehouse, Warehouse):
        warehouse = Warehouse(Path(warehouse))
    with warehouse.connect() as con:
        create_schemas(con)
        return [ingest_source(con, s, Path(landing_dir), load_id) for s in selected]
