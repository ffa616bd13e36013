"""The vocabulary a source is described in: fields, checks, keys and file formats.

A source is data, not code: `sources.py` lists every source in these terms and the one generic
engine (`engine.py`) loads them all, so a new channel is a new entry, not a new loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipelines.vocabularies import vocabulary

# The reason codes a record can be rejected with, in the order they are checked: a record gets
# the first that applies, so the reason points at the most basic problem. The list and the
# meaning of each code live in the seed `vocabularies.csv` (vocabulary `reject_reason`).
REASON_CODES = vocabulary("reject_reason")

FieldType = Literal[
    "text", "int", "bigint", "double", "money", "cents", "timestamp", "date", "yyyymmdd", "yn"
]

Format = Literal["csv", "tsv", "jsonl", "fixed"]


@dataclass(frozen=True)
class Field:
    """One field of a record: where it sits in the native record and what it becomes in raw.

    `path` is the native column name (CSV/TSV), a dotted JSON path (JSON Lines) or a 1-based
    `start:width` slice (fixed-width). `store=False` parses and checks a field without keeping
    it in the raw table (it may still be copied into a child table).
    """

    name: str
    path: str
    type: FieldType = "text"
    required: bool = True
    store: bool = True
    quantity: Literal["positive", "nonzero", "nonnegative"] | None = None
    reference: Literal["sku", "location", "supplier"] | None = None
    # Inclusive bounds of a numeric value; None takes the type's (`sql.DEFAULT_BOUNDS`). They
    # keep every value within what the models downstream compute with (a quantity of
    # -2147483648 cannot be negated as an INTEGER, a price of 1e15 overflows a line total).
    bounds: tuple[float, float] | None = None
    # The vocabulary (`pipelines/vocabularies.py`) a text value must belong to; `time_zone` is
    # the time zones DuckDB knows.
    vocabulary: str | None = None
    # The time zone of timestamps written without an offset (a source's local wall-clock time,
    # e.g. `America/Sao_Paulo`); None reads them as UTC. A value with an offset keeps it.
    time_zone: str | None = None


@dataclass(frozen=True)
class Child:
    """Records nested in a parent record (the line items of an order), loaded to their own table.

    They are loaded only with their parent and a bad child rejects the whole parent record, so
    an order is never half-loaded.
    """

    table: str
    array_path: str
    fields: tuple[Field, ...]
    # child column name -> parent field name whose value is copied onto every child row
    parent_fields: dict[str, str]
    # Only parents matching this SQL condition (over parent field names) carry children.
    when: str | None = None
    # A parent that must have at least one child (an order without line items is rejected).
    required: bool = False


@dataclass(frozen=True)
class Source:
    """One landing source: its files, format, fields, unique key and target raw table."""

    name: str
    table: str
    globs: tuple[str, ...]
    format: Format
    fields: tuple[Field, ...]
    # None means the whole record is the key (full-snapshot reference files).
    key: tuple[str, ...] | None
    child: Child | None = None
    # Fixed-width only: lines whose first character is in this set are records.
    record_types: str = "D"
    min_line_length: int = 0
    # Carrier feeds: reject events dated before their shipment's label.
    check_event_order: bool = False
    depends_on: tuple[str, ...] = field(default_factory=tuple)

    @property
    def stored_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.store)
