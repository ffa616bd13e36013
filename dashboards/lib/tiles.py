"""Headline tiles: values and deltas formatted for display (pure, no Streamlit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dashboards.lib.kpis import Kpis

NO_VALUE = "–"

DeltaColor = Literal["normal", "inverse", "off"]


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None
    """Change vs the previous period; None when either side is undefined."""
    delta_color: DeltaColor
    """'normal' when up is good, 'inverse' when down is good."""
    help: str


def fmt_int(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.0f}"


def fmt_pct(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.1%}"


def fmt_hours(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.1f} h"


def _relative_change(current: float | None, previous: float | None) -> str | None:
    if current is None or not previous:
        return None
    return f"{(current - previous) / previous:+.1%}"


def _points_change(current: float | None, previous: float | None) -> str | None:
    if current is None or previous is None:
        return None
    return f"{(current - previous) * 100:+.1f} pp"


def _hours_change(current: float | None, previous: float | None) -> str | None:
    if current is None or previous is None:
        return None
    return f"{current - previous:+.1f} h"


@dataclass(frozen=True)
class _Spec:
    label: str
    field: str
    fmt: Callable[[float | None], str]
    change: Callable[[float | None, float | None], str | None]
    color: DeltaColor
    help: str


_SPECS = (
    _Spec("Orders", "orders", fmt_int, _relative_change, "normal",
          "Orders placed in the period (an order shipped from two locations counts at each)."),
    _Spec("Units ordered", "units_ordered", fmt_int, _relative_change, "normal",
          "Units on the order lines placed in the period."),
    _Spec("Fill rate", "fill_rate", fmt_pct, _points_change, "normal",
          "Units shipped / units ordered, over the orders placed in the period."),
    _Spec("On-time ship", "on_time_ship_rate", fmt_pct, _points_change, "normal",
          "Shipments handed to the carrier by the promised ship date / shipments."),
    _Spec("On-time delivery", "on_time_delivery_rate", fmt_pct, _points_change, "normal",
          "Shipments delivered by the promised delivery date / shipments delivered."),
    _Spec("Fulfillment time p50", "fulfillment_hours_p50", fmt_hours, _hours_change, "inverse",
          "Median hours from order to carrier pick-up, over the period's shipments."),
    _Spec("Fulfillment time p90", "fulfillment_hours_p90", fmt_hours, _hours_change, "inverse",
          "90th percentile of hours from order to carrier pick-up."),
    _Spec("Return rate", "return_rate", fmt_pct, _points_change, "inverse",
          "Units returned / units shipped, over the orders placed in the period."),
    _Spec("Inventory accuracy", "inventory_accuracy", fmt_pct, _points_change, "normal",
          "Cycle counts matching the system quantity / SKUs counted (selected locations; "
          "not split by channel)."),
    _Spec("Revenue", "revenue", fmt_int, _relative_change, "normal",
          "Order-line revenue of the orders placed in the period."),
)

TILE_LABELS = tuple(spec.label for spec in _SPECS)


def headline_tiles(current: Kpis, previous: Kpis) -> list[Tile]:
    """The overview's tiles, each with its change against the previous period."""
    tiles = []
    for spec in _SPECS:
        now, before = getattr(current, spec.field), getattr(previous, spec.field)
        tiles.append(
            Tile(
                label=spec.label,
                value=spec.fmt(now),
                delta=spec.change(now, before),
                delta_color=spec.color,
                help=spec.help,
            )
        )
    return tiles
