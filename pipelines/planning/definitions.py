"""The planning domain: reorder requests from the planners' decisions, the daily planning job
and its schedule (forecasts, safety stock and suggestions are dbt models, in transform)."""

import dagster as dg


def defs() -> dg.Definitions:
    from pipelines.planning.assets import planning_daily, planning_daily_schedule, reorder_requests

    return dg.Definitions(
        assets=[reorder_requests], jobs=[planning_daily], schedules=[planning_daily_schedule]
    )
