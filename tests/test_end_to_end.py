"""The main job end to end on generated data: reconciliation, quarantine, idempotence, publish."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DemoRun

pytestmark = pytest.mark.e2e


def _con(run: DemoRun) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run.warehouse_path), read_only=True)


def test_main_job_succeeds_and_publishes_the_marts(demo_run: DemoRun) -> None:
    assert demo_run.success
    current = demo_run.published_dir / "current"
    meta = json.loads((current / "_run.json").read_text())
    for table in (
        "fct_fulfillment_kpis_daily",
        "fct_inventory_kpis_daily",
        "fct_shipments",
        "ingest_batches",
        "ingest_rejects",
    ):
        assert (current / f"{table}.parquet").exists(), table
        assert meta["tables"][table] > 0, table


def test_every_landing_file_is_one_reconciled_batch(demo_run: DemoRun) -> None:
    con = _con(demo_run)
    files = {
        p.relative_to(demo_run.landing_dir).as_posix()
        for p in demo_run.landing_dir.rglob("*")
        if p.is_file()
    }
    batches = con.execute(
        "select file, records_seen, loaded, rejected, duplicates from raw._batches"
    ).fetchall()
    assert {b[0] for b in batches} == files
    for file, seen, loaded, rejected, dupes in batches:
        assert seen == loaded + rejected + dupes, file
    con.close()


def test_every_injected_fault_lands_in_the_rejects_with_its_reason(demo_run: DemoRun) -> None:
    with (demo_run.truth_dir / "faults.csv").open() as fh:
        truth = list(csv.DictReader(fh))
    expected = Counter((t["source"], t["file"], t["expected_reason"]) for t in truth)
    con = _con(demo_run)
    got = Counter()
    for source, file, kind, code, n in con.execute(
        "select source, file, kind, reason_code, count(*) from raw._rejects group by all"
    ).fetchall():
        got[(source, file, "duplicate" if kind == "duplicate" else code)] += n
    con.close()
    # every fault kind of the generator is exercised, and each lands where and why it should
    assert {k[2] for k in expected} >= {
        "duplicate",
        "unknown_sku",
        "invalid_quantity",
        "malformed_record",
        "invalid_timestamp",
        "event_before_label",
    }
    missing = {k: n for k, n in expected.items() if got[k] < n}
    assert not missing, f"faults not quarantined as expected: {missing}"
    unexpected = {k: n for k, n in got.items() if n > expected.get(k, 0)}
    assert not unexpected, f"records rejected that were not injected faults: {unexpected}"


def _built_on_routing_state() -> set[str]:
    """Models downstream of what routing writes (dbt sources `ops.*`), from the manifest: they
    move when a routing run acts again, by design (stock it allocated is no longer a candidate,
    demand of an open line follows its allocation, positions and suggestions follow both)."""
    from pipelines.transform.project import dbt_project

    manifest = json.loads(dbt_project().manifest_path.read_text())
    children = manifest["child_map"]
    todo = [k for k in children if k.startswith("source.") and ".ops." in k]
    seen: set[str] = set()
    while todo:
        node = todo.pop()
        for child in children.get(node, []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return {manifest["nodes"][n]["name"] for n in seen if n.startswith("model.")}


def test_rerunning_the_main_job_changes_nothing(demo_run: DemoRun) -> None:
    """Same landing files, second run: raw data and the marts not built on the routing state
    are identical. (The routing run itself does act again: lines it backordered are retried,
    and stock it allocated is no longer a candidate, so the marts built on `ops.*` are left
    out, except the stock available before allocations, which must not move.)"""
    from pipelines.cli import run_flow

    moving = _built_on_routing_state()
    assert {"ops_allocation_candidates", "fct_available_to_promise"} <= moving

    def snapshot() -> dict[str, int]:
        con = _con(demo_run)
        tables = con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_schema in ('raw', 'marts') and table_type = 'BASE TABLE'"""
        ).fetchall()
        out = {
            f"{schema}.{t}": con.execute(f"select count(*) from {schema}.{t}").fetchone()[0]
            for schema, t in tables
            if t not in moving
        }
        out["kpi_units"] = con.execute(
            "select sum(units_ordered) from marts.fct_fulfillment_kpis_daily"
        ).fetchone()[0]
        out["atp_before_allocations"] = con.execute(
            "select sum(available_before_allocations) from marts.fct_available_to_promise"
        ).fetchone()[0]
        con.close()
        return out

    before = snapshot()
    ok, _ = run_flow()
    assert ok
    assert snapshot() == before


def test_landing_folder_only_holds_source_files(demo_run: DemoRun) -> None:
    """The generator is a source like any other: nothing but landing files in landing/."""
    from pipelines.ingest.sources import SOURCES

    matched = {p for s in SOURCES for g in s.globs for p in demo_run.landing_dir.glob(g)}
    everything = {p for p in demo_run.landing_dir.rglob("*") if p.is_file()}
    assert everything == matched, sorted(str(Path(p)) for p in everything - matched)[:5]
