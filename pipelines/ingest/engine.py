"""The one loader every source goes through: discover, parse, validate, deduplicate, commit.

A load of one source reads all its new files in one scan, decides each record's fate
(loaded, rejected with a reason, duplicate) and commits the raw rows, the quarantine rows and the
ledger rows in one transaction, so a crash leaves either the whole load or none of it and a
re-run picks up exactly what is missing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipelines.db import scalar
from pipelines.ingest.discovery import Discovery, discover
from pipelines.ingest.readers import Scan, collect_malformed, scan_source, struct_texts
from pipelines.ingest.sources import SOURCES, SOURCES_BY_NAME
from pipelines.ingest.spec import Child, Field, Source
from pipelines.ingest.sql import (
    LEDGER_COLUMNS,
    LEDGER_DDL,
    REJECT_COLUMNS,
    lit,
    q,
    raw_table_ddl,
    reason_cases,
    reference_cases,
    source_table_ddl,
    typed_expr,
)
from pipelines.settings import get_settings


@dataclass(frozen=True)
class BatchResult:
    """The reconciliation of one landing file: seen = loaded + rejected + duplicates."""

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


def connect(warehouse_path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing with the ledger tables in place."""
    Path(warehouse_path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse_path))
    # Timestamps without an offset are read as UTC, never as the machine's local time.
    con.execute("set TimeZone = 'UTC'")
    for ddl in LEDGER_DDL:
        con.execute(ddl)
    return con


def _header_ok(source: Source, path: Path) -> tuple[bool, str]:
    # a byte-order mark is not part of the header (DuckDB's reader skips it too)
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline().rstrip("\r\n")
    sep = "\t" if source.format == "tsv" else ","
    expected = [f.path for f in source.fields]
    got = [c.strip().strip('"') for c in first.split(sep)]
    if got == expected:
        return True, ""
    return False, f"header is {sep.join(got)[:200]!r}, the contract expects {sep.join(expected)!r}"


def _case(branches: list[str]) -> str:
    return "case " + " ".join(branches) + " end" if branches else "cast(null as VARCHAR)"


def _child_fields(source: Source, child: Child) -> tuple[Field, ...]:
    """Columns of the child table: copied parent fields, then the child's own."""
    by_name = {f.name: f for f in source.fields}
    copied = tuple(
        Field(name=col, path=col, type=by_name[parent].type, required=False)
        for col, parent in child.parent_fields.items()
    )
    return copied + child.fields


def _verdict(
    fields: tuple[Field, ...], inner_sql: str, bad: str, extra: str = "", references: bool = True
) -> str:
    """Type every field of `inner_sql`'s rows and give each its first reason to be rejected.

    `bad` (SQL) is a reason that precedes every field check (a record that could not be
    parsed); `extra` adds columns computed next to the verdict; `references` includes the
    checks against reference tables (subqueries, which DuckDB runs as joins).
    """
    typed = ", ".join(f"{typed_expr(f)} as {q(f.name)}" for f in fields)
    branches = ["when _bad is not null then _bad"] + [
        b for f in fields for b in reason_cases(f, references)
    ]
    return f"""select *, {_case(branches)} as _reason {extra}
        from (select *, {bad} as _bad, {typed} from ({inner_sql}))"""


def _checked_sql(source: Source, scan: Scan) -> str:
    """Read, type and judge every record of the scan in one pass into `_checked`.

    Only what later steps need is materialised: the typed values, the verdict, the record's
    text (for the quarantine; NULL from a scan that keeps it apart, `Scan.text_apart`) and, for
    sources with nested records, whether the record is a parent that carries them
    (`_has_children`) and the nested records (`_children`). Record ids are `_checked`'s row ids,
    which follow scan order.
    """
    extra = ""
    keep = [q(f.name) for f in source.fields] + ["_reason", "_raw"]
    if source.key is None:
        parts = ", ".join(
            f"coalesce(cast({q(f.name)} as VARCHAR), '\\N')" for f in source.stored_fields
        )
        extra += f", md5(concat_ws('|', {parts})) as _record_hash"
        keep.append("_record_hash")
    if source.child is not None:
        applies = f"({source.child.when})" if source.child.when else "true"
        extra += f", _bad is null and coalesce({applies}, false) as _has_children"
        keep += [
            "_has_children",
            f"case when _has_children then {scan.children} end as _children",
        ]
    # No join here, not even the subquery of a reference check: the row ids must follow scan
    # order (the first copy of a key is the one loaded), which DuckDB keeps through scans,
    # filters and projections but not joins. References are checked afterwards.
    verdict = _verdict(source.fields, scan.sql, scan.bad, extra, references=False)
    raw = "cast(null as VARCHAR)" if scan.text_apart else scan.raw
    return f"""create or replace temp table _checked as
        select _file, {", ".join(keep)} from (select *, {raw} as _raw from ({verdict}))"""


# The scanner hands over one batch of rows per file at most, and every expression costs a
# fixed overhead per batch: with tens of thousands of small files (a wholesale order file per
# customer per day) the per-batch cost dominates. Below this mean file size the scan is first
# staged in a table, whose scan hands over full batches.
SMALL_FILE_BYTES = 16 << 10


def _check(
    con: duckdb.DuckDBPyConnection, source: Source, chunk: pl.DataFrame, keep_rejects: bool
) -> Scan:
    """Judge every record of the new files (`_checked`, `_malformed`), then the checks that
    look across records: reference data, nested records, event order. Returns the scan."""
    scan = scan_source(source, [Path(p) for p in chunk["path"]], keep_rejects)
    if scan.text_apart or chunk["bytes"].mean() < SMALL_FILE_BYTES:  # type: ignore[operator]
        con.execute(f"create or replace temp table _scanned as {scan.read}")
        scan = replace(scan, read="select * from _scanned")
    con.execute(_checked_sql(source, scan))
    collect_malformed(con, scan)
    _check_references(con, source)
    if source.child is not None:
        _check_children(con, source.child)
    if source.check_event_order:
        _check_event_order(con, source)
    return scan


def _attach_record_texts(con: duckdb.DuckDBPyConnection, raw: str) -> None:
    """Give the quarantined records of a scan that keeps texts apart their text: row i of
    `_checked` is row i of the staged scan (`Scan.text_apart`)."""
    con.execute(
        f"""update _checked set _raw = t._text
        from (select s.rowid as _rid, {raw} as _text from _scanned s
              semi join (select rowid as _rid from _checked where _reason is not null) c
              on s.rowid = c._rid) t
        where _checked.rowid = t._rid"""
    )


def _check_references(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Reject valid records whose SKU or location is not in the reference data."""
    branches = [b for f in source.fields for b in reference_cases(f)]
    if branches:
        # The reference lookups run once; the update itself touches only the rejected rows.
        con.execute(
            f"""update _checked set _reason = r._ref_reason
            from (select rowid as _rid, {_case(branches)} as _ref_reason from _checked
                  where _reason is null) r
            where _checked.rowid = r._rid and r._ref_reason is not null"""
        )


def _check_children(con: duckdb.DuckDBPyConnection, child: Child) -> None:
    """Type and judge the nested records; a bad or missing one rejects its parent.

    The nested records were read with their parent, as structs (`_children`), for the parents
    that carry them only; a parent whose array is missing or not an array has none (and one
    that must have some is rejected).
    """
    items = f"""select _rid, {struct_texts(child.fields, "_item")}
        from (select rowid as _rid, unnest(_children) as _item from _checked
              where _has_children and _reason is null)"""
    con.execute(
        f"""create or replace temp table _children_checked as
        select _rid, {", ".join(q(f.name) for f in child.fields)}, _reason
        from ({_verdict(child.fields, items, "cast(null as VARCHAR)")})"""
    )
    where = lit(child.array_path)
    con.execute(
        f"""update _checked c set _reason = b._child_reason || ' (in ' || {where} || ')'
        from (select _rid, min(_reason) as _child_reason from _children_checked
              where _reason is not null group by _rid) b
        where c.rowid = b._rid"""
    )
    if child.required:
        con.execute(
            f"""update _checked set _reason = 'missing_required: ' || {where} || ' is empty'
            where _reason is null and _has_children
              and rowid not in (select _rid from _children_checked)"""
        )


def _check_event_order(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Reject carrier events dated before their shipment's label (known now or from before).

    Events may arrive out of order, so this compares timestamps, not arrival order; the label
    always arrives no later than the other events of its shipment (landing contract).
    """
    con.execute(
        f"""update _checked c set _reason = 'event_before_label: ' || c.status || ' at '
              || strftime(c.occurred_at, '%Y-%m-%dT%H:%M:%SZ') || ' is before label_created at '
              || strftime(l.label_at, '%Y-%m-%dT%H:%M:%SZ')
        from (select tracking_number, min(occurred_at) as label_at from (
                -- only the labels of shipments with events in this load: the history grows
                select tracking_number, occurred_at from raw.{q(source.table)}
                where status = 'label_created' and tracking_number in (
                    select tracking_number from _checked
                    where _reason is null and status <> 'label_created')
                union all
                select tracking_number, occurred_at from _checked
                where status = 'label_created' and _reason is null)
              group by tracking_number) l
        where c.tracking_number = l.tracking_number and c._reason is null
          and c.status <> 'label_created' and c.occurred_at < l.label_at"""
    )


# A duplicate's reason starts with this code; it tells duplicates from rejects in one column.
DUPLICATE = "duplicate_key"


def _decide(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Give the valid records that are duplicates (of history or of this load) a duplicate
    reason; every record still without a reason is loaded.

    Full-snapshot reference files (no key) are compared within the load only: every snapshot
    is kept, so a product that changes and later changes back is recorded as it is now.
    """
    key = ("_record_hash",) if source.key is None else source.key
    cols = ", ".join(q(k) for k in key)
    on = " and ".join(f"c.{q(k)} = {{alias}}.{q(k)}" for k in key)
    # Duplicates are few: they are found first, then marked by one update of those rows.
    history = ""
    if source.key is not None:
        history = f"""select c.rowid as _rid, 0 as _rank
            from _checked c semi join raw.{q(source.table)} h on {on.format(alias="h")}
            where c._reason is null
            union all"""
    # Keys in a raw table are unique by construction, so only keys repeated within this load
    # need a second look; the first occurrence (in scan order) is the one loaded.
    con.execute(
        f"""update _checked set _reason = case d._rank
              when 0 then '{DUPLICATE}: already loaded in an earlier batch'
              else '{DUPLICATE}: repeated in this load' end
        from (select _rid, min(_rank) as _rank from ({history}
                select c.rowid as _rid, 1 as _rank from _checked c join (
                    select {cols}, min(rowid) as _first_rid from _checked
                    where _reason is null group by {cols} having count(*) > 1
                ) f on {on.format(alias="f")}
                where c._reason is null and c.rowid <> f._first_rid)
              group by _rid) d
        where _checked.rowid = d._rid"""
    )


def _write(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    load_id: str,
    now: datetime,
    started: float,
) -> None:
    """Write raw rows, children, quarantine and ledger (inside the chunk's transaction)."""
    stored = [q(f.name) for f in source.stored_fields]
    if source.key is None:
        stored.append("_record_hash")
    meta = "f.batch_id, f.rel, cast(? as TIMESTAMP)"
    is_dup = f"starts_with(_reason, '{DUPLICATE}:')"
    con.execute(
        f"""insert into raw.{q(source.table)} ({", ".join(stored)}, _batch_id, _file,
            _loaded_at)
        select {", ".join("c." + col for col in stored)}, {meta}
        from _checked c join _files f using (_file)
        where c._reason is null""",
        [now],
    )
    children = "select null as _file, 0 as n where false"
    if source.child is not None:
        child = source.child
        copied = [f"c.{q(parent)}" for parent in child.parent_fields.values()]
        own = [f"ch.{q(f.name)}" for f in child.fields]
        cols = [q(f.name) for f in _child_fields(source, child)]
        # Children of loaded parents only; parents with nested records are a minority.
        parents = "(select rowid as _rid, * from _checked where _has_children)"
        con.execute(
            f"""insert into raw.{q(child.table)} ({", ".join(cols)}, _batch_id, _file,
                _loaded_at)
            select {", ".join(copied + own)}, {meta}
            from _children_checked ch join {parents} c using (_rid)
            join _files f on c._file = f._file
            where c._reason is null""",
            [now],
        )
        # Counted from what was just written (this chunk's files, this load's stamp).
        children = f"""select f._file, count(*) as n
            from raw.{q(child.table)} r join _files f on r._file = f.rel
            where r._loaded_at = cast(? as TIMESTAMP) group by f._file"""
    con.execute(
        f"""insert into raw._rejects ({REJECT_COLUMNS})
        select {lit(source.name)}, f.batch_id, f.rel, null,
               case when {is_dup} then 'duplicate' else 'rejected' end,
               split_part(_reason, ':', 1), _reason, c._raw, cast(? as TIMESTAMP)
        from _checked c join _files f using (_file)
        where c._reason is not null
        union all
        select {lit(source.name)}, f.batch_id, f.rel, m._record_no, 'rejected',
               'malformed_record', m.reason, m._raw, cast(? as TIMESTAMP)
        from _malformed m join _files f using (_file)""",
        [now, now],
    )
    con.execute(
        f"""insert into raw._batches ({LEDGER_COLUMNS})
        select {lit(source.name)}, f.batch_id, f.rel, f.sha256, f.bytes, f.mtime_ns,
               {lit(load_id)},
               coalesce(c.seen, 0) + coalesce(m.n, 0),
               coalesce(c.loaded, 0),
               coalesce(c.rejected, 0) + coalesce(m.n, 0),
               coalesce(c.duplicates, 0),
               coalesce(k.n, 0),
               cast(? as TIMESTAMP), ?, f.ctime_ns, null
        from _files f
        left join (select _file, count(*) as seen,
                          count(*) filter (where _reason is null) as loaded,
                          count(*) filter (where not {is_dup}) as rejected,
                          count(*) filter (where {is_dup}) as duplicates
                   from _checked group by _file) c on c._file = f._file
        left join (select _file, count(*) as n from _malformed group by _file) m
          on m._file = f._file
        left join ({children}) k on k._file = f._file""",
        [now, time.perf_counter() - started] + ([now] if source.child is not None else []),
    )


def _quarantine_files(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    files: pl.DataFrame,
    reasons: dict[str, str],
    load_id: str,
    now: datetime,
) -> None:
    """Reject every record of files whose shape breaks the contract (a wrong header) or that
    the scanner cannot read at all.

    Such files are rare and small in practice, so they are read line by line in Python; what
    counts as a record is what the scan would have counted (not a header row, not a
    fixed-width control record, not a blank line).
    """
    rejects, ledger = [], []
    for row in files.iter_rows(named=True):
        text = Path(row["path"]).read_text(encoding="utf-8", errors="replace")
        # lines end at LF (CR before it dropped), as the scanner reads them; `splitlines`
        # would also break at characters such as U+2028 inside a record
        numbered = [(i, ln.removesuffix("\r")) for i, ln in enumerate(text.split("\n"), start=1)]
        if source.format in ("csv", "tsv"):
            numbered = numbered[1:]  # the header row
        elif source.format == "fixed":
            numbered = [(i, ln) for i, ln in numbered if ln[:1] not in ("H", "T")]
        lines = [(i, ln) for i, ln in numbered if ln.strip()]
        reason = f"malformed_record: {reasons[row['path']]}"
        rejects += [
            (
                source.name,
                row["batch_id"],
                row["rel"],
                i,
                "rejected",
                "malformed_record",
                reason,
                ln,
                now,
            )
            for i, ln in lines
        ]
        ledger.append(
            (
                source.name,
                row["batch_id"],
                row["rel"],
                row["sha256"],
                row["bytes"],
                row["mtime_ns"],
                load_id,
                len(lines),
                0,
                len(lines),
                0,
                0,
                now,
                None,
                row["ctime_ns"],
                None,
            )
        )
    _insert_ledger_rows(con, rejects, ledger)


def _insert_ledger_rows(
    con: duckdb.DuckDBPyConnection, rejects: list[tuple], ledger: list[tuple]
) -> None:
    """Quarantine and ledger rows built in Python, committed together."""
    con.execute("begin transaction")
    try:
        if rejects:
            con.executemany(
                f"insert into raw._rejects ({REJECT_COLUMNS}) values ({', '.join('?' * 9)})",
                rejects,
            )
        if ledger:
            con.executemany(
                f"insert into raw._batches ({LEDGER_COLUMNS}) values ({', '.join('?' * 16)})",
                ledger,
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _record_files_not_read(
    con: duckdb.DuckDBPyConnection, source: Source, found: Discovery, load_id: str, now: datetime
) -> None:
    """Ledger rows for the files a load does not read: refused links (with their reason in the
    quarantine) and byte-identical copies of a batch (its records counted as duplicates); and
    the new stat of files loaded before and touched since, so they are not hashed again."""
    rejects: list[tuple] = []
    ledger: list[tuple] = []
    for r in found.refused:
        # one row per refused file: two links to the same target are two files
        batch_id = f"{source.name}:refused:{uuid.uuid5(uuid.NAMESPACE_URL, r.rel).hex[:16]}"
        rejects.append(
            (source.name, batch_id, r.rel, None, "rejected", "refused_file", r.reason, None, now)
        )
        ledger.append(
            (source.name, batch_id, r.rel, r.fingerprint, r.stat.bytes, r.stat.mtime_ns,
             load_id, 0, 0, 0, 0, 0, now, None, r.stat.ctime_ns, None)
        )  # fmt: skip
    for c in found.copies:
        seen = scalar(
            con,
            "select records_seen from raw._batches where source = ? and batch_id = ?",
            [source.name, c.original_batch_id],
        )
        batch_id = f"{c.original_batch_id}:{uuid.uuid5(uuid.NAMESPACE_URL, c.rel).hex[:8]}"
        ledger.append(
            (source.name, batch_id, c.rel, c.sha256, c.stat.bytes, c.stat.mtime_ns, load_id,
             seen, 0, 0, seen, 0, now, None, c.stat.ctime_ns, c.original_batch_id)
        )  # fmt: skip
    _insert_ledger_rows(con, rejects, ledger)
    for rel, sha, st in found.restat:
        con.execute(
            """update raw._batches set bytes = ?, mtime_ns = ?, ctime_ns = ?
            where source = ? and file = ? and sha256 = ?""",
            [st.bytes, st.mtime_ns, st.ctime_ns, source.name, rel, sha],
        )


def _load_timestamp(con: duckdb.DuckDBPyConnection) -> datetime:
    """Now, but strictly later than every earlier load: incremental models consume loads by
    `_loaded_at > high-water mark`, so two loads must never share a stamp (clock steps too)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    last = scalar(con, "select max(loaded_at) from raw._batches")
    return max(now, last + timedelta(microseconds=1)) if last is not None else now


def ensure_tables(con: duckdb.DuckDBPyConnection, sources: tuple[Source, ...] = SOURCES) -> None:
    """Create every raw table (empty) so models can build before a source first delivers."""
    for source in sources:
        con.execute(source_table_ddl(source))
        if source.child is not None:
            con.execute(
                raw_table_ddl("raw", source.child.table, _child_fields(source, source.child))
            )


def _refresh_reference_lookups(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create or replace temp table _known_skus as "
        "select distinct sku from raw.reference__products"
    )
    con.execute(
        "create or replace temp table _known_locations as "
        "select distinct location_id from raw.reference__locations"
    )
    con.execute(
        "create or replace temp table _known_suppliers as "
        "select distinct supplier_id from raw.reference__suppliers"
    )


# New files are read in chunks of about this many bytes: few scans for a long history, and a
# memory use bounded by the chunk rather than by the history (10M order lines are ~8 GB of files).
CHUNK_BYTES = 1 << 30


def _chunks(files: pl.DataFrame, limit: int = CHUNK_BYTES) -> list[pl.DataFrame]:
    """Consecutive groups of files (in path order) of at most `limit` bytes, at least one file."""
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
    keep_rejects: bool,
) -> None:
    """Judge, deduplicate and write one chunk of files in ONE transaction: a crash leaves the
    whole chunk or none of it. (One transaction is also faster: DuckDB's first change to a
    freshly committed large table costs seconds; within the creating transaction it is free.)
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
        scan = _check(con, source, chunk, keep_rejects)
        _decide(con, source)
        if scan.text_apart:
            _attach_record_texts(con, scan.raw)
        _write(con, source, load_id, now, started)
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
) -> None:
    """Load a chunk; a file the scanner cannot read at all (say, one mixing Windows and Unix
    line endings) is quarantined whole with the scanner's reason, and the rest loads, so one
    bad file never blocks its source."""
    try:
        try:
            _load_chunk(con, source, chunk, load_id, now, keep_rejects=False)
        except duckdb.InvalidInputException:
            _load_chunk(con, source, chunk, load_id, now, keep_rejects=True)
    except duckdb.InvalidInputException:
        unreadable = _unreadable_files(con, source, chunk)
        if not unreadable:
            raise
        is_bad = pl.col("path").is_in(list(unreadable))
        _quarantine_files(con, source, chunk.filter(is_bad), unreadable, load_id, now)
        if chunk.filter(~is_bad).height:
            _load_chunk(con, source, chunk.filter(~is_bad), load_id, now, keep_rejects=True)


def _unreadable_files(
    con: duckdb.DuckDBPyConnection, source: Source, chunk: pl.DataFrame
) -> dict[str, str]:
    """The files of a chunk whose scan fails on its own, with the first line of the error
    (rare: each file is scanned alone)."""
    failed = {}
    for path in chunk["path"]:
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
        now = _load_timestamp(con)
        _refresh_reference_lookups(con)
        if source.format in ("csv", "tsv"):
            bad = {
                p: why for p in files["path"] for ok, why in [_header_ok(source, Path(p))] if not ok
            }
            if bad:
                _quarantine_files(
                    con, source, files.filter(pl.col("path").is_in(list(bad))), bad, load_id, now
                )
                files = files.filter(~pl.col("path").is_in(list(bad)))
        for chunk in _chunks(files):
            _load_readable(con, source, chunk, load_id, now)
        # after the loads: a copy's counts are those of its original, possibly loaded just now
        _record_files_not_read(con, source, found, load_id, now)
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
    warehouse_path: Path | str,
    landing_dir: Path | str,
    sources: list[str] | None = None,
) -> list[SourceResult]:
    """Load every source in dependency order (reference data first)."""
    selected = [SOURCES_BY_NAME[n] for n in sources] if sources else list(SOURCES)
    load_id = uuid.uuid4().hex[:12]
    con = connect(warehouse_path)
    try:
        ensure_tables(con)
        return [ingest_source(con, s, Path(landing_dir), load_id) for s in selected]
    finally:
        con.close()
