"""DDL of the `ops` schema in the warehouse DuckDB file (the one database that holds decisions,
the stock they consume and their outbox rows, so one transaction covers all three).

JSON documents are stored as VARCHAR holding JSON text, so no extension is needed.
"""

from __future__ import annotations

import duckdb

DDL = (
    "create schema if not exists ops",
    # Single row serialising routing commits: every commit bumps `version` only if it still
    # holds the value read before deciding (optimistic concurrency; see run_routing).
    """create table if not exists ops.routing_state (
        id integer primary key,
        version bigint not null,
        last_run_id varchar,
        updated_at timestamp
    )""",
    "insert into ops.routing_state values (1, 0, null, null) on conflict do nothing",
    # One row per routing run that committed.
    """create table if not exists ops.routing_runs (
        run_id varchar primary key,
        started_at timestamp not null,
        committed_at timestamp,
        rules_version varchar not null,
        rules_sha varchar not null,
        method varchar not null,
        status varchar not null,
        figures varchar
    )""",
    # One row per (run, order line, outcome, location): a line split over two locations has two
    # rows; an unfilled remainder has a backorder or cancelled row.
    """create table if not exists ops.routing_decisions (
        decision_id varchar primary key,
        run_id varchar not null,
        order_line_id varchar not null,
        order_id varchar not null,
        channel varchar,
        sku varchar not null,
        outcome varchar not null,
        location_id varchar,
        units bigint not null,
        routing varchar,
        rule varchar,
        shipping_cost double,
        handling_cost double,
        late_cost double,
        base_cost double,
        split_cost double,
        unfilled_cost double,
        total_cost double,
        distance_km double,
        late_days bigint,
        action_id varchar,
        explanation varchar,
        decided_at timestamp not null
    )""",
    # Units consumed per (order line, location) by a run; outstanding until the warehouse has
    # acknowledged the request and a later stock snapshot reflects it.
    """create table if not exists ops.allocations (
        run_id varchar not null,
        order_line_id varchar not null,
        sku varchar not null,
        location_id varchar not null,
        units bigint not null,
        action_id varchar not null,
        allocated_at timestamp not null,
        primary key (run_id, order_line_id, location_id)
    )""",
    # Transactional outbox: one row per action, keyed by its idempotency key.
    """create table if not exists ops.outbox (
        action_id varchar primary key,
        kind varchar not null,
        destination varchar not null,
        payload varchar not null,
        batch_key varchar,
        state varchar not null,
        attempts integer not null default 0,
        total_attempts integer not null default 0,
        next_attempt_at timestamp not null,
        last_error varchar,
        created_at timestamp not null,
        delivered_at timestamp,
        ack varchar,
        source_run_id varchar,
        ordering_key varchar,
        ordering_seq bigint
    )""",
    # A warehouse made before in-order delivery existed has the outbox without its ordering
    # columns; `create table if not exists` leaves that table alone, so add them here. Null
    # `ordering_key`: the action is ordered after nothing (fulfillment and reorder requests).
    "alter table ops.outbox add column if not exists ordering_key varchar",
    "alter table ops.outbox add column if not exists ordering_seq bigint",
    # Every delivery attempt; `outcome` = started until the attempt is recorded, so an attempt
    # cut short by a crash stays visible.
    """create table if not exists ops.delivery_attempts (
        action_id varchar not null,
        attempt_no integer not null,
        started_at timestamp not null,
        finished_at timestamp,
        outcome varchar not null,
        http_status integer,
        error varchar,
        response varchar,
        primary key (action_id, attempt_no)
    )""",
)


def ensure_schema(con: duckdb.DuckDBPyConnection, attempts: int = 5) -> None:
    """Create the `ops` tables if missing (idempotent, also against a concurrent caller).

    Two connections creating the schema at once conflict in DuckDB (the same state row
    inserted twice, the same table created twice) instead of one waiting for the other; the
    loser tries again and then finds everything in place.
    """
    for attempt in range(1, attempts + 1):
        try:
            for stmt in DDL:
                con.execute(stmt)
            return
        except (duckdb.ConstraintException, duckdb.TransactionException, duckdb.CatalogException):
            if attempt == attempts:
                raise
