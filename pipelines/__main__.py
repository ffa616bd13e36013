"""`python3 -m pipelines <command>`: the two commands of the README, with set-up built in.

This file uses the standard library only: it runs under a bare Python 3.11, creates the
project's virtual environment from the pinned lock file when it is missing or out of date, and
then hands over to the real command-line interface (`pipelines.cli`) inside that environment.
It hands over by replacing itself (exec), not by starting a child: the process the user started
is the run, so stopping it (Ctrl-C, `kill PID`) stops the run instead of leaving an orphan.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("OMS_VENV", ROOT / ".venv"))
LOCK = ROOT / "requirements.lock"
UV_VERSION = "0.13.8"  # the installer itself is pinned too
STAMP = VENV / ".oms-installed"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def ensure_environment() -> Path:
    """Create or update `.venv` so it holds exactly the locked dependencies."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required, this is {sys.version.split()[0]}")
    python = _venv_python()
    digest = _lock_digest()
    if python.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return python
    print(f"Setting up the environment in {VENV} (first run, or the lock file changed)...")
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"uv=={UV_VERSION}",
        ]
    )
    uv = str(VENV / "bin" / "uv")
    _run([uv, "pip", "sync", "-q", "--python", str(python), str(LOCK)])
    _run([uv, "pip", "install", "-q", "--python", str(python), "--no-deps", "-e", str(ROOT)])
    STAMP.write_text(digest)
    return python


def main() -> int:
    python = ensure_environment()
    args = sys.argv[1:] or ["--help"]
    env = dict(os.environ)
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # dbt, dagster, streamlit
    env["VIRTUAL_ENV"] = str(VENV)
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [str(python), "-m", "pipelines.cli", *args], env)  # does not return


if __name__ == "__main__":
    raise SystemExit(main())
