"""Accuracy definitions of issue 12, so that figures are comparable across tools.

e = forecast - actual. MASE of a series over a horizon = mean |e| over the horizon / mean
|y_t - y_{t-7}| over that fit's training days (all calendar days, zero days included). Bias =
sum(e) / sum(actual), pooled. Overall MASE = mean over series with a non-zero scale.
"""

from __future__ import annotations

import numpy as np


def seasonal_scale(train: np.ndarray, season_length: int = 7) -> np.ndarray:
    """Mean |y_t - y_{t-m}| per column of a (days, series) training matrix, NaN-aware
    (pairs with a missing day are left out). NaN where no pair exists."""
    diff = np.abs(train[season_length:] - train[:-season_length])
    count = np.sum(~np.isnan(diff), axis=0)
    total = np.nansum(diff, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def scale_at_origins(values: np.ndarray, origins: list[int], season_length: int = 7) -> np.ndarray:
    """seasonal_scale of values[:o] for every origin o at once, (n_origins, n_series)."""
    diff = np.abs(values[season_length:] - values[:-season_length])
    ok = ~np.isnan(diff)
    csum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(np.where(ok, diff, 0.0), axis=0)])
    ccnt = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(ok, axis=0)])
    out = np.empty((len(origins), values.shape[1]))
    for k, o in enumerate(origins):
        j = max(o - season_length, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k] = np.where(ccnt[j] > 0, csum[j] / np.maximum(ccnt[j], 1), np.nan)
    return out


def mase(forecast: np.ndarray, actual: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per series MASE; forecast/actual are (horizon, series), scale (series,). NaN where the
    scale is zero or missing (such series are left out of the overall mean)."""
    mae = np.nanmean(np.abs(forecast - actual), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, mae / np.where(scale > 0, scale, 1.0), np.nan)


def bias(forecast: np.ndarray, actual: np.ndarray, axis: int | tuple[int, ...] = 0) -> np.ndarray:
    """Sum(e) / sum(actual) pooled over `axis`; NaN where there was no actual demand."""
    ok = ~np.isnan(actual) & ~np.isnan(forecast)
    err = np.where(ok, forecast - actual, 0.0).sum(axis=axis)
    act = np.where(ok, actual, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(act > 0, err / np.where(act > 0, act, 1.0), np.nan)


def overall_mase(per_series: np.ndarray) -> float:
    """Mean over series with a defined (non-zero-scale) MASE."""
    ok = ~np.isnan(per_series)
    return float(per_series[ok].mean()) if ok.any() else float("nan")
