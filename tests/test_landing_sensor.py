"""The landing sensor: it requests a run when settled files change, and nothing in the landing
folder can stop it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.flow import full_flow
from pipelines.ingest.sensors import build_landing_sensor, landing_fingerprint

CSV = "store_id,register_id,receipt_no,line_no,sold_at,sku,qty,unit_price,currency\n"


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OMS_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("OMS_LANDING_SETTLE_SECONDS", "30")
    (tmp_path / "landing" / "pos" / "ST-NYC").mkdir(parents=True)
    return tmp_path / "landing"


def _write(path: Path, age_s: float) -> None:
    path.write_text(CSV)
    then = time.time() - age_s
    os.utime(path, (then, then))


def _evaluate(cursor: str | None) -> dg.SensorResult:
    sensor = build_landing_sensor(full_flow)
    return sensor(dg.build_sensor_context(cursor=cursor))  # type: ignore[return-value]


def test_a_settled_file_requests_one_run_and_a_settling_one_waits(landing: Path) -> None:
    _write(landing / "pos" / "ST-NYC" / "sales_20260801.csv", age_s=120)
    first = _evaluate(None)
    assert len(first.run_requests or []) == 1
    again = _evaluate(first.cursor)
    assert not again.run_requests  # nothing changed
    # a file still being written does not trigger a run that would only defer it ...
    fresh = landing / "pos" / "ST-NYC" / "sales_20260802.csv"
    _write(fresh, age_s=1)
    assert not _evaluate(first.cursor).run_requests
    # ... once settled, it does
    then = time.time() - 60
    os.utime(fresh, (then, then))
    assert len(_evaluate(first.cursor).run_requests or []) == 1


def test_broken_links_and_names_that_are_not_utf8_never_stop_the_sensor(
    landing: Path, tmp_path: Path
) -> None:
    _write(landing / "pos" / "ST-NYC" / "sales_20260801.csv", age_s=120)
    (landing / "pos" / "ST-NYC" / "sales_20260803.csv").symlink_to(tmp_path / "gone.csv")
    odd = os.path.join(os.fsencode(landing), b"pos", b"ST-NYC", b"sales_2026\xff.csv")
    with open(odd, "wb") as fh:
        fh.write(CSV.encode())
    os.utime(odd, (time.time() - 120, time.time() - 120))
    fingerprint, count = landing_fingerprint()
    assert count == 2 and fingerprint
