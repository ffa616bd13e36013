"""Benchmark of the main job: wall time and peak memory by stage, ingest speed at scale.

    .venv/bin/python bench/bench_platform.py                 # the default demo size
    .venv/bin/python bench/bench_platform.py --sizes default 1000000 10000000

For each size it generates the landing files, then runs the real Dagster flow in three runs
(ingest, dbt build, publish) on a fresh warehouse, sampling the resident memory of this process
and all its children (dbt runs as a subprocess). For the large sizes it also times DuckDB's own
read of the same files into a table (the ceiling for any loader written on DuckDB) and our
ingest engine alone on a fresh warehouse, alternately, three times each, and reports the
ratio of the medians' rows per second; then it lands one more day and times the incremental run.
Results are printed and written to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_LINES = 120_000
DAYS = 90


class PeakRss:
    """Samples the resident set size of this process and its descendants (bytes, peak)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss() -> int:
        me = os.getpid()
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
                with open(f"/proc/{entry}/statm") as fh:
                    pages = int(fh.read().split()[1])
            except OSError:
                continue
            pid = int(entry)
            parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
            rss[pid] = pages * os.sysconf("SC_PAGE_SIZE")
        total = 0
        for pid, size in rss.items():
            p = pid
            while p and p != me:
                p = parents.get(p, 0)
            if p == me:
                total += size
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    detail: dict[str, object] = field(default_factory=dict)


def _measure(name: str, fn, **detail: object) -> tuple[Stage, object]:  # type: ignore[no-untyped-def]
    with PeakRss() as mem:
        started = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - started
    return Stage(name, seconds, mem.peak / 2**20, dict(detail)), out


def _dagster_stage(selection: str) -> bool:
    """One real Dagster run over a subset of the asset graph, in process."""
    import dagster as dg

    from pipelines.definitions import defs

    definitions = defs()
    groups = {
        "ingest": ["ingest"],
        "dbt": ["seeds", "staging", "intermediate", "marts"],
        "routing": ["actions"],
        "publish": ["publish"],
    }[selection]
    sel = dg.AssetSelection.groups(*groups)
    job = dg.define_asset_job(
        f"bench_{selection}", selection=sel, executor_def=dg.in_process_executor
    )
    resolved = dg.Definitions(
        assets=definitions.assets, resources=definitions.resources, jobs=[job]
    ).resolve_job_def(f"bench_{selection}")
    with dg.DagsterInstance.ephemeral() as instance:
        return resolved.execute_in_process(instance=instance, raise_on_error=True).success


def _ingest_figures(warehouse: Path) -> tuple[int, float]:
    """Records seen, and the ingest engine's own seconds (without Dagster and GX overhead)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        seen = con.execute("select sum(records_seen) from raw._batches").fetchone()[0] or 0
        secs = con.execute(
            """select sum(s) from (select distinct source, load_id, load_seconds as s
               from raw._batches where load_seconds is not null)"""
        ).fetchone()[0]
        return int(seen), float(secs or 0.0)
    finally:
        con.close()


def duckdb_native_read(landing: Path, scratch: Path) -> tuple[float, int]:
    """DuckDB reading the same files into tables with its own readers: the yardstick."""
    import duckdb

    from pipelines.ingest.sources import SOURCES

    path = scratch / "native.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    rows = 0
    started = time.perf_counter()
    for s in SOURCES:
        files = sorted(str(p) for g in s.globs for p in landing.glob(g))
        if not files:
            continue
        if s.format == "jsonl":
            reader = f"read_json({files}, format='newline_delimited', ignore_errors=true)"
        elif s.format == "fixed":
            reader = f"read_csv({files}, header=false, delim=E'\\x01', quote='', all_varchar=true, ignore_errors=true)"  # noqa: E501
        else:
            delim = "\\t" if s.format == "tsv" else ","
            reader = f"read_csv({files}, delim=E'{delim}', header=true, all_varchar=true, ignore_errors=true)"  # noqa: E501
        con.execute(f"create table {s.name} as select * from {reader}")
        rows += con.execute(f"select count(*) from {s.name}").fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    path.unlink(missing_ok=True)
    return seconds, rows


def engine_read(landing: Path, scratch: Path) -> tuple[float, int]:
    """Our ingest engine alone (no Dagster, no GX) loading every file into a fresh warehouse:
    discovery and hashing, parse, checks, deduplication, quarantine, ledger and commit."""
    from pipelines.ingest.engine import ingest_all

    path = scratch / "engine.duckdb"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    results = ingest_all(path, landing)
    seconds = time.perf_counter() - started
    path.unlink(missing_ok=True)
    return seconds, sum(r.total("records_seen") for r in results)


def compare_with_native(landing: Path, scratch: Path, repeats: int = 3) -> dict[str, object]:
    """Ours against DuckDB's own read, alternated so that both see the same machine noise."""
    ours, native = [], []
    for _ in range(repeats):
        secs, native_rows = duckdb_native_read(landing, scratch)
        native.append(secs)
        secs, our_rows = engine_read(landing, scratch)
        ours.append(secs)
    native_rps = native_rows / statistics.median(native)
    ours_rps = our_rows / statistics.median(ours)
    return {
        "median_seconds": round(statistics.median(native), 2),
        "rows": native_rows,
        "rows_per_s": round(native_rps),
        "ours_median_seconds": round(statistics.median(ours), 2),
        "ours_rows": our_rows,
        "ours_rows_per_s": round(ours_rps),
        "ratio_ours_to_native": round(ours_rps / native_rps, 3),
        "runs_seconds": {
            "native": [round(x, 2) for x in native],
            "ours": [round(x, 2) for x in ours],
        },
    }


def run_size(order_lines: int, work: Path, native: bool, incremental: bool) -> dict[str, object]:
    from demo_generator import generate
    from pipelines.transform.project import ensure_manifest

    data = work / f"lines_{order_lines}"
    os.environ["OMS_DATA_DIR"] = str(data)
    os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
    (data / "dagster_home").mkdir(parents=True, exist_ok=True)
    landing, warehouse = data / "landing", data / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    ensure_manifest()
    stages: list[Stage] = []
    if not (landing / "reference").exists():
        st, _ = _measure("generate", lambda: generate(landing, days=DAYS, order_lines=order_lines))
        stages.append(st)
    st, _ = _measure("ingest", lambda: _dagster_stage("ingest"))
    seen, engine_s = _ingest_figures(warehouse)
    st.detail.update(
        records=seen,
        engine_seconds=round(engine_s, 2),
        engine_rows_per_s=round(seen / engine_s) if engine_s else 0,
    )
    stages.append(st)
    st, _ = _measure("dbt_build", lambda: _dagster_stage("dbt"))
    stages.append(st)
    st, _ = _measure("routing", lambda: _dagster_stage("routing"))
    stages.append(st)
    st, _ = _measure("publish", lambda: _dagster_stage("publish"))
    stages.append(st)
    out: dict[str, object] = {"order_lines": order_lines, "stages": [asdict(s) for s in stages]}
    out["flow_seconds"] = round(sum(s.seconds for s in stages if s.name != "generate"), 2)
    if native:
        out["native_read"] = compare_with_native(landing, data)
    if incremental:
        st, _ = _measure(
            "generate_day",
            lambda: generate(landing, days=DAYS + 1, order_lines=order_lines, from_day=DAYS),
        )
        inc = [st]
        for stage, sel in (
            ("ingest", "ingest"),
            ("dbt_build", "dbt"),
            ("routing", "routing"),
            ("publish", "publish"),
        ):
            st, _ = _measure(stage, lambda sel=sel: _dagster_stage(sel))
            inc.append(st)
        out["incremental_day"] = {
            "stages": [asdict(s) for s in inc],
            "flow_seconds": round(sum(s.seconds for s in inc if s.name != "generate_day"), 2),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["default"],
        help="'default' (120k lines) or a number of order lines",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/oms_bench"))
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    results = []
    for size in args.sizes:
        lines = DEFAULT_LINES if size == "default" else int(size)
        large = lines >= 1_000_000
        res = run_size(lines, args.work, native=large, incremental=large)
        results.append(res)
        print(f"\n== {lines:,} order lines over {DAYS} days ==")
        for s in res["stages"]:  # type: ignore[union-attr]
            extra = "  ".join(
                f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in s["detail"].items()
            )
            print(
                f"  {s['name']:<12}{s['seconds']:>8.2f} s  peak {s['peak_rss_mb']:>7.0f} MB  "
                f"{extra}"
            )
        print(f"  flow total (ingest+dbt+routing+publish): {res['flow_seconds']} s")
        if "native_read" in res:
            n = res["native_read"]
            print(
                f"  DuckDB native read of the same files: {n['rows']:,} rows in "
                f"{n['median_seconds']} s (median of 3) = {n['rows_per_s']:,} rows/s; "
                f"our engine: {n['ours_rows']:,} records in {n['ours_median_seconds']} s "
                f"(median of 3, alternated) = {n['ours_rows_per_s']:,} rows/s; "
                f"ratio {n['ratio_ours_to_native']}"
            )
        if "incremental_day" in res:
            inc = res["incremental_day"]
            parts = ", ".join(f"{s['name']} {s['seconds']:.2f} s" for s in inc["stages"])
            print(f"  incremental day: {parts}; flow {inc['flow_seconds']} s")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out_dir / f"platform_{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
