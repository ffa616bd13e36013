"""What a run of the whole flow reads, fingerprinted: a run with nothing new is not run.

A run's outputs (raw tables, dbt models, routing, deliveries, reorder requests, the published
copy) are a function of its inputs. When none of them changed since the last complete run,
every asset of the flow depends on nothing new, so the whole run is skipped and reported as
"nothing changed". The inputs, by part:

- `landing`: files in the landing folder the ledger does not hold by path and stat (a file
  still settling does not count: a run would leave it waiting too);
- `raw`: the rows of every table in `raw` and the ledger's last load (a repair changes them);
- `ops_sources`: the content of every dbt source outside `raw` (today `ops.allocations` and
  `ops.outbox`; any source another domain adds is read from the manifest), as the dbt build
  saw it: the run records them as they were before it ran, so the run after one that routed
  or delivered rebuilds once on what it wrote;
- `outbox_due`: actions still to deliver (a retry comes due with time, not with data);
- `ops_store`: the people's requests (planners' decisions, retries of dead letters);
- `code`: the dbt project, the routing rules and the Python of the pipelines (by stat);
- `settings`: the `OMS_*` and `DBT_*` environment; `date`: the UTC day (KPIs age by the
  calendar, so a new day rebuilds).

The record is `<warehouse>.inputs.json`, written after a complete run only: a failed or
partial run leaves the previous record, so the next run does everything again.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.discovery import pending_files
from pipelines.ingest.sources import SOURCES
from pipelines.settings import PROJECT_ROOT, Settings

# Parts taken before the run (what dbt reads of the other domains' tables; the code the run
# ran, whatever is edited meanwhile), the rest as the run leaves them.
BEFORE_RUN = ("ops_sources", "code")
CODE_GLOBS = (
    "dbt_project/models/**/*",
    "dbt_project/macros/**/*",
    "dbt_project/seeds/**/*",
    "dbt_project/snapshots/**/*",
    "dbt_project/tests/**/*",
    "dbt_project/*.yml",
    "pipelines/**/*.py",
    "ops_actions/**/*",
    "requirements.lock",
)
_FINAL_STATES = ("delivered", "dead_letter")


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def record_path(settings: Settings) -> Path:
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".inputs.json")


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
    ]


def _raw(con: duckdb.DuckDBPyConnection) -> str:
    counts = {
        t: con.execute(f'select count(*) from raw."{t}"').fetchone() for t in _tables(con, "raw")
    }
    # a warehouse no run has written yet has no ledger
    last = (
        con.execute("select max(loaded_at), count(*) from raw._batches").fetchone()
        if "_batches" in counts
        else None
    )
    return _digest([counts, last])


def dbt_sources_outside_raw(settings: Settings) -> list[tuple[str, str]]:
    """(schema, table) of every dbt source another domain writes (not an ingest table)."""
    manifest = settings.dbt_project_dir / "target" / "manifest.json"
    if not manifest.exists():
        return []
    nodes = json.loads(manifest.read_text())["sources"].values()
    return sorted(
        {(n["schema"], n.get("identifier") or n["name"]) for n in nodes if n["schema"] != "raw"}
    )


def _ops_sources(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    contents: dict[str, object] = {}
    for schema, table in dbt_sources_outside_raw(settings):
        if table not in _tables(con, schema):
            contents[f"{schema}.{table}"] = None
            continue
        # every row's hash, combined without order: any change of any value shows
        contents[f"{schema}.{table}"] = con.execute(
            f'select count(*), bit_xor(hash(t)) from "{schema}"."{table}" as t'
        ).fetchone()
    return _digest(contents)


def _outbox_due(con: duckdb.DuckDBPyConnection) -> str:
    if "outbox" not in _tables(con, "ops"):
        return _digest(0)
    marks = ", ".join("?" for _ in _FINAL_STATES)
    due = con.execute(
        f"select count(*) from ops.outbox where state not in ({marks})", list(_FINAL_STATES)
    ).fetchone()
    return _digest(due)


def _stats(paths: list[Path]) -> str:
    out = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return _digest(sorted(out))


def _code(settings: Settings) -> str:
    files = {
        Path(p)
        for g in CODE_GLOBS
        for p in glob.glob(str(PROJECT_ROOT / g), recursive=True)
        if os.path.isfile(p) and "/target/" not in p and "__pycache__" not in p
    }
    files.add(settings.routing_rules_path)
    return _stats(sorted(files))


def _settings() -> str:
    return _digest(sorted((k, v) for k, v in os.environ.items() if k.startswith(("OMS_", "DBT_"))))


def current_parts(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, str]:
    """The fingerprint of every input part (see the module docstring), `landing` apart."""
    store = settings.ops_store_path
    return {
        "raw": _raw(con),
        "ops_sources": _ops_sources(con, settings),
        "outbox_due": _outbox_due(con),
        "ops_store": _stats([store, store.with_name(store.name + "-wal")]),
        "code": _code(settings),
        "settings": _settings(),
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
    }


def pending_landing(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Files per source a run would read or record (new, changed, copies, refused)."""
    pending = {}
    for source in SOURCES:
        n = pending_files(con, source, str(settings.landing_dir), settings.landing_settle_seconds)
        if n:
            pending[source.name] = n
    return pending


@dataclass(frozen=True)
class Verdict:
    """Whether a run has anything to do, and why (the parts that changed)."""

    changed: list[str]
    before: dict[str, str]  # the parts taken before the run, recorded after it

    @property
    def nothing_changed(self) -> bool:
        return not self.changed


def judge_inputs(con: duckdb.DuckDBPyConnection, settings: Settings) -> Verdict:
    """Compare the inputs now with the record of the last complete run."""
    parts = current_parts(con, settings)
    before = {k: parts[k] for k in BEFORE_RUN}
    recorded = read_record(settings)
    if recorded is None:
        return Verdict(["no complete run recorded yet"], before)
    if "_batches" not in _tables(con, "raw"):
        return Verdict(["the warehouse holds no ledger"], before)
    changed = [k for k, v in parts.items() if recorded.get("parts", {}).get(k) != v]
    pending = pending_landing(con, settings)
    changed += [f"landing/{name} ({n} files)" for name, n in sorted(pending.items())]
    return Verdict(changed, before)


def read_record(settings: Settings) -> dict | None:  # type: ignore[type-arg]
    path = record_path(settings)
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def write_record(
    con: duckdb.DuckDBPyConnection, settings: Settings, before: dict[str, str], run_id: str
) -> None:
    """Record the inputs of a complete run: what it read before it ran (`before`), the rest
    as it leaves them. Written atomically (a new file renamed over the old)."""
    parts = current_parts(con, settings) | before
    path = record_path(settings)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {
                "run_id": run_id,
                "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "parts": parts,
            },
            indent=1,
        )
    )
    os.replace(tmp, path)


def forget_record(settings: Settings) -> None:
    """After a run that was not complete: the next run does everything."""
    record_path(settings).unlink(missing_ok=True)
