"""The whole dashboard app once in a real headless browser: `streamlit run` + Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dashboards.lib.users import add_user
from tests.test_dashboard_pages import _synthetic_tables, publish

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    # On a developer machine without Chromium the test is skipped with the reason; in CI (where
    # .ci/run installs it) a missing browser is a failure, never a silent skip.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason=f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)",
    ),
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
STARTUP_TIMEOUT_S = 60
RENDER_TIMEOUT_MS = 60_000


def wait_until_idle(page: Page, timeout_ms: int = RENDER_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished its current script run (its status widget is gone)."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=timeout_ms)


def open_page(page: Page, link: str, heading: str, *, exact: bool = False) -> None:
    """Click a navigation link and wait for the page's heading. A click that lands while the
    app is still rerunning (after a sign-in, the cookie component reruns it once more) can be
    undone by that rerun, so wait for the app to be idle first and click again if the heading
    has not come after a while."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    target = page.get_by_role("heading", name=heading, exact=True)
    for attempt in range(3):
        wait_until_idle(page)
        page.get_by_role("link", name=link, exact=exact).click()
        try:
            expect(target).to_be_visible(timeout=RENDER_TIMEOUT_MS // 3)
            return
        except (AssertionError, PlaywrightTimeout):
            if attempt == 2:
                raise


def sign_in(page: Page, username: str, password: str) -> None:
    """Sign in through the sidebar form and wait for the "Signed in as" line. As with
    navigation, a submit that lands during a rerun can be lost, so wait for the app to be idle,
    and submit again if the line has not come."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    sidebar = page.locator('[data-testid="stSidebar"]')
    signed_in = sidebar.get_by_text("Signed in as")
    for attempt in range(3):
        wait_until_idle(page)
        if attempt and signed_in.count():  # the last submit went through, only slowly
            expect(signed_in).to_contain_text(username)
            return
        sidebar.get_by_role("textbox", name="User name").wait_for(timeout=RENDER_TIMEOUT_MS)
        sidebar.get_by_role("textbox", name="User name").fill(username)
        sidebar.get_by_role("textbox", name="Password").fill(password)
        wait_until_idle(page)
        sidebar.get_by_role("button", name="Sign in").click()
        try:
            expect(signed_in).to_contain_text(username, timeout=RENDER_TIMEOUT_MS // 3)
            return
        except (AssertionError, PlaywrightTimeout):
            if attempt == 2:
                raise


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {STARTUP_TIMEOUT_S}s")


@pytest.fixture(params=["synthetic", "demo_run"])
def published(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    """(label, published folder): the synthetic folder and the real pipeline's output."""
    if request.param == "synthetic":
        folder = tmp_path / "published"
        publish(folder, "synthetic-1", _synthetic_tables(seed=7))
        return "synthetic", folder
    demo_run = request.getfixturevalue("demo_run")
    if not demo_run.success:
        pytest.fail("the demo run (tests/conftest.py) failed, so nothing was published")
    return "demo", Path(demo_run.published_dir)


@contextmanager
def _streamlit_server(env_overrides: dict[str, str], log_path: Path) -> Iterator[str]:
    """`streamlit run dashboards/app.py` on a free loopback port; always terminated."""
    port = _free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **env_overrides}
    log = log_path.open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboards/app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


@pytest.fixture
def app_url(published: tuple[str, Path], tmp_path: Path) -> Iterator[str]:
    with _streamlit_server(
        {"OMS_PUBLISHED_DIR": str(published[1]), "OMS_USERS_FILE": str(tmp_path / "users.yaml")},
        tmp_path / "streamlit.log",
    ) as url:
        yield url


def _screenshot_whole_page(page: Page, path: Path) -> None:
    """Streamlit scrolls inside its main container, not the document, so a full-page screenshot
    alone stops at the viewport: grow the viewport to the content first."""
    size = page.viewport_size or {"width": 1440, "height": 1000}
    height = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll('*'), (e) => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(1_500)  # let the charts redraw at the new size
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)


def test_app_shows_kpis_and_data_quality_in_a_real_browser(
    app_url: str, published: tuple[str, Path]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    suffix = "" if published[0] == "demo" else f"_{published[0]}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(app_url)

            expect(page.get_by_role("heading", name="Fulfillment overview")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            metrics = page.locator('[data-testid="stMetric"]')
            expect(metrics).to_have_count(10, timeout=RENDER_TIMEOUT_MS)
            expect(metrics.filter(has_text="Fill rate")).to_contain_text("%")
            expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(
                2, timeout=RENDER_TIMEOUT_MS
            )
            # By channel and by location; the demo's run also raised alerts, listed in a third
            # table (the synthetic folder has no alerts).
            expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(
                3 if published[0] == "demo" else 2, timeout=RENDER_TIMEOUT_MS
            )
            if published[0] == "demo":
                expect(page.get_by_role("heading", name="Biggest movers")).to_be_visible()
            expect(page.get_by_text("Data as of")).to_be_visible()
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
            _screenshot_whole_page(page, ARTIFACTS / f"dashboard_overview{suffix}.png")

            open_page(page, "Data quality", "Data quality")
            expect(
                page.locator('[data-testid="stMetric"]').filter(has_text="Reconciliation")
            ).to_have_count(1)
            expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(
                1, timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stException"]').count() == 0
            _screenshot_whole_page(page, ARTIFACTS / f"dashboard_data_quality{suffix}.png")

            if published[0] == "demo":  # the synthetic marts carry no routing run
                open_page(page, "Routing", "Routing")
                expect(page.get_by_text("Latest routing run")).to_be_visible(
                    timeout=RENDER_TIMEOUT_MS
                )
                assert page.locator('[data-testid="stException"]').count() == 0
                assert "Traceback" not in page.inner_text("body")
                _screenshot_whole_page(page, ARTIFACTS / "dashboard_routing.png")
        finally:
            browser.close()


def test_sign_in_in_a_real_browser_when_every_page_needs_it(tmp_path: Path) -> None:
    """The sign-in widget (form, cookie component) in Chromium: nothing shows before a sign-in,
    a wrong password is refused, the right one opens the pages, signing out closes them."""
    from playwright.sync_api import expect, sync_playwright

    folder = tmp_path / "published"
    publish(folder, "synthetic-1", _synthetic_tables(seed=7))
    users_file = tmp_path / "users.yaml"
    add_user(users_file, "vera", "viewer", "vera-views-42")
    env = {
        "OMS_PUBLISHED_DIR": str(folder),
        "OMS_USERS_FILE": str(users_file),
        "OMS_DASHBOARD_SIGN_IN_TO_VIEW": "1",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        _streamlit_server(env, tmp_path / "streamlit.log") as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(url)
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(page.get_by_text("Sign in (left) to see the dashboards")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stMetric"]').count() == 0

            def submit(username: str, password: str) -> None:
                wait_until_idle(page)
                sidebar.get_by_role("textbox", name="User name").fill(username)
                sidebar.get_by_role("textbox", name="Password").fill(password)
                sidebar.get_by_role("button", name="Sign in").click()

            submit("vera", "not-her-password")
            expect(sidebar.get_by_text("User name or password is incorrect")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stMetric"]').count() == 0

            submit("vera", "vera-views-42")
            expect(page.get_by_role("heading", name="Fulfillment overview")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            expect(sidebar.get_by_text("Signed in as")).to_contain_text("vera")
            expect(page.locator('[data-testid="stMetric"]')).to_have_count(
                10, timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stException"]').count() == 0
            _screenshot_whole_page(page, ARTIFACTS / "dashboard_signed_in.png")

            sidebar.get_by_role("button", name="Sign out").click()
            expect(page.get_by_text("Sign in (left) to see the dashboards")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stMetric"]').count() == 0
        finally:
            browser.close()


def test_action_log_and_order_pages_in_a_real_browser(demo_with_dead_letters, tmp_path: Path):
    """The Action log and Order pages in Chromium over the demo with dead letters
    (tests/conftest.py): the counts, the dead letters with their Retry buttons, and one
    order found by its id with its sections."""
    import duckdb
    from playwright.sync_api import expect, sync_playwright

    demo = demo_with_dead_letters
    if not demo.success:
        pytest.fail("the demo run with failing destinations (tests/conftest.py) failed")
    con = duckdb.connect(str(demo.warehouse_path), read_only=True)
    try:
        order = con.execute(
            "select json_extract_string(payload, '$.order_id') from ops.outbox "
            "where state = 'dead_letter' and kind = 'fulfillment_request' "
            "order by action_id limit 1"
        ).fetchall()[0][0]
    finally:
        con.close()
    env = {
        "OMS_PUBLISHED_DIR": str(demo.published_dir),
        "OMS_USERS_FILE": str(tmp_path / "users.yaml"),
        "OMS_OPS_STORE_PATH": str(tmp_path / "ops_store.sqlite"),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        _streamlit_server(env, tmp_path / "streamlit.log") as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(url)
            open_page(page, "Action log", "Action log")
            expect(
                page.locator('[data-testid="stMetric"]').filter(has_text="Dead letter")
            ).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
            expect(page.get_by_role("button", name="Retry all")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
            _screenshot_whole_page(page, ARTIFACTS / "dashboard_action_log.png")

            open_page(page, "Order", "Order", exact=True)
            box = page.get_by_role("textbox", name="Order id")
            box.fill(order)
            box.press("Enter")
            expect(page.get_by_text("found by")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
            expect(page.get_by_role("heading", name="Actions sent")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
            _screenshot_whole_page(page, ARTIFACTS / "dashboard_order.png")

            box.fill("no-such-order-42")
            box.press("Enter")
            expect(page.get_by_text("No order is known by")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
        finally:
            browser.close()
