"""What the screens and the actions read is declared once: contracts, vocabularies, outstanding."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from dashboards.lib import published
from dashboards.lib.schema import TABLES
from ops_actions.delivery.outbox import STATES
from ops_actions.routing import router
from ops_actions.routing.outstanding import allocations_sql
from ops_actions.run_routing import outstanding_allocations
from ops_actions.schema import ensure_schema
from pipelines.publish.publish import contracts_from_manifest, publish
from pipelines.settings import PROJECT_ROOT
from pipelines.transform.project import ensure_manifest
from pipelines.vocabularies import vocabulary

# Types that DuckDB and Spark SQL both read with the same meaning (the project may move to a
# distributed engine through its dbt adapter).
PORTABLE_TYPES = re.compile(
    r"^(string|bigint|integer|double|date|timestamp|boolean|decimal\(\d+,\d+\))$"
)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def contracts(manifest: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return contracts_from_manifest(manifest)


def test_every_published_model_has_an_enforced_contract_with_portable_types(
    manifest: dict[str, Any], contracts: dict[str, list[dict[str, str]]]
) -> None:
    published_models = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and "published" in n.get("tags", [])
    ]
    assert len(contracts) == len(published_models) >= 10
    for name, columns in contracts.items():
        assert columns, name
        odd = [
            (c["name"], c["data_type"]) for c in columns if not PORTABLE_TYPES.match(c["data_type"])
        ]
        assert odd == [], name


def test_the_ledger_the_quality_page_reads_is_a_contracted_model(
    contracts: dict[str, list[dict[str, str]]],
) -> None:
    assert {"ingest_batches", "ingest_rejects"} <= set(contracts)


def test_every_column_the_dashboards_read_from_a_mart_is_in_its_contract(
    contracts: dict[str, list[dict[str, str]]],
) -> None:
    checked = 0
    for name, table in TABLES.items():
        if table.file not in contracts:
            continue  # routing state, exported from ops.* (not a dbt model yet)
        declared = {c["name"] for c in contracts[table.file]}
        assert set(table.columns.values()) <= declared, name
        checked += 1
    assert checked >= 8


def test_a_dashboard_column_outside_the_published_contract_is_reported_by_name(
    tmp_path: Path, contracts: dict[str, list[dict[str, str]]]
) -> None:
    """Publish a real (tiny) mart with a contract that lacks a column the page reads."""
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_channels as select 'webshop' as channel, 'Web shop' as channel_name"
    )
    narrowed = {"dim_channels": [{"name": "channel", "data_type": "string"}]}
    publish(con, [("marts", "dim_channels")], tmp_path, "contract-test", contracts=narrowed)
    written = json.loads((tmp_path / "current" / published.CONTRACTS_FILE).read_text())
    assert written == narrowed
    with pytest.raises(published.SchemaMismatchError, match=r"contract of `dim_channels`.*name"):
        published.query(tmp_path, "select * from channels", ["channels"])
    # with the manifest's own contract the same file reads fine
    publish(con, [("marts", "dim_channels")], tmp_path, "contract-test-2", contracts=contracts)
    assert published.query(tmp_path, "select * from channels", ["channels"]).height == 1


def test_the_actions_state_vocabularies_are_the_seed_s() -> None:
    """ops_actions keeps its state machine in code (it does not depend on the pipeline); the
    seed that the dbt tests and the dashboards read must say the same."""
    assert vocabulary("outbox_state") == STATES
    assert vocabulary("routing_outcome") == router._OUTCOMES


def test_outstanding_allocation_is_defined_only_in_its_macro() -> None:
    """No other SQL compares an acknowledgement with a snapshot time."""
    pattern = re.compile(r"delivered_at\s*>\s*\S*snapshot_at")
    roots = [
        PROJECT_ROOT / "dbt_project" / "models",
        PROJECT_ROOT / "ops_actions",
        PROJECT_ROOT / "pipelines",
    ]
    found = sorted(
        str(p.relative_to(PROJECT_ROOT))
        for root in roots
        for p in root.rglob("*")
        if p.suffix in (".py", ".sql") and pattern.search(p.read_text())
    )
    assert found == []
    macro = (PROJECT_ROOT / "dbt_project" / "macros" / "outstanding_allocations.sql").read_text()
    assert pattern.search(macro)
    atp = (
        PROJECT_ROOT
        / "dbt_project"
        / "models"
        / "marts"
        / "planning"
        / "fct_available_to_promise.sql"
    )
    assert "allocations_with_outstanding(" in atp.read_text()


def test_the_router_deducts_exactly_the_allocations_no_snapshot_reflects(tmp_path: Path) -> None:
    """Four allocations at one pair and one at a pair without a snapshot, against an
    independent reading of the rule."""
    snapshot_at = dt.datetime(2026, 8, 11)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    rows = [
        # action, units, delivered_at, sku
        ("A-before", 3, dt.datetime(2026, 8, 10, 12), "S1"),  # in the snapshot already
        ("A-after", 5, dt.datetime(2026, 8, 11, 8), "S1"),  # acknowledged after it
        ("A-open", 7, None, "S1"),  # not acknowledged
        ("A-exact", 11, snapshot_at, "S1"),  # acknowledged at the snapshot: in it
        ("A-nosnap", 13, dt.datetime(2026, 8, 1), "S2"),  # no snapshot of S2: outstanding
    ]
    now = dt.datetime(2026, 8, 11, 9)
    for i, (action, units, delivered, sku) in enumerate(rows):
        con.execute(
            "insert into ops.allocations values (?, ?, ?, 'WH-A', ?, ?, ?)",
            ["R1", f"L{i}", sku, units, action, now],
        )
        con.execute(
            "insert into ops.outbox (action_id, kind, destination, payload, state, "
            "next_attempt_at, created_at, delivered_at) values (?, 'k', 'WH-A', '{}', ?, ?, ?, ?)",
            [action, "delivered" if delivered else "pending", now, now, delivered],
        )
    atp = pl.DataFrame({"sku": ["S1"], "location_id": ["WH-A"], "snapshot_at": [snapshot_at]})
    got = {
        (r["sku"], r["location_id"]): r["outstanding"]
        for r in outstanding_allocations(con, atp).to_dicts()
    }
    expected: dict[tuple[str, str], int] = {}
    for _, units, delivered, sku in rows:
        snap = snapshot_at if sku == "S1" else None
        if delivered is None or snap is None or delivered > snap:
            expected[(sku, "WH-A")] = expected.get((sku, "WH-A"), 0) + units
    assert got == expected == {("S1", "WH-A"): 12, ("S2", "WH-A"): 13}
    # the oversell check reads the same text over the ATP mart
    con.execute("create schema marts")
    con.execute("create table marts.fct_available_to_promise as select * from atp")
    sql = allocations_sql("ops.allocations", "ops.outbox", "marts.fct_available_to_promise")
    flagged = con.execute(f"select sum(units) from ({sql}) as a where is_outstanding").fetchall()
    assert flagged == [(25,)]
    con.close()


def test_the_lineage_shows_the_routing_loop_through_the_ops_tables() -> None:
    """routing -> ops/allocations -> stg_ops__allocations -> available-to-promise -> routing."""
    import dagster as dg

    from pipelines.actions.assets import ROUTING_KEY
    from pipelines.actions.ops_tables import ALLOCATIONS_KEY
    from pipelines.definitions import defs

    graph = defs().get_repository_def().asset_graph
    staged = dg.AssetKey(["staging", "stg_ops__allocations"])
    atp = dg.AssetKey(["marts", "fct_available_to_promise"])
    assert ROUTING_KEY in graph.get(ALLOCATIONS_KEY).parent_keys
    assert ALLOCATIONS_KEY in graph.get(staged).parent_keys
    assert staged in graph.get(atp).parent_keys
    assert atp in graph.get(ROUTING_KEY).parent_keys
