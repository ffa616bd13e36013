"""Breaches of KPI targets, judged on the day rows of the KPI catalogue (pure functions).

Input: `marts.fct_kpis` rows at `period_grain = 'day'` (one row per order day, dimension and
member, with every numerator and denominator). A target is judged on the order day its
metric's figure has come due (`Metric.judged_lag_days` before the cut-off's date, and the
`lookback_days - 1` days before it, so a day the flow did not run is still judged), for the
members its scope names. A day whose volume (the rate's denominator, or the lines timed for a
percentile) is below the target's `min_volume` is not judged: a handful of orders says little.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from ops_actions.alerts.metrics import EVERY_MEMBER, METRICS
from ops_actions.alerts.targets import Target, target_for


@dataclass(frozen=True)
class Breach:
    """One target broken by one member on one order day."""

    metric: str
    weighting: str
    dimension: str
    member: str
    day: dt.date
    value: float
    numerator: float | None
    volume: float
    target: Target

    def text(self) -> str:
        m = METRICS[self.metric]
        where = "overall" if self.dimension == "all" else f"{self.dimension} {self.member}"
        who = "default target" if self.target.is_default else f"set by {self.target.set_by}"
        return (
            f"{m.label} ({self.weighting}) {where}, orders of {self.day:%Y-%m-%d}: "
            f"{m.describe(self.value)}, target {self.target.describe()} ({who})"
        )


def judged_days(metric_name: str, cut_off: dt.date, lookback_days: int = 1) -> list[dt.date]:
    """The order days a target on `metric_name` is judged on, latest first."""
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be 1 or more, not {lookback_days}")
    last = cut_off - dt.timedelta(days=METRICS[metric_name].judged_lag_days)
    return [last - dt.timedelta(days=n) for n in range(lookback_days)]


def figure(metric_name: str, weighting: str, row: dict) -> tuple[float | None, float | None, float]:
    """(value, numerator, volume) of one fct_kpis row: a rate as Σ numerator / Σ denominator
    (None when nothing was due), a percentile as its column, over the lines timed."""
    m = METRICS[metric_name]
    first, second = m.columns[weighting]
    volume = float(row.get(second) or 0)
    if m.kind == "rate":
        numerator = float(row.get(first) or 0)
        return (numerator / volume if volume else None), numerator, volume
    value = row.get(first)
    return (None if value is None else float(value)), None, volume


def find_breaches(
    targets: Sequence[Target], rows: pl.DataFrame, cut_off: dt.date, lookback_days: int = 1
) -> list[Breach]:
    """Every (target, member, judged day) whose figure breaks the target, in a stable order.

    `rows`: fct_kpis day rows with `period_start`, `dimension`, `member` and the counts. A
    member with a target of its own is judged by that one only, not also by its dimension's
    `*` target."""
    breaches: list[Breach] = []
    by_key = {
        (r["dimension"], r["member"], r["period_start"]): r for r in rows.iter_rows(named=True)
    }
    members: dict[str, set[str]] = {}
    for dimension, member, _ in by_key:
        members.setdefault(dimension, set()).add(member)
    for target in targets:
        scope = target.scope
        if scope.member == EVERY_MEMBER:
            candidates = sorted(members.get(scope.dimension, ()))
        else:
            candidates = [scope.member]
        for member in candidates:
            if (
                target_for(targets, scope.metric, scope.weighting, scope.dimension, member)
                != target
            ):
                continue  # judged by its own target
            for day in judged_days(scope.metric, cut_off, lookback_days):
                row = by_key.get((scope.dimension, member, day))
                if row is None:
                    continue
                value, numerator, volume = figure(scope.metric, scope.weighting, row)
                if value is None or volume < target.min_volume or target.met_by(value):
                    continue
                breaches.append(
                    Breach(
                        scope.metric,
                        scope.weighting,
                        scope.dimension,
                        member,
                        day,
                        value,
                        numerator,
                        volume,
                        target,
                    )
                )
    return sorted(breaches, key=lambda b: (b.day, b.metric, b.weighting, b.dimension, b.member))
