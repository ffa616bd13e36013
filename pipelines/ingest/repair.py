"""Repairing records already loaded, without editing tables by hand.

Two ways a loaded record leaves `raw` for the quarantine, both keeping the ledger reconciled
(seen = loaded + rejected + duplicates for its batch) and both in one transaction:

- `recheck`: every loaded row is judged again by today's rules (`sql.reason_cases` on its
  stored values); a row that breaks one is moved with the rule's reason. This is what repairs a
  warehouse loaded by an older version with looser rules.
- `quarantine`: the rows matching given key values are moved with a person's reason
  (`quarantined_by_operator`); the corrected record can then be delivered again in a new file,
  since its key is no longer loaded.

A nested record (a line item) that breaks a rule takes its parent record and all the parent's
nested records with it: an order is never half-loaded. Afterwards the models built on the
tables touched are rebuilt from scratch (`rebuild_selection`), because incremental models keep
what they once read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from pipelines.ingest.sources import SOURCES, SOURCES_BY_NAME
from pipelines.ingest.spec import Child, Field, Source
from pipelines.ingest.sql import REJECT_COLUMNS, lit, q, reason_cases, text_col
from pipelines.ingest.tables import child_fields, ensure_tables, refresh_reference_lookups

OPERATOR = "quarantined_by_operator"


@dataclass(frozen=True)
class Moved:
    """Rows moved from a raw table to the quarantine."""

    source: str
    table: str
    rows: int


def _judged(table: str, fields: tuple[Field, ...]) -> str:
    """Every row of a raw table with `_reason`: the first of today's rules its stored values
    break (NULL when none). The stored value is its own typed value; its text is its cast."""
    checked = [f for f in fields if f.store]
    texts = ", ".join(f"cast({q(f.name)} as VARCHAR) as {text_col(f)}" for f in checked)
    branches = [b for f in checked for b in reason_cases(f)]
    case = "case " + " ".join(branches) + " end" if branches else "cast(null as VARCHAR)"
    return f"""select *, {case} as _reason
        from (select rowid as _rid, *, {texts} from raw.{q(table)})"""


def _move(
    con: duckdb.DuckDBPyConnection, source: Source, table: str, marked: str, now: datetime
) -> int:
    """Move the rows of `table` listed in the temp table `marked` (`_rid`, `_reason`) to the
    quarantine, each with its row as JSON for text, and correct their batches' ledger rows."""
    columns = [
        c
        for (c,) in con.execute(
            """select column_name from information_schema.columns
            where table_schema = 'raw' and table_name = ? order by ordinal_position""",
            [table],
        ).fetchall()
        if not c.startswith("_")
    ]
    record = "{" + ", ".join(f"{lit(c)}: t.{q(c)}" for c in columns) + "}"
    con.execute(
        f"""insert into raw._rejects ({REJECT_COLUMNS})
        select {lit(source.name)}, t._batch_id, t._file, null, 'rejected',
               split_part(m._reason, ':', 1), m._reason, to_json({record})::VARCHAR, ?
        from raw.{q(table)} t join {marked} m on t.rowid = m._rid""",
        [now],
    )
    # a parent record is a record of its batch; nested records are counted apart
    counts = (
        "loaded = b.loaded - n.n, rejected = b.rejected + n.n"
        if table == source.table
        else "children_loaded = b.children_loaded - n.n"
    )
    con.execute(
        f"""update raw._batches b set {counts}
        from (select t._batch_id, count(*) as n from raw.{q(table)} t
              join {marked} m on t.rowid = m._rid group by t._batch_id) n
        where b.source = {lit(source.name)} and b.batch_id = n._batch_id"""
    )
    moved = con.execute(f"select count(*) from {marked}").fetchall()[0][0]
    con.execute(f"delete from raw.{q(table)} where rowid in (select _rid from {marked})")
    return int(moved)


def _with_children(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    child: Child,
    now: datetime,
    judge_children: bool = True,
) -> list[Moved]:
    """Move the marked parents (`_bad_parents`) and every nested record of theirs; with
    `judge_children`, a nested record that breaks a rule marks its parent first."""
    stored = {f.name for f in source.stored_fields}
    on = " and ".join(
        f"c.{q(col)} = p.{q(parent)}" for col, parent in child.parent_fields.items()
        if parent in stored
    )  # fmt: skip
    if judge_children:
        con.execute(
            f"""insert into _bad_parents
            select p.rowid, 'invalid nested record: ' || c._reason || ' (in ' ||
                   {lit(child.array_path)} || ')'
            from ({_judged(child.table, child_fields(source, child))}) c
            join raw.{q(source.table)} p on {on}
            where c._reason is not null and p.rowid not in (select _rid from _bad_parents)
            qualify row_number() over (partition by p.rowid order by c._rid) = 1"""
        )
    con.execute(
        f"""create or replace temp table _bad_children as
        select c.rowid as _rid, 'parent quarantined: ' || b._reason as _reason
        from raw.{q(child.table)} c join raw.{q(source.table)} p on {on}
        join _bad_parents b on p.rowid = b._rid"""
    )
    children = _move(con, source, child.table, "_bad_children", now)
    parents = _move(con, source, source.table, "_bad_parents", now)
    return [Moved(source.name, source.table, parents), Moved(source.name, child.table, children)]


def recheck(con: duckdb.DuckDBPyConnection, sources: list[str] | None = None) -> list[Moved]:
    """Judge every loaded row again by today's rules; move those that break one."""
    ensure_tables(con)
    refresh_reference_lookups(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    moved: list[Moved] = []
    con.execute("begin transaction")
    try:
        for source in [SOURCES_BY_NAME[n] for n in sources] if sources else SOURCES:
            con.execute(
                f"""create or replace temp table _bad_parents as
                select _rid, _reason from ({_judged(source.table, source.fields)})
                where _reason is not null"""
            )
            if source.child is not None:
                moved += _with_children(con, source, source.child, now)
            else:
                rows = _move(con, source, source.table, "_bad_parents", now)
                moved.append(Moved(source.name, source.table, rows))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return [m for m in moved if m.rows]


def quarantine(
    con: duckdb.DuckDBPyConnection, source_name: str, match: dict[str, str], reason: str
) -> list[Moved]:
    """Move the loaded rows of a source whose columns equal `match` (every version of them),
    with their nested records, under a person's reason."""
    source = SOURCES_BY_NAME[source_name]
    names = {f.name for f in source.stored_fields}
    unknown = sorted(set(match) - names)
    if unknown or not match:
        raise ValueError(
            f"{source_name}: match on the columns of raw.{source.table} "
            f"({', '.join(sorted(names))}); unknown: {', '.join(unknown) or 'none given'}"
        )
    if not reason.strip():
        raise ValueError("say why the record is quarantined (--reason)")
    ensure_tables(con)
    where = " and ".join(f"cast({q(c)} as VARCHAR) = ?" for c in match)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        con.execute(
            f"""create or replace temp table _bad_parents as
            select rowid as _rid, {lit(f"{OPERATOR}: ")} || ? as _reason
            from raw.{q(source.table)} where {where}""",
            [reason.strip(), *match.values()],
        )
        if source.child is not None:
            moved = _with_children(con, source, source.child, now, judge_children=False)
        else:
            rows = _move(con, source, source.table, "_bad_parents", now)
            moved = [Moved(source.name, source.table, rows)]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return [m for m in moved if m.rows]


def rebuild_selection(moved: list[Moved]) -> list[str]:
    """dbt selectors of every model built on the raw tables rows were moved from."""
    from pipelines.transform.project import source_selectors

    return source_selectors(sorted({m.table for m in moved}))
