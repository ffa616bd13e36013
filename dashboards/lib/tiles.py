"""Headline tiles: values and deltas formatted for display (pure, no Streamlit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from dashboards.lib.kpis import Kpis
from ops_actions.alerts.targets import Target

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
    note: str | None = None
    """What the rate leaves out, shown under it: the open, not-yet-due (or not matured)
    volume, and what is already late."""
    target: str | None = None
    """The target the figure is held to ("target at least 95.0 %: missed"); None without one."""
    target_met: bool | None = None


def fmt_int(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.0f}"


def fmt_pct(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.1%}"


def fmt_money(amounts: Mapping[str, float]) -> str:
    """Amounts per currency in their order ("12,345 USD + 80 BRL"); "–" when there is none."""
    if not amounts:
        return NO_VALUE
    return " + ".join(f"{value:,.0f} {currency}" for currency, value in amounts.items())


def fmt_hours(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.1f} h"


def _signed(value: float, unit: str) -> str:
    # Round first so a tiny negative change reads "+0.0", not "-0.0" with a down arrow.
    return f"{round(value, 1) + 0.0:+.1f}{unit}"


def _relative_change(current: float | None, previous: float | None) -> str | None:
    if current is None or not previous:
        return None
    return _signed((current - previous) / previous * 100, "%")


def _points_change(current: float | None, previous: float | None) -> str | None:
    if current is None or previous is None:
        return None
    return _signed((current - previous) * 100, " pp")


def _hours_change(current: float | None, previous: float | None) -> str | None:
    if current is None or previous is None:
        return None
    return _signed(current - previous, " h")


@dataclass(frozen=True)
class _Spec:
    label: str
    field: str
    fmt: Callable[[float | None], str]
    change: Callable[[float | None, float | None], str | None]
    color: DeltaColor
    help: str
    weighted: bool = False
    """A catalogue rate: its label names the weighting and a note shows the open volume."""


_SPECS = (
    _Spec(
        label="Orders",
        field="orders",
        fmt=fmt_int,
        change=_relative_change,
        color="normal",
        help="Orders placed in the period (their own day where the order was made; an order "
        "fulfilled from two locations counts at each).",
    ),
    _Spec(
        label="Units ordered",
        field="units_ordered",
        fmt=fmt_int,
        change=_relative_change,
        color="normal",
        help="Units on the order lines placed in the period.",
    ),
    _Spec(
        label="Fill rate",
        field="fill_rate",
        fmt=fmt_pct,
        change=_points_change,
        color="normal",
        help="Shipped / required, over what was due to ship by the cut-off (required = ordered "
        "minus what the customer cancelled; a cancellation of ours stays required). Lines not "
        "due yet are left out and shown beside it.",
        weighted=True,
    ),
    _Spec(
        label="On-time ship",
        field="on_time_ship_rate",
        fmt=fmt_pct,
        change=_points_change,
        color="normal",
        help="Shipped by the promised ship date (the ship-from location's own day) / due to "
        "ship by the cut-off. Late whether or not it has shipped: a line past its ship-by and "
        "still unshipped is late.",
        weighted=True,
    ),
    _Spec(
        label="On-time delivery",
        field="on_time_delivery_rate",
        fmt=fmt_pct,
        change=_points_change,
        color="normal",
        help="Delivered by the promised delivery date (the day where the promise was made) / "
        "due to deliver by the cut-off; a parcel in transit past its promise is late.",
        weighted=True,
    ),
    _Spec(
        label="Fulfillment time p50",
        field="fulfillment_hours_p50",
        fmt=fmt_hours,
        change=_hours_change,
        color="inverse",
        help="Median hours from the order (for a customer-requested ship date: from that day) "
        "to the line's last shipment, over the period's lines, recomputed for the selection.",
    ),
    _Spec(
        label="Fulfillment time p90",
        field="fulfillment_hours_p90",
        fmt=fmt_hours,
        change=_hours_change,
        color="inverse",
        help="90th percentile of the same hours, recomputed for the selection.",
    ),
    _Spec(
        label="Return rate",
        field="return_rate",
        fmt=fmt_pct,
        change=_points_change,
        color="inverse",
        help="Units returned (refund not rejected; till returns included) / units shipped, over "
        "orders at least 35 days old at the cut-off (younger ones are still being returned).",
    ),
    _Spec(
        label="Inventory accuracy",
        field="inventory_accuracy",
        fmt=fmt_pct,
        change=_points_change,
        color="normal",
        help="Cycle counts matching the system quantity / SKUs counted, at the selected "
        "locations (stock is not split by channel).",
    ),
    _Spec(
        label="Revenue",
        field="revenue",
        fmt=fmt_int,
        change=_relative_change,
        color="normal",
        help="Order-line revenue of the orders placed in the period.",
    ),
)

TILE_LABELS = tuple(spec.label for spec in _SPECS)


def tile_label(spec_label: str, weighting: str) -> str:
    """A weighted rate's label names its weighting: 'Fill rate (units)'."""
    return f"{spec_label} ({weighting})"


def _note(field: str, kpis: Kpis) -> str | None:
    """The volume a rate leaves out, in the rate's own weighting."""
    opened = kpis.open_not_due or {}
    unit = kpis.weighting
    if field == "return_rate":
        return f"not matured yet: {fmt_int(opened.get(field, 0))} units shipped"
    if field not in opened:
        return None
    note = f"not due yet: {fmt_int(opened[field])} {unit}"
    if field == "on_time_ship_rate":
        note += f" · late, unshipped: {fmt_int(kpis.units_late_unshipped)} units"
    if field == "on_time_delivery_rate":
        note += f" · late in transit: {fmt_int(kpis.units_late_in_transit)} units"
    return note


def _against(target: Target | None, value: float | None) -> tuple[str | None, bool | None]:
    """The target line of a tile and whether the figure keeps it (None: no figure)."""
    if target is None:
        return None, None
    met = None if value is None else target.met_by(value)
    verdict = {None: "no figure", True: "met", False: "missed"}[met]
    return f"target {target.describe()}: {verdict}", met


def headline_tiles(
    current: Kpis, previous: Kpis | None, targets: Mapping[str, Target] | None = None
) -> list[Tile]:
    """The overview's tiles, each with its change against the previous period (no change when
    `previous` is None: the previous period is not covered by the published data) and against
    its target (`targets`: tile field, e.g. `fill_rate`, -> the target it is held to)."""
    tiles = []
    for spec in _SPECS:
        now = getattr(current, spec.field)
        before = None if previous is None else getattr(previous, spec.field)
        target, met = _against((targets or {}).get(spec.field), now)
        tiles.append(
            Tile(
                label=tile_label(spec.label, current.weighting) if spec.weighted else spec.label,
                value=spec.fmt(now),
                delta=spec.change(now, before),
                delta_color=spec.color,
                help=spec.help,
                note=_note(spec.field, current),
                target=target,
                target_met=met,
            )
        )
    return tiles
