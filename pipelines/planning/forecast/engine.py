"""forecast_series: per-series method selection by rolling-origin backtest, with intervals.

All series are one (days, series) matrix; every candidate (a method and a point of its small
parameter grid, methods.candidate_grid) is run once for all series and scored per series, so
the cost grows with candidates x days, not with a Python loop over series.

Backtest: origins o_k = T - horizon - k*step (k = 0..backtest_windows-1, step = the horizon
split over the windows, rounded to whole weeks), each scored on the full horizon after it.
A series uses the origins with at least MIN_TRAIN_DAYS of its own history before them. The score
of a candidate is its mean MASE over those origins (scale of each origin = mean |y_t - y_{t-7}|
over the days before it); the lowest score among the candidates its demand class allows is the
pick, then refitted on all days (the states at the last day) for the forecast. Series without
a usable origin get a fixed fallback (SES alpha 0.1, or TSB for sparse classes) and NaN MASE.

Intervals (empirical, from the pick's own backtest errors): the errors are divided by a horizon
factor f(step) (RMS error at that step / RMS error over all steps, pooled over series, made
non-decreasing), the per-series quantiles of those scaled residuals (actual - forecast) are
taken at (1-level)/2 and (1+level)/2, and the interval at a step is forecast + f(step) * quantile,
cut at zero. Fallback series use a normal interval with sigma = std of their observed days.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from pipelines.planning.forecast import methods as m
from pipelines.planning.forecast.classify import CLASSES, classify
from pipelines.planning.forecast.matrix import DemandInputError, DemandMatrix, to_matrix
from pipelines.planning.forecast.metrics import bias, scale_at_origins

MIN_TRAIN_DAYS = 28
# Another candidate replaces the default (the first candidate of the grid a class allows) only
# when its backtest score is this much lower: with dozens of candidates and a few origins the
# plain minimum chases noise (measured on the UCI series, docs/forecasting.md).
SWITCH_MARGIN = 0.2
# When another candidate does replace the default, forecast the mean of the two: the backtest
# has a few origins only, and the combination lost less where the switch was wrong than it gave
# up where it was right (UCI and generated series, docs/forecasting.md).
COMBINE_WITH_DEFAULT = True
# The point forecast for an absolute-error measure (MASE) is the median of a day's demand, not
# its mean; for lumpy daily demand the median is far below the mean. Per series, the point
# forecast is the mean forecast times the factor of this grid with the least backtest MAE.
# The floor keeps the point forecast of a product that sells above zero (measured on the
# UCI 2009-10 file as the tuning set, docs/forecasting.md).
POINT_FACTORS = tuple(round(0.2 + 0.1 * k, 1) for k in range(9))
FALLBACK = {0: m.Method("ses", {"alpha": 0.1}), 1: m.Method("ses", {"alpha": 0.1})}
FALLBACK_SPARSE = m.Method("tsb", {"alpha": 0.05, "beta": 0.05})


@dataclass(frozen=True)
class ForecastResult:
    # series_id, date, step, forecast (mean), point_forecast, lo_80, hi_80, lo_95, hi_95
    forecasts: pl.DataFrame
    # series_id, demand_class, adi, cv2, method, method_params, mase, ..., point_factor
    selection: pl.DataFrame


def backtest_origins(n_days: int, horizon: int, windows: int) -> list[int]:
    """Rolling origins (grid day indices), latest first; those leaving no training days dropped."""
    step = m.SEASON * max(1, round(horizon / (m.SEASON * windows)))
    return [o for o in (n_days - horizon - k * step for k in range(windows)) if o > 0]


def _quantile_rows(a: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated quantile of each column of a, ignoring NaN (NaN if none)."""
    srt = np.sort(a, axis=0)  # NaN sort last
    k = np.sum(~np.isnan(a), axis=0)
    pos = q * np.maximum(k - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
    cols = np.arange(a.shape[1])
    frac = pos - lo
    val = srt[lo, cols] * (1 - frac) + srt[hi, cols] * frac
    return np.where(k > 0, val, np.nan)


def _point_factors(err: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per series, the factor of POINT_FACTORS whose multiple of the backtest forecasts
    (err + actual, NaN outside usable origins) has the least mean absolute error; 1.0 where
    the backtest has no usable day."""
    pred = err + actual
    maes = np.stack([np.nanmean(np.abs(c * pred - actual), axis=(0, 1)) for c in POINT_FACTORS])
    known = np.isfinite(maes).all(axis=0)
    pick = np.argmin(np.where(np.isfinite(maes), maes, np.inf), axis=0)
    return np.where(known, np.asarray(POINT_FACTORS)[pick], 1.0)


def forecast_matrix(*args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
    """The engine on a DemandMatrix; arrays keyed by name (see forecast_series for the frames).
    Series with no observed day in a window make NaN means there, which the code handles."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return _forecast_matrix(*args, **kwargs)


def _forecast_matrix(
    mat: DemandMatrix,
    horizon: int = 56,
    backtest_windows: int = 3,
    levels: tuple[int, ...] = (80, 95),
    grid: list[m.Method] | None = None,
    margin: float = SWITCH_MARGIN,
    combine: bool = COMBINE_WITH_DEFAULT,
) -> dict[str, np.ndarray]:
    values, start, n_days = mat.values, mat.start, mat.n_days
    n = mat.n_series
    grid = grid or m.candidate_grid()
    code, adi, cv2 = classify(values)
    origins = backtest_origins(n_days, horizon, backtest_windows)
    w = len(origins)
    all_origins = [*origins, n_days]
    actual = (
        np.stack([values[o : o + horizon] for o in origins]) if w else np.empty((0, horizon, n))
    )
    scale = scale_at_origins(values, origins) if w else np.empty((0, n))
    usable = (
        (np.asarray(origins)[:, None] - start[None, :] >= MIN_TRAIN_DAYS)
        & np.any(~np.isnan(actual), axis=1)
        if w
        else np.zeros((0, n), dtype=bool)
    )
    rank_scale = np.where(scale > 0, scale, 1.0)
    n_usable = usable.sum(axis=0)

    best = np.full(n, np.inf)
    best_default = np.full(n, np.inf)
    default_idx = np.full(n, -1, dtype=np.int64)
    default_err = np.full((w, horizon, n), np.nan)
    default_fc = np.zeros((horizon, n))
    best_idx = np.full(n, -1, dtype=np.int64)
    best_err = np.full((w, horizon, n), np.nan)
    best_fc = np.zeros((horizon, n))
    fallback_fc: dict[str, np.ndarray] = {}
    fallback_labels = {FALLBACK[0].label(), FALLBACK_SPARSE.label()}
    adjusted = m.weekday_adjust(values, start, all_origins)
    for i, cand in enumerate(grid):
        paths = m.run(cand, values, start, all_origins, horizon, adjusted)
        if cand.label() in fallback_labels:
            fallback_fc[cand.label()] = paths[w]
        if not w:
            continue
        err = paths[:w] - actual
        mae = np.nanmean(np.abs(err), axis=1)
        score = np.where(usable, mae / rank_scale, 0.0).sum(axis=0) / np.maximum(n_usable, 1)
        allowed = np.isin(code, m.allowed_classes(cand))
        score = np.where(allowed & (n_usable > 0), score, np.inf)
        first = np.isinf(best) & np.isfinite(score)
        better = first | (score < best_default * (1 - margin)) & (score < best)
        best_default = np.where(first, score, best_default)
        default_idx = np.where(first, i, default_idx)
        if combine:
            default_err = np.where(first[None, None, :], err, default_err)
            default_fc = np.where(first[None, :], paths[w], default_fc)
        best = np.where(better, score, best)
        best_idx = np.where(better, i, best_idx)
        best_err = np.where(better[None, None, :], err, best_err)
        best_fc = np.where(better[None, :], paths[w], best_fc)

    if combine:
        best_err = 0.5 * (best_err + default_err)
        best_fc = 0.5 * (best_fc + default_fc)
    picked = best_idx >= 0
    sparse = code >= 2
    for label, mask in (
        (FALLBACK[0].label(), ~picked & ~sparse),
        (FALLBACK_SPARSE.label(), ~picked & sparse),
    ):
        if mask.any():
            fc = fallback_fc.get(label)
            if fc is None:  # a custom grid without the fallback
                meth = FALLBACK[0] if label == FALLBACK[0].label() else FALLBACK_SPARSE
                fc = m.run(meth, values, start, [n_days], horizon)[0]
            best_fc = np.where(mask[None, :], fc, best_fc)

    # accuracy of the pick over its usable origins
    err_ok = np.where(usable[:, None, :], best_err, np.nan)
    mae_o = np.nanmean(np.abs(err_ok), axis=1) if w else np.empty((0, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        mase_o = np.where(usable & (scale > 0), mae_o / rank_scale, np.nan)
        n_def = np.sum(~np.isnan(mase_o), axis=0)
        mase = np.where(n_def > 0, np.nansum(mase_o, axis=0) / np.maximum(n_def, 1), np.nan)
    act_ok = np.where(usable[:, None, :], actual, np.nan)
    bias_pick = bias(err_ok + act_ok, act_ok, axis=(0, 1)) if w else np.full(n, np.nan)
    sigma = np.sqrt(np.nanmean(err_ok**2, axis=(0, 1))) if w else np.full(n, np.nan)
    obs_std = np.nanstd(np.where(np.isnan(values), np.nan, values), axis=0)
    sigma = np.where(picked & ~np.isnan(sigma), sigma, np.nan_to_num(obs_std))

    point_factor = _point_factors(err_ok, act_ok) if w else np.ones(n)
    point_factor = np.where(picked, point_factor, 1.0)

    # horizon factor and empirical intervals
    factor = np.ones(horizon)
    if w and picked.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = err_ok[:, :, picked] ** 2 / (sigma[picked] ** 2)[None, None, :]
        rel = np.where(np.isfinite(rel), rel, np.nan)
        per_step = np.sqrt(np.nanmean(rel, axis=(0, 2)))
        per_step = np.where(np.isnan(per_step), 1.0, per_step)
        factor = np.maximum.accumulate(np.maximum(per_step, 1e-9))
    resid = -(err_ok / factor[None, :, None]).reshape(w * horizon, n)
    out: dict[str, np.ndarray] = {
        "forecast": np.maximum(best_fc, 0.0),
        "point": np.maximum(best_fc, 0.0) * point_factor[None, :],
        "point_factor": point_factor,
        "code": code,
        "adi": adi,
        "cv2": cv2,
        "method_idx": best_idx,
        "combined_with": np.where(combine & (best_idx != default_idx), default_idx, -1),
        "mase": mase,
        "bias": bias_pick,
        "sigma": sigma,
        "factor": factor,
    }
    for level in levels:
        lo_q, hi_q = (1 - level / 100) / 2, (1 + level / 100) / 2
        z = NormalDist().inv_cdf(hi_q)
        q_lo = _quantile_rows(resid, lo_q) if w else np.full(n, np.nan)
        q_hi = _quantile_rows(resid, hi_q) if w else np.full(n, np.nan)
        use_emp = picked & ~np.isnan(q_lo)
        q_lo = np.where(use_emp, q_lo, -z * sigma)
        q_hi = np.where(use_emp, q_hi, z * sigma)
        fc = out["forecast"]
        out[f"lo_{level}"] = np.clip(fc + factor[:, None] * np.minimum(q_lo, 0)[None, :], 0, None)
        out[f"hi_{level}"] = fc + factor[:, None] * np.maximum(q_hi, 0)[None, :]
    return out


def forecast_series(
    demand: pl.DataFrame,
    horizon: int = 56,
    season_length: int = 7,
    backtest_windows: int = 3,
    levels: tuple[int, ...] = (80, 95),
) -> ForecastResult:
    """Forecast every series of a daily demand table (see the module docstring and
    docs/forecasting.md). demand: series_id, date, units, optional is_stockout."""
    if season_length != m.SEASON:
        raise DemandInputError(f"only a weekly season (7) is supported, not {season_length}")
    if horizon < 1:
        raise DemandInputError(f"horizon must be at least 1 day, not {horizon}")
    if backtest_windows < 1:
        raise DemandInputError(f"backtest_windows must be at least 1, not {backtest_windows}")
    if any(not 0 < lv < 100 for lv in levels):
        raise DemandInputError(f"interval levels are percentages between 0 and 100: {levels}")
    mat = to_matrix(demand)
    grid = m.candidate_grid()
    res = forecast_matrix(mat, horizon, backtest_windows, levels, grid)
    return to_frames(mat, res, grid, horizon, levels)


def to_frames(
    mat: DemandMatrix,
    res: dict[str, np.ndarray],
    grid: list[m.Method],
    horizon: int,
    levels: tuple[int, ...],
) -> ForecastResult:
    n = mat.n_series
    ids = np.asarray(mat.series_ids, dtype=object)
    last = mat.first_day + timedelta(days=mat.n_days - 1)
    steps = np.arange(1, horizon + 1)
    dates = pl.date_range(
        last + timedelta(days=1), last + timedelta(days=horizon), "1d", eager=True
    )
    cols: dict[str, object] = {
        "series_id": pl.Series(np.repeat(ids, horizon), dtype=pl.String),
        "date": pl.Series(dates).gather(np.tile(steps - 1, n)),
        "step": pl.Series(np.tile(steps, n), dtype=pl.Int32),
        "forecast": res["forecast"].T.reshape(-1),
        "point_forecast": res["point"].T.reshape(-1),
    }
    for level in levels:
        cols[f"lo_{level}"] = res[f"lo_{level}"].T.reshape(-1)
        cols[f"hi_{level}"] = res[f"hi_{level}"].T.reshape(-1)
    forecasts = pl.DataFrame(cols)
    method, params = method_names(res, grid)
    selection = pl.DataFrame(
        {
            "series_id": pl.Series(ids, dtype=pl.String),
            "demand_class": pl.Series(
                np.asarray(CLASSES, dtype=object)[res["code"]], dtype=pl.String
            ),
            "adi": res["adi"],
            "cv2": res["cv2"],
            "method": pl.Series(method, dtype=pl.String),
            "method_params": pl.Series(params, dtype=pl.String),
            "mase": res["mase"],
            "bias": res["bias"],
            "sigma": res["sigma"],
            "mean_daily": res["forecast"].mean(axis=0),
            "point_factor": res["point_factor"],
            "n_days": pl.Series(mat.n_days - mat.start, dtype=pl.Int32),
        }
    ).with_columns(pl.col("adi", "cv2", "mase", "bias").fill_nan(None))
    return ForecastResult(forecasts, selection)


def method_names(res: dict[str, np.ndarray], grid: list[m.Method]) -> tuple[np.ndarray, np.ndarray]:
    """Per series: the method name ("a+b" for the mean of the pick a and the default b, the
    fallback's name for series without a usable origin) and its parameters in words."""
    idx, other = res["method_idx"], res["combined_with"]
    names = np.array([c.name for c in grid], dtype=object)
    labels = np.array([c.label() for c in grid], dtype=object)
    pick, dflt = np.maximum(idx, 0), np.maximum(other, 0)
    combined = other >= 0
    name = np.where(combined, names[pick] + "+" + names[dflt], names[pick])
    label = np.where(combined, "mean of " + labels[pick] + " and " + labels[dflt], labels[pick])
    sparse = res["code"] >= 2
    fb_name = np.where(sparse, FALLBACK_SPARSE.name, FALLBACK[0].name)
    fb_label = np.where(sparse, FALLBACK_SPARSE.label(), FALLBACK[0].label())
    fb_label = np.char.add(np.asarray(fb_label, dtype=str), " (fallback: no usable origin)")
    return np.where(idx >= 0, name, fb_name), np.where(idx >= 0, label, fb_label)
