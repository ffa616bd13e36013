"""Every dbt model as a Dagster asset; dbt tests as asset checks."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipelines.planning.assets import REORDERS_KEY
from pipelines.settings import get_settings
from pipelines.transform.project import (
    dbt_env,
    dbt_executable,
    dbt_project,
    ensure_manifest,
    scoped_env,
)
from pipelines.transform.test_failures import record_failing_tests


class OmsDbtTranslator(DagsterDbtTranslator):
    """Keys that line up with the ingest assets: dbt sources *are* the `raw.*` tables."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            table = dbt_resource_props.get("identifier") or dbt_resource_props["name"]
            return dg.AssetKey(["raw", table])
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return _layer(dbt_resource_props)

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: Any,
    ) -> dg.AssetCheckSpec | None:
        """dbt tests as checks that never fail the whole dbt step: dbt itself skips what is
        built on a failing test, and the gates (`models/gates/`) carry that to the routing
        and publish steps. A blocking check would fail the step and so stop every asset
        after it, related or not."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        return None if spec is None else spec._replace(blocking=False)


def _layer(props: Mapping[str, Any]) -> str:
    fqn = props.get("fqn") or []
    if props["resource_type"] == "seed":
        return "seeds"
    return fqn[1] if len(fqn) > 2 else "dbt"


# Built only when the marts a step reads passed their tests (see dbt_project/models/gates/).
ROUTING_GATE = dg.AssetKey(["gates", "gate_routing"])
PUBLISH_GATE = dg.AssetKey(["gates", "gate_publish"])

TRANSLATOR = OmsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())


def build_dbt_assets() -> dg.AssetsDefinition:
    ensure_manifest()
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        op_tags={"oms/writes": "warehouse"},
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        """`dbt build`: every model, seed and test, in dependency order.

        A model that fails, or a test that fails on data, stops only what is built on it: dbt
        skips those nodes and builds the rest, this step yields what was built, and Dagster
        skips the steps downstream of what was not (routing when its marts were not rebuilt,
        the publish step when a published mart was not, so the dashboards keep the last
        consistent copy). What failed is logged with where its records are.
        """
        # dbt reads the warehouse path from the environment (profiles.yml); set it for this
        # invocation only, so a long-lived process never keeps a stale path.
        with scoped_env(dbt_env()):
            invocation = dbt.cli(["build"], context=context, raise_on_error=False)
            yield from invocation.stream()
            results = invocation.get_artifact("run_results.json")
            views = record_failing_tests(get_settings().warehouse_path, results)
            for problem in dbt_problems(results, views):
                context.log.error(problem)

    return dbt_models


def dbt_problems(run_results: Mapping[str, Any], views: Mapping[str, str]) -> list[str]:
    """One line per node of a dbt build that errored, failed, warned or was skipped because
    of one: what it is, why, and for a test the view listing its records (`views`, by test
    name, from `record_failing_tests`)."""
    lines = []
    for r in run_results.get("results", []):
        if r.get("status") not in ("error", "fail", "warn", "skipped"):
            continue
        node = r["unique_id"]
        message = (r.get("message") or "").strip().splitlines()
        view = views.get(node.split(".")[2]) if node.startswith("test.") else None
        where = f"; its records: select * from {view}" if view else ""
        lines.append(f"dbt {r['status']}: {node}: {message[0] if message else ''}{where}")
    return lines


def _published_nodes() -> list[dict[str, Any]]:
    """Manifest nodes of the models tagged `published` (the marts the dashboards read)."""
    manifest = json.loads(dbt_project().manifest_path.read_text())
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "published" in node.get("tags", [])
    ]


def published_model_keys() -> list[dg.AssetKey]:
    """Asset keys of the published models."""
    return [TRANSLATOR.get_asset_key(node) for node in _published_nodes()]


def published_models() -> list[tuple[str, str]]:
    """(schema, table) of every published model, as built in the warehouse."""
    return sorted((n["schema"], n.get("alias") or n["name"]) for n in _published_nodes())


def build_publish_asset() -> dg.AssetsDefinition:
    from pipelines.ingest.engine import connect
    from pipelines.publish.publish import publish

    @dg.asset(
        key=dg.AssetKey(["published", "dashboard_marts"]),
        group_name="publish",
        kinds={"parquet"},
        # After the routing run and deliveries too, so their state is published with the marts.
        deps=[
            *published_model_keys(),
            PUBLISH_GATE,
            dg.AssetKey(["ops", "fulfillment_deliveries"]),
            REORDERS_KEY,  # the reorder requests' delivery states, for the planner page
        ],
        op_tags={"oms/writes": "warehouse"},
    )
    def dashboard_marts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Read-only Parquet copy of the published marts, swapped in atomically for dashboards."""
        settings = get_settings()
        con = connect(settings.warehouse_path)
        try:
            result = publish(con, published_models(), settings.published_dir, context.run.run_id)
        finally:
            con.close()
        return dg.MaterializeResult(
            metadata={
                "version": str(result.version_dir),
                "tables": dg.MetadataValue.json(result.tables),
            }
        )

    return dashboard_marts
