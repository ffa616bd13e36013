"""`python3 -m pipelines forecast-eval`: on a small generated Parquet it writes the documented
JSON, its figures match an independent computation from the file, and bad input is refused."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parent.parent
D0 = dt.date(2026, 1, 1)
SUMMARY_FIELDS = {
    "mase_mean", "mase_median", "bias", "share_beating_seasonal_naive", "seconds",
    "n_series_scored",
}  # fmt: skip
RECORD_FIELDS = {
    "series_id", "demand_class", "method", "method_params", "mase", "bias", "backtest_mase",
    "point_factor", "mean_forecast_mase", "seasonal_naive_mase", "seasonal_naive_bias",
    "statsforecast_best_mase",
}  # fmt: skip


def run_eval(path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "forecast-eval",
            str(path),
            "--out",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demand_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """12 series over 120 days, zero days left out of the file (the command fills them)."""
    rng = np.random.default_rng(4)
    rows = []
    for i in range(12):
        rate = rng.uniform(0.3, 15) * np.array([1, 1.2, 1.1, 1, 1.5, 0.6, 0.3])
        start = 0 if i else 30  # one series starts later
        for d in range(start, 120):
            units = float(rng.poisson(rate[d % 7]))
            if units > 0:
                rows.append((f"S{i:02d}", D0 + dt.timedelta(days=d), units))
    frame = pl.DataFrame(rows, schema=["series_id", "date", "units"], orient="row")
    path = tmp_path_factory.mktemp("eval") / "demand.parquet"
    frame.write_parquet(path)
    return path, frame


def test_writes_the_documented_json(demand_file: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    path, frame = demand_file
    out = tmp_path / "result.json"
    done = run_eval(
        path, out, "--horizon", "28", "--library-models", "SeasonalNaive,CrostonOptimized"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["summary"]) == {"ours", "ours_mean", "seasonal_naive", "statsforecast_best"}
    for s in result["summary"].values():
        assert set(s) >= SUMMARY_FIELDS
    assert result["summary"]["statsforecast_best"]["model"] in {"SeasonalNaive", "CrostonOptimized"}
    assert set(result["library_models"]) == {"SeasonalNaive", "CrostonOptimized"}
    assert result["input"]["horizon"] == 28 and result["input"]["n_series_evaluated"] == 12
    assert len(result["series"]) == 12
    for rec in result["series"]:
        assert set(rec) == RECORD_FIELDS
        assert rec["demand_class"] in {"smooth", "erratic", "intermittent", "lumpy"}

    # independent: seasonal naive from the file itself, days missing from the file are zero
    last = frame["date"].max()
    assert isinstance(last, dt.date)
    cut = last - dt.timedelta(days=28)
    sn = {}
    for sid, grp in frame.group_by("series_id"):
        by_day = dict(zip(grp["date"].to_list(), grp["units"].to_list(), strict=True))
        first = grp["date"].min()
        assert isinstance(first, dt.date)
        days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
        y = [by_day.get(d, 0.0) for d in days]
        n_train = (cut - first).days + 1
        train, test = y[:n_train], y[n_train:]
        fc = [train[n_train - 7 + (i % 7)] for i in range(28)]
        scale = sum(abs(train[t] - train[t - 7]) for t in range(7, n_train)) / (n_train - 7)
        sn[sid[0]] = sum(abs(f - a) for f, a in zip(fc, test, strict=True)) / 28 / scale
    recs = {r["series_id"]: r for r in result["series"]}
    for sid, value in sn.items():
        assert recs[sid]["seasonal_naive_mase"] == pytest.approx(value, rel=1e-5)
    assert result["summary"]["seasonal_naive"]["mase_mean"] == pytest.approx(
        sum(sn.values()) / len(sn), rel=1e-5
    )
    # the library's seasonal naive is the same method: the same figure
    assert result["library_models"]["SeasonalNaive"]["mase_mean"] == pytest.approx(
        result["summary"]["seasonal_naive"]["mase_mean"], rel=1e-5
    )
    ours = [r["mase"] for r in result["series"] if r["mase"] is not None]
    assert result["summary"]["ours"]["mase_mean"] == pytest.approx(sum(ours) / len(ours), rel=1e-5)
    share = np.mean([r["mase"] < r["seasonal_naive_mase"] for r in result["series"]])
    assert result["summary"]["ours"]["share_beating_seasonal_naive"] == pytest.approx(share)
    assert "ours" in done.stdout and "seasonal_naive" in done.stdout
    # the point forecast is the mean forecast scaled by the series' factor (<= 1): never above
    mean_ours = [r["mean_forecast_mase"] for r in result["series"] if r["mase"] is not None]
    assert result["summary"]["ours_mean"]["mase_mean"] == pytest.approx(
        sum(mean_ours) / len(mean_ours), rel=1e-5
    )
    assert all(0.2 <= r["point_factor"] <= 1.0 for r in result["series"])
    same = [r for r in result["series"] if r["point_factor"] == 1.0 and r["mase"] is not None]
    assert all(r["mase"] == pytest.approx(r["mean_forecast_mase"]) for r in same)


@pytest.mark.parametrize(
    ("frame", "horizon", "message"),
    [
        (pl.DataFrame({"series_id": ["a"], "day": [D0], "units": [1.0]}), 7, "lacks column"),
        (pl.DataFrame({"series_id": ["a"], "date": [D0], "units": [-2.0]}), 7, "negative units"),
        (
            pl.DataFrame({"series_id": ["a"], "date": ["1st of May"], "units": [1.0]}),
            7,
            "not a date",
        ),
        (pl.DataFrame({"series_id": ["a"], "date": [1], "units": [1.0]}), 7, "must hold dates"),
        (
            pl.DataFrame(
                {"series_id": ["a", "a"], "date": [D0, D0 + dt.timedelta(9)], "units": [1.0, 2.0]}
            ),
            10,
            "not shorter than the history",
        ),
    ],
    ids=["missing-column", "negative", "text-date", "int-date", "horizon-too-long"],
)
def test_bad_input_gives_a_clear_error(
    frame: pl.DataFrame, horizon: int, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.parquet"
    frame.write_parquet(path)
    done = run_eval(path, tmp_path / "out.json", "--horizon", str(horizon))
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.json").exists()


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "demand.parquet"
    path.write_text("series_id,date,units\n")
    done = run_eval(path, tmp_path / "out.json")
    assert done.returncode != 0 and "not a readable Parquet file" in done.stderr
