"""Format readers: turn a set of new files into a stream of records' native field texts.

A reader does not materialise anything: it returns a `Scan`, the SQL of one parallel scan over
all new files of a source, which the engine types, validates and stores in a single pass (staging
the files' rows in a table first where that is cheaper, see `Scan.text_apart`). Its
rows carry `_file` (the file's position in the list of files scanned), one `v__<field>` column
per field holding the trimmed native text (NULL when empty), and what the engine needs to
quarantine a record: `raw` (the SQL of the record's text) and `bad` (the SQL of a reason when the
record could not be parsed at all).

Records the scanner itself cannot split into fields (CSV rows with too many columns, lines over
the size limit) never reach the scan's rows: `collect_malformed` turns the scanner's own rejects
into `_malformed` (`_file`, `_record_no`, `_raw`, `reason`) once the scan has run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.spec import Child, Field, Source
from pipelines.ingest.sql import lit, q, text_col

# The longest line a record may be. It is stated explicitly: DuckDB's CSV reader left to its
# default silently skipped a longer line (neither read nor rejected); stated, the line is kept
# in its rejects (its text cut to the first 10,000 characters) and quarantined.
MAX_LINE_BYTES = 16 << 20
_READ_OPTS = f"auto_detect=false, strict_mode=true, max_line_size={MAX_LINE_BYTES}"
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
    # SQL over the scan's columns: the nested records (a list of structs, `json_fields`).
    children: str = "null"
    # Whether the records' text is kept apart: `read` is staged in a table and `raw` is taken
    # from it, by row id, for the quarantined records only, instead of being carried through
    # every check for every record. `project` must then give one row per row of `read`, in
    # order (no filter, no join), so that row ids pair records with their texts exactly.
    text_apart: bool = False

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


# A JSON container to read: member name -> a nested container, or the type of a leaf (a
# `from_json` structure of its own for the nested records' array).
_Members = dict[str, "_Members | str | list[object]"]


def _structure(member: _Members | str | list[object]) -> object:
    """`from_json`'s structure for a container; numeric names are array positions, read as a
    list whose elements have the members asked of any position."""
    if not isinstance(member, dict):
        return member
    if all(k.isdigit() for k in member):
        merged: _Members = {}
        for element in member.values():
            if not isinstance(element, dict):
                raise ValueError("an array position must hold an object")
            merged.update(element)
        return [_structure(merged)]
    if any(k.isdigit() for k in member):
        raise ValueError("a JSON container read both as an object and as an array")
    return {k: _structure(v) for k, v in member.items()}


def _json_structure(fields: tuple[Field, ...], child: Child | None = None) -> object:
    """`from_json`'s structure reading every field (a dotted path) as text, and the nested
    records' array, if any, as a list of their own fields."""
    leaves: list[tuple[str, str | list[object]]] = [(f.path, "VARCHAR") for f in fields]
    if child is not None:
        leaves.append((child.array_path, [_json_structure(child.fields)]))
    tree: _Members = {}
    for path, leaf in leaves:
        *parents, name = path.split(".")
        node = tree
        for part in parents:
            inner = node.setdefault(part, {})
            if not isinstance(inner, dict):
                raise ValueError(f"{path}: {part} is read both as a value and as a container")
            node = inner
        node[name] = leaf
    return _structure(tree)


def _member(struct: str, path: str) -> str:
    """`a.0.b` as an expression over the struct `from_json` gives (`s['a'][1]['b']`)."""
    return struct + "".join(
        f"[{int(p) + 1}]" if p.isdigit() else f"[{lit(p)}]" for p in path.split(".")
    )


def struct_texts(fields: tuple[Field, ...], struct: str) -> str:
    """Every field's text (trimmed, empty as NULL) from a struct read by `from_json`."""
    return ", ".join(f"{_clean(_member(struct, f.path))} as {text_col(f)}" for f in fields)


def json_fields(
    fields: tuple[Field, ...], keep: str, document: str, inner_sql: str, child: Child | None
) -> str:
    """Select `keep`, `_object` (whether `document` is a JSON object) and every field's text
    from the object; with `child`, also `_children`, the nested records as a list of structs.

    Each record is parsed once (`from_json`, into a struct of the paths asked only), and only
    when it is a valid JSON object; other records get NULL fields (the caller rejects them).
    A value where text belongs is read as its JSON text; where a container is expected, any
    other kind of value is read as NULL (a string where the nested records' array belongs gives
    no nested records, a number where one of them belongs gives one with every field empty),
    never as an error.
    """
    texts = struct_texts(fields, "_doc")
    if child is not None:
        texts += f", {_member('_doc', child.array_path)} as _children"
    structure = lit(json.dumps(_json_structure(fields, child)))
    return f"""select {keep}, _object, {texts}
        from (select *, case when _object then from_json({document}, {structure}) end as _doc
              from (select *, {is_object(document)} as _object from ({inner_sql})))"""


def is_object(document: str) -> str:
    # The cheap first-character test comes first: DuckDB evaluates `and` lazily per row. JSON
    # may open with any of its whitespace (space, tab, CR, LF), not only spaces.
    return (
        f"(starts_with({document}, '{{') or starts_with(ltrim({document}, E' \t\r\n'), '{{')) "
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


def not_blank(line: str) -> str:
    """SQL: the line is a record's line, not a blank one (empty, or spaces only)."""
    return f"{line} is not null and (ascii({line}) > 32 or trim({line}) <> '')"


def _lines(files: list[Path], keep_rejects: bool) -> str:
    """Whole lines of the files as `_file`, `_line` (blank lines skipped).

    The delimiter is a control character that valid JSON cannot contain unescaped, so every
    line lands in one column; a line that does contain one (or is not UTF-8, or is too long)
    fails the scan, or is kept in the scanner's rejects when `keep_rejects`.
    """
    rejects = f", {_REJECTS}" if keep_rejects else ""
    return f"""select {_FILE} as _file, line as _line
        from read_csv({_file_list(files)}, delim=E'\\x01', header=false, quote='', escape='',
                      columns={{'line': 'VARCHAR'}}, {_READ_OPTS}{rejects})
        where {not_blank("line")}"""


def scan_jsonl(source: Source, files: list[Path], keep_rejects: bool) -> Scan:
    """JSON Lines: every line parsed on its own, so a broken line is one quarantined record
    with its own text. The lines are staged first: projecting from a table is cheaper than
    from many files, and the quarantined records' texts are then taken from it by row id
    (`Scan.text_apart`) instead of carried through every check for every record."""
    child = source.child
    return Scan(
        read=_lines(files, keep_rejects),
        project=json_fields(source.fields, "_file", "_line", f"select * from {_ROWS}", child),
        raw="_line",
        bad=f"case when not _object then '{NOT_AN_OBJECT}' end",
        keeps_rejects=keep_rejects,
        children="_children" if child is not None else "null",
        text_apart=True,
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
