"""The KPIs a target can be set on, and where each is read in the KPI catalogue.

One entry per metric: its label, whether it is a rate (a ratio of two counts of
`marts.fct_kpis`, per weighting) or a time in hours (a percentile column of the same row), the
direction a target on it usually takes, and how many days after an order day its figure is
judged (`judged_lag_days`): a cohort's figure only means something once most of what it holds
is due (docs/alerts.md). Definitions of the counts themselves: docs/kpis.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["at_least", "at_most"]
DIRECTIONS: tuple[Direction, ...] = ("at_least", "at_most")
DIRECTION_WORDS: dict[str, str] = {"at_least": "at least", "at_most": "at most"}

DIMENSIONS: tuple[str, ...] = ("all", "channel", "location", "carrier", "category")
"""Dimensions of `marts.fct_kpis` a target may name (member `all` for `all`)."""

EVERY_MEMBER = "*"
"""A target's member meaning "each member of the dimension alike" (each channel, …)."""


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    kind: Literal["rate", "hours"]
    columns: dict[str, tuple[str, str]]
    """Weighting -> (numerator, denominator) columns of fct_kpis for a rate; for hours the
    value column and the column counting what it was computed over."""
    default_direction: Direction
    judged_lag_days: int
    """The day judged by an alert is the cut-off's date minus this many days."""

    @property
    def weightings(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def describe(self, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:.1%}" if self.kind == "rate" else f"{value:,.1f} h"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "fill_rate",
            "Fill rate",
            "rate",
            {
                "units": ("units_filled", "units_due"),
                "lines": ("lines_filled", "lines_due"),
                "orders": ("orders_filled", "orders_due"),
            },
            "at_least",
            judged_lag_days=5,
        ),
        Metric(
            "on_time_ship_rate",
            "On-time ship",
            "rate",
            {
                "units": ("ship_units_on_time", "ship_units_due"),
                "lines": ("ship_lines_on_time", "ship_lines_due"),
                "orders": ("ship_orders_on_time", "ship_orders_due"),
            },
            "at_least",
            judged_lag_days=5,
        ),
        Metric(
            "on_time_delivery_rate",
            "On-time delivery",
            "rate",
            {
                "units": ("delivery_units_on_time", "delivery_units_due"),
                "lines": ("delivery_lines_on_time", "delivery_lines_due"),
                "orders": ("delivery_orders_on_time", "delivery_orders_due"),
            },
            "at_least",
            judged_lag_days=10,
        ),
        Metric(
            "return_rate",
            "Return rate",
            "rate",
            {"units": ("units_returned", "return_units_shipped")},
            "at_most",
            judged_lag_days=35,
        ),
        Metric(
            "fulfillment_hours_p90",
            "Fulfillment time p90",
            "hours",
            {"lines": ("order_to_ship_hours_p90", "lines_timed_to_ship")},
            "at_most",
            judged_lag_days=5,
        ),
    )
}


def metric(name: str) -> Metric:
    """The metric `name`, or a ValueError listing the ones there are."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(
            f"unknown KPI {name!r}; targets can be set on {', '.join(METRICS)}"
        ) from None
