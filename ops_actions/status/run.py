"""Produce status updates: read the transitions, decide, enqueue in one transaction.

1. Read `marts.fct_order_line_transitions` (contract 2) and the wholesale customers
   (`marts.fct_orders`).
2. In ONE DuckDB transaction: read which status keys and which orders the outbox already
   holds, decide (pure `status_updates`), enqueue the new updates with their order
   (`ordering_key` = the order, in business order within the batch). The keys are
   deterministic, so a rerun, or a run redone after a crash, enqueues nothing twice.

`router_cancellation_actions` gives the updates the router enqueues in its own transaction for
the lines it cancels (the same key function, so the mart path later finds them in place).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import polars as pl

from ops_actions.crashpoints import CrashPoint, crashpoint
from ops_actions.db import Warehouse, cursor
from ops_actions.delivery.outbox import enqueue
from ops_actions.status.changes import (
    UPDATE_SCHEMA,
    status_updates,
    update_action,
    update_key,
    update_record,
)
from ops_actions.status.keys import ACCEPTED, CANCELLED, STATUS_KIND
from ops_actions.status.shapes import NONE, resolve_shapes

TRANSITIONS_TABLE = "marts.fct_order_line_transitions"


@dataclass
class StatusReport:
    run_id: str
    transitions: int = 0
    created: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_change: dict[str, int] = field(default_factory=dict)
    source_missing: bool = False

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    n = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0][0]
    return bool(n)


def read_transitions(
    con: duckdb.DuckDBPyConnection, table: str = TRANSITIONS_TABLE
) -> pl.DataFrame | None:
    """The transitions (None when the table is not built)."""
    if not _table_exists(con, table):
        return None
    return pl.from_arrow(con.sql(f"select * from {table}").to_arrow_table())  # type: ignore[return-value]


def order_customers(
    con: duckdb.DuckDBPyConnection, orders: list[str] | None = None
) -> dict[str, str]:
    """channel_order_id -> customer id of the wholesale orders (of `orders`, or all); {} when
    `marts.fct_orders` is not built."""
    if not _table_exists(con, "marts.fct_orders"):
        return {}
    sql = (
        "select channel_order_id, customer_id from marts.fct_orders "
        "where channel = 'wholesale' and customer_id is not null"
    )
    if orders is not None:
        if not orders:
            return {}
        wanted = pl.DataFrame({"channel_order_id": orders})  # noqa: F841 - read by DuckDB
        sql += " and channel_order_id in (select channel_order_id from wanted)"
    return {str(k): str(v) for k, v in con.execute(sql).fetchall()}


def queued_status(
    con: duckdb.DuckDBPyConnection, orders: list[str] | None = None
) -> tuple[set[str], set[str]]:
    """(status keys in the outbox, orders with a status update in the outbox)."""
    sql = "select action_id, ordering_key from ops.outbox where kind = ?"
    if orders is not None:
        wanted = pl.DataFrame(  # noqa: F841 - read by DuckDB
            {"ordering_key": orders}, schema={"ordering_key": pl.String}
        )
        sql += " and ordering_key in (select ordering_key from wanted)"
    rows = pl.from_arrow(con.sql(sql, params=[STATUS_KIND]).to_arrow_table())
    assert isinstance(rows, pl.DataFrame)
    return set(rows["action_id"].to_list()), set(rows["ordering_key"].drop_nulls().to_list())


def produce_status_updates(
    warehouse: Warehouse,
    *,
    transitions: pl.DataFrame | None = None,
    shapes: Mapping[str, str] | None = None,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> StatusReport:
    """Enqueue the status updates of the transitions (read from the mart unless given)."""
    run_id = f"status-{_utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    report = StatusReport(run_id=run_id)
    with cursor(warehouse) as con:
        if transitions is None:
            transitions = read_transitions(con)
        if transitions is None:
            report.source_missing = True
            return report
        report.transitions = transitions.height
        customers = order_customers(con)
        con.begin()
        try:
            keys, orders = queued_status(con)
            updates = status_updates(
                transitions,
                run_id=run_id,
                customers=customers,
                shapes=shapes,
                since=since,
                existing_keys=keys,
                orders_with_updates=orders,
            )
            crashpoint(CrashPoint.STATUS_AFTER_DECIDE)
            report.created = enqueue(con, updates, now or _utcnow())
            crashpoint(CrashPoint.STATUS_BEFORE_COMMIT)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    crashpoint(CrashPoint.STATUS_AFTER_COMMIT)
    for column, target in (("channel", report.by_channel), ("change", report.by_change)):
        for value, n in updates[column].value_counts().iter_rows():
            target[str(value)] = int(n)
    return report


def cancellation_actions(
    con: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    run_id: str,
    shapes: Mapping[str, str] | None = None,
    detail: str | None = None,
) -> pl.DataFrame:
    """The status updates of cancellations an ops step makes, read and built inside that
    step's transaction: per (order, time), one `cancelled` update of the lines cancelled (their
    units; None: the whole line), preceded by `accepted` when the order has no status update
    yet (a cancellation must not reach the channel before the order's acceptance). `lines`
    has one row per cancelled line: channel_order_id, channel, order_line_id, units,
    occurred_at. `detail` is the reason the channel is given (see `shapes`)."""
    shape_of = resolve_shapes(dict(shapes or {}))
    cancelled = lines.filter(
        pl.col("channel").is_in([c for c, s in shape_of.items() if s != NONE])
    ).sort("channel_order_id", "occurred_at", "order_line_id")
    if cancelled.height == 0:
        return pl.DataFrame(schema=UPDATE_SCHEMA)
    orders = cancelled["channel_order_id"].unique().to_list()
    customers = order_customers(con, orders)
    keys, started = queued_status(con, orders)
    rows = []
    rank_of: dict[str, int] = {}
    for (order, at), group in cancelled.group_by(
        ["channel_order_id", "occurred_at"], maintain_order=True
    ):
        order = str(order)
        channel = str(group["channel"][0])
        common = {
            "channel": channel,
            "channel_order_id": order,
            "order_id": order.removeprefix(f"{channel}:"),
            "occurred_at": at,
            "customer_id": customers.get(order),
        }
        line_list = [
            {
                "order_line_id": r["order_line_id"],
                "line_ref": str(r["order_line_id"]).removeprefix(f"{order}:"),
                "units": r["units"],
            }
            for r in group.iter_rows(named=True)
        ]
        planned = []
        if order not in started and order not in rank_of:
            planned.append(update_record(change=ACCEPTED, lines=[], **common))
        planned.append(update_record(change=CANCELLED, lines=line_list, detail=detail, **common))
        for update in planned:
            key = update_key(update)
            if key in keys:
                continue
            keys.add(key)
            rank_of[order] = rank_of.get(order, 0) + 1
            rows.append(update_action(update, shape_of[channel], run_id, rank_of[order], key))
    return pl.DataFrame(rows, schema=UPDATE_SCHEMA)


def router_cancellation_actions(
    con: duckdb.DuckDBPyConnection,
    decisions: pl.DataFrame,
    run_id: str,
    shapes: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The status updates of a routing run's cancellations (`cancellation_actions` of its
    cancelled decisions: order_id = channel_order_id, the decision's units, decided_at). The
    channel is told the reason `inventory`: the router cancels for want of stock."""
    lines = decisions.filter(pl.col("outcome") == CANCELLED).select(
        pl.col("order_id").alias("channel_order_id"),
        "channel",
        "order_line_id",
        "units",
        pl.col("decided_at").alias("occurred_at"),
    )
    return cancellation_actions(con, lines, run_id, shapes, detail="inventory")


def order_cancellation_actions(
    con: duckdb.DuckDBPyConnection,
    orders: pl.DataFrame,
    occurred_at: dt.datetime,
    run_id: str,
    shapes: Mapping[str, str] | None = None,
    detail: str | None = None,
) -> pl.DataFrame:
    """The status updates of whole orders cancelled by an ops step (a hold cancelled): every
    line of each order (`marts.fct_order_lines`) with units None (the whole line).
    `orders` has a column channel_order_id."""
    wanted = orders.select("channel_order_id").unique()  # noqa: F841 - read by DuckDB
    if not _table_exists(con, "marts.fct_order_lines"):
        return pl.DataFrame(schema=UPDATE_SCHEMA)
    lines = pl.from_arrow(
        con.sql(
            """select l.channel_order_id, l.channel, l.order_line_id,
                      cast(null as bigint) as units
               from marts.fct_order_lines as l
               where l.channel_order_id in (select channel_order_id from wanted)"""
        ).to_arrow_table()
    )
    assert isinstance(lines, pl.DataFrame)
    lines = lines.with_columns(pl.lit(occurred_at).alias("occurred_at"))
    return cancellation_actions(con, lines, run_id, shapes, detail=detail)
