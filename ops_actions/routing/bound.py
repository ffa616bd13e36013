"""Lagrangian relaxation of the stock constraints of a split-allowed stage.

With a price lam[b] >= 0 on every (sku, location) bin b, the stage separates by order:

    L(lam) = sum_o min_o(lam) - sum_b lam[b] * cap[b]

where min_o(lam) is the exact minimum cost of order o alone, with unlimited stock, unit cost
`unit_cost + lam[bin]` per candidate, the shipment base cost per location used, the split
penalty per extra location and the (priority-discounted) unfilled penalty per unit left unrouted.
Dropping the stock rows and adding `lam * (used - cap) <= 0` only lowers every feasible
assignment's cost, so L(lam) is a valid lower bound of the stage optimum for ANY lam >= 0,
provided each order's minimum is exact (or replaced by a lower bound of it).

Order subproblem (exact). Given the set S of locations an order ships from, each line takes all
its units at its cheapest location in S or leaves them all unfilled (costs are linear per unit
once S is fixed, so a partial fill is never strictly better). So

    min_o = sum_l U_l q_l + min_S [ sum_{j in S} base_j + split (|S| - 1) + sum_l min(0, g_lj) ]

with gains g_lj = q_l (c_lj + lam) - U_l q_l (S empty: 0). Two exact reductions keep the
enumeration small:

* window: with tau_l = min(0, min_j g_lj + base_j + split), a line is never at a location with
  g_lj > tau_l in an optimum (moving it to the tau option, opening that location if needed, is
  strictly cheaper), and a location serving no line is never in an optimal S (base >= 0);
* size: |S| <= number of lines, and sizes whose lower bound
  sum_l min_j g_lj + (s smallest bases) + (s - 1) split cannot beat the best smaller S are
  skipped.

Orders whose remaining enumeration would still be too large get a valid relaxation instead:
min(0, sum_l min_j g_lj + min_j base_j) (any nonempty S pays at least one base cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations
from math import comb

import numpy as np

from ops_actions.routing.problem import StageProblem

# Above this many (order x subset x line) evaluations per group chunk, process in chunks.
_CHUNK_ELEMENTS = 4_000_000
# Orders whose subset enumeration exceeds this many subsets get the relaxation described above.
MAX_SUBSETS = 20_000


# Base cost of padding slots (see `_solve_group`): no subset using one ever wins.
_PAD_BASE = 1e12


def _n_subsets(n: int, k: int) -> int:
    return sum(comb(k, s) for s in range(1, min(n, k) + 1))


@cache
def _combos(k: int, s: int) -> np.ndarray:
    return np.array(list(combinations(range(k), s)), dtype=np.int64).reshape(-1, s)


@dataclass
class OrderSolution:
    """Exact per-order minima at some prices."""

    value: float  # L(lam)
    order_value: np.ndarray  # min_o(lam) per order (dense order index), unfilled included
    choice: np.ndarray  # chosen candidate per stage line, -1 = unfilled
    usage: np.ndarray  # units per bin in the per-order optima
    relaxed_orders: int  # orders bounded by the relaxation instead of solved exactly


class LagrangianBound:
    """Precomputed order structure of a stage; `solve(lam)` evaluates L(lam)."""

    def __init__(self, p: StageProblem) -> None:
        self.p = p
        codes, dense = np.unique(p.order, return_inverse=True)
        self.n_orders = int(codes.size)
        self.line_order = dense.astype(np.int64)
        self.lines_per_order = np.bincount(self.line_order, minlength=self.n_orders)
        # Slot of each line inside its order (0..n-1).
        by_order = np.argsort(self.line_order, kind="stable")
        first = np.searchsorted(self.line_order[by_order], np.arange(self.n_orders))
        slot = np.empty(p.n_lines, dtype=np.int64)
        slot[by_order] = np.arange(p.n_lines) - first[self.line_order[by_order]]
        self.line_slot = slot
        self.u_line = p.lp_unfilled_penalty * p.q  # unfilled cost per line (discounted)
        self.cand_order = self.line_order[p.cand_line]
        self.cand_q = p.q[p.cand_line].astype(np.float64)
        self.n_loc = int(p.cand_loc.max()) + 1 if p.cand_loc.size else 1
        # Candidates sorted by (order, location), so that the kept ones group without a sort.
        pair_key = self.cand_order * self.n_loc + p.cand_loc
        self.by_pair = np.argsort(pair_key, kind="stable")
        self.by_pair_key = pair_key[self.by_pair]
        # Candidates are sorted by line: first candidate of each line (lines without any
        # candidate are skipped by the reductions).
        self.line_first = np.searchsorted(p.cand_line, np.arange(p.n_lines + 1))
        self.has_cand = np.flatnonzero(np.diff(self.line_first) > 0)

    def gains(self, lam: np.ndarray) -> np.ndarray:
        p = self.p
        return self.cand_q * (p.cand_unit_cost + lam[p.cand_bin]) - self.u_line[p.cand_line]

    def solve(self, lam: np.ndarray) -> OrderSolution:
        p = self.p
        split = p.split_penalty
        g = self.gains(lam)
        n_lines = p.n_lines
        # Window per line: tau_l = min(0, min_j g_lj + base_j + split).
        tau = np.zeros(n_lines)
        if self.has_cand.size:
            opened = np.minimum.reduceat(g + p.cand_base + split, self.line_first[self.has_cand])
            tau[self.has_cand] = np.minimum(opened, 0.0)
        keep_mask = ((g < 0) & (g <= tau[p.cand_line] + 1e-12))[self.by_pair]
        keep = self.by_pair[keep_mask]
        order_value = np.zeros(self.n_orders)
        choice = np.full(n_lines, -1, dtype=np.int64)
        relaxed = 0
        if keep.size:
            key = self.by_pair_key[keep_mask]
            new_pair = np.ones(key.size, dtype=bool)
            new_pair[1:] = key[1:] != key[:-1]
            inv = np.cumsum(new_pair) - 1
            ukey = key[new_pair]
            pair_order = ukey // self.n_loc
            pair_first = np.searchsorted(pair_order, np.arange(self.n_orders))
            n_pairs = np.bincount(pair_order, minlength=self.n_orders)
            pair_slot = np.arange(ukey.size) - pair_first[pair_order]
            pair_base = np.zeros(ukey.size)
            pair_base[inv] = p.cand_base[keep]
            n_l = self.lines_per_order
            group_key = n_l * 1_000_000 + n_pairs
            active = np.flatnonzero(n_pairs > 0)
            gk_sorted = np.argsort(group_key[active], kind="stable")
            active = active[gk_sorted]
            bounds = np.flatnonzero(np.diff(group_key[active])) + 1
            # Kept candidates grouped like the orders (stable: ascending order within a group).
            group_of_order = np.full(self.n_orders, -1, dtype=np.int64)
            group_of_order[active] = np.cumsum(np.isin(np.arange(active.size), bounds))
            kg = group_of_order[self.cand_order[keep]]
            by_group = np.argsort(kg, kind="stable")
            k_bounds = np.searchsorted(kg[by_group], np.arange(1, bounds.size + 1))
            for orders, sel in zip(
                np.split(active, bounds), np.split(by_group, k_bounds), strict=True
            ):
                n = int(n_l[orders[0]])
                k = int(n_pairs[orders[0]])
                relaxed += self._solve_group(
                    orders,
                    n,
                    k,
                    n_pairs[orders],
                    sel,
                    keep,
                    inv,
                    pair_first,
                    pair_slot,
                    pair_base,
                    g,
                    order_value,
                    choice,
                )
        order_value += np.bincount(self.line_order, weights=self.u_line, minlength=self.n_orders)
        chosen = choice >= 0
        usage = np.bincount(
            p.cand_bin[choice[chosen]], weights=p.q[chosen], minlength=p.bin_cap.size
        ).astype(np.float64)
        value = float(order_value.sum() - np.dot(lam, p.bin_cap))
        return OrderSolution(value, order_value, choice, usage, relaxed)

    def _solve_group(
        self,
        orders: np.ndarray,
        n: int,
        k: int,
        k_real: np.ndarray,
        sel: np.ndarray,
        keep: np.ndarray,
        inv: np.ndarray,
        pair_first: np.ndarray,
        pair_slot: np.ndarray,
        pair_base: np.ndarray,
        g: np.ndarray,
        order_value: np.ndarray,
        choice: np.ndarray,
    ) -> int:
        """Exact minima of `orders` (all with n lines and `k_real` <= k windowed locations;
        slots beyond an order's own locations have no candidate and a prohibitive base cost, so
        no subset using them ever wins)."""
        p = self.p
        split = p.split_penalty
        m = orders.size
        # Dense gains G[o, l, j] (0 = no useful candidate) and candidate ids; `sel` holds the
        # positions in `keep` of this group's candidates, `orders` is ascending.
        kc = keep[sel]
        o_loc = np.searchsorted(orders, self.cand_order[kc])
        l_slot = self.line_slot[p.cand_line[kc]]
        j_slot = pair_slot[inv[sel]]
        big_g = np.zeros((m, n, k))
        cand = np.full((m, n, k), -1, dtype=np.int64)
        big_g[o_loc, l_slot, j_slot] = g[kc]
        cand[o_loc, l_slot, j_slot] = kc
        slot = np.arange(k)[None, :]
        idx = np.minimum(pair_first[orders][:, None] + slot, pair_base.size - 1)
        base = np.where(slot < k_real[:, None], pair_base[idx], _PAD_BASE)
        if _n_subsets(n, k) > MAX_SUBSETS:
            # Valid relaxation: any nonempty S pays at least its cheapest base cost.
            lb = big_g.min(axis=2).sum(axis=1) + base.min(axis=1)
            order_value[orders] = np.minimum(lb, 0.0)
            # Choice (used only for prices and the primal heuristic): best single location.
            single = base + big_g.sum(axis=1)
            j = single.argmin(axis=1)
            take = big_g[np.arange(m), :, j] < 0
            line_ids = self._lines_of(orders, n)
            cj = cand[np.arange(m)[:, None], np.arange(n)[None, :], j[:, None]]
            choice[line_ids[take]] = cj[take]
            return m
        best = np.zeros(m)  # S empty
        best_s = np.zeros(m, dtype=np.int64)
        best_c = np.zeros(m, dtype=np.int64)
        line_min = big_g.min(axis=2).sum(axis=1)
        base_sorted = np.sort(base, axis=1)
        for s in range(1, min(n, k) + 1):
            lb = line_min + base_sorted[:, :s].sum(axis=1) + split * (s - 1)
            todo = np.flatnonzero(lb < best - 1e-12)
            if todo.size == 0:
                break
            combos = _combos(k, s)
            per = combos.shape[0] * n * s
            step = max(1, _CHUNK_ELEMENTS // per)
            for a in range(0, todo.size, step):
                rows = todo[a : a + step]
                gg = big_g[rows][:, :, combos]  # (r, n, c, s)
                cost = gg.min(axis=3).sum(axis=1) + base[rows][:, combos].sum(axis=2)
                cost += split * (s - 1)
                ci = cost.argmin(axis=1)
                cv = cost[np.arange(rows.size), ci]
                better = cv < best[rows]
                rb = rows[better]
                best[rb] = cv[better]
                best_s[rb] = s
                best_c[rb] = ci[better]
        order_value[orders] = best
        line_ids = self._lines_of(orders, n)
        for s in range(1, min(n, k) + 1):
            rows = np.flatnonzero(best_s == s)
            if rows.size == 0:
                continue
            locs = _combos(k, s)[best_c[rows]]  # (r, s)
            gg = big_g[rows[:, None, None], np.arange(n)[None, :, None], locs[:, None, :]]
            which = gg.argmin(axis=2)  # (r, n)
            jbest = locs[np.arange(rows.size)[:, None], which]
            take = gg.min(axis=2) < 0
            cj = cand[rows[:, None], np.arange(n)[None, :], jbest]
            choice[line_ids[rows][take]] = cj[take]
        return 0

    def _lines_of(self, orders: np.ndarray, n: int) -> np.ndarray:
        """Stage lines of `orders` as an (m, n) array indexed by slot."""
        if not hasattr(self, "_order_lines"):
            by = np.lexsort((self.line_slot, self.line_order))
            self._order_lines = by
            self._order_first = np.searchsorted(self.line_order[by], np.arange(self.n_orders))
        first = self._order_first[orders]
        out: np.ndarray = self._order_lines[first[:, None] + np.arange(n)[None, :]]
        return out


def strong_model_bound(
    p: StageProblem,
    integral: bool,
    time_limit: float = 60.0,
    true_unfilled: bool = False,
) -> tuple[float, float, np.ndarray]:
    """The stage as one model with shipment variables, solved by HiGHS: an independent check.

    Columns: x[c] units per candidate, u[l] unfilled units, y[k] per (order, location) pair
    (cost base + split, x[c] <= q y[k]) and z[o] <= min(1, sum_k y[k]) (credit -split, so an
    order pays split * (locations - 1)). `integral=False` gives the LP relaxation (a valid but
    weaker bound), `integral=True` the MIP (the optimum when HiGHS proves it). Returns
    (dual bound, primal objective, units per candidate of the best solution)."""
    import highspy

    n, nc, nb = p.n_lines, p.cand_line.size, p.bin_cap.size
    _, o_dense = np.unique(p.order, return_inverse=True)
    n_o = int(o_dense.max()) + 1 if n else 0
    n_loc = int(p.cand_loc.max()) + 1 if nc else 1
    ykeys, yinv = np.unique(o_dense[p.cand_line] * n_loc + p.cand_loc, return_inverse=True)
    ny = ykeys.size
    base_of_loc = np.zeros(n_loc)
    base_of_loc[p.cand_loc] = p.cand_base
    y_order = ykeys // n_loc
    # Rows: lines [0, n), bins [n, n+nb), links [n+nb, n+nb+nc), orders [.., + n_o).
    r_link = n + nb
    r_ord = r_link + nc
    x_cols = np.arange(nc)
    u0, y0, z0 = nc, nc + n, nc + n + ny
    rows = [p.cand_line, n + p.cand_bin, r_link + x_cols, np.arange(n)]
    cols = [x_cols, x_cols, x_cols, u0 + np.arange(n)]
    vals = [np.ones(nc), np.ones(nc), np.ones(nc), np.ones(n)]
    rows += [r_link + x_cols, r_ord + y_order, r_ord + np.arange(n_o)]
    cols += [y0 + yinv, y0 + np.arange(ny), z0 + np.arange(n_o)]
    vals += [-p.q[p.cand_line].astype(float), -np.ones(ny), np.ones(n_o)]
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    srt = np.lexsort((r, c))
    r, c, v = r[srt], c[srt], v[srt]
    ncol = nc + n + ny + n_o
    unfilled = p.unfilled_penalty if true_unfilled else p.lp_unfilled_penalty
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = r_ord + n_o
    lp.col_cost_ = np.concatenate(
        [
            p.cand_unit_cost,
            unfilled,
            base_of_loc[ykeys % n_loc] + p.split_penalty,
            np.full(n_o, -p.split_penalty),
        ]
    ).astype(np.float64)
    lp.col_lower_ = np.zeros(ncol)
    lp.col_upper_ = np.concatenate([p.q[p.cand_line], p.q, np.ones(ny), np.ones(n_o)]).astype(
        np.float64
    )
    inf = highspy.kHighsInf
    lp.row_lower_ = np.concatenate([p.q, np.full(nb + nc + n_o, -inf)]).astype(np.float64)
    lp.row_upper_ = np.concatenate([p.q, p.bin_cap, np.zeros(nc + n_o)]).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(c, np.arange(ncol + 1)).astype(np.int32)
    lp.a_matrix_.index_ = r.astype(np.int32)
    lp.a_matrix_.value_ = v.astype(np.float64)
    if integral:
        kinds = np.zeros(ncol, dtype=bool)
        kinds[:nc] = True
        kinds[y0:] = True
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
            for k in kinds.tolist()
        ]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", time_limit)
    if integral:
        h.setOptionValue("mip_rel_gap", 1e-9)
        h.setOptionValue("mip_abs_gap", 1e-7)
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    x = np.asarray(h.getSolution().col_value)[:nc]
    if integral:
        return float(info.mip_dual_bound), float(info.objective_function_value), np.round(x)
    return float(info.objective_function_value), float(info.objective_function_value), x
