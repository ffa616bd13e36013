"""One place that reads the environment. Defaults run the embedded demo with no set-up.

Every path can be overridden with an environment variable (see `.env.example`), so a retailer
points the platform at their own landing folder and warehouse without touching code.
"""

from __future__ import annotations

import json
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
    # The dashboard: its users file (outside the repository's tracked files), the address it
    # listens on (loopback unless someone exposes it on purpose), and whether reading any page
    # needs a sign-in too (always the case once it listens beyond loopback).
    users_file: Path = PROJECT_ROOT / "data" / "users.yaml"
    dashboard_address: str = "127.0.0.1"
    dashboard_sign_in_to_view: bool = False
    # Dagster's instance (runs, schedules, sensor cursors).
    dagster_home: Path = PROJECT_ROOT / "data" / "dagster_home"
    # How the warehouse is opened (pipelines/warehouse.py), by every connection and by dbt
    # alike: DuckDB's memory limit (unset: DuckDB's default, 80 % of RAM), the folder it spills
    # to beyond it (unset: DuckDB's default, `<warehouse file>.tmp`) and how long a writer waits
    # for another process's lock.
    duckdb_memory_limit: str | None = None
    duckdb_temp_directory: Path | None = None
    warehouse_lock_timeout_s: float = 120.0
    # Routing: the merchant's rules file, the business day it plans for (`data`, `today` or an
    # ISO date, see pipelines/actions/assets.routing_today) and where fulfillment requests go
    # (JSON {location: endpoint}, see pipelines/actions/destinations.py; empty: file drop).
    routing_rules_path: Path = PROJECT_ROOT / "ops_actions" / "rules" / "routing_rules.yaml"
    routing_today: str = "data"
    # Holds: the merchant's hold rules file (ops_actions/holds/rules.py, docs/holds.md).
    hold_rules_path: Path = PROJECT_ROOT / "ops_actions" / "rules" / "hold_rules.yaml"
    fulfillment_destinations: str = ""
    # Where reorder requests go: supplier id (or transfer source location id, or "*") ->
    # endpoint; empty = one purchase-order file per supplier under <outbox>/reorders/.
    # Pairs rather than a dict, so Settings stays hashable.
    supplier_destinations: tuple[tuple[str, str], ...] = ()
    # Status write-back (pipelines/actions/status_destinations.py, docs/status_updates.md):
    # channel -> endpoint (empty: file drops under <outbox>/status/<channel>/), channel ->
    # updates per second (unset: no limit, a 429's Retry-After is honoured anyway), channel ->
    # shape overrides (shop_api | feed | acknowledgement | none), changes that occurred before
    # `status_since` are not sent, and the attempts before a dead letter.
    status_destinations: tuple[tuple[str, str], ...] = ()
    status_rate_limits: tuple[tuple[str, float], ...] = ()
    status_shapes: tuple[tuple[str, str], ...] = ()
    status_since: str = ""
    status_max_attempts: int = 8
    status_http_connections: int = 4
    # KPI alerts (docs/alerts.md): where an alert goes (an http(s) webhook URL, `#no-dedupe`
    # when it cannot deduplicate by Idempotency-Key; a file:// URL or folder; empty: JSON files
    # under <outbox>/alerts/), the attempts before a dead letter, and how many judged days
    # back each run looks (a day the flow did not run is still judged).
    alert_destination: str = ""
    alert_max_attempts: int = 6
    alert_lookback_days: int = 1
    # Freshness (the data-quality page): a source whose newest batch landed longer ago than
    # this many hours is flagged. Pairs (source, hours), "*" for every source not named; a
    # daily source with a couple of hours' slack by default.
    freshness_max_age_hours: tuple[tuple[str, float], ...] = (("*", 26.0),)

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
        users_file=_path("OMS_USERS_FILE", data_dir / "users.yaml"),
        dashboard_address=os.environ.get("OMS_DASHBOARD_ADDRESS") or "127.0.0.1",
        dashboard_sign_in_to_view=os.environ.get("OMS_DASHBOARD_SIGN_IN_TO_VIEW", "").lower()
        in ("1", "true", "yes"),
        dagster_home=_path("DAGSTER_HOME", data_dir / "dagster_home"),
        duckdb_memory_limit=os.environ.get("OMS_DUCKDB_MEMORY_LIMIT") or None,
        duckdb_temp_directory=(
            _path("OMS_DUCKDB_TEMP_DIRECTORY", Path())
            if os.environ.get("OMS_DUCKDB_TEMP_DIRECTORY")
            else None
        ),
        warehouse_lock_timeout_s=float(os.environ.get("OMS_WAREHOUSE_LOCK_TIMEOUT_SECONDS", "120")),
        routing_rules_path=_path(
            "OMS_ROUTING_RULES", PROJECT_ROOT / "ops_actions" / "rules" / "routing_rules.yaml"
        ),
        routing_today=os.environ.get("OMS_ROUTING_TODAY", "data"),
        hold_rules_path=_path(
            "OMS_HOLD_RULES", PROJECT_ROOT / "ops_actions" / "rules" / "hold_rules.yaml"
        ),
        fulfillment_destinations=os.environ.get("OMS_FULFILLMENT_DESTINATIONS", "").strip(),
        supplier_destinations=tuple(sorted(_json_object("OMS_SUPPLIER_DESTINATIONS").items())),
        status_destinations=tuple(sorted(_json_object("OMS_STATUS_DESTINATIONS").items())),
        status_rate_limits=tuple(sorted(_rates("OMS_STATUS_RATE_LIMITS").items())),
        status_shapes=tuple(sorted(_json_object("OMS_STATUS_SHAPES").items())),
        status_since=os.environ.get("OMS_STATUS_SINCE", "").strip(),
        status_max_attempts=int(os.environ.get("OMS_STATUS_MAX_ATTEMPTS", "8")),
        status_http_connections=max(1, int(os.environ.get("OMS_STATUS_HTTP_CONNECTIONS", "4"))),
        alert_destination=os.environ.get("OMS_ALERT_DESTINATION", "").strip(),
        alert_max_attempts=max(1, int(os.environ.get("OMS_ALERT_MAX_ATTEMPTS", "6"))),
        alert_lookback_days=max(1, int(os.environ.get("OMS_ALERT_LOOKBACK_DAYS", "1"))),
        freshness_max_age_hours=_freshness_hours("OMS_FRESHNESS_MAX_AGE_HOURS"),
    )


def _rates(var: str) -> dict[str, float]:
    """A JSON object of positive numbers (updates per second) from `var` ({} when unset)."""
    return _positive_numbers(var, '{"channel": updates per second > 0}')


def _positive_numbers(var: str, shape: str) -> dict[str, float]:
    """A JSON object of positive numbers from `var` ({} when unset); `shape` names what it
    holds in the error."""
    raw = os.environ.get(var, "").strip()
    try:
        value = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ValueError(f"{var} is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
        for k, v in value.items()
    ):
        raise ValueError(f"{var} must be a JSON object {shape}")
    return {k: float(v) for k, v in value.items()}


def _freshness_hours(var: str) -> tuple[tuple[str, float], ...]:
    """Hours after which a source is stale: a number for every source, or a JSON object
    {"source": hours, "*": hours for the others}; unset: 26 hours for all."""
    raw = os.environ.get(var, "").strip()
    try:
        hours = {"*": float(raw)} if raw else {}
    except ValueError:
        hours = _positive_numbers(var, '{"source": hours > 0, "*": hours > 0}')
    if not all(h > 0 for h in hours.values()):  # NaN too
        raise ValueError(f"{var} must be a number of hours > 0")
    return tuple(sorted({"*": 26.0, **hours}.items()))


def _json_object(var: str) -> dict[str, str]:
    """A JSON object of strings from `var` ({} when unset); anything else is refused by name."""
    raw = os.environ.get(var, "").strip()
    try:
        value = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ValueError(f"{var} is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f'{var} must be a JSON object {{"destination": "endpoint"}}')
    return value
