"""The forecasting engine (pipelines/planning/forecast): each method against hand-computed
cases, the demand classes at their cut-offs, the accuracy definitions against a plain-Python
computation, the backtest selection, interval coverage on simulated demand, bad input."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from pipelines.planning.forecast import DemandInputError, forecast_series
from pipelines.planning.forecast import methods as m
from pipelines.planning.forecast.classify import classify
from pipelines.planning.forecast.engine import POINT_FACTORS, backtest_origins
from pipelines.planning.forecast.metrics import bias, mase, overall_mase, seasonal_scale

D0 = dt.date(2026, 1, 5)  # a Monday


def col(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """One series as the engine's (days, 1) matrix and its start."""
    return np.asarray(values, dtype=float)[:, None], np.array([0])


def path(method: m.Method, values: list[float], horizon: int) -> np.ndarray:
    v, s = col(values)
    return m.run(method, v, s, [len(values)], horizon)[0][:, 0]


def long(series: dict[str, list[float]], first: dt.date = D0) -> pl.DataFrame:
    rows = [
        (sid, first + dt.timedelta(days=i), float(u))
        for sid, units in series.items()
        for i, u in enumerate(units)
    ]
    return pl.DataFrame(rows, schema=["series_id", "date", "units"], orient="row")


# --- methods, by hand ------------------------------------------------------------------------


def test_ses_alpha_half_by_hand() -> None:
    # initial level = mean of the first 7 observed days = (2+4+6+8)/4 = 5
    # 5 -> 5+.5(2-5)=3.5 -> 3.5+.5(4-3.5)=3.75 -> 3.75+.5(6-3.75)=4.875 -> 4.875+.5(8-4.875)=6.4375
    assert path(m.Method("ses", {"alpha": 0.5}), [2, 4, 6, 8], 3) == pytest.approx([6.4375] * 3)


def test_holt_damped_by_hand() -> None:
    # l0 = 2, b0 = 0; a = b = .5, phi = .9
    # y=1: l = .5*1 + .5*(2+0) = 1.5; b = .5*(1.5-2) + .5*.9*0 = -.25
    # y=2: l = 1 + .5*(1.5 - .225) = 1.6375; b = .5*(.1375) + .45*(-.25) = -.04375
    # y=3: l = 1.5 + .5*(1.6375 - .039375) = 2.2990625; b = .5*.6615625 - .45*.04375 = .31109375
    level, trend = 2.2990625, 0.31109375
    got = path(m.Method("holt_damped", {"alpha": 0.5, "beta": 0.5, "phi": 0.9}), [1, 2, 3], 2)
    assert got == pytest.approx([level + 0.9 * trend, level + (0.9 + 0.81) * trend])


def test_croston_sba_by_hand() -> None:
    # demands 3 (after 3 days), 5 (after 2), 4 (after 4); alpha .5
    # z: 3 -> 4 -> 4; p: 3 -> 3+.5(2-3)=2.5 -> 2.5+.5(4-2.5)=3.25; forecast (1-.25)*4/3.25
    got = path(m.Method("croston_sba", {"alpha": 0.5}), [0, 0, 3, 0, 5, 0, 0, 0, 4], 2)
    assert got == pytest.approx([0.75 * 4 / 3.25] * 2)


def test_croston_is_zero_before_any_demand() -> None:
    assert path(m.Method("croston_sba", {"alpha": 0.1}), [0, 0, 0], 2) == pytest.approx([0, 0])


def test_tsb_by_hand() -> None:
    # initial p = 2 demand days / 4 = .5, z = mean size 3; alpha = beta = .5
    # y=0: p=.25; y=2: p=.625, z=2.5; y=0: p=.3125; y=4: p=.65625, z=3.25 -> p*z
    got = path(m.Method("tsb", {"alpha": 0.5, "beta": 0.5}), [0, 2, 0, 4], 2)
    assert got == pytest.approx([0.65625 * 3.25] * 2)


def test_seasonal_naive_repeats_the_last_week() -> None:
    got = path(m.Method("seasonal_naive"), list(range(1, 15)), 10)
    assert got.tolist() == [8, 9, 10, 11, 12, 13, 14, 8, 9, 10]


def test_weekday_ses_by_hand() -> None:
    # weekday k: 1+k in week 1, 3+k in week 2; initial level (1+k + 3+k)/2 = k+2
    # -> k+2 + .5((k+1)-(k+2)) = k+1.5 -> k+1.5 + .5((k+3)-(k+1.5)) = k+2.25
    week1 = [1 + k for k in range(7)]
    got = path(m.Method("weekday_ses", {"alpha": 0.5}), week1 + [w + 2 for w in week1], 8)
    assert got == pytest.approx([k + 2.25 for k in range(7)] + [2.25])


def test_weekday_ses_fit_picks_the_alpha_with_least_in_sample_error() -> None:
    rng = np.random.default_rng(3)
    values = list(np.r_[rng.poisson(4, 35), rng.poisson(12, 35)].astype(float))
    got = path(m.Method("weekday_ses_fit"), values, 7)
    # plain Python: for each weekday, SES from the mean of its first two values (first 14 days)
    for k in range(7):
        sub = values[k::7]
        best = None
        for alpha in m.FIT_ALPHAS:
            level, sse = (sub[0] + sub[1]) / 2, 0.0
            for y in sub:
                sse += (y - level) ** 2
                level += alpha * (y - level)
            if best is None or sse < best[0]:
                best = (sse, level)
        assert best is not None
        assert got[k] == pytest.approx(best[1])


@pytest.mark.parametrize(
    "method",
    [
        m.Method("seasonal_es", {"alpha": 0.3, "gamma": 0.2}),
        m.Method("dow_profile", {"weeks": 2}),
        m.Method("weekday_ses", {"alpha": 0.3}),
        m.Method("ses_dow", {"alpha": 0.3}),
        m.Method("tsb_dow", {"alpha": 0.3, "beta": 0.1}),
    ],
    ids=lambda c: c.name,
)
def test_weekly_methods_reproduce_an_exact_weekly_pattern(method: m.Method) -> None:
    pattern = [5.0, 6, 7, 8, 9, 4, 0]  # closed on the 7th day
    got = path(method, pattern * 6, 14)
    assert got == pytest.approx(pattern * 2, abs=1e-9)


def test_dow_profile_by_hand() -> None:
    # level = mean of the last week = 10; profile over two weeks: weekday mean / overall mean
    week1, week2 = [4.0, 4, 4, 4, 4, 4, 4], [14.0, 14, 14, 14, 14, 0, 0]
    got = path(m.Method("dow_profile", {"weeks": 1, "profile_weeks": 2}), week1 + week2, 7)
    overall = (sum(week1) + sum(week2)) / 14
    assert got == pytest.approx(
        [10 * ((a + b) / 2) / overall for a, b in zip(week1, week2, strict=True)]
    )


def test_unobserved_days_leave_the_state_unchanged() -> None:
    nan = math.nan
    with_gap = path(m.Method("ses", {"alpha": 0.5}), [2, 4, nan, nan, 6, 8], 1)
    assert with_gap == pytest.approx(path(m.Method("ses", {"alpha": 0.5}), [2, 4, 6, 8], 1))


# --- classes -------------------------------------------------------------------------------------


def _class_of(values: list[float]) -> tuple[str, float, float]:
    code, adi, cv2 = classify(np.asarray(values, dtype=float)[:, None])
    return ("smooth", "erratic", "intermittent", "lumpy")[int(code[0])], adi[0], cv2[0]


def _sizes(n: int, a: float, b: float) -> list[float]:
    return [a if i % 2 else b for i in range(n)]


def test_classes_at_the_cut_offs() -> None:
    # ADI = observed days / demand days; CV^2 of sizes {3, 17} = 49/100 = 0.49 exactly
    at_cv2 = _sizes(26, 3, 17)
    below_cv2 = _sizes(26, 4, 16)  # 36/100
    n = len(at_cv2)
    assert _class_of(below_cv2 + [0.0] * 7) == ("smooth", pytest.approx(33 / 26), 0.36)
    assert _class_of(at_cv2 + [0.0] * 7)[0] == "erratic"  # CV^2 = 0.49 counts as variable
    # ADI = 1.32 exactly: 25 demand days in 33 observed days
    adi_at = _sizes(24, 4, 16) + [10.0] + [0.0] * 8
    cls, adi, _ = _class_of(adi_at)
    assert adi == pytest.approx(1.32) and cls in ("intermittent", "lumpy")
    assert _class_of(at_cv2 + [0.0] * (math.ceil(1.32 * n) - n))[0] == "lumpy"
    assert _class_of(below_cv2 + [0.0] * 30)[0] == "intermittent"
    cls, adi, cv2 = _class_of([0.0, 0.0])
    assert cls == "intermittent" and math.isnan(adi) and math.isnan(cv2)


def test_class_figures_against_plain_python() -> None:
    rng = np.random.default_rng(7)
    y = (rng.random(200) < 0.4) * rng.poisson(5, 200).astype(float)
    _, adi, cv2 = _class_of(list(y))
    sizes = [v for v in y if v > 0]
    mean = sum(sizes) / len(sizes)
    assert adi == pytest.approx(len(y) / len(sizes))
    assert cv2 == pytest.approx((sum((s - mean) ** 2 for s in sizes) / len(sizes)) / mean**2)


# --- accuracy definitions ------------------------------------------------------------------------


def test_mase_and_bias_against_plain_python() -> None:
    rng = np.random.default_rng(11)
    train = rng.poisson(3, (60, 4)).astype(float)
    train[:, 3] = 2.0  # constant: zero scale, left out of the overall mean
    fc = rng.uniform(0, 6, (14, 4))
    act = rng.poisson(3, (14, 4)).astype(float)
    got = mase(fc, act, seasonal_scale(train))
    for j in range(4):
        scale = sum(abs(train[t, j] - train[t - 7, j]) for t in range(7, 60)) / 53
        mae = sum(abs(fc[i, j] - act[i, j]) for i in range(14)) / 14
        if scale == 0:
            assert math.isnan(got[j])
        else:
            assert got[j] == pytest.approx(mae / scale)
        pooled = sum(fc[i, j] - act[i, j] for i in range(14)) / sum(act[:, j])
        assert bias(fc, act)[j] == pytest.approx(pooled)
    assert overall_mase(got) == pytest.approx(float(np.mean(got[:3])))


# --- the engine -----------------------------------------------------------------------------------


def test_forecast_series_grain_and_columns() -> None:
    rng = np.random.default_rng(1)
    demand = long({f"S{i}": list(rng.poisson(5, 150)) for i in range(5)})
    res = forecast_series(demand, horizon=21)
    assert res.forecasts.columns == [
        "series_id", "date", "step", "forecast", "point_forecast",
        "lo_80", "hi_80", "lo_95", "hi_95",
    ]  # fmt: skip
    assert res.forecasts.height == 5 * 21
    assert res.forecasts["date"].min() == D0 + dt.timedelta(days=150)
    assert res.forecasts.select(pl.struct("series_id", "date").is_unique().all()).item()
    ok = res.forecasts.select(
        (pl.col("lo_95") <= pl.col("lo_80"))
        & (pl.col("lo_80") <= pl.col("forecast"))
        & (pl.col("forecast") <= pl.col("hi_80"))
        & (pl.col("hi_80") <= pl.col("hi_95"))
        & (pl.col("lo_95") >= 0)
    ).to_series()
    assert ok.all()
    for c in ("series_id", "demand_class", "adi", "cv2", "method", "mase", "bias", "sigma",
              "mean_daily", "n_days", "point_factor"):  # fmt: skip
        assert c in res.selection.columns
    assert res.selection["n_days"].to_list() == [150] * 5
    mean = res.forecasts.group_by("series_id").agg(pl.col("forecast").mean()).sort("series_id")
    assert res.selection.sort("series_id")["mean_daily"].to_numpy() == pytest.approx(
        mean["forecast"].to_numpy()
    )


def test_selection_picks_the_truly_best_method() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(200)
    series = {
        "trend": list(20 + 0.5 * t + rng.normal(0, 0.5, 200)),
        "weekly": list(np.tile([30.0, 32, 31, 35, 40, 2, 1], 29)[:200] + rng.normal(0, 0.5, 200)),
    }
    demand = long({k: [max(v, 0.0) for v in vals] for k, vals in series.items()})
    res = forecast_series(demand, horizon=28)
    picked = dict(res.selection.select("series_id", "method").iter_rows())
    # a pick other than the default is forecast as the mean of the two: "pick+default"
    assert picked["trend"].split("+")[0].removesuffix("_dow") == "holt_damped"
    assert picked["weekly"] in {"weekday_ses_fit", "weekday_ses", "seasonal_es", "dow_profile"}
    # independently: the pick is the candidate with the least backtest MASE on that series, and
    # the stored MASE is the backtest MASE of the mean of the pick and the default
    v = np.asarray(series["trend"])[:, None]
    origins = backtest_origins(200, 28, 3)
    paths = {c.label(): m.run(c, v, np.array([0]), origins, 28) for c in m.candidate_grid()}

    def score(p: np.ndarray) -> float:
        return float(
            np.mean(
                [mase(p[k], v[o : o + 28], seasonal_scale(v[:o]))[0] for k, o in enumerate(origins)]
            )
        )

    best = min(paths, key=lambda label: score(paths[label]))
    default = m.candidate_grid()[0].label()
    row = res.selection.filter(pl.col("series_id") == "trend").row(0, named=True)
    assert row["method_params"] == f"mean of {best} and {default}"
    assert row["mase"] == pytest.approx(score((paths[best] + paths[default]) / 2))


def test_class_restricts_the_methods() -> None:
    rng = np.random.default_rng(9)
    sparse = {f"I{i}": list((rng.random(200) < 0.15) * rng.poisson(4, 200)) for i in range(20)}
    res = forecast_series(long(sparse), horizon=28)
    assert set(res.selection["demand_class"]) <= {"intermittent", "lumpy"}
    allowed = {"ses", "croston_sba", "tsb", "seasonal_es", "dow_profile", "weekday_ses",
               "weekday_ses_fit"}  # fmt: skip
    used = {x.removesuffix("_dow") for ms in res.selection["method"] for x in ms.split("+")}
    assert used <= allowed


def test_intervals_cover_at_about_the_nominal_level() -> None:
    rng = np.random.default_rng(21)
    n, days, h = 400, 210, 28
    weekly = np.array([1.0, 1.1, 1.2, 1.0, 1.4, 0.8, 0.5])
    rate = rng.uniform(3, 30, n)[None, :] * weekly[np.arange(days + h) % 7][:, None]
    y = rng.poisson(rate).astype(float)
    ids = [f"S{i:03d}" for i in range(n)]
    demand = long({s: list(y[:days, j]) for j, s in enumerate(ids)})
    fc = forecast_series(demand, horizon=h).forecasts.sort("series_id", "step")
    actual = y[days:].T.reshape(-1)  # series-major, as sorted
    for level, lo, hi in ((80, 0.74, 0.88), (95, 0.91, 0.99)):
        inside = (fc[f"lo_{level}"].to_numpy() <= actual) & (actual <= fc[f"hi_{level}"].to_numpy())
        assert lo <= inside.mean() <= hi, (level, inside.mean())


def test_point_forecast_is_the_backtest_mae_best_multiple_of_the_mean() -> None:
    """Lumpy demand (a big order one day in ten) has a daily median of zero: the point forecast
    for an absolute-error measure is then well below the mean, while steady high demand keeps
    its mean. The factor is the one of the grid with the least MAE over the backtest origins,
    recomputed here from the engine's own backtest of the same series."""
    rng = np.random.default_rng(8)
    days, h = 210, 28
    lumpy = np.where(rng.random(days) < 0.1, rng.poisson(40, days), 0).astype(float)
    steady = rng.poisson(50, days).astype(float)
    res = forecast_series(long({"lumpy": list(lumpy), "steady": list(steady)}), horizon=h)
    factor = dict(zip(res.selection["series_id"], res.selection["point_factor"], strict=True))
    assert factor["lumpy"] < 0.6
    assert factor["steady"] >= 0.9
    fc = res.forecasts
    assert fc["point_forecast"].to_numpy() == pytest.approx(
        fc["forecast"].to_numpy() * fc["series_id"].replace_strict(factor).to_numpy()
    )
    assert set(factor.values()) <= set(POINT_FACTORS)


def test_stockout_days_are_missing_not_zero_demand() -> None:
    units = [10.0] * 120
    flags = [i % 3 == 0 and i > 60 for i in range(120)]
    base = long({"A": [0.0 if f else u for u, f in zip(units, flags, strict=True)]})
    plain = forecast_series(base, horizon=7).selection["mean_daily"].item()
    marked = (
        forecast_series(base.with_columns(is_stockout=pl.Series(flags)), horizon=7)
        .selection["mean_daily"]
        .item()
    )
    assert marked == pytest.approx(10.0, rel=0.02)
    assert plain < 9.0


def test_series_starting_late_and_short_series() -> None:
    rng = np.random.default_rng(2)
    demand = pl.concat(
        [
            long({"old": list(rng.poisson(5, 200))}),
            long({"new": [3.0] * 10}, first=D0 + dt.timedelta(days=190)),
        ]
    )
    res = forecast_series(demand, horizon=14)
    sel = {r["series_id"]: r for r in res.selection.iter_rows(named=True)}
    assert sel["new"]["n_days"] == 10 and sel["new"]["mase"] is None  # no usable origin
    assert sel["new"]["mean_daily"] == pytest.approx(3.0)
    assert res.forecasts.filter(pl.col("series_id") == "new")["date"].min() == D0 + dt.timedelta(
        200
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"series_id": ["a"], "date": [D0]}), "lacks column"),
        (pl.DataFrame({"series_id": ["a"], "date": [D0], "units": [-1.0]}), "negative"),
        (pl.DataFrame({"series_id": ["a"], "date": ["2026-01-01"], "units": [1.0]}), "dates"),
        (pl.DataFrame({"series_id": ["a", "a"], "date": [D0, D0], "units": [1.0, 2.0]}), "share"),
        (
            pl.DataFrame(
                {"series_id": ["a"], "date": [D0], "units": [None]},
                schema_overrides={"units": pl.Float64},
            ),
            "empty or NaN",
        ),
    ],
)
def test_bad_input_is_refused_clearly(frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(DemandInputError, match=message):
        forecast_series(frame, horizon=7)


def test_bad_parameters_are_refused() -> None:
    demand = long({"a": [1.0] * 30})
    with pytest.raises(DemandInputError, match="horizon"):
        forecast_series(demand, horizon=0)
    with pytest.raises(DemandInputError, match="weekly season"):
        forecast_series(demand, season_length=12)
