"""The publish step: a read-only Parquet copy of the published marts for the dashboards."""

import json

import dagster as dg

from pipelines.keys import DELIVERY_KEY, PUBLISH_KEY, gate_key
from pipelines.publish.publish import contracts_from_manifest, publish
from pipelines.settings import get_settings
from pipelines.transform.assets import published_model_keys, published_models
from pipelines.transform.project import dbt_project
from pipelines.warehouse import WarehouseResource


def build_publish_asset(after: tuple[dg.AssetKey, ...] = (DELIVERY_KEY,)) -> dg.AssetsDefinition:
    """The publish asset; `after`: the action steps whose state is published with the marts."""

    @dg.asset(
        key=PUBLISH_KEY,
        group_name="publish",
        kinds={"parquet"},
        deps=[*published_model_keys(), gate_key("publish"), *after],
        op_tags={"oms/writes": "warehouse"},
    )
    def dashboard_marts(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Read-only Parquet copy of the published marts, swapped in atomically for dashboards."""
        settings = get_settings()
        manifest = json.loads(dbt_project().manifest_path.read_text())
        with warehouse.connect() as con:
            result = publish(
                con,
                published_models(),
                settings.published_dir,
                context.run.run_id,
                contracts=contracts_from_manifest(manifest),
            )
        return dg.MaterializeResult(
            metadata={
                "version": str(result.version_dir),
                "tables": dg.MetadataValue.json(result.tables),
            }
        )

    return dashboard_marts
