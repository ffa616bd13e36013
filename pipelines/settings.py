"""One place that reads the environment. Defaults run the embedded demo with no set-up.

Every path can be overridden with an environment variable (see `.env.example`), so a retailer
points the platform at their own landing folder and warehouse without touching code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved locations of everything the platform reads and writes."""

    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    published_dir: Path
    ops_store_path: Path
    outbox_dir: Path
    dbt_project_dir: Path
    environment: str
    # A landing file modified more recently than this is still being written: a later run
    # reads it. One whose last line has no line break waits up to the grace period.
    landing_settle_seconds: float = 5.0
    landing_unterminated_grace_seconds: float = 600.0

    @property
    def dbt_profiles_dir(self) -> Path:
        return self.dbt_project_dir


def get_settings() -> Settings:
    """Read settings from the environment at call time (tests change it per case)."""
    data_dir = _path("OMS_DATA_DIR", PROJECT_ROOT / "data")
    return Settings(
        data_dir=data_dir,
        landing_dir=_path("OMS_LANDING_DIR", data_dir / "landing"),
        warehouse_path=_path("OMS_WAREHOUSE_PATH", data_dir / "warehouse.duckdb"),
        published_dir=_path("OMS_PUBLISHED_DIR", data_dir / "published"),
        ops_store_path=_path("OMS_OPS_STORE_PATH", data_dir / "ops_store.sqlite"),
        outbox_dir=_path("OMS_OUTBOX_DIR", data_dir / "outbox"),
        dbt_project_dir=_path("OMS_DBT_PROJECT_DIR", PROJECT_ROOT / "dbt_project"),
        environment=os.environ.get("OMS_ENV", "local"),
        landing_settle_seconds=float(os.environ.get("OMS_LANDING_SETTLE_SECONDS", "5")),
        landing_unterminated_grace_seconds=float(
            os.environ.get("OMS_LANDING_UNTERMINATED_GRACE_SECONDS", "600")
        ),
    )
