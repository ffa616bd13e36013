"""The Dagster definitions load and hold what the product promises (no broken import lands)."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs
from pipelines.ingest.sources import SOURCES


def test_definitions_load_with_every_source_model_job_schedule_and_sensor() -> None:
    d = defs()
    repo = d.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    for source in SOURCES:
        assert f"raw/{source.table}" in keys
    for model in (
        "fct_orders",
        "fct_order_lines",
        "fct_shipments",
        "fct_returns",
        "fct_inventory_snapshots",
        "dim_products",
        "dim_locations",
        "dim_channels",
        "fct_fulfillment_kpis_daily",
        "fct_inventory_kpis_daily",
    ):
        assert any(k.endswith(f"/{model}") for k in keys), model
    assert "published/dashboard_marts" in keys
    assert repo.has_job("full_flow")
    assert repo.has_job("routing") and repo.has_job("deliver_due")
    assert repo.has_job("planning_daily") and "ops/reorder_requests" in keys
    assert {s.name for s in repo.schedule_defs} == {
        "daily_build",
        "routing_every_5_minutes",
        "deliver_due_every_minute",
        "planning_daily",
    }
    assert {s.name for s in repo.sensor_defs} == {"new_landing_batches"}


def test_dbt_sources_are_the_ingest_assets_so_lineage_is_one_graph() -> None:
    graph = defs().get_repository_def().asset_graph
    stg = next(k for k in graph.get_all_asset_keys() if k.path[-1] == "stg_webshop__orders")
    assert dg.AssetKey(["raw", "webshop__orders"]) in graph.get(stg).parent_keys


def test_dbt_tests_and_ingest_checks_are_asset_checks() -> None:
    checks = {c.name for c in defs().get_repository_def().asset_graph.asset_check_keys}
    assert {"batches_reconcile", "great_expectations"} <= checks
    assert any(name.startswith(("unique_", "not_null_")) for name in checks)
