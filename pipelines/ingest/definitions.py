"""The ingest domain: one asset per landing source, with its checks."""

import dagster as dg


def defs() -> dg.Definitions:
    from pipelines.ingest.assets import INGEST_ASSETS

    return dg.Definitions(assets=INGEST_ASSETS)
