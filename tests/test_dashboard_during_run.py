"""The dashboards keep working while a real pipeline run writes the warehouse and publishes.

A first real run loads and publishes a few days of generated landing files. Two more days
land, and `python3 -m pipelines run` loads them, rebuilds the marts, routes and publishes, in
its own process. Meanwhile every page is rendered again and again through AppTest. Each render
must succeed and show exactly the figures of one published version, the one before the run or
the one it published: never an error, never the tiles of one version beside the run caption
of another.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from dashboards.lib.published import read_run_info
from tests.pipeline_process import kill_started, run_output, start_run
from tests.test_dashboard_pages import PAGES, metrics, run_app

pytestmark = pytest.mark.e2e

ALL_PAGES = (*PAGES, "app_pages/routing.py")
DAYS, NEW_DAYS, ORDER_LINES, SEED = 6, 2, 2_000, 23
RUN_TIMEOUT_S = 900
RUN_ID = re.compile(r"pipeline run `([^`]+)`")


def render(page: str, published_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict]:
    """One render of `page`: the published run its caption names, and the figures it shows."""
    at = run_app(published_dir, monkeypatch, page)
    assert not at.exception, (page, [e.message for e in at.exception])
    runs = {m.group(1) for c in at.caption for m in [RUN_ID.search(c.value)] if m}
    assert len(runs) == 1, (page, runs)
    return runs.pop(), metrics(at)


def published_run_id(published_dir: Path) -> str:
    info = read_run_info(published_dir)
    assert info is not None, f"nothing published in {published_dir}"
    return info.run_id


def batches(warehouse: Path) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select count(*) from raw._batches").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


@pytest.fixture
def data_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A data folder whose first days are loaded and published by a first real run, and
    whose last days have just landed for the run under test. Both parts come from one
    generated span (day N is the same whichever call writes it), so the new files continue
    the loaded history instead of contradicting it."""
    from demo_generator import generate

    span = {"days": DAYS, "order_lines": ORDER_LINES, "seed": SEED}
    whole, later = tmp_path / "whole", tmp_path / "later"
    generate(whole, **span)  # type: ignore[arg-type]
    generate(later, **span, from_day=DAYS - NEW_DAYS)  # type: ignore[arg-type]
    target = tmp_path / "data"
    landing = target / "landing"
    new_files = [p.relative_to(later) for p in later.rglob("*") if p.is_file()]
    assert new_files
    shutil.copytree(whole, landing)
    for name in new_files:
        assert (landing / name).read_bytes() == (later / name).read_bytes()
        (landing / name).unlink()
    first = start_run(target, "first")
    assert first.wait(timeout=RUN_TIMEOUT_S) == 0, run_output(target, "first")[-3000:]
    for name in new_files:
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(later / name, landing / name)
    yield target
    kill_started(target)


def test_every_page_shows_the_old_or_the_new_published_version_while_a_run_writes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    published = data_dir / "published"
    warehouse = data_dir / "warehouse.duckdb"
    old_run = published_run_id(published)
    batches_before = batches(warehouse)
    st.cache_data.clear()
    shown: dict[str, dict[str, dict]] = {page: {} for page in ALL_PAGES}  # page -> run -> tiles
    for page in ALL_PAGES:
        run, figures = render(page, published, monkeypatch)
        assert run == old_run
        shown[page][run] = figures

    run = start_run(data_dir, "run")
    renders_while_running: list[str] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while run.poll() is None:
        assert time.monotonic() < deadline, run_output(data_dir, "run")[-3000:]
        for page in ALL_PAGES:
            seen_run, figures = render(page, published, monkeypatch)
            if seen_run not in shown[page]:
                shown[page][seen_run] = figures  # the first render of the run's new version
            assert figures == shown[page][seen_run], (page, seen_run)  # never a mix
            renders_while_running.append(seen_run)
    assert run.returncode == 0, run_output(data_dir, "run")[-3000:]

    new_run = published_run_id(published)
    assert new_run != old_run
    assert batches(warehouse) > batches_before  # the run really loaded the new files
    assert len(renders_while_running) >= 2 * len(ALL_PAGES)
    assert renders_while_running[0] == old_run
    assert set(renders_while_running) <= {old_run, new_run}
    # the new version as a fresh session sees it: every render of it showed the same figures
    for page in ALL_PAGES:
        run_id, figures = render(page, published, monkeypatch)
        assert run_id == new_run
        assert shown[page].setdefault(new_run, figures) == figures, page
        assert set(shown[page]) <= {old_run, new_run}
    assert shown[PAGES[0]][new_run] != shown[PAGES[0]][old_run]  # new data, new figures
    st.cache_data.clear()
