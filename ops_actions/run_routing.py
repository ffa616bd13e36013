"""One routing run: read state, decide, commit decisions + allocations + outbox atomically.

1. Read the routing state version, the allocations still outstanding, and the units of each
   line already routed by earlier runs (all from `ops`).
2. Decide (pure `route`) on what is left: open lines minus routed units and minus the lines of
   held orders (`ops.order_holds`, read live: see docs/holds.md), ATP minus outstanding
   allocations.
3. In ONE DuckDB transaction: bump `ops.routing_state.version` only if it still holds the value
   read in step 1, insert the run, its decisions, its allocations and one outbox row per
   fulfillment request (ON CONFLICT DO NOTHING on the deterministic key), and one status update
   per order it cancels lines of (`ops_actions.status.run.router_cancellation_actions`, the
   status key function, so the status producer later finds it in place). Another run that
   committed in between makes the bump match no row, and one committing at the same time makes
   DuckDB raise a write-write conflict; either way this run rolls back and starts again from
   step 1 with the new state, so no unit is allocated twice.

Outstanding allocation (what ATP does not yet reflect): an allocation whose request the warehouse
has not acknowledged before the stock snapshot was taken (`atp.snapshot_at`). Defined once, in
the dbt macro `allocations_with_outstanding` that `ops_actions.routing.outstanding` runs here
live over `ops.*`; `fct_available_to_promise` and the oversell check use the same text.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ops_actions.crashpoints import CrashPoint, crashpoint
from ops_actions.db import Warehouse, cursor
from ops_actions.delivery.keys import action_key
from ops_actions.delivery.outbox import enqueue
from ops_actions.routing.inputs import (
    conform_atp,
    conform_locations,
    conform_open_lines,
    exclude_held_orders,
)
from ops_actions.routing.outstanding import allocations_sql
from ops_actions.routing.router import Method, RoutingResult, route
from ops_actions.routing.rules import RuleSet, load_rules
from ops_actions.status.run import router_cancellation_actions

FULFILLMENT_KIND = "fulfillment_request"


class RoutingConflictError(RuntimeError):
    """The run lost to concurrent runs more times than allowed."""


@dataclass
class RunReport:
    run_id: str
    rules_version: str
    rules_sha: str
    attempts: int
    actions_created: int
    figures: dict[str, Any]
    result: RoutingResult
    status_updates_created: int = 0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def outstanding_allocations(con: duckdb.DuckDBPyConnection, atp: pl.DataFrame) -> pl.DataFrame:
    """Units per (sku, location_id) allocated by earlier runs and not yet in the ATP snapshot
    (the one definition: `ops_actions.routing.outstanding`)."""
    snap = atp.select("sku", "location_id", "snapshot_at")  # noqa: F841 - read by DuckDB
    allocations = allocations_sql("ops.allocations", "ops.outbox", "snap")
    table = con.sql(
        f"""
        select sku, location_id, sum(units)::bigint as outstanding
        from ({allocations}) as allocations
        where is_outstanding
        group by sku, location_id
        """
    ).to_arrow_table()
    return pl.from_arrow(table)  # type: ignore[return-value]


def routed_units(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Units per order line already settled by earlier runs (allocated or cancelled), and how
    many of them were allocated."""
    table = con.sql(
        """
        select order_line_id,
               sum(units)::bigint as routed,
               sum(case when outcome = 'allocated' then units else 0 end)::bigint as allocated
        from ops.routing_decisions
        where outcome in ('allocated', 'cancelled')
        group by order_line_id
        """
    ).to_arrow_table()
    return pl.from_arrow(table)  # type: ignore[return-value]


def fulfillment_actions(
    decisions: pl.DataFrame, lines: pl.DataFrame, before: pl.DataFrame, run_id: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One fulfillment request per (order, location) of the allocated decisions.

    Returns (actions with OUTBOX_COLUMNS, decisions with `action_id`). The key hashes the
    order, the location and per line (line id, sku, units, units requested by earlier runs)."""
    alloc = (
        decisions.filter(pl.col("outcome") == "allocated")
        .join(
            lines.select(
                "order_line_id",
                "service_level",
                "promised_ship_date",
                "promised_delivery_date",
                "ship_to_latitude",
                "ship_to_longitude",
            ),
            on="order_line_id",
            how="left",
        )
        .join(
            before.select("order_line_id", pl.col("allocated").alias("units_before")),
            on="order_line_id",
            how="left",
        )
        .with_columns(pl.col("units_before").fill_null(0))
        .sort("order_id", "location_id", "order_line_id")
    )
    actions: list[dict[str, Any]] = []
    key_of: dict[tuple[str, str], str] = {}
    for (order_id, location_id), group in alloc.group_by(
        ["order_id", "location_id"], maintain_order=True
    ):
        rows = group.to_dicts()
        content = {
            "order_id": order_id,
            "location_id": location_id,
            "lines": [
                {
                    "order_line_id": r["order_line_id"],
                    "sku": r["sku"],
                    "units": r["units"],
                    "units_before": r["units_before"],
                }
                for r in rows
            ],
        }
        destination = str(location_id)
        key = action_key(FULFILLMENT_KIND, destination, content)
        first = rows[0]
        payload = {
            **content,
            "channel": first["channel"],
            "service_level": first["service_level"],
            "promised_ship_date": str(first["promised_ship_date"]),
            "promised_delivery_date": str(first["promised_delivery_date"]),
            "ship_to": {
                "latitude": first["ship_to_latitude"],
                "longitude": first["ship_to_longitude"],
            },
        }
        key_of[(str(order_id), destination)] = key
        actions.append(
            {
                "action_id": key,
                "kind": FULFILLMENT_KIND,
                "destination": destination,
                "payload": json.dumps(payload, sort_keys=True, default=str),
                "batch_key": f"{run_id}:{destination}",
                "source_run_id": run_id,
            }
        )
    schema = {
        c: pl.String
        for c in ("action_id", "kind", "destination", "payload", "batch_key", "source_run_id")
    }
    actions_df = pl.DataFrame(actions, schema=schema)
    keys = pl.DataFrame(
        {
            "order_id": [k[0] for k in key_of],
            "location_id": [k[1] for k in key_of],
            "action_id": list(key_of.values()),
        },
        schema={"order_id": pl.String, "location_id": pl.String, "action_id": pl.String},
    )
    with_keys = decisions.join(keys, on=["order_id", "location_id"], how="left")
    return actions_df, with_keys


def _decision_ids(decisions: pl.DataFrame, run_id: str) -> pl.Expr:
    return pl.concat_str(
        [
            pl.lit(run_id),
            pl.col("order_line_id"),
            pl.col("outcome"),
            pl.col("location_id").fill_null("-"),
        ],
        separator="|",
    ).alias("decision_id")


def _decide(
    con: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    atp: pl.DataFrame,
    locations: pl.DataFrame,
    rules: RuleSet,
    today: dt.date,
    method: Method,
) -> tuple[int, pl.DataFrame, RoutingResult]:
    version = con.execute("select version from ops.routing_state where id = 1").fetchall()[0][0]
    before = routed_units(con)
    todo = (
        exclude_held_orders(con, lines)
        .join(before, on="order_line_id", how="left")
        .with_columns((pl.col("quantity") - pl.col("routed").fill_null(0)).alias("quantity"))
        .filter(pl.col("quantity") > 0)
        .drop("routed", "allocated")
    )
    outstanding = outstanding_allocations(con, atp)
    net = (
        atp.join(outstanding, on=["sku", "location_id"], how="left")
        .with_columns(
            (pl.col("available") - pl.col("outstanding").fill_null(0))
            .clip(lower_bound=0)
            .alias("available")
        )
        .drop("outstanding")
    )
    result = route(todo, net, locations, rules, today, method=method)
    return int(version), before, result


def _commit(
    con: duckdb.DuckDBPyConnection,
    version: int,
    run_id: str,
    started_at: dt.datetime,
    rules: RuleSet,
    method: Method,
    result: RoutingResult,
    lines: pl.DataFrame,
    before: pl.DataFrame,
    now: dt.datetime,
    status_shapes: dict[str, str] | None = None,
) -> tuple[int, int] | None:
    """Write the run atomically: (fulfillment requests, status updates) created; None when
    another run committed since `version` was read."""
    actions, decisions = fulfillment_actions(result.decisions, lines, before, run_id)
    decisions = decisions.with_columns(
        _decision_ids(decisions, run_id),
        pl.lit(run_id).alias("run_id"),
        pl.lit(now).alias("decided_at"),
    )
    dec = decisions  # noqa: F841 - read by DuckDB
    figures = json.dumps(result.figures(), default=str)
    con.begin()
    try:
        bumped = con.execute(
            "update ops.routing_state set version = version + 1, last_run_id = ?, updated_at = ? "
            "where id = 1 and version = ?",
            [run_id, now, version],
        ).fetchall()
        if not bumped or bumped[0][0] != 1:
            con.rollback()
            return None
        con.execute(
            "insert into ops.routing_runs values (?, ?, ?, ?, ?, ?, 'committed', ?)",
            [run_id, started_at, now, rules.version, rules.sha, method, figures],
        )
        con.execute(
            """
            insert into ops.routing_decisions
            select decision_id, run_id, order_line_id, order_id, channel, sku, outcome,
                   location_id, units, routing, rule, shipping_cost, handling_cost, late_cost,
                   base_cost, split_cost, unfilled_cost, total_cost, distance_km, late_days,
                   action_id, explanation, decided_at
            from dec
            """
        )
        con.execute(
            """
            insert into ops.allocations
            select run_id, order_line_id, sku, location_id, units, action_id, decided_at
            from dec where outcome = 'allocated'
            """
        )
        created = enqueue(con, actions, now)
        # The channels hear of the cancellations from the same transaction as the decision.
        statuses = enqueue(
            con, router_cancellation_actions(con, decisions, run_id, status_shapes), now
        )
        crashpoint(CrashPoint.ROUTING_BEFORE_COMMIT)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return created, statuses


def run_routing(
    warehouse: Warehouse,
    rules: RuleSet | str | Path,
    lines: pl.DataFrame,
    atp: pl.DataFrame,
    locations: pl.DataFrame,
    *,
    today: dt.date | None = None,
    method: Method = "solver",
    max_attempts: int = 20,
    now: dt.datetime | None = None,
    status_shapes: dict[str, str] | None = None,
) -> RunReport:
    """Route the open lines and commit the run; retried from scratch on a concurrent commit.

    `warehouse` is a connection to the warehouse with the `ops` schema in place
    (`pipelines.warehouse`); this thread takes its own cursor of it. Inputs follow the contracts in
    `ops_actions.routing.inputs`. `status_shapes`: channel -> status update shape overrides
    (`ops_actions.status.shapes`) for the cancellation updates."""
    ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
    lines = conform_open_lines(lines)
    atp = conform_atp(atp)
    locations = conform_locations(locations)
    run_id = f"{_utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:10]}"
    started_at = now or _utcnow()
    today = today or started_at.date()
    with cursor(warehouse) as con:
        for attempt in range(1, max_attempts + 1):
            try:
                version, before, result = _decide(
                    con, lines, atp, locations, ruleset, today, method
                )
                crashpoint(CrashPoint.ROUTING_AFTER_DECIDE)
                created = _commit(
                    con,
                    version,
                    run_id,
                    started_at,
                    ruleset,
                    method,
                    result,
                    lines,
                    before,
                    now or _utcnow(),
                    status_shapes,
                )
            except duckdb.TransactionException:
                created = None  # a concurrent run wrote the state row first
            if created is not None:
                crashpoint(CrashPoint.ROUTING_AFTER_COMMIT)
                return RunReport(
                    run_id=run_id,
                    rules_version=ruleset.version,
                    rules_sha=ruleset.sha,
                    attempts=attempt,
                    actions_created=created[0],
                    figures=result.figures(),
                    result=result,
                    status_updates_created=created[1],
                )
            time.sleep(random.uniform(0.0, 0.05 * attempt))
    raise RoutingConflictError(f"run {run_id} lost to concurrent runs {max_attempts} times")
