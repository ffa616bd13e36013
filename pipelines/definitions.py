"""The one `Definitions` of the platform: `dagster dev -m pipelines.definitions` shows it all."""

import dagster as dg

from pipelines.actions.assets import (
    deliver_job,
    deliver_schedule,
    fulfillment_deliveries,
    routing_job,
    routing_run,
    routing_schedule,
)
from pipelines.ingest.assets import INGEST_ASSETS
from pipelines.ingest.sensors import build_landing_sensor
from pipelines.planning.definitions import PLANNING_ASSETS, PLANNING_JOBS, PLANNING_SCHEDULES
from pipelines.run_control import locked_in_process_executor
from pipelines.transform.assets import build_dbt_assets, build_publish_asset, dbt_resource

# Everything that writes the warehouse runs one step at a time in one process: DuckDB allows a
# single writing process per file. Runs are serialised by the run queue (see the instance's
# dagster.yaml written by `oms`) and, with the command line's runs too, by the warehouse writer
# lock the executor holds for the whole run (pipelines/runlock.py); steps by the executor.
WAREHOUSE_TAGS = {"oms/warehouse": "write"}

full_flow = dg.define_asset_job(
    "full_flow",
    selection=dg.AssetSelection.all(),
    description="Ingest every new landing batch, dbt build (models + tests), route open lines, "
    "deliver to warehouses, publish the marts.",
    tags=WAREHOUSE_TAGS,
    executor_def=locked_in_process_executor,
)

daily_build = dg.ScheduleDefinition(
    name="daily_build",
    job=full_flow,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The daily build, whether or not new files arrived (KPIs age by the calendar).",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            *INGEST_ASSETS,
            build_dbt_assets(),
            routing_run,
            fulfillment_deliveries,
            *PLANNING_ASSETS,
            build_publish_asset(),
        ],
        jobs=[full_flow, routing_job, deliver_job, *PLANNING_JOBS],
        schedules=[daily_build, routing_schedule, deliver_schedule, *PLANNING_SCHEDULES],
        sensors=[build_landing_sensor(full_flow)],
        resources={"dbt": dbt_resource()},
        executor=locked_in_process_executor,
    )
