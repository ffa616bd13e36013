"""The objective: what a stage's assignment costs, split into its parts.

total = shipping + handling + lateness            (per unit, per candidate)
      + shipment base cost per (order, location) used
      + split penalty per extra shipment of an order (locations used - 1)
      + unfilled penalty per unit left unrouted
The solver, the greedy baseline and the bench all price assignments with `evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ops_actions.routing.problem import StageProblem


@dataclass
class CostParts:
    variable: float = 0.0  # shipping + handling + lateness
    base: float = 0.0
    split: float = 0.0
    unfilled: float = 0.0

    @property
    def total(self) -> float:
        return self.variable + self.base + self.split + self.unfilled

    def __add__(self, other: CostParts) -> CostParts:
        return CostParts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        d = {f.name: round(getattr(self, f.name), 4) for f in fields(self)}
        d["total"] = round(self.total, 4)
        return d


def shipments(p: StageProblem, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (order, location) pairs that ship units: arrays of order codes, location codes."""
    active = units > 0
    if not active.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pairs = np.unique(np.stack([p.order[p.cand_line[active]], p.cand_loc[active]], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def evaluate(p: StageProblem, units: np.ndarray) -> CostParts:
    """Exact cost of assigning `units` per candidate in stage `p`."""
    filled = np.bincount(p.cand_line, weights=units, minlength=p.n_lines)
    variable = float(np.dot(units, p.cand_unit_cost))
    active = units > 0
    base = 0.0
    split = 0.0
    if active.any():
        orders, locs = shipments(p, units)
        base_of_loc = np.zeros(int(p.cand_loc.max()) + 1)
        base_of_loc[p.cand_loc] = p.cand_base
        base = float(base_of_loc[locs].sum())
        per_order = np.unique(orders, return_counts=True)[1]
        split = float(p.split_penalty * (per_order - 1).sum())
    unfilled = float(np.dot(p.q - filled, p.unfilled_penalty))
    return CostParts(variable=variable, base=base, split=split, unfilled=unfilled)


def check_feasible(p: StageProblem, units: np.ndarray) -> None:
    """Raise if an assignment oversells a bin or over-fills a line (a bug, never data)."""
    used = np.bincount(p.cand_bin, weights=units, minlength=p.bin_cap.size)
    if (used > p.bin_cap + 1e-9).any():
        raise AssertionError("assignment exceeds available stock")
    filled = np.bincount(p.cand_line, weights=units, minlength=p.n_lines)
    if (filled > p.q + 1e-9).any() or (units < 0).any():
        raise AssertionError("assignment over-fills a line")
