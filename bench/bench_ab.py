"""A/B timing of this checkout against an earlier revision, on the same landing files.

    .venv/bin/python bench/bench_ab.py --base fdcc376 --landing data/landing --repeat 3

For each revision (the base is checked out as a git worktree under --work), it loads the same
landing folder into a fresh warehouse with the ingest engine alone (`ingest_all`), then runs
`dbt build` on that warehouse with the revision's own dbt project, alternating A and B so that
a machine slowing down mid-run weighs on both. It prints every time, the medians, and the
ratios B/A (the checkout against the base). Both use this checkout's virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

_INGEST = (
    "import sys; from pipelines.ingest.engine import ingest_all; "
    "ingest_all(sys.argv[1], sys.argv[2])"
)


def _checkout(base: str, work: Path) -> Path:
    tree = work / f"base-{base}"
    if not tree.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), base], cwd=ROOT, check=True
        )
    return tree


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _one(tree: Path, landing: Path, work: Path, label: str) -> dict[str, float]:
    warehouse = work / f"{label}.duckdb"
    for stale in (warehouse, Path(f"{warehouse}.wal")):
        stale.unlink(missing_ok=True)
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
    if (tree / "dbt_project" / "macros" / "routing_parameters.sql").exists():
        # a tree whose models price with the routing rules' figures, passed in by the pipeline
        env["OMS_ROUTING_PARAMS"] = subprocess.run(
            [PYTHON, "-m", "pipelines.transform.project", "routing-params"],
            cwd=tree,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    ingest = _timed([PYTHON, "-c", _INGEST, str(warehouse), str(landing)], tree, env)
    dbt = str(Path(PYTHON).with_name("dbt"))
    project = str(tree / "dbt_project")
    flags = ["--project-dir", project, "--profiles-dir", project, "--quiet"]
    subprocess.run([dbt, "parse", *flags], cwd=tree, env=env, check=True)
    build = _timed([dbt, "build", *flags], tree, env)
    return {"ingest_s": ingest, "dbt_build_s": build}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--landing", type=Path, default=ROOT / "data" / "landing")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/oms_bench_ab"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    trees = {"A (base)": _checkout(args.base, args.work), "B (this checkout)": ROOT}
    times: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for i in range(args.repeat):
        for label, tree in trees.items():
            t = _one(tree, args.landing.resolve(), args.work, label.split()[0])
            times[label].append(t)
            print(f"round {i + 1} {label}: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    medians = {
        label: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for label, runs in times.items()
    }
    a, b = medians["A (base)"], medians["B (this checkout)"]
    print(f"medians of {args.repeat}, alternated:")
    for k in a:
        print(f"  {k}: A {a[k]:.2f} s, B {b[k]:.2f} s, B/A {b[k] / a[k]:.3f}")
    out = ROOT / "bench" / "results" / f"ab-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"base": args.base, "times": times, "medians": medians}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
