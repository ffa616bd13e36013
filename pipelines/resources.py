"""The resources every domain shares, in one dict: one owner per store a step opens."""

from __future__ import annotations

from typing import Any

from pipelines.settings import Settings


def resources(settings: Settings | None = None) -> dict[str, Any]:
    """`dbt` runs the project's dbt; `warehouse` opens the DuckDB file (pipelines/warehouse.py).

    Built from the settings, so each environment (local, CI, production) differs only by its
    environment variables; tests pass resources of their own to `execute_in_process`.
    """
    from pipelines.transform.assets import dbt_resource
    from pipelines.warehouse import WarehouseResource

    return {"dbt": dbt_resource(), "warehouse": WarehouseResource.from_settings(settings)}
