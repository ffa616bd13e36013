"""The whole flow as one job, across every domain, and its daily schedule.

Everything that writes the warehouse runs one step at a time in one process: DuckDB allows a
single writing process per file. That rule is kept by the warehouse writer lock, which the
executor of every job holds for the whole run (`pipelines/runlock.py`, also taken by the
command line's runs) whatever the Dagster instance is configured to do; the run queue's limit
on the `oms/warehouse` tag (`pipelines.instance`) only spares Dagster from starting runs that
would wait for it.
"""

from typing import Any

import dagster as dg

from pipelines.run_control import locked_in_process_executor

WAREHOUSE_TAGS = {"oms/warehouse": "write"}


def warehouse_job(name: str, selection: dg.AssetSelection, description: str) -> Any:
    """A job that writes the warehouse: tagged for the run queue and run under the writer lock."""
    return dg.define_asset_job(
        name,
        selection=selection,
        description=description,
        tags=WAREHOUSE_TAGS,
        executor_def=locked_in_process_executor,
    )


full_flow = warehouse_job(
    "full_flow",
    dg.AssetSelection.all(),
    "Ingest every new landing batch, dbt build (models + tests), route open lines, deliver to "
    "warehouses, publish the marts.",
)

daily_build = dg.ScheduleDefinition(
    name="daily_build",
    job=full_flow,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The daily build, whether or not new files arrived (KPIs age by the calendar).",
)


def defs() -> dg.Definitions:
    from pipelines.ingest.sensors import build_landing_sensor

    return dg.Definitions(
        jobs=[full_flow], schedules=[daily_build], sensors=[build_landing_sensor(full_flow)]
    )
