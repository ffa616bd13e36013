"""The landing sensor: it requests a run when settled files change, and nothing in the landing
folder can stop it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
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


# ------------------------------------------------------------------------------------------
# Ticks as the daemon runs them: a real instance, the cursor carried from tick to tick
# ------------------------------------------------------------------------------------------


class Daemon:
    """Evaluates the sensor tick after tick the way the Dagster daemon does: against a real
    instance, keeping the cursor a tick returned (a tick that returns none keeps the old one),
    and launching a request only when its run key was not launched before."""

    def __init__(self, instance: dg.DagsterInstance, cursor: str | None = None) -> None:
        self.instance = instance
        self.cursor = cursor
        self.sensor = build_landing_sensor(full_flow)
        self.run_keys: list[str] = []
        self.requests: list[dg.RunRequest] = []
        self.skip_reasons: list[str] = []

    def tick(self) -> int:
        """One evaluation; the number of runs it launched."""
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        if result.cursor is not None:
            self.cursor = result.cursor
        if result.skip_reason:
            self.skip_reasons.append(str(result.skip_reason.skip_message))
        launched = 0
        for request in result.run_requests or []:
            self.requests.append(request)
            if request.run_key not in self.run_keys:
                self.run_keys.append(str(request.run_key))
                launched += 1
        return launched


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    with dg.instance_for_test() as instance:
        yield Daemon(instance)


def _settle(path: Path) -> None:
    then = time.time() - 120
    os.utime(path, (then, then))


def test_each_change_of_a_settled_file_requests_exactly_one_run(
    landing: Path, daemon: Daemon
) -> None:
    store = landing / "pos" / "ST-NYC"
    first = store / "sales_20260801.csv"
    _write(first, age_s=120)
    assert [daemon.tick() for _ in range(3)] == [1, 0, 0]
    second = store / "sales_20260802.csv"
    _write(second, age_s=120)
    assert [daemon.tick() for _ in range(3)] == [1, 0, 0]
    with first.open("a") as handle:  # a correction appended to a loaded file
        handle.write("ST-NYC,R1,1,1,2026-08-01T10:00:00Z,SKU-1,1,9.99,USD\n")
    _settle(first)
    assert [daemon.tick() for _ in range(2)] == [1, 0]
    assert len(daemon.requests) == 3 == len(set(daemon.run_keys))


def test_a_file_rewritten_with_the_same_size_requests_a_run(landing: Path, daemon: Daemon) -> None:
    path = landing / "pos" / "ST-NYC" / "sales_20260801.csv"
    _write(path, age_s=300)
    assert daemon.tick() == 1
    _write(path, age_s=120)  # same bytes, same size, a later modification time
    assert daemon.tick() == 1


def test_a_file_still_being_written_requests_nothing_until_it_settles(
    landing: Path, daemon: Daemon
) -> None:
    _write(landing / "pos" / "ST-NYC" / "sales_20260801.csv", age_s=120)
    assert daemon.tick() == 1
    cursor = daemon.cursor
    growing = landing / "pos" / "ST-NYC" / "sales_20260802.csv"
    for _ in range(3):  # the source keeps writing: each tick sees a fresh modification time
        with growing.open("a") as handle:
            handle.write(CSV)
        assert daemon.tick() == 0
        assert daemon.cursor == cursor  # a skipped tick leaves the cursor alone
    _settle(growing)
    assert daemon.tick() == 1
    assert daemon.cursor != cursor


def test_the_request_is_for_the_full_flow_keyed_by_the_fingerprint_it_stores_as_cursor(
    landing: Path, daemon: Daemon
) -> None:
    _write(landing / "pos" / "ST-NYC" / "sales_20260801.csv", age_s=120)
    assert daemon.tick() == 1
    request = daemon.requests[0]
    fingerprint, count = landing_fingerprint()
    assert count == 1
    assert request.run_key == fingerprint == daemon.cursor
    assert request.tags == {"oms/trigger": "landing"}
    assert daemon.sensor.job_name == full_flow.name


def test_a_restarted_daemon_with_the_stored_cursor_requests_nothing_new(
    landing: Path, daemon: Daemon
) -> None:
    _write(landing / "pos" / "ST-NYC" / "sales_20260801.csv", age_s=120)
    assert daemon.tick() == 1
    restarted = Daemon(daemon.instance, cursor=daemon.cursor)
    assert restarted.tick() == 0
    assert Daemon(daemon.instance, cursor="a-cursor-from-another-folder").tick() == 1


def test_an_empty_or_missing_landing_folder_skips_with_a_reason(
    landing: Path, daemon: Daemon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert daemon.tick() == 0
    assert daemon.skip_reasons == ["no new landing files (0 files known)"]
    monkeypatch.setenv("OMS_LANDING_DIR", str(tmp_path / "not-created-yet"))
    assert daemon.tick() == 0
    assert daemon.cursor is None


def test_files_the_sources_do_not_read_never_request_a_run(landing: Path, daemon: Daemon) -> None:
    for name in ("README.txt", "pos/ST-NYC/.sales_20260801.csv.part", "pos/notes_20260801.csv"):
        _write(landing / name, age_s=120)
    assert daemon.tick() == 0
    _write(landing / "pos" / "ST-NYC" / "sales_20260801.csv", age_s=120)
    assert daemon.tick() == 1


def test_broken_links_link_loops_and_odd_names_never_stop_a_tick(
    landing: Path, daemon: Daemon, tmp_path: Path
) -> None:
    store = landing / "pos" / "ST-NYC"
    (store / "sales_20260803.csv").symlink_to(tmp_path / "gone.csv")
    (store / "sales_20260804.csv").symlink_to(store / "sales_20260804.csv")  # a loop
    odd = os.path.join(os.fsencode(store), b"sales_2026\xff.csv")
    with open(odd, "wb") as handle:
        handle.write(CSV.encode())
    os.utime(odd, (time.time() - 120, time.time() - 120))
    assert daemon.tick() == 1  # the file with the odd name is a real, settled file
    _write(store / "sales_20260801.csv", age_s=120)
    assert daemon.tick() == 1
    assert landing_fingerprint()[1] == 2
