"""Judging records: every field typed and checked in one pass over the scanned records, then
the checks that look across records (reference data, nested records, event order, duplicate keys)
mark the few they reject. Work tables only; nothing here commits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.readers import Scan, collect_malformed, scan_source, struct_texts
from pipelines.ingest.spec import Child, Field, Source
from pipelines.ingest.sql import (
    lit,
    q,
    reason_cases,
    reference_cases,
    typed_expr,
)


def header_ok(source: Source, path: Path) -> tuple[bool, str]:
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


def judge(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    chunk: pl.DataFrame,
    keep_rejects: bool,
    staged: bool = False,
) -> Scan:
    """Judge every record of the new files (`_checked`, `_malformed`), then the checks that
    look across records: reference data, nested records, event order. Returns the scan.

    `staged`: the caller has staged the files' lines in `_scanned` already
    (`pipelines.ingest.small_files`)."""
    if staged:
        scan = replace(scan_source(source, [], keep_rejects), read="select * from _scanned")
    else:
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


def attach_record_texts(con: duckdb.DuckDBPyConnection, raw: str) -> None:
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


def decide(con: duckdb.DuckDBPyConnection, source: Source) -> None:
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
