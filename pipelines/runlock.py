"""The warehouse writer lock: one run writes the warehouse at a time, the others wait.

DuckDB lets one process hold a database file for writing; a second process that opens it fails
at once. So every run that writes the warehouse (`python3 -m pipelines run` and `demo`, and the
runs Dagster launches from the sensor and schedules) first takes an OS lock on a file next to
the warehouse, `<warehouse>.run.lock`, and keeps it for the whole run. The holder writes who it
is into the file (pid, host, command, since when), so a run that has to wait can say whom it
waits for.

The lock is `flock(2)`: the kernel releases it when its holder exits, however it exits, so a run
killed with SIGKILL never leaves a stale lock behind. It is held per process and re-entrant
within one (the CLI holds it around a Dagster run whose executor asks for it again).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock, as written into the lock file."""

    pid: int
    host: str
    command: str
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} ({self.command}), since {self.since}"


class LockTimeout(TimeoutError):
    """The lock was not free within the time allowed (or at once, when not waiting)."""

    def __init__(self, path: Path, holder: Holder | None) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"the warehouse is being written by {who} (lock: {path})")


def lock_path(warehouse_path: Path) -> Path:
    """The lock file of a warehouse: next to it, so every process using it finds the same."""
    return warehouse_path.with_name(warehouse_path.name + ".run.lock")


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in the lock file, if it wrote one we can read."""
    try:
        data = json.loads(path.read_text() or "null")
        return Holder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


# Locks this process holds: lock path -> (open file, depth). Re-entrancy is per process, since
# flock locks belong to an open file and a second open of the same file would wait for itself.
_held: dict[Path, tuple[int, int]] = {}
_guard = threading.Lock()


def this_command() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] or "python"


@contextmanager
def warehouse_lock(
    warehouse_path: Path,
    *,
    command: str | None = None,
    timeout_s: float | None = None,
    on_wait: Callable[[Holder | None], None] | None = None,
    check_stop: Callable[[], None] | None = None,
) -> Iterator[Holder]:
    """Hold the writer lock of `warehouse_path` for the duration of the block.

    Waits while another process holds it: `on_wait(holder)` is called once when the wait
    starts; `timeout_s` bounds the wait (0: do not wait; None: wait as long as it takes) and
    raises `LockTimeout`; `check_stop()` is called while waiting and may raise to end the
    wait (a stop request).
    """
    path = lock_path(Path(warehouse_path))
    with _guard:
        if path in _held:
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield read_holder(path) or _me(command)
        finally:
            with _guard:
                fd, depth = _held[path]
                _held[path] = (fd, depth - 1)
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, timeout_s, on_wait, check_stop)
        me = _me(command)
        _record(fd, me)
        with _guard:
            _held[path] = (fd, 1)
        try:
            yield me
        finally:
            with _guard:
                del _held[path]
            # Clear the record before unlocking, so no one reads a holder that is gone.
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _me(command: str | None) -> Holder:
    since = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    return Holder(os.getpid(), socket.gethostname(), command or this_command(), since)


def _record(fd: int, holder: Holder) -> None:
    text = json.dumps(holder.__dict__).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, text, 0)
    os.fsync(fd)


def _acquire(
    fd: int,
    path: Path,
    timeout_s: float | None,
    on_wait: Callable[[Holder | None], None] | None,
    check_stop: Callable[[], None] | None,
) -> None:
    # Polled rather than blocking in flock(): a blocked flock() cannot be bounded by a timeout,
    # and a stop request (SIGTERM, a cancel from the Dagster UI) must end the wait promptly.
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = read_holder(path)
        if deadline is not None and time.monotonic() >= deadline:
            raise LockTimeout(path, holder)
        if not told:
            told = True
            if on_wait is not None:
                on_wait(holder)
        if check_stop is not None:
            check_stop()
        time.sleep(POLL_SECONDS)
