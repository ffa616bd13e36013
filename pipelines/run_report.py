"""What a finished run did not do, in words a person acts on.

A run no longer stops at the first model or test that fails (`pipelines/transform/assets.py`):
the rest is built, and Dagster reports the run as a success. So "did everything happen?" is
answered here, from the run's own events: every asset the run planned and did not materialise
(a model that failed, or one skipped because something under it failed; routing or publish
skipped for the same reason), and every check that failed, errors apart from warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.errors


def _key(key: Any) -> str:
    return "/".join(key.path)


def report(result: Any) -> RunReport:
    """The problems of a finished `execute_in_process` result (an `ExecuteInProcessResult`)."""
    import dagster as dg

    out = RunReport()
    # every asset the job is made of (an in-process run records no "planned" events)
    planned = {_key(k) for k in result.job_def.asset_layer.executable_asset_keys}
    built = {_key(e.asset_key) for e in result.get_asset_materialization_events()}
    missing = sorted(planned - built)
    if missing:
        out.errors.append(
            f"{len(missing)} assets not built (failed, or skipped because what they are built "
            f"on failed): {', '.join(missing[:12])}{' …' if len(missing) > 12 else ''}"
        )
    for step in result.get_failed_step_keys():
        out.errors.append(f"step failed: {step}")
    for event in result.get_step_skipped_events():
        out.errors.append(f"step skipped (what it reads was not built): {event.step_key}")
    for check in result.get_asset_check_evaluations():
        if check.passed:
            continue
        where = check.metadata.get("failing_records") or check.metadata.get("relation_name")
        text = f"check failed: {_key(check.asset_key)} {check.check_name}" + (
            f" (records: {where.value if hasattr(where, 'value') else where})" if where else ""
        )
        if check.severity == dg.AssetCheckSeverity.WARN:
            out.warnings.append(text)
        else:
            out.errors.append(text)
    return out
