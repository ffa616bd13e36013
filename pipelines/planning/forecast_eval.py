"""`python3 -m pipelines forecast-eval DEMAND.parquet --horizon 56 --out RESULT.json`

Test the forecasting engine on any daily demand history: read a Parquet file of
(series_id, date, units), fill missing calendar days with zero (from each series' first day
to the last day of the file), hold out the last --horizon days, and compare on the held-out
days our per-series selection (`ours`), seasonal naive (7) and several statsforecast models,
the one with the lowest mean MASE reported as `statsforecast_best`. See docs/forecasting.md
("forecast-eval") for the JSON it writes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipelines.planning.forecast import methods
from pipelines.planning.forecast.classify import CLASSES
from pipelines.planning.forecast.engine import forecast_matrix, method_names
from pipelines.planning.forecast.matrix import (
    DemandInputError,
    DemandMatrix,
    to_matrix,
    validate_demand,
)
from pipelines.planning.forecast.metrics import bias, mase, overall_mase, seasonal_scale

LIBRARY = "statsforecast"
DEFAULT_LIBRARY_MODELS = (
    "AutoETS",
    "AutoTheta",
    "SeasonalExponentialSmoothingOptimized",
    "CrostonOptimized",
    "TSB",
    "IMAPA",
)


def _library_model(name: str, season: int) -> Any:
    """One statsforecast model by name, with a weekly season where it takes one."""
    import statsforecast.models as sfm

    if name == "TSB":
        return sfm.TSB(alpha_d=0.1, alpha_p=0.1)
    cls = getattr(sfm, name, None)
    if cls is None:
        raise DemandInputError(f"statsforecast has no model {name!r}")
    try:
        return cls(season_length=season)
    except TypeError:
        return cls()


def read_demand(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise DemandInputError(f"{path}: no such file")
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a file that is not Parquet
        raise DemandInputError(f"{path}: not a readable Parquet file ({exc})") from None
    dtype = frame.schema.get("date")
    if dtype == pl.String:
        try:
            frame = frame.with_columns(pl.col("date").str.to_date("%Y-%m-%d"))
        except Exception:
            raise DemandInputError(
                "column 'date' holds text that is not a date (YYYY-MM-DD)"
            ) from None
    return frame


def split(mat: DemandMatrix, horizon: int) -> tuple[DemandMatrix, np.ndarray, np.ndarray]:
    """(training matrix restricted to series that start before the cut, held-out actuals
    (horizon, series), index of kept series)."""
    if horizon < 1:
        raise DemandInputError(f"--horizon must be at least 1 day, not {horizon}")
    if horizon >= mat.n_days:
        raise DemandInputError(
            f"--horizon {horizon} is not shorter than the history ({mat.n_days} days from "
            f"{mat.first_day} on): nothing would be left to fit on"
        )
    cut = mat.n_days - horizon
    keep = np.nonzero(mat.start < cut)[0]
    train = DemandMatrix(
        [mat.series_ids[i] for i in keep], mat.first_day, mat.values[:cut, keep], mat.start[keep]
    )
    return train, mat.values[cut:, keep], keep


def summarise(
    fc: np.ndarray, actual: np.ndarray, scale: np.ndarray, sn_mase: np.ndarray, seconds: float
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    per = mase(fc, actual, scale)
    per_bias = bias(fc, actual)
    ok = ~np.isnan(per)
    both = ok & ~np.isnan(sn_mase)
    summary = {
        "mase_mean": _num(overall_mase(per)),
        "mase_median": _num(float(np.median(per[ok])) if ok.any() else math.nan),
        "bias": _num(float(bias(fc.reshape(-1), actual.reshape(-1)))),
        "share_beating_seasonal_naive": _num(
            float(np.mean(per[both] < sn_mase[both])) if both.any() else math.nan
        ),
        "seconds": round(seconds, 3),
        "n_series_scored": int(ok.sum()),
    }
    return summary, per, per_bias


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 6)


def run_library(
    train: DemandMatrix, horizon: int, names: list[str], season: int = 7
) -> dict[str, tuple[np.ndarray, float]]:
    """Forecast paths (horizon, series) and seconds per statsforecast model (one at a time, so
    each model's time is its own). The library gets the same zero-filled training days."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    t_idx, n_idx = np.nonzero(~np.isnan(train.values))
    days = pl.date_range(
        train.first_day, train.first_day + timedelta(days=train.n_days - 1), "1d", eager=True
    )
    long = pl.DataFrame(
        {
            "unique_id": np.asarray(train.series_ids, dtype=object)[n_idx],
            "ds": days.gather(t_idx),
            "y": train.values[t_idx, n_idx],
        },
        schema={"unique_id": pl.String, "ds": pl.Date, "y": pl.Float64},
    ).sort("unique_id", "ds")
    order = {s: i for i, s in enumerate(train.series_ids)}
    out: dict[str, tuple[np.ndarray, float]] = {}
    for name in names:
        model = _library_model(name, season)
        t0 = time.perf_counter()
        sf = StatsForecast(
            models=[model], freq="1d", n_jobs=1, fallback_model=SeasonalNaive(season_length=season)
        )
        res = sf.forecast(h=horizon, df=long)
        seconds = time.perf_counter() - t0
        col = next(c for c in res.columns if c not in ("unique_id", "ds"))
        res = res.sort("unique_id", "ds")
        paths = np.zeros((horizon, train.n_series))
        ids = res["unique_id"].to_numpy()
        cols = np.array([order[s] for s in ids])
        step = np.tile(np.arange(horizon), len(cols) // horizon)
        paths[step, cols] = np.clip(np.nan_to_num(res[col].to_numpy()), 0, None)
        out[name] = (paths, seconds)
    return out


def evaluate(
    demand: pl.DataFrame,
    horizon: int = 56,
    backtest_windows: int = 3,
    library_models: list[str] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The forecast-eval result as a JSON-ready dict (see docs/forecasting.md)."""
    # the planner's file has no stockout flags: every day without a row is a zero day
    mat = to_matrix(validate_demand(demand).drop("is_stockout"))
    train, actual, _ = split(mat, horizon)
    dropped = mat.n_series - train.n_series
    scale = seasonal_scale(train.values)
    log(f"{train.n_series} series, {train.n_days} training days, {horizon} held out")

    t0 = time.perf_counter()
    sn_fc = methods.seasonal_naive(train.values, train.start, [train.n_days], horizon)[0]
    sn_seconds = time.perf_counter() - t0
    sn_mase = mase(sn_fc, actual, scale)

    t0 = time.perf_counter()
    grid = methods.candidate_grid()
    res = forecast_matrix(train, horizon, backtest_windows, (80, 95), grid)
    ours_seconds = time.perf_counter() - t0
    log(f"ours: {ours_seconds:.1f} s")

    summary: dict[str, Any] = {}
    # `ours` is the point forecast made for an absolute-error measure; `ours_mean` the mean
    # forecast that replenishment sums over lead times (docs/forecasting.md, "Point forecast")
    summary["ours"], ours_mase, ours_bias = summarise(
        res["point"], actual, scale, sn_mase, ours_seconds
    )
    summary["ours_mean"], mean_mase, _ = summarise(
        res["forecast"], actual, scale, sn_mase, ours_seconds
    )
    summary["seasonal_naive"], _, sn_bias = summarise(sn_fc, actual, scale, sn_mase, sn_seconds)

    library: dict[str, Any] = {}
    lib_mase: dict[str, np.ndarray] = {}
    names = list(library_models if library_models is not None else DEFAULT_LIBRARY_MODELS)
    for name, (paths, seconds) in run_library(train, horizon, names).items():
        library[name], lib_mase[name], _ = summarise(paths, actual, scale, sn_mase, seconds)
        log(f"{LIBRARY} {name}: MASE {library[name]['mase_mean']} in {seconds:.1f} s")
    best_name = None
    if library:
        best_name = min(
            library,
            key=lambda k: (
                library[k]["mase_mean"] if library[k]["mase_mean"] is not None else math.inf
            ),
        )
        summary[f"{LIBRARY}_best"] = {"model": best_name, **library[best_name]}

    method, params = method_names(res, grid)
    records = []
    for j, sid in enumerate(train.series_ids):
        rec = {
            "series_id": sid,
            "demand_class": CLASSES[int(res["code"][j])],
            "method": str(method[j]),
            "method_params": str(params[j]),
            "mase": _num(float(ours_mase[j])),
            "bias": _num(float(ours_bias[j])),
            "point_factor": _num(float(res["point_factor"][j])),
            "mean_forecast_mase": _num(float(mean_mase[j])),
            "backtest_mase": _num(float(res["mase"][j])),
            "seasonal_naive_mase": _num(float(sn_mase[j])),
            "seasonal_naive_bias": _num(float(sn_bias[j])),
        }
        if best_name is not None:
            rec[f"{LIBRARY}_best_mase"] = _num(float(lib_mase[best_name][j]))
        records.append(rec)
    last = mat.first_day + timedelta(days=mat.n_days - 1)
    return {
        "input": {
            "n_series": mat.n_series,
            "n_series_evaluated": train.n_series,
            "n_series_dropped_starting_in_holdout": dropped,
            "first_day": str(mat.first_day),
            "last_day": str(last),
            "holdout_first_day": str(last - timedelta(days=horizon - 1)),
            "horizon": horizon,
            "backtest_windows": backtest_windows,
        },
        "summary": summary,
        "library_models": library,
        "series": records,
    }


def cmd_forecast_eval(args: argparse.Namespace) -> int:
    try:
        demand = read_demand(Path(args.demand))
        result = evaluate(
            demand,
            horizon=args.horizon,
            backtest_windows=args.backtest_windows,
            library_models=args.library_models.split(",") if args.library_models else None,
            log=print,
        )
    except DemandInputError as exc:
        raise SystemExit(f"forecast-eval: {exc}") from None
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(format_summary(result))
    print(f"wrote {args.out}")
    return 0


def format_summary(result: dict[str, Any]) -> str:
    lines = [f"{'method':<40} {'MASE mean':>9} {'median':>7} {'bias':>7} {'beats SN':>8} {'s':>7}"]
    rows = list(result["summary"].items()) + [
        (f"  {LIBRARY} {k}", v) for k, v in result["library_models"].items()
    ]
    for name, s in rows:
        label = f"{name} ({s['model']})" if "model" in s else name
        lines.append(
            f"{label:<40} {_fmt(s['mase_mean'], 9)} {_fmt(s['mase_median'], 7)} "
            f"{_fmt(s['bias'], 7)} {_fmt(s['share_beating_seasonal_naive'], 8)} "
            f"{s['seconds']:>7.1f}"
        )
    return "\n".join(lines)


def _fmt(x: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if x is None else f"{x:>{width}.3f}"


def add_forecast_eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forecast-eval",
        help="test the forecasting engine on a demand history (Parquet) against baselines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("demand", help="Parquet file with series_id, date, units")
    p.add_argument("--horizon", type=int, default=56, help="days held out and forecast")
    p.add_argument("--out", required=True, help="where to write the JSON result")
    p.add_argument("--backtest-windows", type=int, default=3)
    p.add_argument(
        "--library-models",
        help=f"comma-separated statsforecast models (default {','.join(DEFAULT_LIBRARY_MODELS)})",
    )
    p.set_defaults(func=cmd_forecast_eval)
