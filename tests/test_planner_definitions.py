"""The planning domain in the one Definitions: the reorder step sits on the real dbt asset of
the suggestions, and the daily job refreshes exactly the models the suggestions are built on."""

from __future__ import annotations

from pipelines.definitions import defs
from pipelines.planning.assets import PUBLISH_KEY, REORDERS_KEY, SUGGESTIONS_KEY


def test_reorder_requests_read_the_dbt_suggestions_asset() -> None:
    graph = defs().get_repository_def().asset_graph
    assert graph.get(SUGGESTIONS_KEY).is_materializable  # the dbt model, not a stub
    assert SUGGESTIONS_KEY in graph.get(REORDERS_KEY).parent_keys


def test_planning_daily_refreshes_forecasts_suggestions_and_requests_only() -> None:
    d = defs()
    job = d.resolve_job_def("planning_daily")
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    for model in ("fct_demand_daily", "fct_demand_forecasts", "fct_safety_stock"):
        assert f"marts/{model}" in selected, model
    assert {REORDERS_KEY.to_user_string(), PUBLISH_KEY.to_user_string()} <= selected
    assert SUGGESTIONS_KEY.to_user_string() in selected
    assert not any(k.startswith("raw/") for k in selected)  # no ingest in the planning job
    assert "marts/fct_fulfillment_kpis_daily" not in selected
    schedule = next(s for s in d.get_repository_def().schedule_defs if s.name == "planning_daily")
    assert schedule.job_name == "planning_daily"
