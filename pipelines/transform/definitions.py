"""The transform domain: every dbt model an asset, every dbt test an asset check."""

import dagster as dg


def defs() -> dg.Definitions:
    from pipelines.transform.assets import build_dbt_assets

    return dg.Definitions(assets=[build_dbt_assets()])
