"""The Dagster instance the platform's runs are recorded in (`DAGSTER_HOME`).

Its `dagster.yaml` must limit runs tagged `oms/warehouse: write` to one at a time, so Dagster
queues them instead of starting runs that would only wait for the warehouse writer lock. The
lock (`pipelines/runlock.py`) is what keeps one writer at a time; this limit is kept in the
instance's file whatever else it holds: added to an existing file that lacks it, never by
overwriting what an operator configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from pipelines.settings import get_settings

HEADER = (
    "# Kept by `oms` (pipelines/instance.py): runs that write the warehouse queue one at a time,\n"
    "# since DuckDB allows one writing process per file. Other settings are yours to add.\n"
)


def _warehouse_limits() -> list[dict[str, Any]]:
    from pipelines.flow import WAREHOUSE_TAGS  # imports Dagster: only when a run needs it

    return [{"key": k, "value": v, "limit": 1} for k, v in WAREHOUSE_TAGS.items()]


def ensure_instance_config(home: Path) -> Path:
    """`home/dagster.yaml` with the warehouse limit and telemetry off unless set otherwise."""
    config = home / "dagster.yaml"
    data: dict[str, Any] = {}
    if config.exists():
        loaded = yaml.safe_load(config.read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{config} is not a YAML mapping")
        data = loaded or {}
    limits = (
        data.setdefault("concurrency", {})
        .setdefault("runs", {})
        .setdefault("tag_concurrency_limits", [])
    )
    changed = not config.exists()
    for wanted in _warehouse_limits():
        same = [
            x for x in limits if x.get("key") == wanted["key"] and x.get("value") == wanted["value"]
        ]
        if not same:
            limits.append(wanted)
            changed = True
        elif any(x.get("limit") != 1 for x in same):
            for x in same:
                x["limit"] = 1
            changed = True
    if "telemetry" not in data:
        data["telemetry"] = {"enabled": False}
        changed = True
    if changed:
        tmp = config.with_suffix(".yaml.tmp")
        tmp.write_text(HEADER + yaml.safe_dump(data, sort_keys=False))
        os.replace(tmp, config)
    return config


def dagster_home() -> Path:
    """The instance folder, ready to use, and `DAGSTER_HOME` pointing at it for Dagster."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    ensure_instance_config(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
