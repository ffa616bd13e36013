"""Real `python3 -m pipelines run` processes for tests: started as a user starts them, on a
data folder of the test's own, and never left running after the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

from pipelines.settings import PROJECT_ROOT


def run_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env.update(
        OMS_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        OMS_LANDING_SETTLE_SECONDS="0",
        OMS_LANDING_UNTERMINATED_GRACE_SECONDS="0",
    )
    return env


_started: dict[Path, list[subprocess.Popen[bytes]]] = {}


def start_run(data_dir: Path, name: str) -> subprocess.Popen[bytes]:
    """`python3 -m pipelines run`, as a user starts it, its output in `<name>.log`."""
    log = (data_dir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "run"],
        cwd=PROJECT_ROOT,
        env=run_env(data_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so cleanup can reach what it leaves
    )
    _started.setdefault(data_dir, []).append(proc)
    return proc


def run_output(data_dir: Path, name: str) -> str:
    return (data_dir / f"{name}.log").read_text(errors="replace")


def kill_started(data_dir: Path) -> None:
    """Nothing a test started may outlive it, whatever the test found."""
    for proc in _started.pop(data_dir, []):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
