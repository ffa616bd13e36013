"""`ops.order_validations` and `ops.order_holds`: the warehouse's record of order validation.

- `ops.order_validations`: one row per channel order the hold step evaluated, with its outcome
  (`validated` or `held`) and the hold rules (version, SHA-256) it was evaluated under. An order
  is evaluated once; its row is what makes a rerun skip it.
- `ops.order_holds`: one row per (order, reason) that holds it: `hold_id` is
  `channel_order_id || '|' || reason_code`, deterministic, so a rerun regenerates rather than
  duplicates. `detail` names the value a person acts on. A person's release or cancellation
  (from the operational store's `hold_decisions`) fills `resolution`, `resolved_at`,
  `resolved_by` and `resolution_id` (the decision id) in the same transaction that consumes it.

Both are written in one DuckDB transaction per run with the validations (contract 3 in
docs/holds.md); the router reads `ops.order_holds` live to leave held orders out.
"""

from __future__ import annotations

import duckdb

DDL = (
    "create schema if not exists ops",
    """create table if not exists ops.order_validations (
        channel_order_id varchar primary key,
        evaluated_at timestamp not null,
        outcome varchar not null,
        rules_version varchar not null,
        rules_sha varchar not null
    )""",
    """create table if not exists ops.order_holds (
        hold_id varchar primary key,
        channel_order_id varchar not null,
        reason_code varchar not null,
        detail varchar not null,
        rules_version varchar not null,
        held_at timestamp not null,
        resolution varchar,
        resolved_at timestamp,
        resolved_by varchar,
        resolution_id varchar
    )""",
)


def ensure_holds_schema(con: duckdb.DuckDBPyConnection, attempts: int = 5) -> None:
    """Create the tables if missing (a concurrent creator makes the loser try again)."""
    for attempt in range(1, attempts + 1):
        try:
            for stmt in DDL:
                con.execute(stmt)
            return
        except (duckdb.TransactionException, duckdb.CatalogException):
            if attempt == attempts:
                raise
