"""Decide: route all open lines of one run. Pure (DataFrames in, DataFrames out, no I/O).

Routings are stages in priority order: a line belongs to the first routing whose `match` it
passes; earlier routings take stock first. Inside a routing the inventory rules are tried in
sequence on what is still unfilled (`unfillable: next_rule`); each rule is one stage solved by
HiGHS (`solver`) or by the nearest-location baseline (`greedy`) over the stock still free.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from ops_actions.routing.candidates import build_candidates
from ops_actions.routing.costs import CostParts, check_feasible, evaluate
from ops_actions.routing.explain import alternatives, explanation_column
from ops_actions.routing.greedy import greedy_stage
from ops_actions.routing.inputs import conform_atp, conform_locations, conform_open_lines
from ops_actions.routing.problem import build_problem
from ops_actions.routing.rules import InventoryRule, Routing, RuleSet
from ops_actions.routing.solver import solve_stage

Method = Literal["solver", "greedy"]

DECISION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "order_line_id": pl.String,
    "order_id": pl.String,
    "channel": pl.String,
    "sku": pl.String,
    "outcome": pl.String,  # allocated | backorder | cancelled
    "location_id": pl.String,  # null unless allocated
    "units": pl.Int64,
    "routing": pl.String,
    "rule": pl.String,
    "shipping_cost": pl.Float64,
    "handling_cost": pl.Float64,
    "late_cost": pl.Float64,
    "base_cost": pl.Float64,
    "split_cost": pl.Float64,
    "unfilled_cost": pl.Float64,
    "total_cost": pl.Float64,
    "distance_km": pl.Float64,
    "late_days": pl.Int64,
    "explanation": pl.String,
}


@dataclass
class StageFigures:
    routing: str
    rule: str
    lines: int
    candidates: int
    lp_columns: int
    cost: dict[str, float]
    objective: float
    lower_bound: float
    seconds: float


@dataclass
class RoutingResult:
    """Decisions (one row per order line x outcome: a split line has one row per location plus
    one for any unfilled remainder) and run figures."""

    decisions: pl.DataFrame
    cost: CostParts
    lower_bound: float
    stages: list[StageFigures] = field(default_factory=list)
    seconds: float = 0.0
    unmatched_cost: float = 0.0

    @property
    def objective(self) -> float:
        """Sum of the stage objectives (what the stages minimised, see `StageFigures`)."""
        return sum(s.objective for s in self.stages) + self.unmatched_cost

    @property
    def gap(self) -> float:
        """Relative distance of the stage objectives from their relaxation bounds; 0 for the
        greedy baseline, which computes no bound."""
        lb = self.lower_bound
        return (self.objective - lb) / lb if lb > 0 else 0.0

    @property
    def allocations(self) -> pl.DataFrame:
        """Units taken per (sku, location_id)."""
        return (
            self.decisions.filter(pl.col("outcome") == "allocated")
            .group_by("sku", "location_id")
            .agg(pl.col("units").sum())
            .sort("sku", "location_id")
        )

    def figures(self) -> dict[str, object]:
        d = self.decisions
        by = {o: int(d.filter(pl.col("outcome") == o)["units"].sum()) for o in _OUTCOMES}
        return {
            "lines": int(d["order_line_id"].n_unique()),
            "units_allocated": by["allocated"],
            "units_backordered": by["backorder"],
            "units_cancelled": by["cancelled"],
            "cost": self.cost.as_dict(),
            "objective": round(self.objective, 4),
            "lower_bound": round(self.lower_bound, 4),
            "gap": round(self.gap, 6),
            "seconds": round(self.seconds, 3),
            "stages": [s.__dict__ for s in self.stages],
        }


_OUTCOMES = ("allocated", "backorder", "cancelled")


def _matches(routing: Routing) -> pl.Expr:
    expr = pl.lit(True)
    if routing.channels is not None:
        expr &= pl.col("channel").is_in(list(routing.channels))
    if routing.service_levels is not None:
        expr &= pl.col("service_level").is_in(list(routing.service_levels))
    return expr


def _sorted_by_priority(lines: pl.DataFrame, routing: Routing) -> pl.DataFrame:
    keys = [k.lstrip("-") for k in routing.priority] + ["order_id", "order_line_id"]
    desc = [k.startswith("-") for k in routing.priority] + [False, False]
    return lines.sort(keys, descending=desc)


def _unfilled_outcome(rule: InventoryRule, today: dt.date) -> pl.Expr:
    if rule.unfillable == "cancel":
        return pl.lit("cancelled")
    if rule.cancel_after_days is not None:
        deadline = pl.col("promised_ship_date") + pl.duration(days=rule.cancel_after_days)
        return (
            pl.when(pl.lit(today) > deadline)
            .then(pl.lit("cancelled"))
            .otherwise(pl.lit("backorder"))
        )
    return pl.lit("backorder")


def _stage(
    pending: pl.DataFrame,
    locations: pl.DataFrame,
    stock: pl.DataFrame,
    routing: Routing,
    rule: InventoryRule,
    tried: list[str],
    rules: RuleSet,
    today: dt.date,
    method: Method,
    is_last: bool,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, StageFigures, CostParts]:
    """Solve one stage; returns (decision rows, remainder for the next rule, stock used, ...)."""
    t0 = time.perf_counter()
    costs = rules.costs
    cand = build_candidates(pending, locations, stock, rule, rules, today)
    problem, cand, bins = build_problem(
        pending,
        cand,
        costs.unfilled_penalty_per_unit,
        rule.split == "allowed",
        costs.split_penalty,
    )
    if method == "solver":
        sol = solve_stage(problem)
        units, lower = sol.units, sol.lower_bound
        lp_cols = sol.lp_columns
    else:
        units, lower, lp_cols = greedy_stage(problem), 0.0, 0
    check_feasible(problem, units)
    parts = evaluate(problem, units)

    used = np.bincount(problem.cand_bin, weights=units, minlength=bins.height).astype(np.int64)
    bins = bins.with_columns(pl.Series("used", used), (pl.col("available") - used).alias("left"))
    cand = cand.with_columns(pl.Series("units", units)).join(
        bins.select("bin", pl.col("left").alias("left_after")), on="bin"
    )
    alloc = cand.filter(pl.col("units") > 0).join(
        pending.select("line_idx", "order_id"), on="line_idx"
    )
    # Shipment base cost shared by the units of an (order, location); split penalty by the
    # units of an order that ship.
    alloc = alloc.with_columns(
        (
            pl.col("shipment_base_cost")
            * pl.col("units")
            / pl.col("units").sum().over("order_id", "location_id")
        ).alias("base_cost"),
        (
            costs.split_penalty
            * (pl.col("location_id").n_unique().over("order_id") - 1)
            * pl.col("units")
            / pl.col("units").sum().over("order_id")
        ).alias("split_cost"),
    )
    filled = alloc.group_by("line_idx").agg(pl.col("units").sum().alias("filled"))
    rest = (
        pending.join(filled, on="line_idx", how="left")
        .with_columns((pl.col("quantity") - pl.col("filled").fill_null(0)).alias("unfilled"))
        .filter(pl.col("unfilled") > 0)
    )
    split = rule.split
    alts = alternatives(cand)
    allocated = alloc.join(
        pending.select("line_idx", "order_line_id", "channel"), on="line_idx"
    ).select(
        "line_idx",
        "order_line_id",
        "order_id",
        "channel",
        "sku",
        pl.lit("allocated").alias("outcome"),
        "location_id",
        "units",
        (pl.col("units") * pl.col("ship_cost_unit")).alias("shipping_cost"),
        (pl.col("units") * pl.col("handling_cost_unit")).alias("handling_cost"),
        (pl.col("units") * pl.col("late_cost_unit")).alias("late_cost"),
        "base_cost",
        "split_cost",
        pl.lit(0.0).alias("unfilled_cost"),
        "distance_km",
        "late_days",
        "unit_cost",
    )
    passes_on = rule.unfillable == "next_rule" and not is_last
    if passes_on:
        unfilled_rows = rest.head(0)
        remainder = rest.with_columns(pl.col("unfilled").alias("quantity")).drop(
            "filled", "unfilled"
        )
    else:
        unfilled_rows = rest
        remainder = rest.head(0).drop("filled", "unfilled")
    unfilled = unfilled_rows.select(
        "line_idx",
        "order_line_id",
        "order_id",
        "channel",
        "sku",
        _unfilled_outcome(rule, today).alias("outcome"),
        pl.lit(None, dtype=pl.String).alias("location_id"),
        pl.col("unfilled").alias("units"),
        *(pl.lit(0.0).alias(c) for c in ("shipping_cost", "handling_cost", "late_cost")),
        pl.lit(0.0).alias("base_cost"),
        pl.lit(0.0).alias("split_cost"),
        (pl.col("unfilled") * costs.unfilled_penalty_per_unit).alias("unfilled_cost"),
        pl.lit(None, dtype=pl.Float64).alias("distance_km"),
        pl.lit(None, dtype=pl.Int64).alias("late_days"),
        pl.lit(None, dtype=pl.Float64).alias("unit_cost"),
    )
    rows = pl.concat([allocated, unfilled], how="vertical_relaxed").with_columns(
        pl.lit(routing.name).alias("routing"),
        pl.lit(rule.name).alias("rule"),
        pl.lit(list(tried), dtype=pl.List(pl.String)).alias("rules_tried"),
    )
    rows = rows.with_columns(
        explanation_column(rows, alts, rules.version, split),
        pl.sum_horizontal(
            "shipping_cost",
            "handling_cost",
            "late_cost",
            "base_cost",
            "split_cost",
            "unfilled_cost",
        ).alias("total_cost"),
    )
    stock_used = bins.filter(pl.col("used") > 0).select("sku", "location_id", "used")
    # The stage objective prices units it leaves unfilled even when they pass to the next rule
    # (that is what the stage minimises, and what its bound bounds); the run's cost prices them
    # only where they end up.
    objective = parts.total
    if passes_on:
        parts.unfilled = 0.0
    figures = StageFigures(
        routing=routing.name,
        rule=rule.name,
        lines=problem.n_lines,
        candidates=int(problem.cand_line.size),
        lp_columns=lp_cols,
        cost=parts.as_dict(),
        objective=round(objective, 4),
        lower_bound=round(lower, 4),
        seconds=round(time.perf_counter() - t0, 3),
    )
    return rows, remainder, stock_used, figures, parts


def route(
    lines: pl.DataFrame,
    atp: pl.DataFrame,
    locations: pl.DataFrame,
    rules: RuleSet,
    today: dt.date,
    method: Method = "solver",
) -> RoutingResult:
    """Route every line of `lines` (contract `OPEN_LINES`, `quantity` = units still to route)
    against `atp.available` (already net of allocations of earlier runs)."""
    t0 = time.perf_counter()
    lines = (
        conform_open_lines(lines)
        .with_row_index("line_idx")
        .with_columns(pl.col("line_idx").cast(pl.Int64))
    )
    stock = conform_atp(atp).select("sku", "location_id", "available")
    locations = conform_locations(locations)
    claimed = pl.Series("claimed", [False] * lines.height, dtype=pl.Boolean)  # typed if empty
    out: list[pl.DataFrame] = []
    stages: list[StageFigures] = []
    total = CostParts()
    lower = 0.0
    for routing in rules.routings:
        mask = lines.select(_matches(routing)).to_series() & ~claimed
        claimed = claimed | mask
        pending = _sorted_by_priority(lines.filter(mask), routing)
        tried: list[str] = []
        for i, rule in enumerate(routing.rules):
            if pending.height == 0:
                break
            is_last = i == len(routing.rules) - 1
            rows, pending, used, fig, parts = _stage(
                pending, locations, stock, routing, rule, tried, rules, today, method, is_last
            )
            tried.append(rule.name)
            out.append(rows)
            stages.append(fig)
            total = total + parts
            lower += fig.lower_bound
            stock = (
                stock.join(used, on=["sku", "location_id"], how="left")
                .with_columns(
                    (pl.col("available") - pl.col("used").fill_null(0)).alias("available")
                )
                .drop("used")
            )
    unmatched = lines.filter(~claimed)
    unmatched_cost = 0.0
    if unmatched.height:
        out.append(
            unmatched.select(
                "order_line_id",
                "order_id",
                "channel",
                "sku",
                pl.lit("backorder").alias("outcome"),
                pl.lit(None, dtype=pl.String).alias("location_id"),
                pl.col("quantity").alias("units"),
                pl.lit(None, dtype=pl.String).alias("routing"),
                pl.lit(None, dtype=pl.String).alias("rule"),
                *(
                    pl.lit(0.0).alias(c)
                    for c in ("shipping_cost", "handling_cost", "late_cost", "base_cost")
                ),
                pl.lit(0.0).alias("split_cost"),
                (pl.col("quantity") * rules.costs.unfilled_penalty_per_unit).alias("unfilled_cost"),
                pl.lit(None, dtype=pl.Float64).alias("distance_km"),
                pl.lit(None, dtype=pl.Int64).alias("late_days"),
                pl.lit(None, dtype=pl.Float64).alias("total_cost"),
                pl.lit(
                    f'{{"outcome":"backorder","reason":"no routing matches this line",'
                    f'"rules_version":"{rules.version}"}}'
                ).alias("explanation"),
            ).with_columns(pl.col("unfilled_cost").alias("total_cost"))
        )
        unmatched_cost = float(unmatched["quantity"].sum()) * rules.costs.unfilled_penalty_per_unit
        total = total + CostParts(unfilled=unmatched_cost)
        lower += unmatched_cost
    if out:
        decisions = pl.concat(
            [df.select([pl.col(c).cast(t) for c, t in DECISION_SCHEMA.items()]) for df in out]
        )
    else:
        decisions = pl.DataFrame(schema=DECISION_SCHEMA)
    decisions = decisions.sort("order_line_id", "outcome", "location_id", nulls_last=True)
    return RoutingResult(
        decisions=decisions,
        cost=total,
        lower_bound=lower,
        stages=stages,
        seconds=time.perf_counter() - t0,
        unmatched_cost=unmatched_cost,
    )
