"""The publish domain: the dashboards' read-only copy of the published marts."""

import dagster as dg


def defs() -> dg.Definitions:
    from pipelines.keys import (
        ALERT_DELIVERY_KEY,
        DELIVERY_KEY,
        REORDERS_KEY,
        STATUS_DELIVERY_KEY,
    )
    from pipelines.publish.assets import build_publish_asset

    # after the action steps, so the states of what they sent are published with the marts
    return dg.Definitions(
        assets=[
            build_publish_asset(
                after=(DELIVERY_KEY, REORDERS_KEY, STATUS_DELIVERY_KEY, ALERT_DELIVERY_KEY)
            )
        ]
    )
