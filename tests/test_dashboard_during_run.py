"""The dashboards keep working while a pipeline run holds the warehouse for writing."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import DemoRun
from tests.test_dashboard_pages import PAGES, run_app

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("page", [*PAGES, "app_pages/routing.py"])
def test_pages_render_while_a_run_holds_the_warehouse_write_lock(
    demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    import streamlit as st

    st.cache_data.clear()
    writer = duckdb.connect(str(demo_run.warehouse_path))  # what a running job holds
    try:
        writer.execute("begin transaction")
        writer.execute("delete from marts.fct_fulfillment_kpis_daily")  # uncommitted, mid-run
        at = run_app(demo_run.published_dir, monkeypatch, page)
        assert not at.exception
        assert len(at.metric) >= 4
        # the published copy is what the pages show, untouched by the open transaction
    finally:
        writer.execute("rollback")
        writer.close()
        st.cache_data.clear()
