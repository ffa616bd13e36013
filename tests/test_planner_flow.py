"""The real models end to end: the demo data through the full flow (dbt demand history,
forecasts, safety stock, `ops_reorder_suggestions`), a planner's decisions on what it
suggested, the next full run turning them into purchase-order files exactly once, and the
summary reporting it."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ops_actions.store import DecisionInput, list_decisions, record_decisions
from pipelines.summary import build_summary

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_copy(demo_run, tmp_path: Path) -> Iterator[Path]:
    """A copy of the demo run's data folder (its own Dagster home), so this test's second run
    leaves the shared session fixture as it was."""
    if not demo_run.success:
        pytest.fail("the demo run (tests/conftest.py) failed")
    data = tmp_path / "data"
    shutil.copytree(
        demo_run.data_dir,
        data,
        symlinks=True,  # published/current stays a link to its version folder
        ignore=shutil.ignore_patterns("dagster_home", "*.lock", "*.wal"),
    )
    keys = ("OMS_DATA_DIR", "DAGSTER_HOME")
    previous = {k: os.environ.get(k) for k in keys}
    os.environ["OMS_DATA_DIR"] = str(data)
    os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
    try:
        yield data
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_approved_suggestions_of_the_real_models_become_po_files_once(own_copy: Path) -> None:
    from pipelines.cli import run_flow
    from pipelines.settings import get_settings

    settings = get_settings()
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    rows = con.execute(
        """select suggestion_id, suggestion_version, kind, supplier_id, source_location_id,
                  suggested_qty, suggested_value
           from marts.ops_reorder_suggestions order by suggested_value desc"""
    ).fetchall()
    con.close()
    assert len(rows) >= 3, "the demo data should need some reorders"
    approved = rows[:-1]
    record_decisions(
        settings.ops_store_path,
        [DecisionInput(r[0], r[1], "approved", float(r[5]) + 1, "e2e") for r in approved]
        + [DecisionInput(rows[-1][0], rows[-1][1], "rejected", None, "e2e")],
        "paula",
        "planner",
    )

    ok, _ = run_flow()
    assert ok

    decisions = list_decisions(settings.ops_store_path)
    assert all(d.consumed_at for d in decisions)
    # The second build may give some suggestions new figures (e.g. the first run's routing
    # allocated stock, so positions moved): those approvals are stale, the rest requested.
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    now_current = set(
        con.execute(
            "select suggestion_id, suggestion_version from marts.ops_reorder_suggestions"
        ).fetchall()
    )
    made, value = con.execute(
        "select count(*), sum(suggested_value) from marts.ops_reorder_suggestions"
    ).fetchall()[0]
    states = con.execute(
        """select kind, destination, state from ops.outbox
           where kind in ('purchase_order', 'transfer_request')"""
    ).fetchall()
    con.close()
    still = [r for r in approved if (r[0], r[1]) in now_current]
    expected = {r[0]: "requested" if r in still else "stale" for r in approved}
    expected[rows[-1][0]] = "rejected"
    assert {d.suggestion_id: d.outcome for d in decisions} == expected
    assert still, "every approval went stale: the versions are not stable across builds"
    # one request per supplier (purchases) and per source location (transfers)
    parties = {(r[2], r[3] if r[2] == "purchase" else r[4]) for r in still}
    assert len(states) == len(parties)
    assert {s for *_, s in states} == {"delivered"}
    lines: list[dict[str, str]] = []
    for path in sorted((settings.outbox_dir / "reorders").glob("*.csv")):
        with path.open(newline="") as fh:
            lines += list(csv.DictReader(fh))
    assert sorted(r["suggestion_id"] for r in lines) == sorted(r[0] for r in still)
    quantity = {r[0]: float(r[5]) + 1 for r in still}
    assert all(float(r["quantity"]) == quantity[r["suggestion_id"]] for r in lines)

    summary = build_summary(settings.warehouse_path)
    assert f"Reorder suggestions: {made:,} worth {value:,.2f}" in summary
    assert f"reorder requests sent: {len(states):,}" in summary
