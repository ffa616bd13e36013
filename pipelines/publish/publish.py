"""Publish a read-only copy of the marts for the dashboards, swapped in atomically.

DuckDB lets one process hold the warehouse for writing and even a read-only reader blocks that
writer, so the dashboards never open the warehouse. At the end of a run the published marts are
written to Parquet in a new versioned folder, and the `current` symlink is replaced in one
`os.replace`: a reader sees the old version or the new one, never a half-written mix.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ops_actions.run_routing import FULFILLMENT_KIND
from pipelines.db import scalar

KEEP_VERSIONS = 3  # older versions are removed; a reader mid-query on one retries on `current`
CONTRACTS_FILE = "_contracts.json"
"""Next to the Parquet files: published file -> its model's contract columns (name, data_type),
taken from the dbt manifest, so the dashboards check what they read without dbt installed."""

Contracts = Mapping[str, Sequence[Mapping[str, str]]]


def contracts_from_manifest(manifest: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Published file stem (the model's alias) -> its enforced contract's columns, in order,
    for every model tagged `published`. A published model without an enforced contract is an
    error: what the dashboards read must be declared."""
    contracts: dict[str, list[dict[str, str]]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or "published" not in node.get("tags", []):
            continue
        name = node.get("alias") or node["name"]
        if not node.get("config", {}).get("contract", {}).get("enforced"):
            raise ValueError(f"published model {node['name']} has no enforced dbt contract")
        contracts[name] = [
            {"name": column["name"], "data_type": column["data_type"]}
            for column in node["columns"].values()
        ]
    return dict(sorted(contracts.items()))


OPS_PREFIX = "ops_"
"""Every table of the warehouse's `ops` schema (the state the actions write: routing runs and
decisions, the outbox and its delivery attempts, reorder decisions, holds …) is published as
`ops_<table>.parquet`, so a table a new producer adds is published without an edit here."""

OPS_INTERNAL = frozenset({"routing_state"})
"""`ops` tables that are bookkeeping of the writers (a version counter), not state to read."""

OPS_ORDER_BY: dict[str, str] = {
    "outbox": "channel_order_id nulls last, created_at, action_id",
    "delivery_attempts": "action_id, attempt_no",
    "routing_decisions": "order_id, run_id, order_line_id",
    "order_holds": "channel_order_id, held_at",
    "order_validations": "channel_order_id",
}
"""Sort order of an `ops` export. A page that reads one order or one action filters on the
leading column; rows sorted by it keep each Parquet row group to a narrow range, so the scan
skips the row groups whose min/max statistics exclude the value instead of reading them all."""

SORTED_ROW_GROUP_ROWS = 16_384
"""Rows per Parquet row group of the sorted exports: small enough that one order's rows sit in
one or two of many row groups (DuckDB's default, 122,880, would make one group of a mid-size
table), large enough to keep the files compact."""

MODEL_ORDER_BY: dict[str, str] = {
    "fct_order_line_transitions": "channel_order_id, order_line_id, transition_seq",
    "fct_order_line_states": "channel_order_id, order_line_id",
    "fct_order_states": "channel_order_id",
}
"""Published marts read one order at a time by the order page, sorted for the same reason."""

ORDER_REFERENCES = "order_references"
"""Every id by which someone may look an order up -> the platform's `channel_order_id`: the
platform's own id, the channel's order id (web shop id, marketplace order-id, POS
store-register-receipt, wholesale PO number) and the web shop's order name (`#12345`).
One row per (reference, channel_order_id); `reference_key` is the reference in lower case with
no surrounding blanks, the form the order page matches on."""


def _outbox_export(columns: set[str]) -> str:
    """The outbox with the order each action concerns (`channel_order_id`, null for actions
    that concern no order, such as reorder requests): the ordering key of actions delivered in
    order per order (status updates), else the payload's `channel_order_id`, else a fulfillment
    request's `order_id` (routing's order id is the platform's channel_order_id)."""
    keys = ["ordering_key"] if "ordering_key" in columns else []
    keys += [
        "json_extract_string(payload, '$.channel_order_id')",
        f"case when kind = '{FULFILLMENT_KIND}' "
        "then json_extract_string(payload, '$.order_id') end",
    ]
    return f"select *, coalesce({', '.join(keys)}) as channel_order_id from ops.outbox"


HOLD_ORDER_COLUMNS = (
    "channel",
    "order_id",
    "ordered_at",
    "customer_id",
    "order_amount",
    "currency",
    "ship_to_postcode",
    "ship_to_country",
    "units_open",
)
"""Columns of the held order (`marts.fct_orders`) published beside each hold, for the holds
page (null when the marts are not built in this warehouse)."""


def _order_holds_export(con: duckdb.DuckDBPyConnection) -> str:
    """`ops.order_holds` with the order it holds."""
    has_orders = scalar(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_orders'",
    )
    if has_orders:
        columns = ", ".join(f"o.{c}" for c in HOLD_ORDER_COLUMNS)
        return f"""select h.*, {columns} from ops.order_holds as h
                   left join marts.fct_orders as o using (channel_order_id)"""
    return (
        "select h.*, "
        + ", ".join(f"null as {c}" for c in HOLD_ORDER_COLUMNS)
        + (" from ops.order_holds as h")
    )


def _present_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.table` of every table and view in the warehouse."""
    return {
        f"{r[0]}.{r[1]}"
        for r in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


KPI_LINES = "fct_kpi_order_lines"
"""The lines behind every KPI catalogue figure (`marts.fct_kpi_order_lines`), published for the
Breakdowns page's drill-down. Not a `published` dbt model: it is the catalogue's incremental
working table, whose bookkeeping columns (`_is_settled`, `_dbt_run_at` …) are not for readers,
so its export leaves every `_` column out and its contract is the columns exported."""

KPI_LINES_ORDER_BY = "kpi_date, channel, location_id, sku, order_line_id"
"""A drill-down reads one period of one member: sorted by day first, each row group holds a
narrow range of days (and of channels and locations within them), so the scan skips the row
groups whose min/max statistics exclude the period."""


def _kpi_lines_export(present: set[str]) -> str | None:
    """SQL of KPI_LINES, or None when the warehouse has no KPI lines yet."""
    if f"marts.{KPI_LINES}" not in present:
        return None
    return (
        f"select columns(lambda c: not starts_with(c, '_')) from marts.{KPI_LINES} "
        f"order by {KPI_LINES_ORDER_BY}"
    )


def _order_references_export(con: duckdb.DuckDBPyConnection) -> str | None:
    """SQL of ORDER_REFERENCES, or None when the warehouse has no order lines yet."""
    present = _present_tables(con)
    if "marts.fct_order_lines" not in present:
        return None
    parts = [
        """select distinct channel_order_id as reference, 'channel_order_id' as reference_kind,
                  channel, channel_order_id, order_id
           from marts.fct_order_lines""",
        """select distinct order_id, 'order_id', channel, channel_order_id, order_id
           from marts.fct_order_lines""",
    ]
    if "staging.stg_webshop__orders" in present:
        parts.append(
            """select distinct w.order_name, 'order_name', l.channel, l.channel_order_id,
                      l.order_id
               from staging.stg_webshop__orders as w
               inner join marts.fct_order_lines as l
                   on l.channel = 'webshop' and l.order_id = w.order_id
               where w.order_name is not null"""
        )
    unioned = "\n union \n".join(parts)
    return f"""select reference, lower(trim(reference)) as reference_key, reference_kind,
                      channel, channel_order_id, order_id
               from ({unioned}) as refs
               order by reference_key, channel_order_id"""


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {str(r[0]) for r in rows}


def ops_exports(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Published file stem -> export query, for every table of the `ops` schema."""
    tables = [
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'ops' "
            "order by table_name"
        ).fetchall()
    ]
    exports: dict[str, str] = {}
    for table in tables:
        if table in OPS_INTERNAL:
            continue
        if table == "outbox":
            query = _outbox_export(_columns(con, "ops", "outbox"))
        elif table == "order_holds":
            query = _order_holds_export(con)
        else:
            query = f'select * from ops."{table}"'

        if table in OPS_ORDER_BY:
            query += f" order by {OPS_ORDER_BY[table]}"
        exports[f"{OPS_PREFIX}{table}"] = query
    return exports


@dataclass(frozen=True)
class PublishResult:
    version_dir: Path
    tables: dict[str, int]


def publish(
    con: duckdb.DuckDBPyConnection,
    models: list[tuple[str, str]],
    published_dir: Path,
    run_id: str,
    contracts: Contracts | None = None,
    sorted_row_group_rows: int = SORTED_ROW_GROUP_ROWS,
) -> PublishResult:
    """Export `models` (schema, table: the dbt models tagged `published`, the ingest ledger
    included), every `ops` table (see `ops_exports`), the order references and the KPI lines
    (`KPI_LINES`), write their
    `contracts` (from the manifest, see `contracts_from_manifest`; for the exports that are not
    dbt models, the columns exported) beside them, then swap `current` to them."""
    published_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version_dir = published_dir / "versions" / f"{stamp}_{run_id[:8]}"
    version_dir.mkdir(parents=True)
    tables: dict[str, int] = {}
    models_by_name = {table for _, table in models}  # their contracts come from dbt
    queries = {
        table: f'select * from "{schema}"."{table}"'
        + (f" order by {MODEL_ORDER_BY[table]}" if table in MODEL_ORDER_BY else "")
        for schema, table in models
    }
    # a dbt model of the same name (ops_reorder_suggestions is one) is never overwritten
    queries.update({k: v for k, v in ops_exports(con).items() if k not in queries})
    references = _order_references_export(con)
    if references is not None:
        queries[ORDER_REFERENCES] = references
    kpi_lines = _kpi_lines_export(_present_tables(con))
    if kpi_lines is not None:
        queries.setdefault(KPI_LINES, kpi_lines)
    sorted_exports = {
        ORDER_REFERENCES,
        KPI_LINES,
        *MODEL_ORDER_BY,
        *(f"{OPS_PREFIX}{table}" for table in OPS_ORDER_BY),
    }
    declared_here: dict[str, list[dict[str, str]]] = {}
    for name, query in queries.items():
        target = version_dir / f"{name}.parquet"
        options = "format parquet"
        if name in sorted_exports:
            options += f", row_group_size {int(sorted_row_group_rows)}"
        con.execute(f"copy ({query}) to '{target}' ({options})")
        tables[name] = scalar(con, f"select count(*) from read_parquet('{target}')")
        if name not in models_by_name:
            # not dbt models: their contract is what was exported (so the dashboards still
            # check every column they read against a declaration beside the files)
            declared_here[name] = [
                {"name": str(r[0]), "data_type": str(r[1]).lower()}
                for r in con.execute(f"describe select * from read_parquet('{target}')").fetchall()
            ]
    (version_dir / "_run.json").write_text(
        json.dumps(
            {"run_id": run_id, "finished_at": datetime.now(UTC).isoformat(), "tables": tables},
            indent=2,
        )
    )
    if contracts is not None:
        declared = {name: [dict(c) for c in cols] for name, cols in contracts.items()}
        exported = {name: cols for name, cols in declared.items() if name in tables}
        exported.update(declared_here)
        (version_dir / CONTRACTS_FILE).write_text(json.dumps(exported, indent=2))
    swap_current(published_dir, version_dir)
    prune_versions(published_dir)
    return PublishResult(version_dir, tables)


def swap_current(published_dir: Path, version_dir: Path) -> None:
    link = published_dir / "current"
    tmp = published_dir / f".current.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(version_dir.relative_to(published_dir))
    os.replace(tmp, link)


def prune_versions(published_dir: Path, keep: int = KEEP_VERSIONS) -> None:
    versions = sorted((published_dir / "versions").iterdir())
    current = (published_dir / "current").resolve()
    for old in versions[:-keep]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)
