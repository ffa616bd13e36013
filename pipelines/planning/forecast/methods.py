"""Forecasting methods, each vectorised over all series of a DemandMatrix.

Every method walks the days once (one numpy update of all series per day), records its state
at each requested origin o (the state after seeing days 0..o-1) and returns the forecast paths
from those origins: an array (n_origins, horizon, n_series). Unobserved days (NaN: before a
series starts, stockouts) leave the state unchanged. Forecasts are never negative.

State initialisation uses the first days of each series only (which are always training days
for every origin the engine uses): level = mean of the first 7 observed days, seasonal offsets
= day-of-week means of the first 14 days minus that level, Croston/TSB sizes from the first 28.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SEASON = 7


@dataclass(frozen=True)
class Method:
    """One candidate: a method name and its smoothing parameters."""

    name: str
    params: dict[str, float] = field(default_factory=dict)

    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ",".join(f"{k}={v:g}" for k, v in self.params.items()) + ")"


def _window(values: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """The first `length` grid days of each series, (length, n_series) (NaN past the grid)."""
    idx = start[None, :] + np.arange(length)[:, None]
    inside = idx < values.shape[0]
    out = values[np.minimum(idx, values.shape[0] - 1), np.arange(values.shape[1])[None, :]]
    return np.where(inside, out, np.nan)


def _nanmean0(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """nanmean that gives 0 (not a warning and NaN) where nothing was observed."""
    ok = ~np.isnan(a)
    return np.where(ok, a, 0.0).sum(axis=axis) / np.maximum(ok.sum(axis=axis), 1)


def _init_level(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    return _nanmean0(_window(values, start, SEASON))


def _recorder(origins: list[int]) -> dict[int, list[int]]:
    """origin day -> positions in the output, so several equal origins work too."""
    at: dict[int, list[int]] = {}
    for k, o in enumerate(origins):
        at.setdefault(o, []).append(k)
    return at


def ses(
    values: np.ndarray, start: np.ndarray, origins: list[int], horizon: int, alpha: float
) -> np.ndarray:
    """Simple exponential smoothing: l_t = l_{t-1} + alpha (y_t - l_{t-1}); flat forecast l."""
    n_days, n = values.shape
    level = np.full(n, np.nan)
    init = _init_level(values, start)
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        for k in at.get(t, ()):
            out[k] = np.nan_to_num(level)[None, :]
        if t == n_days:
            break
        y = values[t]
        level = np.where(np.isnan(level) & (t >= start), init, level)
        level = np.where(np.isnan(y), level, level + alpha * (y - level))
    return np.maximum(out, 0.0)


def holt_damped(
    values: np.ndarray,
    start: np.ndarray,
    origins: list[int],
    horizon: int,
    alpha: float,
    beta: float,
    phi: float,
) -> np.ndarray:
    """Additive damped trend: l_t = a y + (1-a)(l + phi b), b_t = beta (l_t - l_{t-1}) +
    (1-beta) phi b; forecast l + (phi + .. + phi^h) b."""
    n_days, n = values.shape
    level = np.full(n, np.nan)
    trend = np.zeros(n)
    init = _init_level(values, start)
    damp = np.cumsum(phi ** np.arange(1, horizon + 1))[:, None]
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        for k in at.get(t, ()):
            out[k] = np.nan_to_num(level)[None, :] + damp * trend[None, :]
        if t == n_days:
            break
        y = values[t]
        level = np.where(np.isnan(level) & (t >= start), init, level)
        obs = ~np.isnan(y)
        new_level = alpha * y + (1 - alpha) * (level + phi * trend)
        new_trend = beta * (new_level - level) + (1 - beta) * phi * trend
        level = np.where(obs, new_level, level)
        trend = np.where(obs, new_trend, trend)
    return np.maximum(out, 0.0)


def seasonal_es(
    values: np.ndarray,
    start: np.ndarray,
    origins: list[int],
    horizon: int,
    alpha: float,
    gamma: float,
) -> np.ndarray:
    """Additive weekly-seasonal exponential smoothing (ETS(A,N,A) recursions):
    l_t = a (y - s_{t-7}) + (1-a) l, s_t = g (y - l_t) + (1-g) s_{t-7}; forecast l + s."""
    n_days, n = values.shape
    first = _window(values, start, 2 * SEASON)
    init_level = _nanmean0(first)
    dow_first = (start[None, :] + np.arange(2 * SEASON)[:, None]) % SEASON
    init_season = np.zeros((SEASON, n))
    for d in range(SEASON):
        sel = np.where(dow_first == d, first, np.nan)
        ok = ~np.isnan(sel)
        init_season[d] = np.where(ok.any(axis=0), _nanmean0(sel) - init_level, 0.0)
    level = np.full(n, np.nan)
    season = init_season.copy()
    steps = np.arange(horizon)
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        for k in at.get(t, ()):
            out[k] = np.nan_to_num(level)[None, :] + season[(t + steps) % SEASON]
        if t == n_days:
            break
        y = values[t]
        level = np.where(np.isnan(level) & (t >= start), init_level, level)
        d = t % SEASON
        obs = ~np.isnan(y)
        s = season[d]
        new_level = alpha * (y - s) + (1 - alpha) * level
        season[d] = np.where(obs, gamma * (y - new_level) + (1 - gamma) * s, s)
        level = np.where(obs, new_level, level)
    started = (np.asarray(origins)[:, None] > start[None, :])[:, None, :]
    return np.where(started, np.maximum(out, 0.0), 0.0)


def croston_sba(
    values: np.ndarray, start: np.ndarray, origins: list[int], horizon: int, alpha: float
) -> np.ndarray:
    """Croston with the Syntetos-Boylan correction: on demand days z += a (y - z), p += a (q - p)
    (q = days since the previous demand, the first demand's q counted from the series start);
    forecast (1 - a/2) z / p. Zero before the first demand."""
    n_days, n = values.shape
    size = np.full(n, np.nan)
    interval = np.full(n, np.nan)
    since = np.zeros(n)
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        for k in at.get(t, ()):
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = np.where(np.isnan(size), 0.0, (1 - alpha / 2) * size / interval)
            out[k] = rate[None, :]
        if t == n_days:
            break
        y = values[t]
        obs = ~np.isnan(y)
        since = since + obs
        demand = obs & (y > 0)
        fresh = demand & np.isnan(size)
        size = np.where(fresh, y, np.where(demand, size + alpha * (y - size), size))
        interval = np.where(
            fresh, since, np.where(demand, interval + alpha * (since - interval), interval)
        )
        since = np.where(demand, 0.0, since)
    return out


def tsb(
    values: np.ndarray,
    start: np.ndarray,
    origins: list[int],
    horizon: int,
    alpha: float,
    beta: float,
) -> np.ndarray:
    """Teunter-Syntetos-Babai: every observed day p += b (1[y>0] - p); on demand days
    z += a (y - z); forecast p z. Initial p and z from the first 28 days."""
    n_days, n = values.shape
    first = _window(values, start, 4 * SEASON)
    ok = ~np.isnan(first)
    pos = ok & (first > 0)
    init_p = pos.sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    init_z = np.where(pos, first, 0.0).sum(axis=0) / np.maximum(pos.sum(axis=0), 1)
    prob = np.full(n, np.nan)
    size = np.full(n, np.nan)
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        for k in at.get(t, ()):
            out[k] = np.nan_to_num(prob * size)[None, :]
        if t == n_days:
            break
        y = values[t]
        begin = np.isnan(prob) & (t >= start)
        prob = np.where(begin, init_p, prob)
        size = np.where(begin, init_z, size)
        obs = ~np.isnan(y)
        demand = obs & (y > 0)
        prob = np.where(obs, prob + beta * (demand - prob), prob)
        size = np.where(demand, np.where(size > 0, size + alpha * (y - size), y), size)
    return out


def dow_profile(
    values: np.ndarray,
    start: np.ndarray,
    origins: list[int],
    horizon: int,
    weeks: float,
    profile_weeks: float = 12,
) -> np.ndarray:
    """Level x day-of-week profile: level = mean of the last `weeks` whole weeks; profile =
    each weekday's mean over the last `profile_weeks` weeks / the mean of those weeks."""
    n = values.shape[1]
    w, pw = int(weeks) * SEASON, int(profile_weeks) * SEASON
    steps = np.arange(horizon)
    out = np.empty((len(origins), horizon, n))
    for k, o in enumerate(origins):
        level = _nanmean0(values[max(o - w, 0) : o])
        recent = values[max(o - pw, 0) : o]
        days = np.arange(max(o - pw, 0), o) % SEASON
        overall = _nanmean0(recent)
        profile = np.ones((SEASON, n))
        for d in range(SEASON):
            day_mean = _nanmean0(recent[days == d])
            profile[d] = np.where(overall > 0, day_mean / np.where(overall > 0, overall, 1), 1.0)
        out[k] = level[None, :] * profile[(o + steps) % SEASON]
    return out


def seasonal_naive(
    values: np.ndarray, start: np.ndarray, origins: list[int], horizon: int
) -> np.ndarray:
    """Repeat the last observed week: forecast of day o+i = y_{o-7+(i mod 7)} (missing -> 0)."""
    steps = np.arange(horizon)
    out = np.empty((len(origins), horizon, values.shape[1]))
    for k, o in enumerate(origins):
        idx = o - SEASON + steps % SEASON
        out[k] = np.nan_to_num(values[np.maximum(idx, 0)]) * (idx >= 0)[:, None]
    return out


def weekday_ses(
    values: np.ndarray, start: np.ndarray, origins: list[int], horizon: int, alpha: float
) -> np.ndarray:
    """One SES level per weekday, each updated on its own weekday only; forecast of a day =
    the level of its weekday (initial levels: that weekday's mean over the first 14 days)."""
    n_days, n = values.shape
    init = _weekday_means(values, start)
    level = np.full((SEASON, n), np.nan)
    steps = np.arange(horizon)
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        for k in at.get(t, ()):
            out[k] = np.nan_to_num(level[(t + steps) % SEASON])
        if t == n_days:
            break
        y = values[t]
        begin = np.isnan(level[0]) & (t >= start)
        level = np.where(begin[None, :], init, level)
        d = t % SEASON
        level[d] = np.where(np.isnan(y), level[d], level[d] + alpha * (y - level[d]))
    return np.maximum(out, 0.0)


FIT_ALPHAS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9)


def weekday_ses_fit(
    values: np.ndarray, start: np.ndarray, origins: list[int], horizon: int
) -> np.ndarray:
    """Weekday SES with alpha fitted per series and weekday: of FIT_ALPHAS, the one with the
    least in-sample squared one-step error on that weekday's days before the origin."""
    n_days, n = values.shape
    init = _weekday_means(values, start)
    alphas = np.asarray(FIT_ALPHAS)[:, None, None]
    level = np.full((len(FIT_ALPHAS), SEASON, n), np.nan)
    sse = np.zeros((len(FIT_ALPHAS), SEASON, n))
    steps = np.arange(horizon)
    at = _recorder(origins)
    out = np.empty((len(origins), horizon, n))
    for t in range(n_days + 1):
        if t in at:
            best = np.argmin(sse, axis=0)  # (7, n): first (smallest) alpha on ties
            chosen = np.nan_to_num(np.take_along_axis(level, best[None], axis=0)[0])
            for k in at[t]:
                out[k] = chosen[(t + steps) % SEASON]
        if t == n_days:
            break
        y = values[t]
        begin = np.isnan(level[0, 0]) & (t >= start)
        level = np.where(begin[None, None, :], init[None], level)
        d = t % SEASON
        obs = ~np.isnan(y)
        err = y[None, :] - level[:, d]
        sse[:, d] += np.where(obs[None, :] & ~np.isnan(err), err**2, 0.0)
        level[:, d] = np.where(obs[None, :], level[:, d] + alphas[:, 0] * err, level[:, d])
    return np.maximum(out, 0.0)


def _weekday_means(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Mean of each weekday (grid day mod 7) over each series' first 14 days, (7, n_series);
    a weekday not observed there gets the mean of the observed days."""
    first = _window(values, start, 2 * SEASON)
    overall = _nanmean0(first)
    dow = (start[None, :] + np.arange(2 * SEASON)[:, None]) % SEASON
    out = np.empty((SEASON, values.shape[1]))
    for d in range(SEASON):
        sel = np.where(dow == d, first, np.nan)
        out[d] = np.where((~np.isnan(sel)).any(axis=0), _nanmean0(sel), overall)
    return out


CLOSED_SHARE = 0.05  # a weekday below 5 % of the average day is a closed day


@dataclass(frozen=True)
class WeekdayAdjusted:
    """Demand divided by an online weekday profile, and the profile at each origin.

    The profile is M_d / mean(M) where M_d is an exponentially smoothed mean of weekday d
    (weight `gamma` per occurrence), updated after the day is adjusted, so an adjusted day
    only uses the past. Days of a weekday with a profile under CLOSED_SHARE (a shop closed
    on Saturdays) are unobserved in the adjusted series."""

    values: np.ndarray  # (n_days, n_series)
    profiles: np.ndarray  # (n_origins, 7, n_series)
    origins: tuple[int, ...]


def weekday_adjust(
    values: np.ndarray, start: np.ndarray, origins: list[int], gamma: float = 0.1
) -> WeekdayAdjusted:
    n_days, n = values.shape
    init = _weekday_means(values, start)
    means = np.full((SEASON, n), np.nan)
    adjusted = np.full_like(values, np.nan)
    at = _recorder(origins)
    profiles = np.ones((len(origins), SEASON, n))

    def profile() -> np.ndarray:
        avg = np.nanmean(means, axis=0) if not np.isnan(means).all() else np.zeros(n)
        ok = avg > 0
        return np.where(ok[None, :], means / np.where(ok, avg, 1.0)[None, :], 1.0)

    for t in range(n_days + 1):
        if t in at:
            prof = np.nan_to_num(profile(), nan=1.0)
            for k in at[t]:
                profiles[k] = prof
        if t == n_days:
            break
        begin = np.isnan(means[0]) & (t >= start)
        means = np.where(begin[None, :], init, means)
        d = t % SEASON
        avg = means.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(avg > 0, means[d] / np.where(avg > 0, avg, 1.0), 1.0)
        y = values[t]
        adjusted[t] = np.where(share >= CLOSED_SHARE, y / np.maximum(share, CLOSED_SHARE), np.nan)
        means[d] = np.where(np.isnan(y), means[d], means[d] + gamma * (y - means[d]))
    return WeekdayAdjusted(adjusted, profiles, tuple(origins))


def reseasonalise(paths: np.ndarray, adj: WeekdayAdjusted, horizon: int) -> np.ndarray:
    """Forecast paths of an adjusted series x the weekday profile at their origin."""
    steps = np.arange(horizon)
    out = np.empty_like(paths)
    for k, o in enumerate(adj.origins):
        prof = adj.profiles[k][(o + steps) % SEASON]
        out[k] = paths[k] * np.where(prof >= CLOSED_SHARE, prof, 0.0)
    return out


FUNCTIONS = {
    "ses": ses,
    "holt_damped": holt_damped,
    "seasonal_es": seasonal_es,
    "dow_profile": dow_profile,
    "croston_sba": croston_sba,
    "tsb": tsb,
    "seasonal_naive": seasonal_naive,
    "weekday_ses": weekday_ses,
    "weekday_ses_fit": weekday_ses_fit,
}
# Methods run on the weekday-adjusted series (name + "_dow" = the base method x the profile).
ADJUSTABLE = ("ses", "holt_damped", "croston_sba", "tsb")


def run(
    method: Method,
    values: np.ndarray,
    start: np.ndarray,
    origins: list[int],
    horizon: int,
    adjusted: WeekdayAdjusted | None = None,
) -> np.ndarray:
    """Forecast paths (n_origins, horizon, n_series) of one candidate. `adjusted` (the weekday
    adjustment for the same origins) is reused across the "_dow" candidates when given."""
    if method.name.endswith("_dow"):
        base = FUNCTIONS[method.name.removesuffix("_dow")]
        if adjusted is None or list(adjusted.origins) != list(origins):
            adjusted = weekday_adjust(values, start, origins)
        paths = base(adjusted.values, start, origins, horizon, **method.params)  # type: ignore[operator]
        return reseasonalise(paths, adjusted, horizon)
    fn = FUNCTIONS[method.name]
    return fn(values, start, origins, horizon, **method.params)  # type: ignore[operator]


def candidate_grid() -> list[Method]:
    """The small parameter grid the backtest chooses from (per series)."""
    grid = [Method("weekday_ses_fit"), Method("seasonal_naive")]
    grid += [Method("ses", {"alpha": a}) for a in (0.02, 0.05, 0.1, 0.2, 0.4)]
    grid += [
        Method("holt_damped", {"alpha": a, "beta": b, "phi": p})
        for a in (0.05, 0.2)
        for b in (0.01, 0.1)
        for p in (0.8, 0.95)
    ]
    grid += [
        Method("seasonal_es", {"alpha": a, "gamma": g})
        for a in (0.02, 0.05, 0.15)
        for g in (0.02, 0.1)
    ]
    grid += [Method("dow_profile", {"weeks": w}) for w in (2, 4, 8, 16)]
    grid += [Method("croston_sba", {"alpha": a}) for a in (0.05, 0.1, 0.2)]
    grid += [
        Method("tsb", {"alpha": a, "beta": b}) for a in (0.05, 0.2) for b in (0.02, 0.05, 0.15)
    ]
    grid += [Method("weekday_ses", {"alpha": a}) for a in (0.05, 0.1, 0.2, 0.3, 0.5)]
    grid += [Method(c.name + "_dow", c.params) for c in list(grid) if c.name in ADJUSTABLE]
    return grid


# Which methods each demand class may use (codes of classify.CLASSES; a "_dow" variant goes with
# its base method). Smooth and erratic series get the level/trend/seasonal family; intermittent
# and lumpy ones the intermittent-demand methods plus the flat and weekday methods (a weekday
# pattern, such as a shop closed on Saturdays, holds for sparse sales too).
_SEASONAL = {"seasonal_es", "dow_profile", "weekday_ses", "weekday_ses_fit"}
ALLOWED = {
    0: {"seasonal_naive", "ses", "holt_damped"} | _SEASONAL,
    1: {"seasonal_naive", "ses", "holt_damped", "tsb"} | _SEASONAL,
    2: {"ses", "croston_sba", "tsb"} | _SEASONAL,
    3: {"ses", "croston_sba", "tsb"} | _SEASONAL,
}


def allowed_classes(method: Method) -> list[int]:
    base = method.name.removesuffix("_dow")
    return [c for c, names in ALLOWED.items() if base in names]
