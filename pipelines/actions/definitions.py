"""The actions domain: routing decisions and their delivery to warehouses, status updates to
the channels, with their jobs and schedules."""

import dagster as dg

from pipelines.flow import warehouse_job
from pipelines.keys import (
    ALERT_DELIVERY_KEY,
    DELIVERY_KEY,
    HOLDS_KEY,
    PUBLISH_KEY,
    ROUTING_KEY,
    STATUS_DELIVERY_KEY,
)


def defs() -> dg.Definitions:
    from pipelines.actions.assets import ROUTING_INPUTS, fulfillment_deliveries, routing_run
    from pipelines.actions.holds import order_holds
    from pipelines.actions.ops_tables import OPS_TABLES
    from pipelines.actions.status_assets import build_status_assets

    routing_job = warehouse_job(
        "routing",
        dg.AssetSelection.assets(
            *ROUTING_INPUTS,
            HOLDS_KEY,
            ROUTING_KEY,
            DELIVERY_KEY,
            STATUS_DELIVERY_KEY,
            PUBLISH_KEY,
        ),
        "Rebuild and test the action marts, apply hold decisions and hold new orders, route "
        "open lines, deliver (fulfillment requests and the status updates of the router's and "
        "the holds' cancellations), publish.",
    )
    deliver_job = warehouse_job(
        "deliver_due",
        dg.AssetSelection.assets(
            DELIVERY_KEY, STATUS_DELIVERY_KEY, ALERT_DELIVERY_KEY, PUBLISH_KEY
        ),
        "Deliver what is due (retries, requeued dead letters) and publish the states.",
    )
    return dg.Definitions(
        assets=[
            order_holds,
            routing_run,
            fulfillment_deliveries,
            *build_status_assets(),
            *OPS_TABLES,
        ],
        jobs=[routing_job, deliver_job],
        schedules=[
            dg.ScheduleDefinition(
                name="routing_every_5_minutes",
                job=routing_job,
                cron_schedule="*/5 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            ),
            dg.ScheduleDefinition(
                name="deliver_due_every_minute",
                job=deliver_job,
                cron_schedule="* * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            ),
        ],
    )
