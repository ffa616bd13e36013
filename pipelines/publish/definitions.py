"""The publish domain: the dashboards' read-only copy of the published marts."""

import dagster as dg


def defs() -> dg.Definitions:
    from pipelines.publish.assets import build_publish_asset

    return dg.Definitions(assets=[build_publish_asset()])
