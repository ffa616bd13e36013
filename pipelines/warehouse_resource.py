"""The warehouse as a Dagster resource (`pipelines.warehouse` holds the policy it applies)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.settings import Settings
from pipelines.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The warehouse as a Dagster resource: assets and checks take it as a parameter.

    Its defaults come from the settings (the environment, read in `pipelines.settings`); tests
    swap it for one on a temporary file instead of patching the environment.
    """

    path: str
    memory_limit: str | None = None
    lock_timeout_s: float = 120.0
    temp_directory: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WarehouseResource:
        w = Warehouse.from_settings(settings)
        return cls(
            path=str(w.path),
            memory_limit=w.memory_limit,
            lock_timeout_s=w.lock_timeout_s,
            temp_directory=str(w.temp_directory) if w.temp_directory else None,
        )

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(
            Path(self.path),
            self.memory_limit,
            self.lock_timeout_s,
            Path(self.temp_directory) if self.temp_directory else None,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once per run, before any step writes: every table a step may read exists.
        self.warehouse.create_schemas()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.warehouse.connect(read_only) as con:
            yield con
