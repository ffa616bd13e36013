"""`ops.reorder_decisions`: the warehouse's record of each planner decision it consumed.

Written in the same DuckDB transaction as the reorder requests in `ops.outbox`, so "this
decision was turned into that request" and the request itself commit or vanish together. The
operational store's `consumed_at` is then a copy made after the commit: a crash between the two
leaves the decision open in the store, and the next run finds it here and only copies the
outcome, instead of requesting it again.
"""

from __future__ import annotations

import duckdb

DDL = """
create table if not exists ops.reorder_decisions (
    decision_id varchar primary key,
    suggestion_id varchar not null,
    suggestion_version varchar not null,
    decision varchar not null,
    quantity double,
    decided_by varchar not null,
    decided_role varchar,
    decided_at varchar not null,
    outcome varchar not null,
    reason varchar,
    action_id varchar,
    run_id varchar not null,
    consumed_at timestamp not null
)
"""


def ensure_reorder_schema(con: duckdb.DuckDBPyConnection, attempts: int = 5) -> None:
    """Create the table if missing (a concurrent creator makes the loser try again)."""
    for attempt in range(1, attempts + 1):
        try:
            con.execute("create schema if not exists ops")
            con.execute(DDL)
            return
        except (duckdb.TransactionException, duckdb.CatalogException):
            if attempt == attempts:
                raise
