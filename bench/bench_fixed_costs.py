"""The fixed costs of a run, measured one by one, and the many-small-files ingest.

    .venv/bin/python bench/bench_fixed_costs.py                      # everything below
    .venv/bin/python bench/bench_fixed_costs.py --only imports,ge,dbt,dagster
    .venv/bin/python bench/bench_fixed_costs.py --only smallfiles --po-files 300000
    .venv/bin/python bench/bench_fixed_costs.py --only ratio --ratio-lines 1000000
    .venv/bin/python bench/bench_fixed_costs.py --only nothing_new   # on data/ (the demo)

Each figure is the median of `--repeats` runs (each in a fresh process where a fresh process
is what a run pays), with every run's figure kept in the JSON written to bench/results/:
- `imports`: seconds to import the command line, Dagster, dagster-dbt, Great Expectations and
  the whole definitions (`pipelines.definitions.defs()`), each in a new interpreter;
- `ge`: Great Expectations' set-up (context, suite) on the first validation of a process,
  against the same validation once set up;
- `dbt`: `dbt parse` from scratch, and the start-up of a `dbt build` that selects nothing;
- `dagster`: a Dagster run of one asset that does nothing (run start and end);
- `nothing_new`: `python3 -m pipelines run` on the data folder when nothing landed (the first
  runs until the record of the inputs has settled are not counted);
- `smallfiles`: `--po-files` one-PO wholesale files (generator `--wholesale-pos`) loaded by
  the ingest engine on a fresh warehouse: wall and CPU seconds, peak memory;
- `ratio`: ours against DuckDB's own read at `--ratio-lines` order lines, alternated
  (`bench_platform.compare_with_native`); it must stay at least 0.55.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "data"))

PY = str(Path(sys.executable))
RATIO_FLOOR = 0.55


def _fresh(code: str, env: dict[str, str] | None = None) -> float:
    """Seconds a new interpreter takes to run `code` (which prints its own figure, or not)."""
    started = time.perf_counter()
    out = subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"{code!r} failed: {out.stderr[-2000:]}")
    printed = out.stdout.strip().splitlines()
    return float(printed[-1]) if printed else time.perf_counter() - started


def _timed(code: str) -> str:
    """`code` wrapped to print its own seconds (the interpreter's start-up left out)."""
    return f"import time; _t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"


def _median(runs: list[float]) -> dict[str, object]:
    return {"median_s": round(statistics.median(runs), 3), "runs_s": [round(r, 3) for r in runs]}


def bench_imports(repeats: int) -> dict[str, object]:
    targets = {
        "interpreter": "pass",
        "pipelines.cli": "import pipelines.cli",
        "dagster": "import dagster",
        "dagster_dbt": "import dagster_dbt",
        "great_expectations": "import great_expectations",
        "definitions": "from pipelines.definitions import defs; defs()",
    }
    return {
        name: _median([_fresh(_timed(code)) for _ in range(repeats)])
        for name, code in targets.items()
    }


_GE = """
import polars as pl
from pipelines.ingest.sources import SOURCES_BY_NAME
from pipelines.quality.suites import validate_load
source = SOURCES_BY_NAME["pos"]
rows = pl.DataFrame({f.name: [None] for f in source.stored_fields})
t = time.perf_counter(); validate_load(source, rows); first = time.perf_counter() - t
t = time.perf_counter(); validate_load(source, rows); again = time.perf_counter() - t
print(first - again)
"""


def bench_ge(repeats: int) -> dict[str, object]:
    """The set-up Great Expectations adds to the first validation of a process."""
    return _median([_fresh("import time" + _GE) for _ in range(repeats)])


def bench_dbt(repeats: int) -> dict[str, object]:
    from pipelines.transform.project import dbt_env, dbt_executable

    project = str(ROOT / "dbt_project")
    args = ["--project-dir", project, "--profiles-dir", project, "--quiet"]
    env = dbt_env()

    def call(*cmd: str) -> float:
        started = time.perf_counter()
        subprocess.run([dbt_executable(), *cmd, *args], env=env, check=True, cwd=ROOT)
        return time.perf_counter() - started

    with tempfile.TemporaryDirectory() as target:
        parse = [call("parse", "--no-partial-parse", "--target-path", target)]
        parse += [call("parse", "--no-partial-parse", "--target-path", target)
                  for _ in range(repeats - 1)]  # fmt: skip
    # start-up, partial parse and connection of a build, with no node to build
    start = [call("build", "--select", "tag:no_such_tag") for _ in range(repeats)]
    return {"parse_from_scratch": _median(parse), "build_start_up": _median(start)}


_DAGSTER = """
import dagster as dg
@dg.asset
def noop() -> None:
    return None
job = dg.define_asset_job("noop_job", selection=[noop])
defs = dg.Definitions(assets=[noop], jobs=[job])
resolved = defs.resolve_job_def("noop_job")
with dg.DagsterInstance.local_temp() as instance:
    resolved.execute_in_process(instance=instance)  # warm: the first run pays the schema
    t = time.perf_counter(); resolved.execute_in_process(instance=instance)
    print(time.perf_counter() - t)
"""


def bench_dagster(repeats: int) -> dict[str, object]:
    """The cost of one Dagster run start and end (a run of one asset that does nothing)."""
    return _median([_fresh("import time" + _DAGSTER) for _ in range(repeats)])


def bench_nothing_new(repeats: int, settle_runs: int = 3) -> dict[str, object]:
    """`python3 -m pipelines run` on the data folder with nothing new landing: the runs that
    still rebuild on what an earlier run wrote (at most `settle_runs`) are shown, not counted."""
    settling, timed = [], []
    for _ in range(settle_runs + repeats):
        started = time.perf_counter()
        out = subprocess.run(
            [PY, "-m", "pipelines", "run"], cwd=ROOT, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        skipped = "nothing changed" in out.stdout
        if out.returncode:
            raise RuntimeError(f"the run failed: {out.stdout[-3000:]}")
        if skipped:
            timed.append(seconds)
            if len(timed) == repeats:
                break
        elif timed:
            raise RuntimeError("a run with nothing new rebuilt after one had skipped")
        else:
            settling.append(round(seconds, 1))
    if not timed:
        raise RuntimeError(f"no run skipped after {settle_runs} runs: {settling}")
    return {"whole_command": _median(timed), "settling_runs_s": settling}


def _po_landing(work: Path, files: int) -> Path:
    from demo_generator import generate

    landing = work / f"edi_{files}"
    if not (landing / "wholesale").exists():
        generate(landing, days=90, wholesale_pos=files)
    return landing


def bench_smallfiles(repeats: int, files: int, work: Path) -> dict[str, object]:
    """The engine alone (no Dagster, no GX) loading `files` one-PO files: discovery and
    fingerprints, reading, checks, deduplication, quarantine, ledger, commit."""
    landing = _po_landing(work, files)
    code = f"""
import resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from pipelines.ingest.engine import ingest_all
ingest_all({str(work / "ref.duckdb")!r}, {str(landing)!r}, ["products"])
t = time.perf_counter(); c = time.process_time()
[r] = ingest_all({str(work / "ref.duckdb")!r}, {str(landing)!r}, ["wholesale"])
wall, cpu = time.perf_counter() - t, time.process_time() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(wall, cpu, peak, len(r.batches), r.total("records_seen"))
"""
    walls, cpus, peaks = [], [], []
    batches = seen = 0
    env = dict(os.environ, OMS_LANDING_SETTLE_SECONDS="0")
    for _ in range(repeats):
        (work / "ref.duckdb").unlink(missing_ok=True)
        out = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        wall, cpu, peak, b, s = out.stdout.split()[-5:]
        walls.append(float(wall))
        cpus.append(float(cpu))
        peaks.append(int(peak) * 1024)
        batches, seen = int(b), int(s)
    return {
        "files": batches,
        "records": seen,
        "wall": _median(walls),
        "cpu": _median(cpus),
        "peak_rss_mb": round(max(peaks) / 2**20),
    }


def bench_ratio(repeats: int, lines: int, work: Path) -> dict[str, object]:
    from bench_platform import compare_with_native

    from demo_generator import generate

    landing = work / f"lines_{lines}" / "landing"
    if not landing.exists():
        generate(landing, days=90, order_lines=lines)
    os.environ["OMS_LANDING_SETTLE_SECONDS"] = "0"
    result = compare_with_native(landing, work, repeats)
    result["meets_floor"] = bool(result["ratio_ours_to_native"] >= RATIO_FLOOR)  # type: ignore[operator]
    return result


BENCHES = ("imports", "ge", "dbt", "dagster", "nothing_new", "smallfiles", "ratio")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated benches")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--po-files", type=int, default=300_000)
    parser.add_argument("--ratio-lines", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    args = parser.parse_args()
    chosen = [b for b in args.only.split(",") if b]
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench {', '.join(sorted(unknown))}; choose from {BENCHES}")
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    runners = {
        "imports": lambda: bench_imports(args.repeats),
        "ge": lambda: bench_ge(args.repeats),
        "dbt": lambda: bench_dbt(args.repeats),
        "dagster": lambda: bench_dagster(args.repeats),
        "nothing_new": lambda: bench_nothing_new(args.repeats),
        "smallfiles": lambda: bench_smallfiles(args.repeats, args.po_files, args.work),
        "ratio": lambda: bench_ratio(args.repeats, args.ratio_lines, args.work),
    }
    for name in chosen:
        results[name] = runners[name]()
        print(name, json.dumps(results[name], indent=1), flush=True)
    results["load_average_at_end"] = os.getloadavg()
    results["peak_rss_mb_of_bench"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    out = ROOT / "bench" / "results" / f"fixed_costs_{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
