"""The executor of every job that writes the warehouse: in-process, under the writer lock.

Runs Dagster launches itself (sensor, schedules, the UI) use `locked_in_process_executor`, so
they take the same warehouse writer lock as the command line and wait for it
(`pipelines.run_control` says what a run leaves for the next one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.run_control import process_tags
from pipelines.runlock import Holder, warehouse_lock


class WarehouseLockedExecutor(dg.Executor):
    """The in-process executor, holding the warehouse writer lock for the whole run.

    Runs the Dagster daemon launches (sensor, schedules, the UI's launch button) execute in a
    process of their own; without the lock, one starting while `python3 -m pipelines run` writes
    the warehouse would fail on DuckDB's file lock in its first step. With it, the run waits
    (logged once, with who holds the lock) and can still be canceled while waiting.
    """

    def __init__(self, inner: dg.Executor, warehouse_path: Callable[[], Path]) -> None:
        self._inner = inner
        self._warehouse_path = warehouse_path

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        instance: dg.DagsterInstance = plan_context.instance
        run = plan_context.dagster_run
        instance.add_run_tags(run.run_id, process_tags())

        def on_wait(holder: Holder | None) -> None:
            who = holder.describe() if holder else "another process"
            instance.report_engine_event(
                f"Waiting for the warehouse: it is being written by {who}.", run
            )

        def check_stop() -> None:
            current = instance.get_run_by_id(run.run_id)
            if current is not None and current.status == dg.DagsterRunStatus.CANCELING:
                raise dg.DagsterExecutionInterruptedError("canceled while waiting for the lock")

        with warehouse_lock(
            self._warehouse_path(),
            command=f"dagster run {run.run_id} ({run.job_name})",
            on_wait=on_wait,
            check_stop=check_stop,
        ):
            yield from self._inner.execute(plan_context, execution_plan)


def _warehouse_path() -> Path:
    from pipelines.settings import get_settings

    return get_settings().warehouse_path


def _locked_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    inner = dg.in_process_executor.executor_creation_fn(init_context)  # type: ignore[misc]
    return WarehouseLockedExecutor(inner, _warehouse_path)


locked_in_process_executor = dg.ExecutorDefinition(
    name="in_process",
    config_schema=dg.in_process_executor.config_schema.as_field(),
    executor_creation_fn=_locked_executor,
    description="In-process executor holding the warehouse writer lock for the whole run.",
)
