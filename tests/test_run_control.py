"""Runs started together, stopped, or killed: real `python3 -m pipelines run` processes.

Each test starts the command line the way a user does (the bootstrap `python -m pipelines`,
which hands over to the real command by exec) on a small generated landing folder, and looks at
the processes and at the Dagster instance afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipelines.run_control import locked_in_process_executor
from pipelines.settings import PROJECT_ROOT
from tests.pipeline_process import kill_started, run_output, start_run

RUN_TIMEOUT_S = 900  # a whole flow takes tens of seconds, minutes on a busy shared machine


@pytest.fixture(scope="module")
def landing_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demo_generator import generate

    landing = tmp_path_factory.mktemp("run_control_landing") / "landing"
    generate(landing, days=3, order_lines=400, seed=11)
    return landing


@pytest.fixture
def data_dir(tmp_path: Path, landing_template: Path) -> Iterator[Path]:
    shutil.copytree(landing_template, tmp_path / "landing")
    yield tmp_path
    kill_started(tmp_path)


def _descendants(pid: int) -> dict[int, str]:
    """Live descendants of `pid`: pid -> command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                try:
                    cmd = (Path(f"/proc/{child}/cmdline").read_bytes()).replace(b"\0", b" ")
                except OSError:
                    continue
                found[child] = cmd.decode(errors="replace")
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _run_statuses(data_dir: Path) -> list[str]:
    import dagster as dg

    home = data_dir / "dagster_home"
    storage = home / "storage"
    if not (home / "history").is_dir() or not storage.is_dir() or not any(storage.iterdir()):
        # the run has not finished creating its instance's storage (schema migrations) until
        # it writes its first step's logs: opening it earlier races those migrations
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return [r.status.value for r in instance.get_runs()]


def _statuses_while_starting(data_dir: Path) -> list[str]:
    """`_run_statuses` while a run may still be creating its instance's storage: reading it
    in the middle of the run's own schema migration fails, which says only "not yet"."""
    try:
        return _run_statuses(data_dir)
    except Exception:
        return []


def _wait_until(what: str, predicate, timeout_s: float = RUN_TIMEOUT_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
def test_two_runs_started_together_both_succeed_one_after_the_other(data_dir: Path) -> None:
    first = start_run(data_dir, "first")
    second = start_run(data_dir, "second")
    codes = [first.wait(RUN_TIMEOUT_S), second.wait(RUN_TIMEOUT_S)]
    outputs = [run_output(data_dir, "first"), run_output(data_dir, "second")]
    assert codes == [0, 0], outputs
    waited = [out for out in outputs if "Another run is writing the warehouse" in out]
    assert len(waited) == 1, "exactly one of the two runs waits, and says so"
    assert "python3 -m pipelines run" in waited[0], "it says who holds the warehouse"
    assert _run_statuses(data_dir) == ["SUCCESS", "SUCCESS"]


@pytest.mark.e2e
def test_a_run_sent_sigterm_stops_with_its_dbt_and_the_next_run_succeeds(data_dir: Path) -> None:
    run = start_run(data_dir, "stopped")
    # Stop it while dbt builds: the hardest moment, a second process writing the warehouse.
    dbt = _wait_until(
        "dbt to start",
        lambda: [p for p, cmd in _descendants(run.pid).items() if "dbt build" in cmd],
    )
    time.sleep(3)
    tree = _descendants(run.pid)
    run.send_signal(signal.SIGTERM)
    code = run.wait(120)
    out = run_output(data_dir, "stopped")
    assert code != 0, out
    assert "Run stopped" in out, out
    # helpers of the run (Python's resource tracker, Dagster's log watchers) end on their own
    # once it has gone, a moment later; dbt must be gone too, not left building
    _wait_until(
        f"every process of the stopped run to end: {tree}",
        lambda: not [p for p in [*dbt, *tree] if _alive(p)],
        timeout_s=30,
    )
    statuses = _run_statuses(data_dir)
    assert len(statuses) == 1
    assert statuses[0] in ("FAILURE", "CANCELED"), statuses

    assert start_run(data_dir, "next").wait(RUN_TIMEOUT_S) == 0, run_output(data_dir, "next")
    assert sorted(_run_statuses(data_dir)) in (["FAILURE", "SUCCESS"], ["CANCELED", "SUCCESS"])


@pytest.mark.e2e
def test_a_run_killed_with_sigkill_is_marked_failed_by_the_next_run(data_dir: Path) -> None:
    killed = start_run(data_dir, "killed")
    _wait_until("the run to start", lambda: _statuses_while_starting(data_dir) == ["STARTED"])
    killed.send_signal(signal.SIGKILL)
    killed.wait(60)
    assert _run_statuses(data_dir) == ["STARTED"], "a killed run cannot record its own end"

    code = start_run(data_dir, "next").wait(RUN_TIMEOUT_S)
    out = run_output(data_dir, "next")
    assert code == 0, out
    assert "was left STARTED by a process that is gone: marked failed" in out
    assert sorted(_run_statuses(data_dir)) == ["FAILURE", "SUCCESS"]


@dg.op
def note_when_it_ran() -> float:
    return time.time()


@dg.job(executor_def=locked_in_process_executor)
def locked_job() -> None:
    note_when_it_ran()


def test_a_run_dagster_launches_waits_for_the_writer_lock_and_says_who_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the sensor's and schedules' runs do while `python3 -m pipelines run` writes."""
    import threading

    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("OMS_WAREHOUSE_PATH", str(warehouse))
    # Another process holds the lock until its stdin is closed.
    hold = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipelines.runlock import warehouse_lock\n"
        "with warehouse_lock(Path(sys.argv[1]), command='the other run'):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    released_at: list[float] = []

    def release_once_the_run_waits(instance: dg.DagsterInstance) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not released_at:
            for run in instance.get_runs():
                if any(
                    (e.message or "").startswith("Waiting for the warehouse")
                    for e in instance.all_logs(run.run_id)
                ):
                    time.sleep(1)  # the run keeps waiting while the lock is held
                    released_at.append(time.time())
                    break
            time.sleep(0.2)
        assert holder.stdin is not None
        holder.stdin.close()

    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with dg.instance_for_test() as instance:
            releaser = threading.Thread(target=release_once_the_run_waits, args=(instance,))
            releaser.start()
            with dg.execute_job(dg.reconstructable(locked_job), instance=instance) as result:
                assert result.success
                ran_at = result.output_for_node("note_when_it_ran")
            releaser.join()
            messages = [e.message for e in instance.all_logs(result.run_id)]
            run = instance.get_run_by_id(result.run_id)
        assert holder.wait(10) == 0
    finally:
        holder.kill()
        holder.wait()
    assert released_at and ran_at >= released_at[0], "the step ran once the lock was free"
    waited = [m for m in messages if m and m.startswith("Waiting for the warehouse")]
    assert len(waited) == 1, messages
    assert f"pid {holder.pid}" in waited[0] and "(the other run)" in waited[0]
    assert run is not None and run.tags["oms/pid"] == str(os.getpid())
