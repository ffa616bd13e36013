"""Shared fixtures: a real small demo run (generator -> Dagster -> dbt -> publish), built once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

DEMO_DAYS = 14
DEMO_ORDER_LINES = 6_000
DEMO_SEED = 7


@dataclass(frozen=True)
class DemoRun:
    """Where a finished end-to-end run left everything."""

    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    truth_dir: Path
    published_dir: Path
    success: bool


def _point_settings_at(data_dir: Path) -> dict[str, str | None]:
    """Point every OMS_* path at `data_dir`; return the previous values to restore."""
    keys = [
        "OMS_DATA_DIR",
        "OMS_LANDING_DIR",
        "OMS_WAREHOUSE_PATH",
        "OMS_PUBLISHED_DIR",
        "OMS_OPS_STORE_PATH",
        "OMS_OUTBOX_DIR",
        "DAGSTER_HOME",
    ]
    previous = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ.pop(k, None)
    os.environ["OMS_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
    return previous


def _restore(previous: dict[str, str | None]) -> None:
    for k, v in previous.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """Generate a small demo dataset and run the real full flow on it, once per session."""
    from demo_generator import generate
    from pipelines.cli import run_flow
    from pipelines.settings import get_settings

    data_dir = tmp_path_factory.mktemp("demo_run")
    previous = _point_settings_at(data_dir)
    try:
        settings = get_settings()
        truth = data_dir / "generator_truth"
        generate(
            settings.landing_dir,
            days=DEMO_DAYS,
            order_lines=DEMO_ORDER_LINES,
            seed=DEMO_SEED,
            truth_dir=truth,
        )
        success, _ = run_flow()
        yield DemoRun(
            data_dir=data_dir,
            landing_dir=settings.landing_dir,
            warehouse_path=settings.warehouse_path,
            truth_dir=truth,
            published_dir=settings.published_dir,
            success=success,
        )
    finally:
        _restore(previous)


@pytest.fixture
def small_landing(tmp_path: Path) -> Path:
    """A copy of the hand-written landing files (every format, every fault kind)."""
    import shutil

    target = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing_small", target)
    return target


@pytest.fixture(autouse=True)
def _files_written_by_tests_are_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests write landing files and load them at once: no settle time, no wait for a final
    line break (the tests of those rules set them explicitly)."""
    monkeypatch.setenv("OMS_LANDING_SETTLE_SECONDS", "0")
    monkeypatch.setenv("OMS_LANDING_UNTERMINATED_GRACE_SECONDS", "0")


# --------------------------------------------------------------------------------------------
# Dashboard users, and a demo run whose deliveries to one warehouse and to the suppliers fail
# --------------------------------------------------------------------------------------------

DASHBOARD_USERS = {
    "olga": ("operator", "olga-operates-42"),
    "victor": ("viewer", "victor-views-42"),
    "paula": ("planner", "paula-plans-42"),
}
"""Users of the dashboard in the page tests: name -> (role, password)."""


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A users file with DASHBOARD_USERS (bcrypt is slow: made once per session)."""
    from dashboards.lib.users import add_user

    path = tmp_path_factory.mktemp("users") / "users.yaml"
    for name, (role, password) in DASHBOARD_USERS.items():
        add_user(path, name, role, password)
    return path


FAILING_WAREHOUSE = "WH-DAL"
"""The demo warehouse whose fulfillment API answers 500 in `demo_with_dead_letters`."""
FAILED_REORDERS = 2
"""Reorder suggestions approved in `demo_with_dead_letters`, whose suppliers answer 500."""


@dataclass(frozen=True)
class DeadLetterDemo:
    """A finished demo run with dead letters of two kinds, published; `settings_env` points
    every OMS_* setting at it (apply it with monkeypatch to run a job on it)."""

    data_dir: Path
    warehouse_path: Path
    published_dir: Path
    settings_env: dict[str, str]
    success: bool


def run_job(name: str) -> bool:
    """One real in-process Dagster run of job `name` under the current settings."""
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    job = defs().resolve_job_def(name)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    return bool(result.success)


def _dead_letter_everything_failing(server_url: str) -> None:
    """Drive the failing deliveries to dead letters with the real dispatcher, its clock moved
    forward a day per cycle (the backoff would otherwise take hours), and approve and send
    FAILED_REORDERS reorder suggestions to suppliers that fail too."""
    import datetime as dt

    from ops_actions.delivery.dispatcher import dispatch_due
    from ops_actions.reorders.decide import REORDER_KINDS
    from ops_actions.reorders.destinations import reorder_adapters
    from ops_actions.reorders.run import consume_decisions
    from ops_actions.run_routing import FULFILLMENT_KIND
    from ops_actions.store import DecisionInput, record_decisions
    from pipelines.actions.destinations import fulfillment_adapters
    from pipelines.planning.assets import read_suggestions
    from pipelines.settings import get_settings
    from pipelines.warehouse import Warehouse

    settings = get_settings()
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = Warehouse(settings.warehouse_path).open()
    try:
        suggestions = read_suggestions(con)
        assert suggestions is not None and suggestions.height >= FAILED_REORDERS
        picked = suggestions.sort("suggestion_id").head(FAILED_REORDERS).to_dicts()
        record_decisions(
            settings.ops_store_path,
            [
                DecisionInput(
                    r["suggestion_id"], r["suggestion_version"], "approved", r["suggested_qty"]
                )
                for r in picked
            ],
            "paula",
            "planner",
        )
        consume_decisions(con, settings.ops_store_path, suggestions)
        suppliers = reorder_adapters({"*": server_url}, settings.outbox_dir)
        for day in range(1, 12):
            clock = start + dt.timedelta(days=day)
            dispatch_due(
                con, fulfillment_adapters(), kinds=(FULFILLMENT_KIND,), now=lambda c=clock: c
            )
            dispatch_due(con, suppliers, kinds=REORDER_KINDS, now=lambda c=clock: c)
        left = con.execute(
            "select count(*) from ops.outbox where state in ('pending', 'in_flight')"
        ).fetchall()[0][0]
        assert left == 0, f"{left} actions still not delivered nor dead-lettered"
    finally:
        con.close()


@pytest.fixture(scope="session")
def demo_with_dead_letters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeadLetterDemo]:
    """The small demo through the real full flow, with warehouse FAILING_WAREHOUSE's
    fulfillment API (a loopback server) answering 500 to every request; its requests and
    FAILED_REORDERS reorder requests are then driven to dead letters by the real dispatcher, and
    the real `deliver_due` job publishes the result."""
    import json

    from demo_generator import generate
    from pipelines.cli import run_flow
    from pipelines.settings import get_settings
    from tests.doubles.fake_warehouse import FakeWarehouse

    data_dir = tmp_path_factory.mktemp("demo_dead_letters")
    previous = _point_settings_at(data_dir)
    extra = ("OMS_FULFILLMENT_DESTINATIONS", "OMS_SUPPLIER_DESTINATIONS")
    previous.update({k: os.environ.get(k) for k in extra})
    server = FakeWarehouse().start()
    try:
        server.fail_next("500", count=1_000_000)
        os.environ["OMS_FULFILLMENT_DESTINATIONS"] = json.dumps({FAILING_WAREHOUSE: server.url})
        settings = get_settings()
        generate(settings.landing_dir, days=DEMO_DAYS, order_lines=DEMO_ORDER_LINES, seed=DEMO_SEED)
        success, _ = run_flow()
        if success:
            _dead_letter_everything_failing(server.url)
            success = run_job("deliver_due")
        env = {k: v for k, v in os.environ.items() if k.startswith(("OMS_", "DAGSTER_HOME"))}
    except BaseException:
        server.stop()
        raise
    finally:
        # The settings go back at once, not at the end of the session: a session fixture set up
        # later (demo_run) must not inherit the failing warehouse. Tests that run a job on this
        # demo set `settings_env` themselves.
        _restore(previous)
    try:
        yield DeadLetterDemo(
            data_dir=data_dir,
            warehouse_path=settings.warehouse_path,
            published_dir=settings.published_dir,
            settings_env=env,
            success=success,
        )
    finally:
        server.stop()
