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


# Routing and delivery state, for the routing page (present once a routing run has happened).
OPS_EXPORTS = {
    "ops_routing_runs": "select * from ops.routing_runs",
    "ops_routing_decisions": "select * from ops.routing_decisions",
    "ops_outbox": """select action_id, kind, destination, state, attempts, total_attempts,
                            next_attempt_at, last_error, created_at, delivered_at, ack,
                            source_run_id, payload from ops.outbox""",
    "ops_delivery_attempts": "select * from ops.delivery_attempts",
}
# Order holds for the holds page: one row per hold, with the order it holds (from fct_orders
# when the marts are built; the hold's own columns otherwise). See docs/holds.md.
HOLDS_EXPORT = "ops_order_holds"
_HOLD_ORDER_COLUMNS = (
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


def holds_export(con: duckdb.DuckDBPyConnection) -> str | None:
    """The query publishing `ops.order_holds` (None when the hold step has never run here)."""
    has_holds = scalar(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'order_holds'",
    )
    if not has_holds:
        return None
    has_orders = scalar(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_orders'",
    )
    if has_orders:
        columns = ", ".join(f"o.{c}" for c in _HOLD_ORDER_COLUMNS)
        return f"""select h.*, {columns} from ops.order_holds as h
                   left join marts.fct_orders as o using (channel_order_id)"""
    nulls = ", ".join(f"null as {c}" for c in _HOLD_ORDER_COLUMNS)
    return f"select h.*, {nulls} from ops.order_holds as h"


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
) -> PublishResult:
    """Export `models` (schema, table: the dbt models tagged `published`, the ingest ledger
    included) and the routing state, write their `contracts` (from the manifest, see
    `contracts_from_manifest`) beside them, then swap `current` to them."""
    published_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version_dir = published_dir / "versions" / f"{stamp}_{run_id[:8]}"
    version_dir.mkdir(parents=True)
    tables: dict[str, int] = {}
    queries = {table: f'select * from "{schema}"."{table}"' for schema, table in models}
    has_ops = scalar(
        con, "select count(*) from information_schema.tables where table_schema = 'ops'"
    )
    if has_ops:
        queries.update(OPS_EXPORTS)
        holds = holds_export(con)
        if holds is not None:
            queries[HOLDS_EXPORT] = holds
    for name, query in queries.items():
        target = version_dir / f"{name}.parquet"
        con.execute(f"copy ({query}) to '{target}' (format parquet)")
        tables[name] = scalar(con, f"select count(*) from read_parquet('{target}')")
    (version_dir / "_run.json").write_text(
        json.dumps(
            {"run_id": run_id, "finished_at": datetime.now(UTC).isoformat(), "tables": tables},
            indent=2,
        )
    )
    if contracts is not None:
        declared = {name: [dict(c) for c in cols] for name, cols in contracts.items()}
        exported = {name: cols for name, cols in declared.items() if name in tables}
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
