"""SQL fragments the engine assembles: typing, validation and table definitions per field."""

from __future__ import annotations

from functools import cache

import duckdb

from pipelines.ingest.spec import Field, FieldType, Source
from pipelines.vocabularies import vocabulary

SQL_TYPES: dict[FieldType, str] = {
    "text": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "money": "DECIMAL(18,2)",
    "cents": "DECIMAL(18,2)",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "yyyymmdd": "DATE",
    "yn": "BOOLEAN",
}

_NUMERIC = {"int", "bigint", "double", "money", "cents"}
_TEMPORAL = {"timestamp", "date", "yyyymmdd"}
_WHOLE = {"int", "bigint", "cents"}

# A whole number as a person writes it: DuckDB's cast also takes `1.5` (rounded to 2), `1e3`,
# `0x10` and `1_000`, none of which a source means as a count or an id.
_WHOLE_NUMBER = "'[+-]?[0-9]+'"

# A timestamp text that ends in a UTC offset (`Z`, `+02`, `-03:00`, `+0530`).
_OFFSET = "'([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$'"

# The most units one record may carry: a quantity beyond it is a typo or a sentinel value
# (-2147483648), never an order line, and would overflow the models' arithmetic.
MAX_QUANTITY = 1_000_000

# Bounds of a numeric field that states none (`Field.bounds`). Money is never negative in any
# source (a return at the till is a negative quantity at a positive price) and never beyond a
# billion, so line totals and sums over a long history stay exact in DECIMAL(18,2) / (38,2).
DEFAULT_BOUNDS: dict[FieldType, tuple[float, float]] = {
    "int": (-1_000_000_000, 1_000_000_000),
    # ids: never negative, and clear of BIGINT's lowest value (which has no negation)
    "bigint": (0, 9_000_000_000_000_000_000),
    "money": (0, 1_000_000_000),
    "cents": (0, 1_000_000_000),
}


def q(identifier: str) -> str:
    """Quote an identifier (native names carry hyphens)."""
    return '"' + identifier.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def text_col(f: Field) -> str:
    """Name of the column holding a field's native text (trimmed, empty as NULL)."""
    return q(f"v__{f.name}")


def typed_expr(f: Field) -> str:
    """SQL turning a field's native text into its raw type; NULL where it does not parse."""
    v = text_col(f)
    match f.type:
        case "text":
            return v
        case "int":
            return f"case when {_whole(v)} then try_cast({v} as INTEGER) end"
        case "bigint":
            return f"case when {_whole(v)} then try_cast({v} as BIGINT) end"
        case "double":
            return f"try_cast({v} as DOUBLE)"
        case "money":
            return f"try_cast({v} as DECIMAL(18,2))"
        case "cents":
            cents = f"cast(try_cast({v} as BIGINT) / 100 as DECIMAL(18,2))"
            return f"case when {_whole(v)} then {cents} end"
        case "timestamp":
            # Offsets are honoured; the session time zone is UTC, so values without an offset
            # are read as UTC, or as wall-clock time in the field's `time_zone`. Stored naive
            # in UTC.
            utc = f"timezone('UTC', try_cast({v} as TIMESTAMPTZ))"
            if f.time_zone is None:
                return utc
            local = f"timezone('UTC', timezone({lit(f.time_zone)}, try_cast({v} as TIMESTAMP)))"
            return f"case when regexp_matches({v}, {_OFFSET}) then {utc} else {local} end"
        case "date":
            return f"try_cast({v} as DATE)"
        case "yyyymmdd":
            return f"cast(try_strptime({v}, '%Y%m%d') as DATE)"
        case "yn":
            return (
                f"case upper({v}) when 'Y' then true when 'TRUE' then true when '1' then true "
                f"when 'N' then false when 'FALSE' then false when '0' then false end"
            )
    raise ValueError(f"unknown field type {f.type!r}")


def _plausible(f: Field) -> str:
    col = q(f.name)
    # `infinity` parses as a timestamp and a date, and has no year: not plausible either
    return f"coalesce(year({col}) between 2000 and 2100, false)"


def reason_cases(f: Field, references: bool = True) -> list[str]:
    """`when … then 'code: message'` branches for one field, most basic problem first.

    The conditions read the typed column (named after the field) and its native text; the
    reference checks (`references`) read only the typed column.
    """
    v, col, name = text_col(f), q(f.name), lit(f.name)
    shown = f"coalesce(left({v}, 40), '')"
    cases: list[str] = []
    if f.required:
        cases.append(f"when {v} is null then 'missing_required: ' || {name} || ' is empty'")
    if f.type in _NUMERIC:
        what = "a whole number" if f.type in _WHOLE else "a number"
        cases.append(
            f"when {v} is not null and {col} is null then "
            f"'invalid_number: ' || {name} || ' = ''' || {shown} || ''' is not {what}'"
        )
    if f.type == "double":
        cases.append(
            f"when not isfinite({col}) then "
            f"'invalid_number: ' || {name} || ' = ''' || {shown} || ''' is not a finite number'"
        )
    if f.type in _TEMPORAL:
        cases.append(
            f"when {v} is not null and ({col} is null or not ({_plausible(f)})) then "
            f"'invalid_timestamp: ' || {name} || ' = ''' || {shown} || ''' is not a valid "
            f"{'timestamp' if f.type == 'timestamp' else 'date'}'"
        )
    if f.type == "yn":
        cases.append(
            f"when {v} is not null and {col} is null then "
            f"'invalid_value: ' || {name} || ' = ''' || {shown} || ''' is not Y or N'"
        )
    if f.quantity is not None:
        bad = {"positive": f"{col} <= 0", "nonzero": f"{col} = 0", "nonnegative": f"{col} < 0"}
        rule = {"positive": "> 0", "nonzero": "<> 0", "nonnegative": ">= 0"}[f.quantity]
        cases.append(
            f"when {bad[f.quantity]} then 'invalid_quantity: ' || {name} || ' = ' || "
            f"cast({col} as VARCHAR) || ', must be {rule}'"
        )
        cases.append(
            f"when abs(cast({col} as BIGINT)) > {MAX_QUANTITY} then 'invalid_quantity: ' || "
            f"{name} || ' = ' || cast({col} as VARCHAR) || ', must be at most {MAX_QUANTITY} "
            f"units'"
        )
    bounds = f.bounds or (DEFAULT_BOUNDS.get(f.type) if f.quantity is None else None)
    if bounds is not None:
        lo, hi = (_number(b) for b in bounds)
        cases.append(
            f"when {col} < {lo} or {col} > {hi} then 'out_of_range: ' || {name} || ' = ' || "
            f"{shown} || ' is outside [{lo}, {hi}]'"
        )
    if f.vocabulary is not None:
        values = ", ".join(lit(x) for x in vocabulary_values(f.vocabulary))
        cases.append(
            f"when {col} is not null and {col} not in ({values}) then 'invalid_value: ' || "
            f"{name} || ' = ''' || {shown} || ''' is not in the vocabulary {f.vocabulary}'"
        )
    return cases + (reference_cases(f) if references else [])


def _whole(v: str) -> str:
    return f"regexp_full_match({v}, {_WHOLE_NUMBER})"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@cache
def _time_zones() -> tuple[str, ...]:
    """The time zones DuckDB converts with: a location's zone must be one of them."""
    with duckdb.connect() as con:
        return tuple(r[0] for r in con.execute("select name from pg_timezone_names()").fetchall())


def vocabulary_values(name: str) -> tuple[str, ...]:
    """The allowed values of a field's vocabulary (see `Field.vocabulary`)."""
    return _time_zones() if name == "time_zone" else vocabulary(name)


def reference_cases(f: Field) -> list[str]:
    """The branch rejecting a value missing from its reference table (unknown SKU, location)."""
    col = q(f.name)
    shown = f"coalesce(left({col}, 40), '')"
    if f.reference == "sku":
        return [
            f"when {col} is not null and {col} not in (select sku from _known_skus) then "
            f"'unknown_sku: ' || {shown} || ' is not in the product reference'"
        ]
    if f.reference == "location":
        return [
            f"when {col} is not null and {col} not in (select location_id from _known_locations) "
            f"then 'unknown_location: ' || {shown} || ' is not in the location reference'"
        ]
    if f.reference == "supplier":
        return [
            f"when {col} is not null and {col} not in (select supplier_id from _known_suppliers) "
            f"then 'unknown_supplier: ' || {shown} || ' is not in the supplier reference'"
        ]
    return []


def raw_table_ddl(schema: str, table: str, fields: tuple[Field, ...], extra: str = "") -> str:
    cols = ",\n  ".join(f"{q(f.name)} {SQL_TYPES[f.type]}" for f in fields)
    return (
        f"create table if not exists {schema}.{q(table)} (\n  {cols},\n{extra}"
        f"  _batch_id VARCHAR not null,\n  _file VARCHAR not null,\n"
        f"  _loaded_at TIMESTAMP not null\n)"
    )


def source_table_ddl(source: Source) -> str:
    extra = "  _record_hash VARCHAR not null,\n" if source.key is None else ""
    return raw_table_ddl("raw", source.table, source.stored_fields, extra)


# The ledger's columns in the order every insert names them.
LEDGER_COLUMNS = (
    "source, batch_id, file, sha256, bytes, mtime_ns, load_id, records_seen, loaded, rejected, "
    "duplicates, children_loaded, loaded_at, load_seconds, ctime_ns, duplicate_of"
)
REJECT_COLUMNS = "source, batch_id, file, record_no, kind, reason_code, reason, record, rejected_at"

LEDGER_DDL = (
    "create schema if not exists raw",
    """create table if not exists raw._batches (
  source VARCHAR not null,
  batch_id VARCHAR not null,
  file VARCHAR not null,
  sha256 VARCHAR not null,
  bytes BIGINT not null,
  mtime_ns BIGINT not null,
  load_id VARCHAR not null,
  records_seen BIGINT not null,
  loaded BIGINT not null,
  rejected BIGINT not null,
  duplicates BIGINT not null,
  children_loaded BIGINT not null,
  loaded_at TIMESTAMP not null,
  load_seconds DOUBLE,
  ctime_ns BIGINT,
  duplicate_of VARCHAR,
  primary key (source, batch_id)
)""",
    # ledgers written before these columns existed gain them (NULL for their rows)
    "alter table raw._batches add column if not exists ctime_ns BIGINT",
    "alter table raw._batches add column if not exists duplicate_of VARCHAR",
    """create table if not exists raw._rejects (
  source VARCHAR not null,
  batch_id VARCHAR not null,
  file VARCHAR not null,
  record_no BIGINT,
  kind VARCHAR not null,
  reason_code VARCHAR not null,
  reason VARCHAR not null,
  record VARCHAR,
  rejected_at TIMESTAMP not null
)""",
)
