"""Format readers: turn a set of new files into one table of native field texts.

Each reader leaves on the connection:

- `_parsed` (a view over the reader's own table): one row per well-formed record: `_rid`
  (unique within the load, in scan order), `_file` (absolute path) and one `v__<field>` column
  per field holding the trimmed native text (NULL when empty);
- `_malformed`: one row per record that could not be parsed at all: `_file`, `_record_no`,
  `_raw`, `reason`;
- `_record_text` (view: `_rid`, `_raw`): a record's text, read only for the quarantine;

and, for sources with nested records, `_children` (`_rid` of the parent, `_raw`, `v__*`).
Every reader reads all new files of a source in one scan, which is what makes loading a long
history fast; the per-file split happens afterwards by `_file`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.ingest.spec import Child, Field, Source
from pipelines.ingest.sql import lit, q, text_col

_READ_OPTS = "auto_detect=false, filename=true, store_rejects=true, strict_mode=true"


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(lit(str(f)) for f in files) + "]"


def _clean(expr: str) -> str:
    return f"nullif(trim({expr}), '')"


def _json_path(path: str) -> str:
    parts = []
    for part in path.split("."):
        parts.append(f"[{part}]" if part.isdigit() else f".{part}")
    return "$" + "".join(parts)


def _json_select(fields: tuple[Field, ...], keep: str, inner_sql: str) -> str:
    """Select `keep` plus every field's text, with one JSON parse per record (`_raw`)."""
    paths = "[" + ", ".join(lit(_json_path(f.path)) for f in fields) + "]"
    extracted = ", ".join(
        f"{_clean(f'_vals[{i}]')} as {text_col(f)}" for i, f in enumerate(fields, start=1)
    )
    return (
        f"select {keep}, {extracted} from "
        f"(select *, json_extract_string(_raw, {paths}) as _vals from ({inner_sql}))"
    )


def _collect_malformed(con: duckdb.DuckDBPyConnection) -> None:
    """Rows the CSV scanner could not split into the expected fields, one per line."""
    con.execute(
        """create or replace temp table _malformed as
        select s.file_path as _file, r.line as _record_no, any_value(r.csv_line) as _raw,
               'malformed_record: line ' || r.line || ': ' || min(r.error_message) as reason
        from _csv_rejects r join _csv_scans s using (scan_id, file_id)
        group by s.file_path, r.line"""
    )


def read_delimited(con: duckdb.DuckDBPyConnection, source: Source, files: list[Path]) -> None:
    """CSV or TSV with a header row; a record's text is rebuilt from its fields."""
    delim = "\\t" if source.format == "tsv" else ","
    # Marketplace reports are not quoted; a stray quote must not swallow the next fields.
    quote = "quote='', escape=''" if source.format == "tsv" else "quote='\"', escape='\"'"
    columns = "{" + ", ".join(f"{lit(f.path)}: 'VARCHAR'" for f in source.fields) + "}"
    # Record ids are the table's row ids (scan order), not a window function, which would
    # serialise the parallel scan.
    con.execute(
        f"""create or replace temp table _csv_rows as
        select filename as _file,
               {", ".join(f"{_clean(q(f.path))} as {text_col(f)}" for f in source.fields)}
        from read_csv({_file_list(files)}, delim=E'{delim}', header=true, {quote},
                      columns={columns}, {_READ_OPTS},
                      rejects_table='_csv_rejects', rejects_scan='_csv_scans')"""
    )
    con.execute("create or replace temp view _parsed as select rowid as _rid, * from _csv_rows")
    _collect_malformed(con)
    sep = "\t" if source.format == "tsv" else ","
    con.execute(
        f"""create or replace temp view _record_text as
        select _rid, concat_ws({lit(sep)}, {", ".join(text_col(f) for f in source.fields)}) as _raw
        from _parsed"""
    )


def _read_lines(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    """Read files as whole lines into `_lines` (blank lines dropped).

    The delimiter is a control character that valid JSON cannot contain unescaped, so every
    line lands in one column; a line that does contain one is split and caught as malformed.
    """
    con.execute(
        f"""create or replace temp table _lines as
        select filename as _file, line as _raw
        from read_csv({_file_list(files)}, delim=E'\\x01', header=false, quote='', escape='',
                      columns={{'line': 'VARCHAR'}}, {_READ_OPTS}, max_line_size=16777216,
                      rejects_table='_csv_rejects', rejects_scan='_csv_scans')
        where trim(line) <> ''"""
    )
    con.execute(
        "create or replace temp view _record_text as select rowid as _rid, _raw from _lines"
    )
    _collect_malformed(con)


def read_jsonl(con: duckdb.DuckDBPyConnection, source: Source, files: list[Path]) -> None:
    _read_lines(con, files)
    con.execute(
        """insert into _malformed
        select _file, null, _raw, 'malformed_record: not a valid JSON object'
        from _lines where not coalesce(json_valid(_raw) and left(ltrim(_raw), 1) = '{', false)"""
    )
    con.execute(
        "create or replace temp table _line_rows as "
        + _json_select(
            source.fields,
            "_rid, _file",
            "select rowid as _rid, _file, _raw from _lines "
            "where json_valid(_raw) and left(ltrim(_raw), 1) = '{'",
        )
    )
    con.execute("create or replace temp view _parsed as select * from _line_rows")
    if source.child is not None:
        _read_json_children(con, source, source.child)


def _read_json_children(con: duckdb.DuckDBPyConnection, source: Source, child: Child) -> None:
    """Unnest the nested records of the parents that carry them (only those matching the
    child's `when`, judged on the parents' native texts: carrier labels, not every scan)."""
    array = _json_path(child.array_path)
    parents = "select _rid from _parsed"
    if child.when:
        named = ", ".join(f"{text_col(f)} as {q(f.name)}" for f in source.fields)
        parents = f"select _rid from (select _rid, {named} from _parsed) where {child.when}"
    con.execute(
        "create or replace temp table _children as "
        + _json_select(
            child.fields,
            "_rid, _raw",
            f"select rowid as _rid, "
            f"cast(unnest(json_extract(_raw, '{array}[*]')) as VARCHAR) as _raw "
            f"from _lines where rowid in ({parents})",
        )
    )


def read_fixed(con: duckdb.DuckDBPyConnection, source: Source, files: list[Path]) -> None:
    """Fixed-width files: control records (header, trailer) are skipped, the rest are records."""
    _read_lines(con, files)
    control = "[" + ", ".join(lit(c) for c in "HT") + "]"
    con.execute(
        f"""insert into _malformed
        select _file, null, _raw,
               'malformed_record: ' || case
                 when left(_raw, 1) not in ({", ".join(lit(c) for c in source.record_types)})
                   then 'unknown record type ''' || left(_raw, 1) || ''''
                 else 'line is ' || length(rtrim(_raw, E'\\r')) || ' characters, expected '
                      || {source.min_line_length} end
        from _lines
        where not list_contains({control}, left(_raw, 1))
          and (left(_raw, 1) not in ({", ".join(lit(c) for c in source.record_types)})
               or length(rtrim(_raw, E'\\r')) < {source.min_line_length})"""
    )

    def slice_(f: Field) -> str:
        start, width = (int(x) for x in f.path.split(":"))
        return f"{_clean(f'substr(_raw, {start}, {width})')} as {text_col(f)}"

    con.execute(
        f"""create or replace temp table _line_rows as
        select rowid as _rid, _file, {", ".join(slice_(f) for f in source.fields)}
        from _lines
        where left(_raw, 1) in ({", ".join(lit(c) for c in source.record_types)})
          and length(rtrim(_raw, E'\\r')) >= {source.min_line_length}"""
    )
    con.execute("create or replace temp view _parsed as select * from _line_rows")


def read_source(con: duckdb.DuckDBPyConnection, source: Source, files: list[Path]) -> None:
    """Dispatch on the source's format. Besides the tables above, every reader defines the view
    `_record_text` (`_rid`, `_raw`): the text of a record, read only for the quarantine."""
    readers = {
        "csv": read_delimited,
        "tsv": read_delimited,
        "jsonl": read_jsonl,
        "fixed": read_fixed,
    }
    if source.format not in readers:
        raise ValueError(f"unknown format {source.format!r} for source {source.name}")
    readers[source.format](con, source, files)
