"""Writing a judged load: raw rows, quarantine rows and ledger rows, inside the caller's
transaction; whole files quarantined; ledger rows for files that were not read (copies,
refused files)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipelines.db import scalar
from pipelines.ingest.checks import DUPLICATE
from pipelines.ingest.discovery import Discovery
from pipelines.ingest.spec import Source
from pipelines.ingest.sql import (
    LEDGER_COLUMNS,
    REJECT_COLUMNS,
    lit,
    q,
)
from pipelines.ingest.tables import child_fields


def write_load(
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
        cols = [q(f.name) for f in child_fields(source, child)]
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


def quarantine_files(
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


def record_files_not_read(
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


def load_timestamp(con: duckdb.DuckDBPyConnection) -> datetime:
    """Now, but strictly later than every earlier load: incremental models consume loads by
    `_loaded_at > high-water mark`, so two loads must never share a stamp (clock steps too)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    last = scalar(con, "select max(loaded_at) from raw._batches")
    return max(now, last + timedelta(microseconds=1)) if last is not None else now
