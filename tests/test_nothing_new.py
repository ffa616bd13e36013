"""A run with nothing new is not run: the inputs of the last complete run, and what changes them.

Real warehouse (ingested from the small landing fixture), real `ops` tables and the real dbt
manifest; each test changes one input the way an operator or a source would, and the verdict
must name it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ops_actions.schema import ensure_schema
from pipelines.ingest.engine import ingest_all
from pipelines.run_inputs import (
    dbt_sources_outside_raw,
    forget_record,
    judge_inputs,
    record_path,
    write_record,
)
from pipelines.settings import Settings, get_settings
from pipelines.transform.project import ensure_manifest
from pipelines.warehouse import Warehouse


@pytest.fixture
def built(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A warehouse loaded from the landing fixture, with the ops tables, and a record of its
    inputs as a complete run would leave it."""
    ensure_manifest()
    monkeypatch.setenv("OMS_LANDING_DIR", str(small_landing))
    monkeypatch.setenv("OMS_WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("OMS_OPS_STORE_PATH", str(tmp_path / "ops_store.sqlite"))
    settings = get_settings()
    ingest_all(settings.warehouse_path, small_landing)
    with Warehouse(settings.warehouse_path).connect() as con:
        ensure_schema(con)
        verdict = judge_inputs(con, settings)
        assert verdict.changed == ["no complete run recorded yet"]
        write_record(con, settings, verdict.before, "run-1")
    yield settings


def _verdict(settings: Settings) -> list[str]:
    with Warehouse(settings.warehouse_path).connect() as con:
        return judge_inputs(con, settings).changed


def test_nothing_changed_after_a_complete_run(built: Settings) -> None:
    assert _verdict(built) == []
    recorded = json.loads(record_path(built).read_text())
    assert recorded["run_id"] == "run-1"
    assert recorded["parts"]["date"] == dt.datetime.now(dt.UTC).date().isoformat()


def test_a_new_landing_file_is_something_new(built: Settings) -> None:
    pos = built.landing_dir / "pos" / "ST-NYC" / "sales_20260801.csv"
    copy = pos.with_name("sales_20260802.csv")
    shutil.copy(pos, copy)
    then = time.time() - 60
    os.utime(copy, (then, then))
    assert _verdict(built) == ["landing/pos (1 files)"]


def test_a_file_still_settling_is_not_yet_something_new(built: Settings) -> None:
    pos = built.landing_dir / "pos" / "ST-NYC" / "sales_20260801.csv"
    shutil.copy(pos, pos.with_name("sales_20260803.csv"))
    # (the setting itself is an input: changed through the environment it would count)
    assert _verdict(dataclasses.replace(built, landing_settle_seconds=30)) == []
    assert _verdict(built) == ["landing/pos (1 files)"]


def test_what_dbt_reads_of_the_ops_tables_is_an_input(built: Settings) -> None:
    assert ("ops", "outbox") in dbt_sources_outside_raw(built)
    with Warehouse(built.warehouse_path).connect() as con:
        con.execute(
            """insert into ops.outbox (action_id, kind, destination, payload, state,
                   next_attempt_at, created_at)
               values ('a1', 'fulfillment_request', 'file', '{}', 'delivered', now(), now())"""
        )
    assert _verdict(built) == ["ops_sources"]
    # an action still to deliver is work to do, whatever else holds
    with Warehouse(built.warehouse_path).connect() as con:
        con.execute("update ops.outbox set state = 'pending'")
    assert _verdict(built) == ["ops_sources", "outbox_due"]


def test_a_repair_changing_raw_rows_is_something_new(built: Settings) -> None:
    with Warehouse(built.warehouse_path).connect() as con:
        con.execute(
            "delete from raw.pos__sales where rowid = (select min(rowid) from raw.pos__sales)"
        )
    assert _verdict(built) == ["raw"]


def test_a_new_day_a_setting_or_a_request_of_a_person_is_something_new(
    built: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = record_path(built)
    recorded = json.loads(path.read_text())
    recorded["parts"]["date"] = "2000-01-01"
    path.write_text(json.dumps(recorded))
    assert _verdict(built) == ["date"]
    monkeypatch.setenv("OMS_ROUTING_TODAY", "today")
    assert _verdict(get_settings()) == ["settings", "date"]
    monkeypatch.delenv("OMS_ROUTING_TODAY")
    built.ops_store_path.write_bytes(b"a decision")
    assert _verdict(built) == ["ops_store", "date"]


def test_an_incomplete_run_leaves_no_record(built: Settings) -> None:
    forget_record(built)
    assert _verdict(built) == ["no complete run recorded yet"]
    with duckdb.connect(str(built.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from raw._batches").fetchone()[0] > 0
