"""Every source fed hostile files, then the whole flow twice: nothing stops it, nothing is lost,
nothing leaks (issue 10, "Done when": the corpus test). The corpus is `tests/hostile_corpus.py`.

The test gathers every problem before failing, so one run names them all. With
`HOSTILE_CORPUS_SKIP=<case>,<case>` it leaves cases out (say `non-utf8-name`, to see past a case
that stops every source while it is being fixed; never in CI). With
`HOSTILE_CORPUS_REPORT=<file>` it also writes each hostile file's fate (ledger counts, reject
reasons) and the runs' failed steps and checks to that file as JSON.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import _point_settings_at, _restore
from tests.hostile_corpus import SETTLED_AGO_SECONDS, Corpus, build_corpus, complete_growing_file

pytestmark = pytest.mark.e2e

SECRET = "HXSECRET7f3a"  # 12 characters: fits a fixed-width field too
PASSWD_MARKER = "root:x:0:0"
# file cases whose records are all valid: they must load like any other file
LOADS_WHOLE = {
    "odd-name",
    "odd-folder",
    "crlf",
    "copy-original",
    "injection-name-'; drop table raw._batches; --",
}
MAX_QUANTITY = 1_000_000


def _settle_all(landing: Path, skip: set[Path]) -> None:
    t = time.time() - SETTLED_AGO_SECONDS
    for path in landing.rglob("*"):
        if path not in skip and not path.is_symlink():
            os.utime(path, (t, t))


def _unterminated(path: Path) -> bool:
    """Whether a file's last byte is not a line break (it may still be being written)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if not size:
                return False
            fh.seek(size - 1)
            return fh.read(1) != b"\n"
    except OSError:
        return False


def _glob_matches(landing: Path) -> dict[str, str]:
    """Every path matching a source's glob -> source (the landing contract's files)."""
    from pipelines.ingest.sources import SOURCES

    out = {}
    for source in SOURCES:
        for g in source.globs:
            for rel in glob.glob(g, root_dir=landing, include_hidden=True):
                out[rel] = source.name
    return out


def _run_report() -> dict[str, Any]:
    """Failed steps and failed checks of the latest Dagster run."""
    from dagster import DagsterEventType, DagsterInstance

    report: dict[str, Any] = {"failed_steps": [], "failed_checks": []}
    with DagsterInstance.get() as instance:
        records = instance.get_run_records(limit=1)
        if not records:
            return report
        run = records[0].dagster_run
        report["run_id"] = run.run_id
        report["status"] = str(run.status)
        for rec in instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.STEP_FAILURE
        ).records:
            event = rec.event_log_entry.dagster_event
            error = getattr(event.event_specific_data, "error", None)
            message = error.message if error is not None else ""
            report["failed_steps"].append({"step": event.step_key, "error": message[:4000]})
        for rec in instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            data = rec.event_log_entry.dagster_event.event_specific_data
            if not data.passed:
                meta = {k: str(getattr(v, "value", v))[:1000] for k, v in data.metadata.items()}
                report["failed_checks"].append(
                    {
                        "asset": "/".join(data.asset_key.path),
                        "check": data.check_name,
                        "metadata": meta,
                    }
                )
    return report


def _dbt_results(since: float) -> list[dict[str, Any]]:
    """dbt nodes that errored or failed, from the run_results.json written since `since`."""
    from pipelines.settings import get_settings

    target = get_settings().dbt_project_dir / "target"
    out = []
    for path in target.rglob("run_results.json"):
        if path.stat().st_mtime < since:
            continue
        for r in json.loads(path.read_text()).get("results", []):
            if r.get("status") in ("error", "fail", "runtime error"):
                out.append(
                    {
                        "node": r.get("unique_id"),
                        "status": r.get("status"),
                        "failures": r.get("failures"),
                        "message": (r.get("message") or "")[:2000],
                    }
                )
    return out


def _ledger(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int, int, int]]:
    return con.execute(
        "select source, file, records_seen, loaded, rejected, duplicates from raw._batches"
    ).fetchall()


def _raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and not starts_with(table_name, '_') and table_type = 'BASE TABLE'"
        ).fetchall()
    ]


def _bad_raw_values(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Values no raw table may hold: whatever a later model cannot compute with."""
    problems = []
    columns = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and not starts_with(table_name, '_')"
    ).fetchall()
    for table, column, dtype in columns:
        col, name = f'"{column}"', column.lower()
        checks = []
        if dtype in ("DOUBLE", "FLOAT", "REAL"):
            checks.append(("not finite", f"not isfinite({col})"))
        if "latitude" in name:
            checks.append(("latitude outside [-90, 90]", f"{col} not between -90 and 90"))
        if "longitude" in name:
            checks.append(("longitude outside [-180, 180]", f"{col} not between -180 and 180"))
        if dtype in ("INTEGER", "BIGINT", "HUGEINT") and re.search(
            r"qty|quantity|on_hand|pack_size", name
        ):
            checks.append(
                (
                    f"quantity beyond {MAX_QUANTITY}",
                    f"abs(cast({col} as HUGEINT)) > {MAX_QUANTITY}",
                )
            )
        if dtype in ("INTEGER", "BIGINT"):
            lowest = "-2147483648" if dtype == "INTEGER" else "-9223372036854775808"
            checks.append(("the type's lowest value (cannot be negated)", f"{col} = {lowest}"))
        if name == "currency":
            checks.append(("not a 3-letter code", f"not regexp_full_match({col}, '[A-Z]{{3}}')"))
        if dtype in ("TIMESTAMP", "DATE", "TIMESTAMP WITH TIME ZONE"):
            checks.append(
                (
                    "timestamp not finite or outside 2000-2100",
                    f"not isfinite({col}) or year({col}) not between 2000 and 2100",
                )
            )
        for what, cond in checks:
            rows = con.execute(
                f'select {col}::VARCHAR, _file from raw."{table}" where {col} is not null '
                f"and ({cond}) limit 5"
            ).fetchall()
            if rows:
                problems.append(f"raw.{table}.{column}: {what}: {rows}")
    return problems


def _secret_in_warehouse(con: duckdb.DuckDBPyConnection, marker: str) -> list[str]:
    found = []
    for table in [*_raw_tables(con), "_rejects", "_batches"]:
        n = con.execute(
            f'select count(*) from raw."{table}" t where contains(t::VARCHAR, ?)', [marker]
        ).fetchone()[0]
        if n:
            found.append(f"raw.{table}: {n} rows hold {marker!r}")
    return found


def _secret_in_published(current: Path, marker: str) -> list[str]:
    found = []
    con = duckdb.connect()
    for path in sorted(current.rglob("*.parquet")):
        n = con.execute(
            "select count(*) from read_parquet(?) t where contains(t::VARCHAR, ?)",
            [str(path), marker],
        ).fetchone()[0]
        if n:
            found.append(f"published {path.name}: {n} rows hold {marker!r}")
    con.close()
    return found


def _fates(
    con: duckdb.DuckDBPyConnection, corpus: Corpus, ledger: dict[str, list[tuple[Any, ...]]]
) -> list[dict[str, Any]]:
    """Each hostile file's ledger counts and reject reasons (for the report)."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for file, reason in con.execute(
        "select file, reason from raw._rejects order by record_no"
    ).fetchall():
        if len(reasons[file]) < 3:
            reasons[file].append(reason[:300])
    out = []
    for hf in corpus.files:
        rows = ledger.get(hf.rel, [])
        out.append(
            {
                "source": hf.source,
                "file": hf.rel,
                "case": hf.case,
                "field": hf.field,
                "kind": hf.kind,
                "value": hf.value[:200],
                "ledger_rows": len(rows),
                "seen_loaded_rejected_duplicates": [list(r[2:]) for r in rows],
                "reasons": reasons.get(hf.rel, []),
            }
        )
    return out


def test_hostile_files_in_every_source_never_stop_the_flow_nor_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo_generator import generate
    from pipelines.cli import run_flow
    from pipelines.settings import get_settings

    # the real rules for files still being written (the suite's default turns them off)
    monkeypatch.setenv("OMS_LANDING_SETTLE_SECONDS", "30")
    monkeypatch.setenv("OMS_LANDING_UNTERMINATED_GRACE_SECONDS", "600")
    previous = _point_settings_at(tmp_path / "data")
    try:
        settings = get_settings()
        landing = settings.landing_dir
        generate(landing, days=7, order_lines=600, seed=7)
        skip = frozenset(filter(None, os.environ.get("HOSTILE_CORPUS_SKIP", "").split(",")))
        corpus = build_corpus(landing, tmp_path / "outside", SECRET, skip)
        assert corpus.growing is not None
        growing = landing / corpus.growing[0]
        _settle_all(landing, skip={growing})

        started = time.time()
        ok1, seconds1 = run_flow()
        run1 = _run_report()
        run1["dbt"] = _dbt_results(started)
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        ledger1 = _ledger(con)
        con.close()

        complete_growing_file(corpus)
        started = time.time()
        ok2, seconds2 = run_flow()
        run2 = _run_report()
        run2["dbt"] = _dbt_results(started)

        problems: list[str] = []
        for n, (ok, report) in enumerate(((ok1, run1), (ok2, run2)), start=1):
            if not ok:
                problems.append(f"run {n} failed: {json.dumps(report, indent=1)[:20000]}")
            # a warning (references to lines nobody knows, as the hostile records' keys are)
            # lists records for a person and stops nothing; an error is a failure
            errors = [c for c in report["failed_checks"] if c["metadata"].get("status") != "warn"]
            if errors:
                problems.append(f"run {n} failed checks: {errors}")

        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        ledger2 = _ledger(con)
        by_file: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in ledger2:
            by_file[row[1]].append(row)

        # every file matching a glob: one ledger row, reconciled
        cases = corpus.by_rel()
        may_wait = {"no-trailing-newline"}
        for rel, source in sorted(_glob_matches(landing).items()):
            path = landing / rel
            if path.is_dir() or (path.is_symlink() and not path.exists()):
                continue  # a folder named like a file, a broken link: nothing to read
            # a name that is not UTF-8 is in the ledger with its bytes escaped
            rows = by_file.get(os.fsencode(rel).decode("utf-8", "backslashreplace"), [])
            case = cases[rel].case if rel in cases else "generated"
            # a file whose last line has no line break yet waits (up to the grace period of
            # OMS_LANDING_UNTERMINATED_GRACE_SECONDS): binary files and header-only ones too
            unterminated = _unterminated(path)
            if len(rows) != 1 and not ((case in may_wait or unterminated) and not rows):
                problems.append(f"{source} {rel!r} ({case}): {len(rows)} ledger rows, not 1")
            for _, _, seen, loaded, rejected, dupes in rows:
                if seen != loaded + rejected + dupes:
                    problems.append(
                        f"{source} {rel!r} ({case}): seen {seen} != loaded {loaded} + "
                        f"rejected {rejected} + duplicates {dupes}"
                    )
        for hf in corpus.files:
            shown = os.fsencode(hf.rel).decode("utf-8", "backslashreplace")
            for _, _, seen, loaded, rejected, dupes in by_file.get(shown, []):
                got = (seen, loaded, rejected, dupes)
                if hf.case == "non-utf8-name" and got != (0, 0, 0, 0):
                    # refused by name (`refused_file`), never read: the warehouse holds text
                    problems.append(f"{hf.source} {shown!r} (non-UTF-8 name): got {got}")
                if hf.case in LOADS_WHOLE | may_wait and (loaded, rejected) != (
                    hf.valid_records,
                    0,
                ):
                    problems.append(
                        f"{hf.source} {hf.rel!r} ({hf.case}): {hf.valid_records} valid records, "
                        f"got seen/loaded/rejected/duplicates {got}"
                    )
                if hf.case.startswith("link-") and loaded:
                    problems.append(f"{hf.source} {hf.rel!r} ({hf.case}): loaded {loaded}")
                if hf.case == "identical-copy" and loaded:
                    problems.append(f"{hf.source} {hf.rel!r} (identical copy): loaded {loaded}")
                if hf.case == "huge-line" and (loaded, rejected) != (2, 1):
                    problems.append(
                        f"{hf.source} {hf.rel!r} (a 40 MB line between two valid records): "
                        f"seen/loaded/rejected/duplicates {got}, expected (3, 2, 1, 0)"
                    )

        # the second run loads nothing new, except the file completed between the runs
        first = {(r[0], r[1], r[2], r[3]) for r in ledger1}
        late = {corpus.growing[0]} | {
            f.rel for f in corpus.files if f.case in may_wait or _unterminated(landing / f.rel)
        }
        for row in ledger2 if ok1 else []:  # (after a failed run 1, run 2 loads what it skipped)
            if (row[0], row[1], row[2], row[3]) not in first and row[3] and row[1] not in late:
                problems.append(f"run 2 loaded {row[3]} records again from {row[1]!r}")

        # the file completed between the runs holds its whole value, never the cut one
        prices = con.execute(
            "select unit_price::VARCHAR from raw.pos__sales where _file = ?", [corpus.growing[0]]
        ).fetchall()
        if prices != [("13.99",)]:
            problems.append(f"file written in two goes: raw.pos__sales unit_price {prices}")

        # nothing of a file outside the landing folder reaches the warehouse or the dashboards
        problems += _secret_in_warehouse(con, SECRET)
        problems += _secret_in_warehouse(con, PASSWD_MARKER)
        current = settings.published_dir / "current"
        if not (current.exists() and any(current.glob("*.parquet"))):
            problems.append(f"no published copy for the dashboards in {current}")
        else:
            problems += _secret_in_published(current, SECRET)
            problems += _secret_in_published(current, PASSWD_MARKER)

        # no raw value that a later model cannot compute with
        problems += _bad_raw_values(con)

        report_path = os.environ.get("HOSTILE_CORPUS_REPORT")
        if report_path:
            Path(report_path).write_text(
                json.dumps(
                    {
                        "seconds": [seconds1, seconds2],
                        "runs": [run1, run2],
                        "problems": problems,
                        "fates": _fates(con, corpus, by_file),
                    },
                    indent=1,
                )
            )
        con.close()
        assert not problems, "\n".join(p[:3000] for p in problems)
    finally:
        _restore(previous)
