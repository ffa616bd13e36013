"""Primal side of the Lagrangian relaxation: feasible assignments from per-order optima.

At prices `lam`, each order's optimum (see `bound.py`) ignores stock. `lagrangian_primal`
turns those choices into a feasible assignment:

1. lines whose chosen bin has room keep their choice; on over-used bins, the lines with the
   largest regret (what leaving the bin would cost them at the prices) keep it, the rest are
   released;
2. orders with released lines are re-optimised one by one against the stock still free
   (`reoptimise_order`: best set of locations, each line filled from its cheapest location of
   the set that has stock, exact costs);
3. a local search re-optimises every order that ships from several locations or leaves units
   unfilled, keeping a move only when the exact cost of the order drops.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ops_actions.routing.bound import LagrangianBound
from ops_actions.routing.problem import StageProblem

# Subsets of locations tried per order in `reoptimise_order` (largest sizes dropped first).
MAX_SETS = 60


class OrderView:
    """Per-order candidate lists for the Python-level re-optimisation."""

    def __init__(self, p: StageProblem, lb: LagrangianBound) -> None:
        self.p = p
        self.lb = lb
        by = np.lexsort((lb.line_slot, lb.line_order))
        self.order_lines = by
        self.order_first = np.searchsorted(lb.line_order[by], np.arange(lb.n_orders + 1))
        # Candidates are sorted by (line, unit_cost): contiguous ranges per line.
        self.line_first = np.searchsorted(p.cand_line, np.arange(p.n_lines + 1))
        self.unit_cost = p.cand_unit_cost.tolist()
        self.cand_loc = p.cand_loc.tolist()
        self.cand_bin = p.cand_bin.tolist()
        self.cand_base = p.cand_base.tolist()
        self.q = p.q.tolist()
        self.u = p.unfilled_penalty.tolist()
        self.u_lp = p.lp_unfilled_penalty.tolist()

    def lines(self, o: int) -> list[int]:
        a, b = self.order_first[o], self.order_first[o + 1]
        out: list[int] = self.order_lines[a:b].tolist()
        return out

    def cands(self, line: int) -> range:
        return range(int(self.line_first[line]), int(self.line_first[line + 1]))


def order_cost(view: OrderView, lines: list[int], units: np.ndarray) -> float:
    """Exact cost of one order's lines under `units` (priority-discounted unfilled penalty)."""
    total = 0.0
    locs: set[int] = set()
    for ln in lines:
        filled = 0
        for c in view.cands(ln):
            k = int(units[c])
            if k:
                filled += k
                total += k * view.unit_cost[c]
                if view.cand_loc[c] not in locs:
                    locs.add(view.cand_loc[c])
                    total += view.cand_base[c]
        total += (view.q[ln] - filled) * view.u_lp[ln]
    if len(locs) > 1:
        total += view.p.split_penalty * (len(locs) - 1)
    return total


def reoptimise_order(
    view: OrderView,
    lines: list[int],
    units: np.ndarray,
    residual: np.ndarray,
) -> float:
    """Replace the order's assignment by the best one found against `residual` stock (the
    order's own units count as free). Updates `units` and `residual`; returns the gain."""
    split = view.p.split_penalty
    current = order_cost(view, lines, units)
    # Free the order's own units.
    own: list[tuple[int, int]] = []
    for ln in lines:
        for c in view.cands(ln):
            k = int(units[c])
            if k:
                own.append((c, k))
                residual[view.cand_bin[c]] += k
                units[c] = 0
    # Useful locations: some line has a candidate there with stock and unit cost below U.
    loc_base: dict[int, float] = {}
    per_line: list[list[int]] = []
    for ln in lines:
        q = view.q[ln]
        usable = [
            c
            for c in view.cands(ln)
            if residual[view.cand_bin[c]] > 0 and view.unit_cost[c] < view.u_lp[ln]
        ]
        # Window (as in bound.py): a location dearer than opening the line's own cheapest
        # shipment is not worth it for this line.
        if usable:
            tau = min(q * view.unit_cost[c] + view.cand_base[c] for c in usable) + split
            usable = [c for c in usable if q * view.unit_cost[c] <= tau]
        per_line.append(usable)
        for c in usable:
            loc_base[view.cand_loc[c]] = view.cand_base[c]
    locs = sorted(loc_base)
    best_cost = sum(view.q[ln] * view.u_lp[ln] for ln in lines)
    best_plan: list[tuple[int, int]] = []
    max_size = min(len(lines), len(locs))
    sets: list[tuple[int, ...]] = []
    for s in range(1, max_size + 1):
        combos = list(combinations(locs, s))
        if sets and len(sets) + len(combos) > MAX_SETS:
            break
        sets.extend(combos)
    for S in sets:
        in_s = set(S)
        cost = sum(loc_base[j] for j in S) + split * (len(S) - 1)
        plan: list[tuple[int, int]] = []
        taken: dict[int, int] = {}
        used: set[int] = set()
        for ln, usable in zip(lines, per_line, strict=True):
            need = view.q[ln]
            for c in usable:
                if need == 0:
                    break
                if view.cand_loc[c] not in in_s:
                    continue
                b = view.cand_bin[c]
                free = int(residual[b]) - taken.get(b, 0)
                k = min(need, free)
                if k > 0:
                    plan.append((c, k))
                    taken[b] = taken.get(b, 0) + k
                    cost += k * view.unit_cost[c]
                    need -= k
                    used.add(view.cand_loc[c])
            cost += need * view.u_lp[ln]
        if len(used) < len(S):  # a location of S serves nothing: that is a smaller set
            continue
        if cost < best_cost - 1e-9:
            best_cost, best_plan = cost, plan
    if best_cost > current - 1e-9:
        best_plan, best_cost = own, current
    for c, k in best_plan:
        units[c] += k
        residual[view.cand_bin[c]] -= k
    return current - best_cost


def lagrangian_primal(
    p: StageProblem,
    lb: LagrangianBound,
    lam: np.ndarray,
    view: OrderView,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Feasible units per candidate from the per-order optima at `lam` (see module doc)."""
    sol = lb.solve(lam)
    choice = sol.choice
    units = np.zeros(p.cand_line.size, dtype=np.int64)
    chosen = np.flatnonzero(choice >= 0)
    c_of = choice[chosen]
    b_of = p.cand_bin[c_of]
    q_of = p.q[chosen]
    # Regret of each chosen line: its next option (other candidate or unfilled) at the prices.
    g = lb.gains(lam)
    second = np.zeros(p.n_lines)
    cost_line = g[c_of]
    alt = np.where(np.arange(g.size) == -1, 0.0, g)
    alt[c_of] = np.inf
    np.minimum.at(second, p.cand_line, alt)
    regret = second[chosen] - cost_line
    # Accept per bin in decreasing regret while stock lasts.
    srt = np.lexsort((-regret, b_of))
    b_s, q_s = b_of[srt], q_of[srt]
    cum = np.cumsum(q_s)
    first = np.searchsorted(b_s, b_s)
    before = cum - q_s - np.where(first > 0, cum[first - 1], 0)
    fits = before + q_s <= p.bin_cap[b_s]
    ok = np.zeros(chosen.size, dtype=bool)
    ok[srt] = fits
    units[c_of[ok]] = q_of[ok]
    residual = p.bin_cap - np.bincount(p.cand_bin, weights=units, minlength=p.bin_cap.size)
    residual = residual.astype(np.int64)
    released = np.unique(lb.line_order[chosen[~ok]])
    # Re-optimise orders with released lines, highest regret first.
    reg_o = np.zeros(lb.n_orders)
    np.maximum.at(reg_o, lb.line_order[chosen[~ok]], regret[~ok])
    for o in released[np.argsort(-reg_o[released], kind="stable")].tolist():
        reoptimise_order(view, view.lines(o), units, residual)
    local_search(p, lb, view, units, residual)
    return units


def order_costs(p: StageProblem, lb: LagrangianBound, units: np.ndarray) -> np.ndarray:
    """Exact cost per order (dense order index), priority-discounted unfilled penalty."""
    active = np.flatnonzero(units > 0)
    # astype: with no active candidate bincount returns int64, and the += below must be float
    cost: np.ndarray = np.bincount(
        lb.cand_order[active],
        weights=units[active] * p.cand_unit_cost[active],
        minlength=lb.n_orders,
    ).astype(np.float64)
    filled = np.bincount(p.cand_line, weights=units, minlength=p.n_lines)
    cost += np.bincount(
        lb.line_order, weights=(p.q - filled) * p.lp_unfilled_penalty, minlength=lb.n_orders
    )
    key, first = np.unique(lb.cand_order[active] * lb.n_loc + p.cand_loc[active], return_index=True)
    ship_order = key // lb.n_loc
    cost += np.bincount(ship_order, weights=p.cand_base[active[first]], minlength=lb.n_orders)
    n_ship = np.bincount(ship_order, minlength=lb.n_orders)
    cost = cost + p.split_penalty * np.maximum(n_ship - 1, 0).astype(np.float64)
    return cost


def local_search(
    p: StageProblem,
    lb: LagrangianBound,
    view: OrderView,
    units: np.ndarray,
    residual: np.ndarray,
    rounds: int = 1,
) -> None:
    """Re-optimise orders that split or leave units unfilled while stock may help, unless
    they already cost what they would with unlimited stock."""
    ideal = lb.solve(np.zeros(p.bin_cap.size)).order_value
    for _ in range(rounds):
        active = units > 0
        pairs = np.unique(lb.cand_order[active] * lb.n_loc + p.cand_loc[active])
        n_locs = np.bincount(pairs // lb.n_loc, minlength=lb.n_orders)
        filled = np.bincount(p.cand_line, weights=units, minlength=p.n_lines)
        short = filled < p.q
        has_stock = np.zeros(p.n_lines, dtype=bool)
        has_stock[p.cand_line[residual[p.cand_bin] > 0]] = True
        want = np.zeros(lb.n_orders, dtype=bool)
        want[n_locs > 1] = True
        want[lb.line_order[short & has_stock]] = True
        want &= order_costs(p, lb, units) > ideal + 1e-7
        gain = 0.0
        for o in np.flatnonzero(want).tolist():
            gain += reoptimise_order(view, view.lines(o), units, residual)
        if gain < 1e-6:
            break
