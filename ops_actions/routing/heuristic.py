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

from itertools import combinations, islice

import numpy as np

from ops_actions.routing.bound import LagrangianBound
from ops_actions.routing.problem import StageProblem

# Subsets of locations tried per order in `reoptimise_order` (largest sizes dropped first).
MAX_SETS = 60
# Holders of a bin examined per ejection (cheapest to displace first, see `_Book`).
MAX_HOLDERS = 8


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
        self.base_of_loc: dict[int, float] = dict(zip(self.cand_loc, self.cand_base, strict=True))

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
    ideal: np.ndarray | None = None,
    min_excess: float = 1e-7,
) -> None:
    """Re-optimise orders that split or leave units unfilled while stock may help, unless
    they already cost what they would with unlimited stock (`ideal`, per order)."""
    if ideal is None:
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
        want &= order_costs(p, lb, units) > ideal + min_excess
        gain = 0.0
        for o in np.flatnonzero(want).tolist():
            gain += reoptimise_order(view, view.lines(o), units, residual)
        if gain < 1e-6:
            break


def _displacement(view: OrderView, units: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per unit, the cheapest exact cost change of moving each active candidate's units to
    another bin of its line with enough free stock, or to unfilled (vectorised)."""
    p, lb = view.p, view.lb
    split = p.split_penalty
    residual = p.bin_cap - np.bincount(p.cand_bin, weights=units, minlength=p.bin_cap.size)
    line = p.cand_line[active]
    order = lb.line_order[line]
    k = units[active].astype(np.float64)
    key = order * lb.n_loc + p.cand_loc[active]
    pairs, pair_count = np.unique(key, return_counts=True)
    n_locs = np.bincount(pairs // lb.n_loc, minlength=lb.n_orders)[order]
    removed = pair_count[np.searchsorted(pairs, key)] == 1
    base = p.cand_base[active]
    cost = p.cand_unit_cost[active]
    # Unfilled.
    new_n = n_locs - removed
    best = k * (p.lp_unfilled_penalty[line] - cost) - base * removed
    best += split * (np.maximum(new_n - 1, 0) - np.maximum(n_locs - 1, 0))
    # Other candidates of the line.
    first = view.line_first[line]
    counts = view.line_first[line + 1] - first
    src = np.repeat(np.arange(active.size), counts)
    c2 = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    ok = (c2 != active[src]) & (residual[p.cand_bin[c2]] >= k[src])
    src, c2 = src[ok], c2[ok]
    key2 = order[src] * lb.n_loc + p.cand_loc[c2]
    pos = np.minimum(np.searchsorted(pairs, key2), max(pairs.size - 1, 0))
    added = pairs[pos] != key2
    n2 = n_locs[src] - removed[src] + added
    d = k[src] * (p.cand_unit_cost[c2] - cost[src]) + p.cand_base[c2] * added
    d -= base[src] * removed[src]
    d += split * (np.maximum(n2 - 1, 0) - np.maximum(n_locs[src] - 1, 0))
    np.minimum.at(best, src, d)
    out: np.ndarray = best / k
    return out


class _Book:
    """Mutable bookkeeping of an assignment for `ejection_search`: which candidates hold units
    per bin and how many candidates of each order ship from each location."""

    def __init__(self, view: OrderView, units: np.ndarray) -> None:
        self.view = view
        self.holders: dict[int, dict[int, int]] = {}
        self.loc_count: dict[int, dict[int, int]] = {}
        line_order = view.lb.line_order
        cand_line = view.p.cand_line
        # Holders of a bin are listed cheapest to displace first: by the exact cost change of
        # their order when the holder's units leave for their best other bin with free stock (or
        # unfilled), at the starting assignment.
        active = np.flatnonzero(units > 0)
        for c in active[np.argsort(_displacement(view, units, active), kind="stable")].tolist():
            self.add(c, int(units[c]), int(line_order[cand_line[c]]))

    def add(self, c: int, k: int, o: int) -> None:
        v = self.view
        h = self.holders.setdefault(v.cand_bin[c], {})
        if c not in h:
            lc = self.loc_count.setdefault(o, {})
            lc[v.cand_loc[c]] = lc.get(v.cand_loc[c], 0) + 1
        h[c] = h.get(c, 0) + k

    def _remove(self, c: int, k: int, o: int) -> None:
        v = self.view
        h = self.holders[v.cand_bin[c]]
        h[c] -= k
        if h[c] == 0:
            del h[c]
            lc = self.loc_count[o]
            lc[v.cand_loc[c]] -= 1
            if lc[v.cand_loc[c]] == 0:
                del lc[v.cand_loc[c]]

    def move(
        self, units: np.ndarray, residual: np.ndarray, o: int, c: int, k: int, to: int
    ) -> None:
        """Move k units of candidate c (order o) to candidate `to` (-1: leave unfilled)."""
        units[c] -= k
        residual[self.view.cand_bin[c]] += k
        self._remove(c, k, o)
        if to >= 0:
            units[to] += k
            residual[self.view.cand_bin[to]] -= k
            self.add(to, k, o)


def _ship_delta(
    view: OrderView, locs: dict[int, int], drop: int, add: int, base_add: float
) -> float:
    """Change of an order's base + split cost when one candidate leaves location `drop`
    (`locs`: candidates per location) and one arrives at `add` (-1: none)."""
    n = len(locs)
    removed = locs.get(drop, 0) == 1 and add != drop
    added = add >= 0 and add not in locs
    new_n = n - removed + added
    split = view.p.split_penalty
    delta = split * (max(new_n - 1, 0) - max(n - 1, 0))
    if removed:
        delta -= view.base_of_loc[drop]
    if added:
        delta += base_add
    return delta


def _plan_units(p: StageProblem, choice: np.ndarray) -> np.ndarray:
    units = np.zeros(p.cand_line.size, dtype=np.int64)
    chosen = np.flatnonzero(choice >= 0)
    units[choice[chosen]] = p.q[chosen]
    return units


def ejection_search(
    p: StageProblem,
    lb: LagrangianBound,
    view: OrderView,
    units: np.ndarray,
    residual: np.ndarray,
    plans: list[np.ndarray],
    min_gain: float = 1e-7,
    min_saving: float = 0.5,
) -> float:
    """Move orders to a target plan (a choice per line, e.g. their Lagrangian optimum at some
    prices) even when its bins are full, by ejecting the cheapest holders of the missing units
    to their best alternative (another bin with free stock, or unfilled). Only (order, plan)
    pairs whose plan costs less than the order's current cost are tried, biggest saving first;
    a move is applied only when its exact cost change (the order's and every ejected holder's)
    is negative. Updates `units` and `residual`; returns the total gain."""
    current_np = order_costs(p, lb, units)
    plan_cost = np.stack([order_costs(p, lb, _plan_units(p, pl)) for pl in plans])
    saving = current_np[None, :] - plan_cost
    k_idx, o_idx = np.nonzero(saving > max(min_gain, min_saving))
    if o_idx.size == 0:
        return 0.0
    # Orders by their best saving; per order, plans by saving.
    best_saving = np.zeros(lb.n_orders)
    np.maximum.at(best_saving, o_idx, saving[k_idx, o_idx])
    srt = np.lexsort((-saving[k_idx, o_idx], -best_saving[o_idx], o_idx))
    srt = srt[np.argsort(-best_saving[o_idx[srt]], kind="stable")]
    k_idx, o_idx = k_idx[srt], o_idx[srt]
    current = current_np.tolist()
    pcost = plan_cost.tolist()
    book = _Book(view, units)
    line_order = lb.line_order.tolist()
    cand_line = p.cand_line.tolist()
    q, u_lp, cost_u, cbin, cloc = view.q, view.u_lp, view.unit_cost, view.cand_bin, view.cand_loc
    plan_lists = [pl.tolist() for pl in plans]
    bin_sku = p.bin_sku.tolist()
    cache: dict[int, tuple[float, int, int, int]] = {}
    version: dict[int, int] = {}
    total_gain = 0.0
    done_order = -1
    for o, k_plan in zip(o_idx.tolist(), k_idx.tolist(), strict=True):
        if o == done_order:
            continue
        new = pcost[k_plan][o]
        if new >= current[o] - min_gain:
            continue
        lines = view.lines(o)
        plan = [plan_lists[k_plan][ln] for ln in lines]
        need: dict[int, int] = {}
        for ln, c in zip(lines, plan, strict=True):
            if c >= 0:
                need[cbin[c]] = need.get(cbin[c], 0) + q[ln]
        own: dict[int, int] = {}
        for ln in lines:
            for c in view.cands(ln):
                if units[c]:
                    own[cbin[c]] = own.get(cbin[c], 0) + int(units[c])
        budget = current[o] - new - min_gain
        reserved: dict[int, int] = {}
        ejections: list[tuple[int, int, int, int, float]] = []  # (order, cand, units, to, delta)
        moved_orders = {o}
        ok = True
        for b, want in need.items():
            short = want - int(residual[b]) - own.get(b, 0)
            if short <= 0:
                continue
            options: list[tuple[float, float, int, int, int]] = []
            swap_bins = [b2 for b2 in own if bin_sku[b2] == bin_sku[b] and b2 not in need]
            for c, k in islice(book.holders.get(b, {}).items(), MAX_HOLDERS):
                ob = line_order[cand_line[c]]
                if ob in moved_orders:
                    continue
                ln = cand_line[c]
                # Best alternative against the free stock (cached while the holder's order and
                # the alternative's stock are unchanged): unfilled or another bin of the line.
                hit = cache.get(c)
                if (
                    hit is None
                    or hit[2] != version.get(ob, 0)
                    or hit[3] != k
                    or (hit[1] >= 0 and (cbin[hit[1]] in need or int(residual[cbin[hit[1]]]) < k))
                ):
                    locs = book.loc_count[ob]
                    best_d = k * (u_lp[ln] - cost_u[c]) + _ship_delta(view, locs, cloc[c], -1, 0.0)
                    best_to = -1
                    for c2 in view.cands(ln):
                        b2 = cbin[c2]
                        if b2 == b or int(residual[b2]) < k:
                            continue
                        d = k * (cost_u[c2] - cost_u[c]) + _ship_delta(
                            view, locs, cloc[c], cloc[c2], view.cand_base[c2]
                        )
                        if d < best_d:
                            best_d, best_to = d, c2
                    hit = (best_d, best_to, version.get(ob, 0), k)
                    cache[c] = hit
                best_d, best_to = hit[0], hit[1]
                if best_to >= 0 and (cbin[best_to] in need):
                    best_d, best_to = k * (u_lp[ln] - cost_u[c]), -1
                    best_d += _ship_delta(view, book.loc_count[ob], cloc[c], -1, 0.0)
                # Swap: take the stock the order itself frees.
                for b2 in swap_bins:
                    if own[b2] < k:
                        continue
                    for c2 in view.cands(ln):
                        if cbin[c2] == b2:
                            d = k * (cost_u[c2] - cost_u[c]) + _ship_delta(
                                view, book.loc_count[ob], cloc[c], cloc[c2], view.cand_base[c2]
                            )
                            if d < best_d:
                                best_d, best_to = d, c2
                options.append((best_d / k, best_d, c, k, best_to))
            options.sort()
            for _, d, c, k, to in options:
                if short <= 0 or d >= budget:
                    break
                ob = line_order[cand_line[c]]
                if ob in moved_orders:
                    continue
                if to >= 0:
                    b2 = cbin[to]
                    if int(residual[b2]) + own.get(b2, 0) - reserved.get(b2, 0) < k:
                        continue
                    reserved[b2] = reserved.get(b2, 0) + k
                budget -= d
                moved_orders.add(ob)
                ejections.append((ob, c, k, to, d))
                short -= k
            if short > 0:
                ok = False
                break
        if not ok:
            continue
        for ln in lines:
            for c in view.cands(ln):
                if units[c]:
                    book.move(units, residual, o, c, int(units[c]), -1)
        for ob, c, k, to, d in ejections:
            book.move(units, residual, ob, c, k, to)
            current[ob] += d
            version[ob] = version.get(ob, 0) + 1
        version[o] = version.get(o, 0) + 1
        for ln, c in zip(lines, plan, strict=True):
            if c >= 0:
                units[c] += q[ln]
                residual[cbin[c]] -= q[ln]
                book.add(c, q[ln], o)
        total_gain += current[o] - new - sum(e[4] for e in ejections)
        current[o] = new
        done_order = o
    return total_gain
