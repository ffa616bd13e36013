"""The daily run on top of a history: this checkout against an earlier revision, alternated.

    .venv/bin/python bench/bench_daily.py --base main --order-lines 1000000 --repeat 3

It writes `--days` days of landing files with `--order-lines` order lines (once, kept in
--work), and for each revision (the base as a git worktree under --work, and this checkout)
builds the history once: the ingest engine loads the landing folder into a fresh warehouse
and the revision's own dbt project builds it (`dbt build`, tests included). Then it lands the
next day (the generator's day `--days`) and, `--repeat` times, alternating base and this
checkout so that a machine slowing down mid-run weighs on both, copies the revision's history
warehouse and runs the day on it: the ingest of the new files, then `dbt build`. Each stage is
timed with the peak resident memory of its process tree and the load average at its start.
Both revisions run with this checkout's virtual environment. Results: printed, and written to
bench/results/daily-<timestamp>.json.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ab import _checkout  # noqa: E402
from bench_platform import PeakRss  # noqa: E402

PYTHON = sys.executable
_INGEST = (
    "import sys; from pipelines.ingest.engine import ingest_all; "
    "ingest_all(sys.argv[1], sys.argv[2])"
)


def _env(tree: Path, warehouse: Path) -> dict[str, str]:
    """The environment a revision's ingest and dbt run with: its code, its dbt project, the
    warehouse; the routing figures from its own rules when its models price with them."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(tree),
        OMS_WAREHOUSE_PATH=str(warehouse),
        OMS_DBT_PROJECT_DIR=str(tree / "dbt_project"),
        OMS_LANDING_SETTLE_SECONDS="0",
        OMS_LANDING_UNTERMINATED_GRACE_SECONDS="0",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        PATH=f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env["OMS_ROUTING_PARAMS"] = subprocess.run(
        [PYTHON, "-m", "pipelines.transform.project", "routing-params"],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return env


def _stage(cmd: list[str], tree: Path, env: dict[str, str]) -> dict[str, float]:
    """Run one stage as a subprocess: seconds, peak memory of its process tree, load average."""
    load = os.getloadavg()[0]
    with PeakRss() as mem:
        started = time.perf_counter()
        subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "peak_mb": round(mem.peak / 2**20), "load": load}


def _dbt_flags(tree: Path, work: Path, label: str) -> list[str]:
    project = str(tree / "dbt_project")
    return [
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target-path",
        str(work / f"target_{label}"),
        "--log-path",
        str(work / f"logs_{label}"),
        "--quiet",
    ]


def _load_and_build(
    tree: Path, landing: Path, warehouse: Path, work: Path, label: str
) -> dict[str, dict[str, float]]:
    env = _env(tree, warehouse)
    dbt = str(Path(PYTHON).with_name("dbt"))
    flags = _dbt_flags(tree, work, label)
    subprocess.run([dbt, "parse", *flags], cwd=tree, env=env, check=True)
    return {
        "ingest": _stage([PYTHON, "-c", _INGEST, str(warehouse), str(landing)], tree, env),
        "dbt_build": _stage([dbt, "build", *flags], tree, env),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/oms_bench_daily"))
    args = parser.parse_args()
    from demo_generator import generate

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    landing = work / "landing"
    next_day = work / "next_day_landed"
    if not (landing / "reference").exists():
        generate(landing, days=args.days, order_lines=args.order_lines)
    trees = {"base": _checkout(args.base, work), "this": ROOT}
    history: dict[str, dict[str, dict[str, float]]] = {}
    for label, tree in trees.items():
        warehouse = work / f"history_{label}.duckdb"
        if warehouse.exists():
            continue
        if next_day.exists():
            raise SystemExit(f"{warehouse} is missing but the next day already landed")
        history[label] = _load_and_build(tree, landing, warehouse, work, label)
        print(f"history {label}: {history[label]}", flush=True)
    if not next_day.exists():
        daily = round(args.order_lines / args.days)
        generate(
            landing,
            days=args.days + 1,
            order_lines=args.order_lines + daily,
            from_day=args.days,
        )
        next_day.touch()
    runs: dict[str, list[dict[str, dict[str, float]]]] = {label: [] for label in trees}
    for i in range(args.repeat):
        for label, tree in trees.items():
            warehouse = work / f"day_{label}.duckdb"
            for stale in (warehouse, Path(f"{warehouse}.wal")):
                stale.unlink(missing_ok=True)
            shutil.copyfile(work / f"history_{label}.duckdb", warehouse)
            result = _load_and_build(tree, landing, warehouse, work, label)
            runs[label].append(result)
            print(f"round {i + 1} {label}: {result}", flush=True)
    print(f"next day on {args.order_lines:,} order lines, medians of {args.repeat}, alternated:")
    medians: dict[str, dict[str, float]] = {}
    for label, results in runs.items():
        medians[label] = {}
        for stage in ("ingest", "dbt_build"):
            medians[label][f"{stage}_s"] = statistics.median(r[stage]["seconds"] for r in results)
            medians[label][f"{stage}_peak_mb"] = max(r[stage]["peak_mb"] for r in results)
        medians[label]["ingest_plus_dbt_s"] = statistics.median(
            r["ingest"]["seconds"] + r["dbt_build"]["seconds"] for r in results
        )
        print(f"  {label}: {medians[label]}")
    out = ROOT / "bench" / "results" / f"daily-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "base": args.base,
                "order_lines": args.order_lines,
                "history": history,
                "runs": runs,
                "medians": medians,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
