"""Asset keys that more than one domain refers to, written once.

Keys of dbt nodes are never spelled out: `model_key` asks the dbt translator for the key of a
model by name, from the manifest, so renaming a model or moving it to another folder cannot
leave a stale key behind (it fails at definitions load instead).
"""

from __future__ import annotations

from functools import cache

import dagster as dg

ROUTING_KEY = dg.AssetKey(["ops", "routing_run"])
DELIVERY_KEY = dg.AssetKey(["ops", "fulfillment_deliveries"])
PUBLISH_KEY = dg.AssetKey(["published", "dashboard_marts"])
REORDERS_KEY = dg.AssetKey(["ops", "reorder_requests"])
# The hold step; the tables it writes (ops.order_holds, ops.order_validations) are dbt sources
# with assets of their own (pipelines/actions/ops_tables.py), so this key is not a table's.
HOLDS_KEY = dg.AssetKey(["ops", "hold_run"])
STATUS_KEY = dg.AssetKey(["ops", "status_updates"])
STATUS_DELIVERY_KEY = dg.AssetKey(["ops", "status_deliveries"])
# The alert steps (docs/alerts.md): they write ops.outbox, a dbt source, so their keys are
# their own, never the table's.
ALERTS_KEY = dg.AssetKey(["ops", "kpi_alert_run"])
ALERT_DELIVERY_KEY = dg.AssetKey(["ops", "kpi_alert_deliveries"])


def raw_key(table: str) -> dg.AssetKey:
    """The key of a raw table; dbt sources over `raw.*` resolve to the same keys."""
    return dg.AssetKey(["raw", table])


@cache
def _model_keys() -> dict[str, dg.AssetKey]:
    import json

    from pipelines.transform.assets import TRANSLATOR
    from pipelines.transform.project import dbt_project, ensure_manifest

    ensure_manifest()
    manifest = json.loads(dbt_project().manifest_path.read_text())
    return {
        node["name"]: TRANSLATOR.get_asset_key(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }


def model_key(name: str) -> dg.AssetKey:
    """The asset key of the dbt model `name`."""
    try:
        return _model_keys()[name]
    except KeyError:
        raise KeyError(f"no dbt model named {name!r} in the manifest") from None


def gate_key(step: str) -> dg.AssetKey:
    """The gate model a step waits for (`dbt_project/models/gates/gate_<step>.sql`)."""
    return model_key(f"gate_{step}")
