"""The tables ingest writes: the ledger, the quarantine and one raw table per source (and
per nested record), created by the warehouse owner (`pipelines.warehouse.create_schemas`)."""

from __future__ import annotations

import duckdb

from pipelines.ingest.sources import SOURCES
from pipelines.ingest.spec import Child, Field, Source
from pipelines.ingest.sql import (
    LEDGER_DDL,
    raw_table_ddl,
    source_table_ddl,
)


def ensure_tables(con: duckdb.DuckDBPyConnection, sources: tuple[Source, ...] = SOURCES) -> None:
    """Create the ledger, the quarantine and every raw table (empty), so models can build
    before a source first delivers."""
    for ddl in LEDGER_DDL:
        con.execute(ddl)
    for source in sources:
        con.execute(source_table_ddl(source))
        if source.child is not None:
            con.execute(
                raw_table_ddl("raw", source.child.table, child_fields(source, source.child))
            )


def child_fields(source: Source, child: Child) -> tuple[Field, ...]:
    """Columns of the child table: copied parent fields, then the child's own."""
    by_name = {f.name: f for f in source.fields}
    copied = tuple(
        Field(name=col, path=col, type=by_name[parent].type, required=False)
        for col, parent in child.parent_fields.items()
    )
    return copied + child.fields


def refresh_reference_lookups(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create or replace temp table _known_skus as "
        "select distinct sku from raw.reference__products "
        # Olist product ids are SKUs of the olist channel (docs/olist.md)
        "union select distinct product_id from raw.olist__products"
    )
    con.execute(
        "create or replace temp table _known_locations as "
        "select distinct location_id from raw.reference__locations"
    )
    con.execute(
        "create or replace temp table _known_suppliers as "
        "select distinct supplier_id from raw.reference__suppliers"
    )
