"""Forecasting bench: accuracy on real demand (UCI Online Retail) and speed at scale.

    python bench/bench_forecast.py [--skip-uci] [--skip-scale] [--repeats 3]
                                   [--skus 3000] [--locations 10] [--days 365]

(a) Builds the daily demand of the top 500 products by quantity from
    ../shared/data/uci_online_retail/online_retail_2010_2011.parquet (sales = invoices not
    starting with 'C' with quantity > 0) in a temporary folder (the data is CC BY 4.0, Chen
    2015, doi:10.24432/C5BW33; it is not copied into the repository), runs
    `python -m pipelines forecast-eval` on it with the last 56 days held out and prints the
    summary.
(b) Generates skus x locations series over `days` days (a seeded mix of smooth, weekly-seasonal,
    trending and intermittent demand) and times `forecast_series` with its backtest, each
    repeat in a fresh process: median seconds of the repeats and the peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UCI = ROOT.parent / "shared" / "data" / "uci_online_retail" / "online_retail_2010_2011.parquet"
if not UCI.exists():
    UCI = Path("/work/shared/data/uci_online_retail/online_retail_2010_2011.parquet")


def uci_demand(source: Path, top: int = 500) -> pl.DataFrame:
    """Daily units per StockCode of the `top` products by quantity sold."""
    raw = pl.read_parquet(source)
    sales = raw.filter(
        ~pl.col("InvoiceNo").cast(pl.String).str.starts_with("C") & (pl.col("Quantity") > 0)
    ).with_columns(
        date=pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S").dt.date(),
        series_id=pl.col("StockCode").cast(pl.String),
    )
    ranked = (
        sales.group_by("series_id")
        .agg(pl.col("Quantity").sum())
        .sort(["Quantity", "series_id"], descending=[True, False])
        .head(top)
    )
    return (
        sales.join(ranked.select("series_id"), on="series_id")
        .group_by("series_id", "date")
        .agg(units=pl.col("Quantity").sum().cast(pl.Float64))
        .sort("series_id", "date")
    )


def generated_demand(skus: int, locations: int, days: int, seed: int = 12) -> pl.DataFrame:
    """skus x locations daily series: a third smooth Poisson around a level with a mild trend,
    a third weekly-seasonal, a third intermittent (Bernoulli occurrence x Poisson size)."""
    rng = np.random.default_rng(seed)
    n = skus * locations
    t = np.arange(days)[:, None]
    kind = rng.integers(0, 3, n)[None, :]
    base = rng.gamma(2.0, 3.0, n)[None, :]
    phase = rng.integers(0, 7, n)[None, :]
    weekly = 1 + 0.5 * np.sin(2 * np.pi * (t + phase) / 7)
    trend = np.clip(1 + rng.normal(0, 0.3, n)[None, :] * t / days, 0.2, None)
    rate = base * trend * np.where(kind == 1, weekly, 1.0)
    regular = rng.poisson(rate)
    occurs = rng.random((days, n)) < rng.uniform(0.05, 0.4, n)[None, :]
    sizes = rng.poisson(np.broadcast_to(base * 2, (days, n))) + 1
    units = np.where(kind == 2, occurs * sizes, regular).astype(np.float64)
    first = dt.date(2025, 1, 1)
    dates = pl.date_range(first, first + dt.timedelta(days=days - 1), "1d", eager=True)
    ids = [f"SKU{i // locations:05d}@L{i % locations:02d}" for i in range(n)]
    return pl.DataFrame(
        {
            "series_id": pl.Series(ids * days, dtype=pl.String),
            "date": dates.gather(np.repeat(np.arange(days), n)),
            "units": units.reshape(-1),
        }
    )


def one_run(skus: int, locations: int, days: int) -> dict[str, float]:
    from pipelines.planning.forecast import forecast_series

    demand = generated_demand(skus, locations, days)
    t0 = time.perf_counter()
    result = forecast_series(demand, horizon=56, backtest_windows=3)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "series": result.selection.height,
        "forecast_rows": result.forecasts.height,
        "input_rows": demand.height,
    }


def bench_uci() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "uci_top500_daily.parquet"
        uci_demand(UCI).write_parquet(path)
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "pipelines.cli", "forecast-eval", str(path)]
        subprocess.run([*cmd, "--horizon", "56", "--out", str(out)], check=True, cwd=ROOT)
        result = json.loads(out.read_text())
        print(json.dumps(result["summary"], indent=1))


def bench_scale(skus: int, locations: int, days: int, repeats: int) -> None:
    runs = []
    for _ in range(repeats):
        child = subprocess.run(
            [sys.executable, __file__, "--one-run", str(skus), str(locations), str(days)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"  run: {runs[-1]['seconds']:.1f} s, peak RSS {runs[-1]['peak_rss_mb']:.0f} MB")
    print(
        f"{runs[0]['series']:,} series x {days} days ({runs[0]['input_rows']:,} rows), "
        f"horizon 56, 3 backtest origins, cpus {os.cpu_count()}: "
        f"median {statistics.median(r['seconds'] for r in runs):.1f} s, "
        f"peak RSS {max(r['peak_rss_mb'] for r in runs):.0f} MB (targets 60 s, 4 GB)"
    )


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--one-run":
        print(json.dumps(one_run(*(int(a) for a in sys.argv[2:]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-uci", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument("--locations", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    if not args.skip_uci:
        print("(a) UCI Online Retail 2010-2011, top 500 products, last 56 days held out")
        bench_uci()
    if not args.skip_scale:
        print(f"(b) {args.skus} SKUs x {args.locations} locations x {args.days} days")
        bench_scale(args.skus, args.locations, args.days, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
