"""The planner page once in a real headless browser: a planner signs in, approves a
suggestion with an edited quantity, and sees it recorded; the decision is in the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ops_actions.store import list_decisions
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
from tests.test_planner_page import USERS, build_published

pytestmark = browser_marks


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_published(tmp_path_factory.mktemp("planned_browser"))


def test_planner_approves_a_suggestion_in_a_real_browser(planned: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from dashboards.lib.users import add_user

    users = tmp_path / "users.yaml"
    add_user(users, "paula", *USERS["paula"])
    store = tmp_path / "ops_store.sqlite"
    shutil.copy(planned / "seed_store.sqlite", store)
    before = len(list_decisions(store))
    env = {
        "OMS_PUBLISHED_DIR": str(planned / "published"),
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
            sign_in(page, "paula", USERS["paula"][1])
            open_page(page, "Replenishment", "Replenishment planner")
            expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(
                1, timeout=RENDER_TIMEOUT_MS
            )
            expect(
                page.locator('[data-testid="stMetric"]').filter(has_text="Suggestions")
            ).to_contain_text("10")
            form = page.locator('[data-testid="stForm"]').first
            quantity = form.get_by_role("spinbutton", name="Quantity")
            quantity.fill("36")
            form.get_by_role("textbox", name="Note").fill("checked in the browser")
            form.get_by_role("button", name="Record decision").click()
            expect(page.get_by_text("1 decision(s) recorded")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS
            )
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.inner_text("body")
            _screenshot_whole_page(page, ARTIFACTS / "dashboard_planner.png")
        finally:
            browser.close()
    new = list_decisions(store)[before:]
    assert [(d.quantity, d.note, d.decided_by) for d in new] == [
        (36.0, "checked in the browser", "paula")
    ]
