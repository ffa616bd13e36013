"""Format readers: turn a set of new files into a stream of records' native field texts.

A reader does not materialise anything: it returns a `Scan`, the SQL of one parallel scan over
all new files of a source, which the engine types, validates and stores in a single pass. Its
rows carry `_file` (the file's position in the list of files scanned), one `v__<field>` column
per field holding the trimmed native text (NULL when empty), and what the engine needs to
quarantine a record: `raw` (the SQL of the record's text) and `bad` (the SQL of a reason when the
record could not be parsed at all).

Records the scanner itself cannot split into fields (CSV rows with too many columns, lines over
the size limit) never reach the scan's rows: `collect_malformed` turns the scanner's own rejects
into `_malformed` (`_file`, `_record_no`, `_raw`, `reason`) once the scan has run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.spec import Field, Source
from pipelines.ingest.sql import lit, q, text_col

_READ_OPTS = "auto_detect=false, strict_mode=true"
_REJECTS = "store_rejects=true, rejects_table='_csv_rejects', rejects_scan='_csv_scans'"


_ROWS = "__rows__"

# The reason of a JSON Lines record that is not a JSON object.
NOT_AN_OBJECT = "malformed_record: not a valid JSON object"


@dataclass(frozen=True)
class Scan:
    """One scan of a source's new files (see the module docstring)."""

    # The file reader itself: a select over DuckDB's table function, with no projection that
    # would cost per batch of rows (see `engine.SMALL_FILE_BYTES`).
    read: str
    # The fields' texts, selected from the rows of `read` (named `__rows__` here).
    project: str
    # SQL over the scan's columns: the record's text (evaluated only for quarantined records).
    raw: str
    # SQL over the scan's columns: why a record cannot be parsed, or NULL.
    bad: str = "cast(null as VARCHAR)"
    # Whether the scanner keeps the lines it cannot split (in `_csv_rejects`) or fails on them.
    keeps_rejects: bool = True
    # SQL over the scan's columns: the JSON text of the nested records' array, if any.
    children: str = "cast(null as JSON)"
    # When `read` does not carry the records' text (`raw` is then NULL): the files' lines, one
    # row per record in the same order, from which the engine takes the text of the records it
    # quarantines (see `engine._align_lines`).
    lines: str | None = None

    @property
    def sql(self) -> str:
        """The whole scan: one row per record with `_file`, the fields' texts and more."""
        return self.project.replace(_ROWS, f"({self.read})")


def _literal_path(path: Path) -> str:
    """A path as DuckDB's file readers take it literally: they expand glob characters, so
    `orders_[0]1.jsonl` would read `orders_01.jsonl` instead (each becomes a one-character
    class; the reader still reports the real path)."""
    return "".join(f"[{c}]" if c in "[*?" else c for c in str(path))


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(lit(_literal_path(f)) for f in files) + "]"


# A row's file, as its position in the list of files scanned: a small integer is cheaper to
# carry through millions of rows, store in work tables and join on than the file's path.
_FILE = "file_index"


def _clean(expr: str) -> str:
    """The trimmed text, NULL when empty. Padded values are rare and `trim` is costly on
    millions of values, so only values that start or end with a space are trimmed."""
    return (
        f"case when {expr} = '' then null "
        f"when starts_with({expr}, ' ') or ends_with({expr}, ' ') then nullif(trim({expr}), '') "
        f"else {expr} end"
    )


def json_path(path: str) -> str:
    """`a.b.0.c` as a JSON path (`$.a.b[0].c`)."""
    parts = []
    for part in path.split("."):
        parts.append(f"[{part}]" if part.isdigit() else f".{part}")
    return "$" + "".join(parts)


def json_fields(fields: tuple[Field, ...], keep: str, document: str, inner_sql: str) -> str:
    """Select `keep` plus every field's text from the JSON object in column `document`.

    Each record is parsed once (one `json_extract_string` over all paths), and only when it is
    a valid JSON object; other records get NULL fields (the caller rejects them).
    """
    paths = "[" + ", ".join(lit(json_path(f.path)) for f in fields) + "]"
    extracted = ", ".join(
        f"{_clean(f'_vals[{i}]')} as {text_col(f)}" for i, f in enumerate(fields, start=1)
    )
    return (
        f"select {keep}, {extracted} from (select *, case when {is_object(document)} "
        f"then json_extract_string({document}, {paths}) end as _vals from ({inner_sql}))"
    )


def is_object(document: str) -> str:
    # The cheap first-character test comes first: DuckDB evaluates `and` lazily per row.
    return (
        f"(starts_with({document}, '{{') or starts_with(ltrim({document}), '{{')) "
        f"and json_valid({document})"
    )


def collect_malformed(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    """Rows the scanner could not split into the expected fields, one per line (their file
    told by its path in the scanner's rejects, mapped to its position by `_files`)."""
    if not scan.keeps_rejects:
        con.execute(
            """create or replace temp table _malformed (_file UBIGINT, _record_no BIGINT,
            _raw VARCHAR, reason VARCHAR)"""
        )
        return
    con.execute(
        """create or replace temp table _malformed as
        -- in a file with CRLF line endings the scanner's line text starts with the previous
        -- line's LF: line breaks are not part of a record's text
        select f._file, r.line as _record_no,
               trim(any_value(r.csv_line), chr(13) || chr(10)) as _raw,
               'malformed_record: line ' || r.line || ': ' || min(r.error_message) as reason
        from _csv_rejects r join _csv_scans s using (scan_id, file_id)
        join _files f on f.path = s.file_path
        group by f._file, r.line"""
    )


def scan_delimited(source: Source, files: list[Path], keep_rejects: bool = True) -> Scan:
    """CSV or TSV with a header row; a record's text is rebuilt from its fields."""
    delim = "\\t" if source.format == "tsv" else ","
    # Marketplace reports are not quoted; a stray quote must not swallow the next fields.
    quote = "quote='', escape=''" if source.format == "tsv" else "quote='\"', escape='\"'"
    columns = "{" + ", ".join(f"{lit(f.path)}: 'VARCHAR'" for f in source.fields) + "}"
    read = f"""select *, {_FILE} from read_csv({_file_list(files)}, delim=E'{delim}', header=true,
        {quote}, columns={columns}, {_READ_OPTS}, {_REJECTS})"""
    project = f"""select {_FILE} as _file,
        {", ".join(f"{_clean(q(f.path))} as {text_col(f)}" for f in source.fields)} from {_ROWS}"""
    sep = "\t" if source.format == "tsv" else ","
    raw = f"concat_ws({lit(sep)}, {', '.join(text_col(f) for f in source.fields)})"
    return Scan(read=read, project=project, raw=raw)


def _lines(files: list[Path], keep_rejects: bool) -> str:
    """Whole lines of the files as `_file`, `_line` (blank lines skipped).

    The delimiter is a control character that valid JSON cannot contain unescaped, so every
    line lands in one column; a line that does contain one (or is not UTF-8, or is too long)
    fails the scan, or is kept in the scanner's rejects when `keep_rejects`.
    """
    rejects = f", {_REJECTS}" if keep_rejects else ""
    return f"""select {_FILE} as _file, line as _line
        from read_csv({_file_list(files)}, delim=E'\\x01', header=false, quote='', escape='',
                      columns={{'line': 'VARCHAR'}}, {_READ_OPTS}, max_line_size=16777216
                      {rejects})
        where line is not null and (ascii(line) > 32 or trim(line) <> '')"""


# Members of a JSON container to read: name -> a nested container, or the DuckDB type of a leaf.
_Members = dict[str, "_Members | str"]


def _json_type(member: _Members | str) -> str:
    """DuckDB type to read a member as; numeric names are array positions, read as a list whose
    elements all have the members asked of any position."""
    if isinstance(member, str):
        return member
    if all(k.isdigit() for k in member):
        merged: _Members = {}
        for element in member.values():
            if isinstance(element, str):
                raise ValueError("an array position must hold an object")
            merged.update(element)
        return _json_type(merged) + "[]"
    if any(k.isdigit() for k in member):
        raise ValueError("a JSON container read both as an object and as an array")
    return "STRUCT(" + ", ".join(f"{q(k)} {_json_type(v)}" for k, v in member.items()) + ")"


def _json_accessor(path: str) -> str:
    """`a.0.b` as an expression over read_json's columns (`"a"[1]."b"`)."""
    head, *rest = path.split(".")
    return q(head) + "".join(f"[{int(p) + 1}]" if p.isdigit() else f".{q(p)}" for p in rest)


def _json_columns(source: Source) -> str:
    """read_json's `columns`: each field read as text, the nested records' array as JSON."""
    tree: _Members = {}
    leaves = [(f.path, "VARCHAR") for f in source.fields]
    if source.child is not None:
        leaves.append((source.child.array_path, "JSON"))
    for path, leaf in leaves:
        *parents, name = path.split(".")
        node = tree
        for part in parents:
            inner = node.setdefault(part, {})
            if isinstance(inner, str):
                raise ValueError(f"{path}: {part} is read both as a value and as a container")
            node = inner
        node[name] = leaf
    return "{" + ", ".join(f"{lit(k)}: {lit(_json_type(v))}" for k, v in tree.items()) + "}"


def scan_jsonl(source: Source, files: list[Path], keep_rejects: bool) -> Scan:
    """JSON Lines. Fast path: DuckDB's own JSON reader types the fields, and the lines are read
    on the side for the few records that are quarantined. With `keep_rejects` (a chunk with a
    line the fast path could not take), every line is parsed on its own instead."""
    children = "cast(null as JSON)"
    if keep_rejects:
        if source.child is not None:
            children = f"json_extract(_line, {lit(json_path(source.child.array_path))})"
        return Scan(
            read=_lines(files, keep_rejects),
            project=json_fields(source.fields, "_file, _line", "_line", f"select * from {_ROWS}"),
            raw="_line",
            bad=f"case when not ({is_object('_line')}) then '{NOT_AN_OBJECT}' end",
            keeps_rejects=True,
            children=children,
        )
    # A line that is not a JSON object comes out of the reader as a row with every column NULL
    # (`ignore_errors`); so does an object without any field of the contract, which the engine
    # tells apart by its line.
    texts = [f"{_clean(_json_accessor(f.path))} as {text_col(f)}" for f in source.fields]
    columns = [text_col(f) for f in source.fields]
    if source.child is not None:
        texts.append(f"{_json_accessor(source.child.array_path)} as _children")
        columns.append("_children")
        children = "_children"
    read = f"""select *, {_FILE} from read_json({_file_list(files)},
        format='newline_delimited', ignore_errors=true, columns={_json_columns(source)})"""
    return Scan(
        read=read,
        project=f"select {_FILE} as _file, {', '.join(texts)} from {_ROWS}",
        raw="cast(null as VARCHAR)",
        bad=f"case when {' and '.join(c + ' is null' for c in columns)} then '{NOT_AN_OBJECT}' end",
        keeps_rejects=False,
        children=children,
        lines=_lines(files, keep_rejects=False),
    )


def scan_fixed(source: Source, files: list[Path], keep_rejects: bool) -> Scan:
    """Fixed-width files: control records (header, trailer) are skipped, the rest are records."""
    types = ", ".join(lit(c) for c in source.record_types)
    length = "length(rtrim(_line, E'\\r'))"

    def slice_(f: Field) -> str:
        start, width = (int(x) for x in f.path.split(":"))
        # Fixed-width values are padded to their width, so here trimming is the common case.
        return f"nullif(trim(substr(_line, {start}, {width})), '') as {text_col(f)}"

    project = f"""select _file, _line, {", ".join(slice_(f) for f in source.fields)}
        from {_ROWS} where left(_line, 1) not in ('H', 'T')"""
    bad = f"""case when left(_line, 1) not in ({types})
                then 'malformed_record: unknown record type ''' || left(_line, 1) || ''''
              when {length} < {source.min_line_length}
                then 'malformed_record: line is ' || {length} || ' characters, expected '
                     || {source.min_line_length} end"""
    return Scan(
        read=_lines(files, keep_rejects),
        project=project,
        raw="_line",
        bad=bad,
        keeps_rejects=keep_rejects,
    )


def scan_source(source: Source, files: list[Path], keep_rejects: bool = True) -> Scan:
    """The scan of a source's new files, by the source's format.

    With `keep_rejects` false, line-based formats (JSON Lines, fixed width) skip the scanner's
    reject bookkeeping, which costs a third of a plain line scan: such a scan fails instead on
    the rare line it cannot read, and the caller scans again keeping rejects. Delimited files
    always keep them: a row with a wrong number of fields is a common fault there.
    """
    scanners: dict[str, Callable[[Source, list[Path], bool], Scan]] = {
        "csv": scan_delimited,
        "tsv": scan_delimited,
        "jsonl": scan_jsonl,
        "fixed": scan_fixed,
    }
    if source.format not in scanners:
        raise ValueError(f"unknown format {source.format!r} for source {source.name}")
    return scanners[source.format](source, files, keep_rejects)
