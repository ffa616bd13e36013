"""The split-stage solver against a proven optimum: Lagrangian bound valid, primal sane."""

from __future__ import annotations

import datetime as dt
from itertools import combinations

import numpy as np
import polars as pl
import pytest

from ops_actions.routing.bound import LagrangianBound, strong_model_bound
from ops_actions.routing.candidates import build_candidates
from ops_actions.routing.costs import check_feasible, evaluate
from ops_actions.routing.inputs import conform_atp, conform_locations, conform_open_lines
from ops_actions.routing.problem import StageProblem, build_problem
from ops_actions.routing.rules import DEFAULT_RULES_PATH, load_rules
from ops_actions.routing.solver import solve_stage
from tests.doubles.synthetic import make_inputs


def stage_problem(n_lines: int, seed: int, stock_ratio: float = 1.1) -> StageProblem:
    rules = load_rules(DEFAULT_RULES_PATH)
    data = make_inputs(n_lines, 6, 40, seed=seed, stock_ratio=stock_ratio)
    lines = conform_open_lines(data.lines).with_row_index("line_idx")
    lines = lines.with_columns(pl.col("line_idx").cast(pl.Int64)).sort("promised_ship_date")
    rule = rules.routings[-1].rules[0]
    cand = build_candidates(
        lines, conform_locations(data.locations), conform_atp(data.atp), rule, rules, data.today
    )
    p, _, _ = build_problem(
        lines, cand, rules.costs.unfilled_penalty_per_unit, True, rules.costs.split_penalty
    )
    return p


@pytest.mark.parametrize(("seed", "stock_ratio"), [(1, 1.1), (2, 0.8), (3, 3.0)])
def test_solver_and_bound_bracket_the_mip_optimum(seed: int, stock_ratio: float) -> None:
    p = stage_problem(300, seed, stock_ratio)
    dual, primal, _ = strong_model_bound(p, integral=True, time_limit=120.0, true_unfilled=True)
    assert primal - dual <= 1e-6 * max(1.0, abs(primal)), "HiGHS did not prove the optimum"
    optimum = primal
    sol = solve_stage(p)
    check_feasible(p, sol.units)
    cost = evaluate(p, sol.units).total
    assert cost >= optimum - 1e-6  # sanity: nothing beats the optimum
    assert sol.lower_bound <= optimum + 1e-6  # validity of the Lagrangian bound
    assert sol.relaxed_orders == 0
    assert (cost - sol.lower_bound) / sol.lower_bound < 0.05


def test_lagrangian_order_minima_are_exact_for_any_prices() -> None:
    p = stage_problem(300, 4)
    lb = LagrangianBound(p)
    rng = np.random.default_rng(0)
    for scale in (0.0, 3.0, 30.0):
        lam = rng.uniform(0.0, scale, p.bin_cap.size)
        sol = lb.solve(lam)
        g = lb.gains(lam)
        for o in range(lb.n_orders):
            lines = np.flatnonzero(lb.line_order == o)
            cands = np.flatnonzero(np.isin(p.cand_line, lines))
            locs = np.unique(p.cand_loc[cands]).tolist()
            best = 0.0
            for s in range(1, min(len(lines), len(locs)) + 1):
                for chosen in combinations(locs, s):
                    at = np.isin(p.cand_loc[cands], chosen)
                    v = p.split_penalty * (s - 1)
                    v += sum(float(p.cand_base[cands[p.cand_loc[cands] == j][0]]) for j in chosen)
                    for ln in lines:
                        gl = g[cands[at & (p.cand_line[cands] == ln)]]
                        v += min(0.0, float(gl.min())) if gl.size else 0.0
                    best = min(best, v)
            assert sol.order_value[o] == pytest.approx(best + lb.u_line[lines].sum(), abs=1e-7)


def test_lagrangian_bound_is_below_the_optimum_for_random_prices() -> None:
    p = stage_problem(200, 5, 0.8)
    _, optimum, _ = strong_model_bound(p, integral=True, time_limit=120.0, true_unfilled=True)
    lb = LagrangianBound(p)
    rng = np.random.default_rng(1)
    for _ in range(5):
        assert lb.solve(rng.uniform(0.0, 40.0, p.bin_cap.size)).value <= optimum + 1e-6


def test_route_reports_a_valid_gap() -> None:
    from ops_actions.routing.router import route

    data = make_inputs(n_lines=3000, n_locations=12, n_skus=250, seed=3)
    r = load_rules(DEFAULT_RULES_PATH)
    res = route(data.lines, data.atp, data.locations, r, dt.date(2026, 1, 15))
    greedy = route(data.lines, data.atp, data.locations, r, data.today, method="greedy")
    assert 0.0 <= res.gap < 0.05
    assert res.cost.total <= greedy.cost.total


@pytest.mark.parametrize(("seed", "stock_ratio"), [(6, 1.1), (7, 0.8)])
def test_ejection_search_gain_is_exact_and_feasible(seed: int, stock_ratio: float) -> None:
    from ops_actions.routing.heuristic import OrderView, ejection_search
    from ops_actions.routing.solver import transport_lp

    p = stage_problem(600, seed, stock_ratio)
    lb = LagrangianBound(p)
    view = OrderView(p, lb)
    c_line = p.cand_unit_cost + p.cand_base / p.q[p.cand_line]
    units, lam, _ = transport_lp(p, np.arange(p.n_lines), c_line)
    residual = (
        p.bin_cap - np.bincount(p.cand_bin, weights=units, minlength=p.bin_cap.size)
    ).astype(np.int64)
    before = evaluate(p, units).total
    plans = [lb.solve(lam).choice, lb.solve(np.zeros(p.bin_cap.size)).choice]
    gain = ejection_search(p, lb, view, units, residual, plans)
    check_feasible(p, units)
    used = np.bincount(p.cand_bin, weights=units, minlength=p.bin_cap.size)
    assert (residual == p.bin_cap - used).all()
    assert gain > 0
    assert before - evaluate(p, units).total == pytest.approx(gain, abs=1e-3)
