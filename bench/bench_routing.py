"""Routing and delivery bench on synthetic data.

    python bench/bench_routing.py [--lines 100000] [--locations 20] [--skus 3000] [--repeats 3]
                                  [--actions 3000] [--strong-bound]

Prints: routing time (median of repeats) for the solver and the greedy baseline, total cost of
both (ratio), the gap of the solver's stage objectives to their relaxation bound (computed in
every run), the same with ample stock (where the gap is about shipping choices, not shortage),
optionally a cross-check on a 10k-line instance against the LP relaxation of the full model
with shipment variables (`--strong-bound`, slow),
and delivery throughput to a loopback HTTP server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.keys import action_key
from ops_actions.delivery.outbox import enqueue
from ops_actions.routing.router import route
from ops_actions.routing.rules import DEFAULT_RULES_PATH, load_rules
from pipelines.warehouse import Warehouse, create_schemas
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.synthetic import make_inputs


def bench_routing(args: argparse.Namespace) -> dict[str, object]:
    rules = load_rules(DEFAULT_RULES_PATH)
    data = make_inputs(args.lines, args.locations, args.skus, seed=args.seed)
    out: dict[str, object] = {"lines": args.lines, "locations": args.locations, "skus": args.skus}
    for method in ("solver", "greedy"):
        times, res = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = route(data.lines, data.atp, data.locations, rules, data.today, method=method)
            times.append(time.perf_counter() - t0)
        assert res is not None
        out[f"{method}_seconds_median"] = round(statistics.median(times), 3)
        out[f"{method}_cost"] = res.cost.as_dict()
        if method == "solver":
            out["solver_gap_to_relaxation"] = round(res.gap, 5)
            out["solver_lower_bound"] = round(res.lower_bound, 2)
            out["solver_objective"] = round(res.objective, 2)
            out["solver_stages"] = [
                {k: s.__dict__[k] for k in ("routing", "rule", "lines", "lp_columns", "seconds")}
                for s in res.stages
            ]
    solver_cost = out["solver_cost"]["total"]  # type: ignore[index]
    greedy_cost = out["greedy_cost"]["total"]  # type: ignore[index]
    out["cost_ratio_solver_over_greedy"] = round(solver_cost / greedy_cost, 4)
    s_ship = solver_cost - out["solver_cost"]["unfilled"]  # type: ignore[index]
    g_ship = greedy_cost - out["greedy_cost"]["unfilled"]  # type: ignore[index]
    out["cost_ratio_excluding_unfilled"] = round(s_ship / g_ship, 4)

    ample = make_inputs(args.lines, args.locations, args.skus, seed=args.seed, stock_ratio=3.0)
    res = route(ample.lines, ample.atp, ample.locations, rules, ample.today)
    greedy = route(ample.lines, ample.atp, ample.locations, rules, ample.today, method="greedy")
    out["ample_stock"] = {
        "solver_seconds": round(res.seconds, 3),
        "gap_to_relaxation": round(res.gap, 5),
        "cost_ratio_solver_over_greedy": round(res.cost.total / greedy.cost.total, 4),
    }
    if args.strong_bound:
        out["strong_bound"] = strong_bound(rules, args)
    return out


def strong_bound(rules, args: argparse.Namespace, n_lines: int = 10_000) -> dict[str, object]:
    """Independent cross-check on a smaller instance: for its biggest stage, the solver's cost
    and Lagrangian bound vs the LP relaxation of the full model with shipment variables
    (y[order, location], x <= q y, split credit), solved by HiGHS."""
    from ops_actions.routing.bound import strong_model_bound
    from ops_actions.routing.candidates import build_candidates
    from ops_actions.routing.costs import evaluate
    from ops_actions.routing.inputs import conform_atp, conform_locations, conform_open_lines
    from ops_actions.routing.problem import build_problem
    from ops_actions.routing.router import _matches, _sorted_by_priority
    from ops_actions.routing.solver import solve_stage

    data = make_inputs(
        n_lines, args.locations, max(300, args.skus * n_lines // args.lines), seed=args.seed
    )
    lines = conform_open_lines(data.lines).with_row_index("line_idx")
    lines = lines.with_columns(pl.col("line_idx").cast(pl.Int64))
    routing = rules.routings[-1]
    claimed = pl.lit(False)
    for r in rules.routings[:-1]:
        claimed = claimed | _matches(r)
    stage = _sorted_by_priority(lines.filter(~claimed & _matches(routing)), routing)
    rule = routing.rules[0]
    cand = build_candidates(
        stage, conform_locations(data.locations), conform_atp(data.atp), rule, rules, data.today
    )
    p, _, _ = build_problem(
        stage, cand, rules.costs.unfilled_penalty_per_unit, True, rules.costs.split_penalty
    )
    t0 = time.perf_counter()
    sol = solve_stage(p)
    solver_seconds = time.perf_counter() - t0
    achieved = evaluate(p, sol.units).total
    t0 = time.perf_counter()
    lp_bound, _, _ = strong_model_bound(p, integral=False, time_limit=300.0)
    return {
        "instance_lines": n_lines,
        "stage": f"{routing.name}/{rule.name}",
        "stage_lines": p.n_lines,
        "solver_seconds": round(solver_seconds, 2),
        "achieved": round(achieved, 2),
        "lagrangian_bound": round(sol.lower_bound, 2),
        "strong_lp_bound": round(lp_bound, 2),
        "strong_lp_seconds": round(time.perf_counter() - t0, 2),
        "gap_to_lagrangian": round((achieved - sol.lower_bound) / sol.lower_bound, 5),
        "gap_to_strong_lp": round((achieved - lp_bound) / lp_bound, 5),
    }


def bench_delivery(n_actions: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, FakeWarehouse() as server:
        con = Warehouse(Path(tmp) / "wh.duckdb").open()
        create_schemas(con)
        now = dt.datetime(2026, 1, 15)
        rows = []
        for i in range(n_actions):
            content = {"order_id": f"O{i}", "lines": [{"order_line_id": f"L{i}", "units": 1}]}
            rows.append(
                {
                    "action_id": action_key("fulfillment_request", "WH1", content),
                    "kind": "fulfillment_request",
                    "destination": "WH1",
                    "payload": json.dumps(content),
                    "batch_key": "bench",
                    "source_run_id": "bench",
                }
            )
        enqueue(con, pl.DataFrame(rows), now)
        t0 = time.perf_counter()
        report = dispatch_due(con, {"WH1": HttpJsonAdapter(server.url)}, batch_size=500)
        seconds = time.perf_counter() - t0
        con.close()
    return {
        "actions": n_actions,
        "delivered": report.delivered,
        "seconds": round(seconds, 3),
        "actions_per_second": round(report.delivered / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--skus", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--actions", type=int, default=3_000)
    parser.add_argument("--strong-bound", action="store_true")
    args = parser.parse_args()
    result = {"routing": bench_routing(args), "delivery": bench_delivery(args.actions)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
