"""The gates carry dbt's "skip what is built on a failing test" to the routing and publish
steps: each must depend on exactly the marts its step reads."""

from __future__ import annotations

import json

from pipelines.actions.assets import ROUTING_INPUTS
from pipelines.transform.assets import published_model_keys
from pipelines.transform.project import ensure_manifest


def _gate_parents(name: str) -> set[str]:
    manifest = json.loads(ensure_manifest().read_text())
    (node,) = [n for n in manifest["nodes"].values() if n["name"] == name]
    return {manifest["nodes"][p]["name"] for p in node["depends_on"]["nodes"]}


def test_the_publish_gate_waits_for_every_published_mart() -> None:
    assert _gate_parents("gate_publish") == {k.path[-1] for k in published_model_keys()}


def test_the_routing_gate_waits_for_every_mart_routing_reads() -> None:
    marts = {k.path[-1] for k in ROUTING_INPUTS if k.path[0] == "marts"}
    assert _gate_parents("gate_routing") == marts


def test_no_dbt_test_blocks_the_whole_dbt_step() -> None:
    from pipelines.transform.assets import build_dbt_assets

    specs = list(build_dbt_assets().check_specs)
    assert specs and not any(s.blocking for s in specs)
