"""The baseline to beat: nearest location with stock, lines in priority order.

Same eligibility as the solver (it reads the same stage problem). A line takes all its units
from the nearest location that holds them; if none does and the rule allows splitting, it takes
what the nearest locations hold, nearest first. With `split: not_allowed` an order goes to the
nearest location that holds every line, or stays unfilled.
"""

from __future__ import annotations

import numpy as np

from ops_actions.routing.problem import StageProblem


def greedy_stage(p: StageProblem) -> np.ndarray:
    """Units per candidate chosen by the nearest-location-with-stock heuristic."""
    units = np.zeros(p.cand_line.size, dtype=np.int64)
    if p.cand_line.size == 0:
        return units
    residual = p.bin_cap.astype(np.int64).tolist()
    by_distance = np.lexsort((p.cand_distance, p.cand_line))
    starts = np.searchsorted(p.cand_line[by_distance], np.arange(p.n_lines + 1))
    cand_of_line = [by_distance[starts[i] : starts[i + 1]].tolist() for i in range(p.n_lines)]
    bins = p.cand_bin.tolist()
    q = p.q.tolist()
    out = units.tolist()
    if p.split_allowed:
        for line in range(p.n_lines):  # stage lines are already in priority order
            cands = cand_of_line[line]
            need = q[line]
            full = next((c for c in cands if residual[bins[c]] >= need), None)
            if full is not None:
                out[full] = need
                residual[bins[full]] -= need
                continue
            for c in cands:
                take = min(need, residual[bins[c]])
                if take > 0:
                    out[c] += take
                    residual[bins[c]] -= take
                    need -= take
                if need == 0:
                    break
        return np.asarray(out, dtype=np.int64)

    locs = p.cand_loc.tolist()
    dist = p.cand_distance.tolist()
    order_lines: dict[int, list[int]] = {}
    for line, o in enumerate(p.order.tolist()):
        order_lines.setdefault(o, []).append(line)
    for lines in order_lines.values():  # first-seen order = priority order
        per_line = [{locs[c]: c for c in cand_of_line[ln]} for ln in lines]
        common = set.intersection(*(set(m) for m in per_line))
        for k in sorted(common, key=lambda k: dist[per_line[0][k]]):
            per_bin: dict[int, int] = {}
            for ln, m in zip(lines, per_line, strict=True):
                per_bin[bins[m[k]]] = per_bin.get(bins[m[k]], 0) + q[ln]
            if all(residual[b] >= n for b, n in per_bin.items()):
                for ln, m in zip(lines, per_line, strict=True):
                    out[m[k]] = q[ln]
                for b, n in per_bin.items():
                    residual[b] -= n
                break
    return np.asarray(out, dtype=np.int64)
