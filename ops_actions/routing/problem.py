"""The numeric form of one routing stage (one inventory rule applied to its pending lines).

Built from the stage's lines and candidates; the solver and the greedy baseline both read it and
both return units per candidate, which `costs.evaluate` prices the same way for either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

# Lower-priority lines get their unfilled penalty discounted by at most this fraction, so that
# when stock is short the solver leaves the lowest-priority lines unfilled first. The discount
# only lowers costs, so the LP value stays a valid lower bound of the true objective.
PRIORITY_EPSILON = 1e-6


@dataclass
class StageProblem:
    """Arrays indexed by stage line (`q`, `order`, ...) or by candidate (`cand_*`)."""

    line_idx: np.ndarray  # global line index, per stage line
    order: np.ndarray  # order code, per stage line
    q: np.ndarray  # units to route, per stage line
    sku: np.ndarray  # sku code, per stage line
    rank: np.ndarray  # priority rank (0 = first), per stage line
    unfilled_penalty: np.ndarray  # per unit, per stage line (true cost)
    cand_line: np.ndarray  # stage line position, per candidate
    cand_loc: np.ndarray  # location code, per candidate
    cand_bin: np.ndarray  # (sku, location) bin, per candidate
    cand_unit_cost: np.ndarray  # shipping + handling + lateness per unit, per candidate
    cand_base: np.ndarray  # shipment base cost of the candidate's location
    cand_distance: np.ndarray
    bin_cap: np.ndarray  # units available per bin
    bin_sku: np.ndarray  # sku code per bin
    split_allowed: bool
    split_penalty: float

    @property
    def n_lines(self) -> int:
        return int(self.q.size)

    @property
    def lp_unfilled_penalty(self) -> np.ndarray:
        n = max(self.n_lines - 1, 1)
        return self.unfilled_penalty * (1.0 - PRIORITY_EPSILON * self.rank / n)


def build_problem(
    stage_lines: pl.DataFrame,
    cand: pl.DataFrame,
    unfilled_penalty: float,
    split_allowed: bool,
    split_penalty: float,
) -> tuple[StageProblem, pl.DataFrame, pl.DataFrame]:
    """Encode a stage. `stage_lines` must be sorted by priority and hold line_idx, order_id,
    sku, quantity. Returns the problem, the candidates with `cand_pos` (row order of the
    arrays) and the bins (sku, location_id, bin, cap)."""
    lines = stage_lines.with_row_index("pos").with_columns(
        pl.col("order_id").cast(pl.Categorical).to_physical().cast(pl.Int64).alias("order_code"),
    )
    cand = cand.join(lines.select("line_idx", "pos"), on="line_idx", how="inner")
    bins = (
        cand.select("sku", "location_id", "available")
        .unique(["sku", "location_id"])
        .sort("sku", "location_id")
        .with_row_index("bin")
    )
    sku_codes = pl.concat([lines.select("sku"), bins.select("sku")]).unique().sort("sku")
    sku_codes = sku_codes.with_row_index("sku_code")
    loc_codes = cand.select("location_id").unique().sort("location_id").with_row_index("loc_code")
    cand = (
        cand.join(bins.select("sku", "location_id", "bin"), on=["sku", "location_id"])
        .join(loc_codes, on="location_id")
        .sort("pos", "unit_cost", "location_id")
        .with_row_index("cand_pos")
    )
    lines = lines.join(sku_codes, on="sku", how="left").sort("pos")
    bins = bins.join(sku_codes, on="sku", how="left").sort("bin")
    n = lines.height
    problem = StageProblem(
        line_idx=lines["line_idx"].to_numpy().astype(np.int64),
        order=lines["order_code"].to_numpy(),
        q=lines["quantity"].to_numpy().astype(np.int64),
        sku=lines["sku_code"].to_numpy().astype(np.int64),
        rank=np.arange(n, dtype=np.float64),
        unfilled_penalty=np.full(n, unfilled_penalty),
        cand_line=cand["pos"].to_numpy().astype(np.int64),
        cand_loc=cand["loc_code"].to_numpy().astype(np.int64),
        cand_bin=cand["bin"].to_numpy().astype(np.int64),
        cand_unit_cost=cand["unit_cost"].to_numpy(),
        cand_base=cand["shipment_base_cost"].to_numpy(),
        cand_distance=cand["distance_km"].to_numpy(),
        bin_cap=bins["available"].to_numpy().astype(np.int64),
        bin_sku=bins["sku_code"].to_numpy().astype(np.int64),
        split_allowed=split_allowed,
        split_penalty=split_penalty,
    )
    return problem, cand, bins
