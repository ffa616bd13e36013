"""Every page of the app in a real headless browser, over the demo's published run, while runs
keep publishing new versions underneath it: each page renders its heading with no exception,
and a screenshot of each is kept in tests/artifacts/ (page_<slug>.png)."""

from __future__ import annotations

import re
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.publish.publish import prune_versions, swap_current
from tests.test_dashboard_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    RENDER_TIMEOUT_MS,
    REPO_ROOT,
    _screenshot_whole_page,
    _streamlit_server,
    wait_until_idle,
)
from tests.test_dashboard_browser import pytestmark as browser_marks

pytestmark = browser_marks


def page_titles() -> list[str]:
    """The titles of every page the app's navigation declares (so a new page is covered
    without editing this test)."""
    source = (REPO_ROOT / "dashboards" / "app.py").read_text()
    return re.findall(r'st\.Page\(\s*PAGES_DIR / "[^"]+",\s*title="([^"]+)"', source)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


class Republisher(threading.Thread):
    """Publishes copies of the current version again and again, as the flow's publish step
    does (a new version folder, `current` swapped, old versions pruned), until stopped."""

    def __init__(self, published: Path) -> None:
        super().__init__(daemon=True)
        self.published = published
        self.stop = threading.Event()
        self.swaps = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                source = (self.published / "current").resolve()
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # as publish names them
                target = self.published / "versions" / f"{stamp}_republish"
                shutil.copytree(source, target)
                swap_current(self.published, target)
                prune_versions(self.published)
                self.swaps += 1
                self.stop.wait(0.5)
        except BaseException as error:  # reported by the test, never swallowed
            self.error = error


def test_every_page_renders_while_runs_publish(demo_run, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not demo_run.success:
        pytest.fail("the demo run (tests/conftest.py) failed, so nothing was published")
    titles = page_titles()
    assert len(titles) >= 8, titles  # the parse found the navigation
    published = tmp_path / "published"
    shutil.copytree(Path(demo_run.published_dir), published, symlinks=True)
    env = {
        "OMS_PUBLISHED_DIR": str(published),
        "OMS_USERS_FILE": str(tmp_path / "users.yaml"),
        "OMS_OPS_STORE_PATH": str(tmp_path / "ops_store.sqlite"),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    republisher = Republisher(published)
    with (
        _streamlit_server(env, tmp_path / "streamlit.log") as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav.get_by_role("link")).to_have_count(len(titles), timeout=RENDER_TIMEOUT_MS)
            republisher.start()
            for title in titles:
                wait_until_idle(page)
                nav.get_by_role("link", name=title, exact=True).click()
                expect(page.locator("h1").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
                wait_until_idle(page)
                # the page's own content, not a failure box
                body = page.inner_text("body")
                assert "Traceback" not in body, (title, body[:2000])
                assert page.locator('[data-testid="stException"]').count() == 0, title
                _screenshot_whole_page(page, ARTIFACTS / f"page_{_slug(title)}.png")
            assert errors == [], errors
        finally:
            republisher.stop.set()
            republisher.join(timeout=30)
            browser.close()
    assert republisher.error is None, republisher.error
    assert republisher.swaps >= len(titles), republisher.swaps  # runs published throughout
    for title in titles:
        assert (ARTIFACTS / f"page_{_slug(title)}.png").stat().st_size > 10_000, title
