"""The one `Definitions` of the platform: `dagster dev -m pipelines.definitions` shows it all.

Each domain keeps its assets, checks, jobs, schedules and sensors in its own `definitions.py`
(ingest, transform, actions, planning, publish, and the whole flow), loaded only when Dagster
asks for the definitions, not at import, and merged here with the resources they share.
"""

import dagster as dg

DOMAINS = (
    "pipelines.ingest.definitions",
    "pipelines.transform.definitions",
    "pipelines.actions.definitions",
    "pipelines.planning.definitions",
    "pipelines.alerts.definitions",
    "pipelines.publish.definitions",
    "pipelines.flow",
)


@dg.definitions
def defs() -> dg.Definitions:
    import importlib

    from pipelines.resources import resources
    from pipelines.run_control import locked_in_process_executor

    domains = [importlib.import_module(name).defs() for name in DOMAINS]
    return dg.Definitions.merge(
        *domains,
        dg.Definitions(resources=resources(), executor=locked_in_process_executor),
    )
