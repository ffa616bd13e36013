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
