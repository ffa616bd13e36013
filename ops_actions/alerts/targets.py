"""KPI targets: what a manager commits a figure to, checked before it is stored.

A target names a metric at one weighting, a scope (`dimension` and `member`: the whole
business, one channel, or `*` for each member of a dimension alike), a direction (`at_least`
or `at_most`) and a threshold (a rate as a fraction 0-1, a time in hours), plus the smallest
volume (`min_volume`, in the denominator's unit) a day must have to be judged, so a day of
three orders never raises an alert. Targets are versioned in the operational store
(`ops_actions.store`); the defaults below apply wherever nobody has set one (docs/alerts.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ops_actions.alerts.metrics import (
    DIMENSIONS,
    DIRECTION_WORDS,
    DIRECTIONS,
    EVERY_MEMBER,
    Direction,
    metric,
)

DEFAULT_MIN_VOLUME = 20.0
DEFAULT_SET_BY = "default"


class TargetError(ValueError):
    """A target that cannot be stored as given; the message says what to change."""


@dataclass(frozen=True)
class TargetScope:
    """What one target is about: a metric at a weighting, over a dimension member."""

    metric: str
    weighting: str
    dimension: str = "all"
    member: str = "all"

    def describe(self) -> str:
        m = metric(self.metric)
        where = {
            "all": "overall",
            EVERY_MEMBER: f"each {self.dimension}",
        }.get(self.member, f"{self.dimension} {self.member}")
        if self.dimension == "all":
            where = "overall"
        return f"{m.label} ({self.weighting}), {where}"


@dataclass(frozen=True)
class TargetInput:
    """A target as a person enters it (threshold: fraction for a rate, hours for a time)."""

    scope: TargetScope
    direction: str
    threshold: float
    min_volume: float = DEFAULT_MIN_VOLUME
    note: str | None = None


@dataclass(frozen=True)
class Target:
    """A target in force: one version of one scope, with who set it and when (UTC)."""

    scope: TargetScope
    direction: Direction
    threshold: float
    min_volume: float
    version: int
    set_by: str
    set_role: str | None
    set_at: str | None
    note: str | None = None

    @property
    def is_default(self) -> bool:
        return self.set_by == DEFAULT_SET_BY

    def met_by(self, value: float) -> bool:
        """Whether `value` keeps the target (a value equal to the threshold keeps it)."""
        if self.direction == "at_least":
            return value >= self.threshold
        return value <= self.threshold

    def describe(self) -> str:
        m = metric(self.scope.metric)
        return f"{DIRECTION_WORDS[self.direction]} {m.describe(self.threshold)}"


def validated(item: TargetInput) -> TargetInput:
    """`item` with its text trimmed, or TargetError naming what is wrong."""
    scope = item.scope
    try:
        m = metric(scope.metric)
    except ValueError as exc:
        raise TargetError(str(exc)) from None
    if scope.weighting not in m.weightings:
        raise TargetError(
            f"{m.label} is weighted by {' or '.join(m.weightings)}, not {scope.weighting!r}"
        )
    if scope.dimension not in DIMENSIONS:
        raise TargetError(
            f"unknown dimension {scope.dimension!r}; choose one of {', '.join(DIMENSIONS)}"
        )
    member = (scope.member or "").strip()
    if scope.dimension == "all":
        member = "all"
    elif not member:
        raise TargetError(
            f"name the {scope.dimension} the target is for, or {EVERY_MEMBER} for each one"
        )
    if item.direction not in DIRECTIONS:
        raise TargetError(f"direction must be {' or '.join(DIRECTIONS)}, not {item.direction!r}")
    threshold = item.threshold
    if not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise TargetError(f"the threshold must be a number, not {threshold!r}")
    if m.kind == "rate" and not 0 <= threshold <= 1:
        raise TargetError(
            f"a rate target lies between 0 % and 100 %; {threshold * 100:g} % is not a rate"
        )
    if m.kind == "hours" and threshold <= 0:
        raise TargetError(f"a time target is a positive number of hours, not {threshold:g}")
    volume = item.min_volume
    if not isinstance(volume, int | float) or not math.isfinite(volume) or volume < 0:
        raise TargetError(f"the minimum volume is a count of 0 or more, not {volume!r}")
    note = (item.note or "").strip() or None
    if note is not None and len(note) > 500:
        raise TargetError("keep the note under 500 characters")
    return TargetInput(
        TargetScope(scope.metric, scope.weighting, scope.dimension, member),
        item.direction,
        float(threshold),
        float(volume),
        note,
    )


def _default(
    metric_name: str, weighting: str, direction: Direction, threshold: float, dimension: str = "all"
) -> Target:
    member = "all" if dimension == "all" else EVERY_MEMBER
    return Target(
        TargetScope(metric_name, weighting, dimension, member),
        direction,
        threshold,
        DEFAULT_MIN_VOLUME,
        version=0,
        set_by=DEFAULT_SET_BY,
        set_role=None,
        set_at=None,
        note="default (docs/alerts.md)",
    )


DEFAULT_TARGETS: tuple[Target, ...] = (
    _default("fill_rate", "units", "at_least", 0.95),
    _default("on_time_ship_rate", "units", "at_least", 0.95),
    _default("on_time_delivery_rate", "units", "at_least", 0.95),
    _default("on_time_delivery_rate", "units", "at_least", 0.95, dimension="channel"),
    _default("return_rate", "units", "at_most", 0.08),
    _default("fulfillment_hours_p90", "lines", "at_most", 72.0),
)
"""Targets in force until someone sets their scope (docs/alerts.md explains each)."""


def in_force(stored: Iterable[Target | None], removed: Iterable[TargetScope] = ()) -> list[Target]:
    """The targets that apply: the latest stored version of each scope, and the defaults of
    the scopes nobody has set or removed."""
    stored_list = [t for t in stored if t is not None]
    taken = {t.scope for t in stored_list} | set(removed)
    return sorted(
        [*stored_list, *(d for d in DEFAULT_TARGETS if d.scope not in taken)],
        key=lambda t: (t.scope.metric, t.scope.weighting, t.scope.dimension, t.scope.member),
    )


def target_for(
    targets: Sequence[Target], metric_name: str, weighting: str, dimension: str, member: str
) -> Target | None:
    """The target judging one member: its own target, else its dimension's `*` target."""
    by_scope = {t.scope: t for t in targets}
    own = by_scope.get(TargetScope(metric_name, weighting, dimension, member))
    if own is not None:
        return own
    if dimension == "all":
        return None
    return by_scope.get(TargetScope(metric_name, weighting, dimension, EVERY_MEMBER))
