"""Runs that can be stopped, and runs that were killed: what a run leaves for the next one.

- Every run records the process that executes it (`oms/pid`, `oms/host` run tags), so a later
  run can tell a run that is still going from one whose process was killed (SIGKILL, a crash,
  a machine restart) and would otherwise show as STARTED in Dagster for ever.
- A stop request (SIGTERM, or SIGINT / Ctrl-C) interrupts the Dagster run: Dagster turns the
  signal into an interruption of the running step (dagster-dbt forwards it to its `dbt`
  process), the run ends FAILURE or CANCELED, and children left over are terminated.
- Runs Dagster launches itself (sensor, schedules, the UI) use `locked_in_process_executor`, so
  they take the same warehouse writer lock as the command line and wait for it.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

PID_TAG = "oms/pid"
HOST_TAG = "oms/host"


def process_tags() -> dict[str, str]:
    """Run tags naming the process that executes the run."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


class RunStopped(Exception):
    """The run was stopped by a signal before it finished."""

    def __init__(self, signum: int, run_id: str | None) -> None:
        self.signum = signum
        self.run_id = run_id
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process ended by that signal


# --- stop requests ---------------------------------------------------------------------------


class StopSignals:
    """Which stop signals arrived while the block ran.

    Dagster installs its own SIGINT/SIGTERM handlers while a run executes (they interrupt the
    running step) and swallows the signal; the wakeup fd still receives every signal number,
    so the command can tell afterwards that it was asked to stop.
    """

    def __init__(self, read_fd: int) -> None:
        self._fd = read_fd
        self._seen: list[int] = []

    def received(self) -> int | None:
        """The first stop signal received so far, if any."""
        with suppress(BlockingIOError, OSError):
            while data := os.read(self._fd, 512):
                self._seen.extend(b for b in data if b in (signal.SIGINT, signal.SIGTERM))
        return self._seen[0] if self._seen else None

    def check(self) -> None:
        if (signum := self.received()) is not None:
            raise RunStopped(signum, None)


def _interrupt(signum: int, frame: Any) -> None:
    # Outside Dagster's own handling (waiting for the lock, set-up), SIGTERM stops the command
    # like Ctrl-C does, so `finally` blocks run and the lock file is cleared.
    raise KeyboardInterrupt


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Treat SIGTERM like SIGINT for the block and record both.

    Signal handlers belong to the main thread; called from another thread (a run started by
    a server), stop requests are left to whoever owns the process."""
    read_fd, write_fd = os.pipe()
    if threading.current_thread() is not threading.main_thread():
        os.close(write_fd)
        try:
            yield StopSignals(read_fd)
        finally:
            os.close(read_fd)
        return
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    stops = StopSignals(read_fd)
    try:
        yield stops
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.set_wakeup_fd(previous_fd)
        stops.received()
        os.close(write_fd)
        os.close(read_fd)


def terminate_children(spare: Collection[int] = (), grace_s: float = 10.0) -> list[int]:
    """Terminate the processes this process started that are still running (a `dbt` that did
    not stop on the interrupt Dagster forwarded to it); SIGKILL after `grace_s`.

    Children in `spare` (those that existed before the run: a server a test started) and
    Python's own helpers (multiprocessing's resource tracker, which cleans up after the process
    at its exit) are left alone."""
    children = [
        pid
        for pid in child_pids(os.getpid())
        if pid not in spare and "from multiprocessing." not in _cmdline(pid)
    ]
    for pid in children:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    alive = list(children)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _reap(pid)]
    for pid in alive:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    return children


def _reap(pid: int) -> bool:
    """True while `pid` (our child) still runs; collects it once it has exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return process_alive(pid)
    return done == 0


def child_pids(parent: int) -> list[int]:
    """Live processes whose parent is `parent` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat_fields(int(entry.name))
        if stat and int(stat[1]) == parent and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from the state field on (the command name may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_alive(pid: int, started_by: float | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, when `started_by` (epoch seconds) is given, was
    started by then: a newer process with a reused pid is not the one we look for."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    stat = _stat_fields(pid)
    if stat is None:
        return True  # no /proc: existence is all we can tell
    if stat[0] in ("Z", "X"):
        return False
    if started_by is not None:
        started = _boot_time() + int(stat[19]) / os.sysconf("SC_CLK_TCK")
        if started > started_by + 1.0:
            return False
    return True


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def wait_for_warehouse_file(
    warehouse_path: Path, check_stop: Callable[[], None], poll_s: float = 0.5
) -> None:
    """Wait until no other process has the warehouse file open (DuckDB's own lock).

    Under the writer lock this is normally immediate, or a moment while the previous run
    prints its summary. It is not when a run was killed with SIGKILL while `dbt` was building:
    `dbt` is a process of its own, outlives its parent and keeps the file until it finishes;
    the next run waits for it instead of failing at ingest.
    """
    import duckdb

    from pipelines.warehouse import Warehouse

    # no lock wait of its own: this loop waits, and says so
    warehouse = Warehouse(warehouse_path, lock_timeout_s=0)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    tell_after = time.monotonic() + 3.0
    told = False
    while True:
        try:
            warehouse.open().close()
            return
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if not told and time.monotonic() >= tell_after:
                told = True
                print(
                    "Waiting for the warehouse file: another process still has it open "
                    f"({str(exc).splitlines()[0][:200]})",
                    flush=True,
                )
        check_stop()
        time.sleep(poll_s)


# --- runs whose process is gone --------------------------------------------------------------


def fail_abandoned_runs(instance: dg.DagsterInstance, by: str) -> list[str]:
    """Mark failed the unfinished runs of this host whose process is gone; their run ids.

    A run killed with SIGKILL (or lost with its machine) cannot record its own end. Only runs
    that carry our process tags are judged: a run of another host, or one started before the
    tags existed, is left as it is.
    """
    import dagster as dg

    unfinished = [
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    host = socket.gethostname()
    marked = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=unfinished)):
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if not pid or run.tags.get(HOST_TAG) != host:
            continue
        if process_alive(int(pid), started_by=record.create_timestamp.timestamp()):
            continue
        message = (
            f"The process that ran this run (pid {pid} on {host}) is gone: it was killed or "
            f"crashed before it could record the end of the run. Marked failed by {by}."
        )
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message=message)
        else:
            instance.report_run_failed(run, message=message)
        marked.append(run.run_id)
    return marked


# --- Dagster-launched runs: the executor lives in `pipelines.run_executor` ----------------------
# (imported on first use: the command line decides whether a run has anything to do before it
# imports Dagster)


def __getattr__(name: str) -> Any:
    if name in ("WarehouseLockedExecutor", "locked_in_process_executor"):
        from pipelines import run_executor

        return getattr(run_executor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
