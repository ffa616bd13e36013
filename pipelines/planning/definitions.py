"""The planning domain's assets, jobs and schedules, for `pipelines/definitions.py`."""

from __future__ import annotations

import dagster as dg

from pipelines.planning.assets import planning_daily, planning_daily_schedule, reorder_requests

PLANNING_ASSETS: list[dg.AssetsDefinition] = [reorder_requests]
PLANNING_JOBS: list[dg.UnresolvedAssetJobDefinition] = [planning_daily]
PLANNING_SCHEDULES: list[dg.ScheduleDefinition] = [planning_daily_schedule]
