"""Benchmark of the order lifecycle models: what they add to a dbt build, in full and per day.

    .venv/bin/python bench/bench_lifecycle.py                       # 1,000,000 order lines
    .venv/bin/python bench/bench_lifecycle.py --order-lines 120000 --repeats 3

Generates `--order-lines` over 90 days into its own data dir (`--work`, kept for the next run),
loads it with the real ingest and builds, with dbt, everything the lifecycle marts and
available-to-promise are built on plus the lifecycle itself (the full build). Then it lands one
more day, loads it, brings every other model up to date, copies the warehouse, and builds the
lifecycle models incrementally on that copy `--repeats` times (each time from the same copy).
Times are dbt's own per-model execution times from run_results.json (summed over the lifecycle
models, and over their data tests), and the wall time of the dbt invocation (which includes
dbt's start-up and parse). Prints the medians and writes bench/results/lifecycle_<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAYS = 90
LIFECYCLE = ("path:models/intermediate/lifecycle", "path:models/marts/lifecycle")
UPSTREAM = ("+fct_order_states", "+fct_available_to_promise", "vocabularies")


def dbt(warehouse: Path, target: Path, *args: str) -> tuple[float, list[dict[str, Any]]]:
    """Run dbt on `warehouse`; return its wall seconds and run_results' results."""
    from pipelines.transform.project import dbt_env, dbt_executable

    project = ROOT / "dbt_project"
    started = time.perf_counter()
    result = subprocess.run(
        [
            dbt_executable(),
            *args,
            "--quiet",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env={**dbt_env(), "OMS_WAREHOUSE_PATH": str(warehouse)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{result.stdout[-5000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    return wall, results


def is_lifecycle_model(name: str) -> bool:
    return name.startswith(("int_order_line_events", "fct_order_line_", "fct_order_states"))


def lifecycle_seconds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """dbt's execution seconds of the lifecycle models (per model and summed) and of their
    data and unit tests."""
    models = {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results
        if r["unique_id"].startswith("model.") and is_lifecycle_model(r["unique_id"].split(".")[-1])
    }
    tests = sum(
        r["execution_time"]
        for r in results
        if r["unique_id"].startswith(("test.", "unit_test."))
        and any(name in r["unique_id"] for name in models)
    )
    return {
        "models_seconds": round(sum(models.values()), 2),
        "tests_seconds": round(tests, 2),
        "per_model": {k: round(v, 2) for k, v in sorted(models.items())},
    }


def count(warehouse: Path, sql: str) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/oms_bench_lifecycle"))
    args = parser.parse_args()
    data = args.work / f"lines_{args.order_lines}"
    os.environ["OMS_DATA_DIR"] = str(data)
    os.environ.setdefault("TQDM_DISABLE", "1")

    from demo_generator import generate
    from pipelines.ingest.engine import ingest_all

    # the 90 days are generated once and kept; each run starts from a copy of them
    base, landing, warehouse = data / "base_landing", data / "landing", data / "warehouse.duckdb"
    target = args.work / "target"
    out: dict[str, Any] = {"order_lines": args.order_lines, "days": DAYS}
    if not (base / "reference").exists():
        generate(base, days=DAYS, order_lines=args.order_lines)
    shutil.rmtree(landing, ignore_errors=True)
    shutil.copytree(base, landing)
    warehouse.unlink(missing_ok=True)
    started = time.perf_counter()
    ingest_all(warehouse, landing)
    out["ingest_seconds"] = round(time.perf_counter() - started, 2)

    wall, results = dbt(
        warehouse, target, "build", "--select", *UPSTREAM, "--indirect-selection", "cautious"
    )
    out["full_build"] = {"dbt_wall_seconds": round(wall, 2), **lifecycle_seconds(results)}
    out["events"] = count(warehouse, "select count(*) from intermediate.int_order_line_events")
    out["transitions"] = count(warehouse, "select count(*) from marts.fct_order_line_transitions")
    out["lines"] = count(warehouse, "select count(*) from marts.fct_order_line_states")

    # one more day at the same daily volume, loaded; everything but the lifecycle brought up
    # to date, so the lifecycle's own incremental work is what is timed
    generate(
        landing,
        days=DAYS + 1,
        order_lines=round(args.order_lines * (DAYS + 1) / DAYS),
        from_day=DAYS,
    )
    ingest_all(warehouse, landing)
    dbt(warehouse, target, "run", "--select", *UPSTREAM, "--exclude", *LIFECYCLE)
    before = args.work / "before_lifecycle.duckdb"
    shutil.copy(warehouse, before)
    runs = []
    for _ in range(args.repeats):
        shutil.copy(before, warehouse)
        wall, results = dbt(
            warehouse, target, "build", "--select", *LIFECYCLE, "--indirect-selection", "cautious"
        )
        runs.append({"dbt_wall_seconds": round(wall, 2), **lifecycle_seconds(results)})
    touched = count(
        warehouse,
        "select count(*) from marts.fct_order_line_states"
        " where _dbt_run_at = (select max(_dbt_run_at) from marts.fct_order_line_states)",
    )
    out["incremental_day"] = {
        "runs": runs,
        "lines_recomputed": touched,
        "median_models_seconds": statistics.median(r["models_seconds"] for r in runs),
        "median_tests_seconds": statistics.median(r["tests_seconds"] for r in runs),
        "median_dbt_wall_seconds": statistics.median(r["dbt_wall_seconds"] for r in runs),
    }
    before.unlink()

    full, inc = out["full_build"], out["incremental_day"]
    print(f"== lifecycle at {args.order_lines:,} order lines over {DAYS} days ==")
    print(f"  {out['events']:,} events, {out['transitions']:,} transitions, {out['lines']:,} lines")
    print(
        f"  full build: lifecycle models {full['models_seconds']} s, their tests "
        f"{full['tests_seconds']} s"
    )
    print(
        f"  incremental day ({inc['lines_recomputed']:,} lines recomputed), medians of "
        f"{args.repeats}: models {inc['median_models_seconds']} s, tests "
        f"{inc['median_tests_seconds']} s, dbt invocation {inc['median_dbt_wall_seconds']} s"
    )
    for name, seconds in runs[0]["per_model"].items():
        print(f"    {name:<42}{seconds:>8.2f} s")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out_dir / f"lifecycle_{stamp}.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
