"""The dbt project as Dagster sees it: built lazily, manifest prepared once per change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.settings import get_settings


def dbt_executable() -> str:
    """The `dbt` next to this interpreter: runs inside our virtual environment, never another."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def routing_params() -> str:
    """The routing rules' pricing figures as JSON for dbt (macro `routing_parameters`): the
    rules file the router reads is their one source."""
    from ops_actions.routing.rules import dbt_parameters, load_rules

    rules = load_rules(get_settings().routing_rules_path)
    return json.dumps(dbt_parameters(rules), sort_keys=True)


def dbt_env() -> dict[str, str]:
    """Environment for dbt subprocesses: the warehouse path always explicit and absolute, the
    warehouse's DuckDB memory limit and spill folder (`Warehouse.duckdb_settings`, one
    definition for every connection), and the routing rules' figures the models price with
    (`OMS_ROUTING_PARAMS`)."""
    from pipelines.warehouse import Warehouse

    settings = get_settings()
    env = dict(os.environ)
    env["OMS_WAREHOUSE_PATH"] = str(settings.warehouse_path)
    env.update(Warehouse.from_settings(settings).dbt_env())
    env["OMS_ROUTING_PARAMS"] = routing_params()
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


@contextmanager
def scoped_env(env: dict[str, str]) -> Iterator[None]:
    """Set the OMS_/DBT_ variables of `env` for the duration of the block, then restore."""
    keys = [k for k in env if k.startswith(("OMS_", "DBT_"))]
    previous = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys})
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for sub in ("models", "macros", "seeds", "tests", "snapshots"):
        for path in (project_dir / sub).rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        path = project_dir / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_manifest() -> Path:
    """Run `dbt parse` when the manifest is missing or older than any project file."""
    settings = get_settings()
    project_dir = settings.dbt_project_dir
    manifest = project_dir / "target" / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project_dir):
        return manifest
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ],
        check=True,
        env=dbt_env(),
    )
    return manifest


def source_selectors(raw_tables: list[str]) -> list[str]:
    """dbt selectors of the sources reading these raw tables and every model built on them."""
    manifest = json.loads(ensure_manifest().read_text())
    wanted = set(raw_tables)
    return sorted(
        f"source:{node['source_name']}.{node['name']}+"
        for node in manifest["sources"].values()
        if (node.get("identifier") or node["name"]) in wanted
    )


def rebuild(selectors: list[str]) -> int:
    """`dbt build --full-refresh` of the selected models: incremental models forget what they
    once read, so a record moved out of `raw` leaves them too. Returns dbt's exit code."""
    if not selectors:
        return 0
    settings = get_settings()
    return subprocess.call(
        [
            dbt_executable(),
            "build",
            "--full-refresh",
            "--select",
            *selectors,
            "--project-dir",
            str(settings.dbt_project_dir),
            "--profiles-dir",
            str(settings.dbt_project_dir),
        ],
        env=dbt_env(),
    )


@cache
def dbt_project() -> DbtProject:
    settings = get_settings()
    return DbtProject(project_dir=settings.dbt_project_dir, profiles_dir=settings.dbt_project_dir)


if __name__ == "__main__":  # `python -m pipelines.transform.project routing-params`
    if sys.argv[1:] != ["routing-params"]:
        raise SystemExit("usage: python -m pipelines.transform.project routing-params")
    print(routing_params())
