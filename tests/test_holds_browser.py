"""The holds page once in a real headless browser: an operator signs in, releases every held
order of a reason in bulk, and sees the decisions waiting for the next run; they are in the
store with who and role."""

from __future__ import annotations

from pathlib import Path

from ops_actions.store import list_hold_decisions
from tests.test_dashboard_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    RENDER_TIMEOUT_MS,
    _screenshot_whole_page,
    _streamlit_server,
    open_page,
    sign_in,
)
from tests.test_dashboard_browser import pytestmark as browser_marks
from tests.test_holds import EXPECTED
from tests.test_holds_page import USERS, publish_holds

pytestmark = browser_marks


def test_operator_releases_held_orders_in_bulk_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from dashboards.lib.users import add_user

    users = tmp_path / "users.yaml"
    add_user(users, "olga", *USERS["olga"])
    store = tmp_path / "ops_store.sqlite"
    publish_holds(tmp_path, store, "holds-browser-1", build=True)
    env = {
        "OMS_PUBLISHED_DIR": str(tmp_path / "published"),
        "OMS_USERS_FILE": str(users),
        "OMS_OPS_STORE_PATH": str(store),
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
            sign_in(page, "olga", USERS["olga"][1])
            open_page(page, "Order holds", "Order holds")
            expect(
                page.locator('[data-testid="stMetric"]').filter(has_text="Held orders")
            ).to_contain_text(str(len(EXPECTED)), timeout=RENDER_TIMEOUT_MS)
            form = page.locator('[data-testid="stForm"]').first
            form.get_by_text("Every undecided order of this selection", exact=True).click()
            form.get_by_role("textbox", name="Note (why)").fill("checked in the browser")
            form.get_by_role("button", name="Record decision").click()
            expect(page.get_by_text("take effect at the next run")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            expect(
                page.locator('[data-testid="stMetric"]').filter(has_text="Decisions waiting")
            ).to_contain_text(str(len(EXPECTED)), timeout=RENDER_TIMEOUT_MS)
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
            _screenshot_whole_page(page, ARTIFACTS / "dashboard_holds.png")
        finally:
            browser.close()
    decided = list_hold_decisions(store)
    assert {d.channel_order_id for d in decided} == set(EXPECTED)
    assert {(d.decision, d.decided_by, d.decided_role, d.note) for d in decided} == {
        ("released", "olga", "operator", "checked in the browser")
    }
