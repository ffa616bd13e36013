"""How much each channel sells on a day, and which orders and lines that makes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from demo_generator.catalog import Catalog, Promotion

# Orders per day are steered by a daily line rate that is rounded onto a 6 % grid, so that a run
# one day longer with the same `order_lines` keeps the same rate (and so the same days) as the
# shorter run it extends.
_RATE_STEP = 1.06
_REFERENCE_DAILY_LINES = 120_000 / 90
_REFERENCE_SKUS = 400


@dataclass(frozen=True)
class Scale:
    """Volumes derived from the requested size: the daily line rate and the catalogue size."""

    daily_lines: float
    n_skus: int


def derive_scale(order_lines: int, days: int) -> Scale:
    """The daily line rate and SKU count for `order_lines` spread over `days`."""
    raw = max(order_lines, 1) / max(days, 1)
    daily = _RATE_STEP ** round(math.log(raw) / math.log(_RATE_STEP))
    # SKUs grow more slowly than volume: ~400 at the default size, ~3,000 at 10M lines.
    n_skus = round(_REFERENCE_SKUS * (daily / _REFERENCE_DAILY_LINES) ** 0.456)
    return Scale(daily_lines=daily, n_skus=int(np.clip(n_skus, 60, 5_000)))


@dataclass(frozen=True)
class ChannelModel:
    """The shape of one channel's demand."""

    name: str
    share: float  # of all order lines
    weekly: tuple[float, ...]  # Monday..Sunday multipliers
    lines_per_order: tuple[tuple[int, ...], tuple[float, ...]]
    units_per_line: tuple[tuple[int, ...], tuple[float, ...]]
    hourly: tuple[float, ...]  # 24 local-hour weights

    @property
    def mean_lines(self) -> float:
        values, probs = self.lines_per_order
        return float(np.dot(values, probs) / np.sum(probs))

    @property
    def mean_units(self) -> float:
        values, probs = self.units_per_line
        return float(np.dot(values, probs) / np.sum(probs))


_ONLINE_HOURS = (1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 8, 7, 5, 3)
_STORE_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 7, 8, 7, 7, 7, 8, 8, 7, 5, 2, 0, 0)
_OFFICE_HOURS = (0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 5, 7, 7, 6, 4, 2, 1, 0, 0, 0, 0, 0)
_WHOLESALE_LINES = (tuple(range(5, 41)), tuple(1.0 / (1 + 0.08 * (n - 5)) for n in range(5, 41)))

CHANNEL_MODELS: dict[str, ChannelModel] = {
    "webshop": ChannelModel(
        "webshop",
        0.45,
        (0.95, 0.9, 0.9, 0.92, 1.0, 1.25, 1.3),
        ((1, 2, 3, 4, 5), (0.52, 0.25, 0.12, 0.07, 0.04)),
        ((1, 2, 3, 4), (0.80, 0.14, 0.04, 0.02)),
        _ONLINE_HOURS,
    ),
    "marketplace": ChannelModel(
        "marketplace",
        0.30,
        (1.0, 0.97, 0.97, 0.97, 1.0, 1.12, 1.12),
        ((1, 2, 3, 4, 5), (0.62, 0.22, 0.09, 0.05, 0.02)),
        ((1, 2, 3), (0.85, 0.12, 0.03)),
        _ONLINE_HOURS,
    ),
    "pos": ChannelModel(
        "pos",
        0.15,
        (0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.2),
        ((1, 2, 3, 4, 5), (0.5, 0.26, 0.13, 0.07, 0.04)),
        ((1, 2, 3), (0.86, 0.11, 0.03)),
        _STORE_HOURS,
    ),
    # Wholesale buyers order on weekdays, in packs: units_per_line counts packs.
    "wholesale": ChannelModel(
        "wholesale",
        0.10,
        (1.25, 1.3, 1.3, 1.25, 1.1, 0.05, 0.02),
        _WHOLESALE_LINES,
        ((1, 2, 3, 4, 6, 8, 10), (0.3, 0.25, 0.15, 0.12, 0.08, 0.06, 0.04)),
        _OFFICE_HOURS,
    ),
}


PROMO_NET_GROWTH = 0.35


@dataclass(frozen=True)
class DayOrders:
    """One channel's orders of one day, at line grain (arrays aligned by line)."""

    n_orders: int
    order_seconds: np.ndarray  # per order: local seconds after midnight
    order_of_line: np.ndarray  # per line: order index 0..n_orders-1
    line_no: np.ndarray  # per line: 1-based within its order
    sku: np.ndarray
    qty: np.ndarray
    unit_price: np.ndarray  # USD, after any promotion discount


def weekly_factor(model: ChannelModel, weekday: int) -> float:
    """The weekday multiplier normalised so a week averages 1."""
    w = np.array(model.weekly)
    return float(w[weekday] / w.mean())


def sku_weights(
    catalog: Catalog, channel_index: int, channel: str, day: int, promos: tuple[Promotion, ...]
) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-SKU line probabilities for the day, the promotion volume uplift, and prices."""
    base = catalog.popularity[channel_index]
    uplift = np.ones(catalog.size)
    price = catalog.list_price.copy()
    for promo in promos:
        if promo.active(day, channel):
            uplift[promo.sku_mask] *= promo.uplift
            price[promo.sku_mask] = np.round(price[promo.sku_mask] * (1 - promo.discount), 2)
    weights = base * uplift
    total = weights.sum()
    # Promoted items partly take sales from the rest of the range; the channel as a whole
    # grows by about a third of the promoted items' uplift.
    volume = 1.0 + PROMO_NET_GROWTH * (total / base.sum() - 1.0)
    return weights / total, float(volume), price


def draw_orders(
    rng: np.random.Generator,
    model: ChannelModel,
    expected_lines: float,
    sku_p: np.ndarray,
    price: np.ndarray,
    unit_multiplier: np.ndarray | None = None,
) -> DayOrders:
    """Orders and lines for one channel-day; `unit_multiplier` scales units per SKU (packs)."""
    n_orders = int(rng.poisson(expected_lines / model.mean_lines))
    values, probs = model.lines_per_order
    p = np.asarray(probs) / np.sum(probs)
    lines_per_order = rng.choice(np.asarray(values), size=n_orders, p=p)
    n_lines = int(lines_per_order.sum())
    order_of_line = np.repeat(np.arange(n_orders), lines_per_order)
    starts = np.cumsum(lines_per_order) - lines_per_order
    line_no = np.arange(n_lines) - np.repeat(starts, lines_per_order) + 1
    sku = rng.choice(len(sku_p), size=n_lines, p=sku_p)
    uvals, uprobs = model.units_per_line
    qty = rng.choice(np.asarray(uvals), size=n_lines, p=np.asarray(uprobs) / np.sum(uprobs))
    if unit_multiplier is not None:
        qty = qty * unit_multiplier[sku]
    hours = np.asarray(model.hourly, dtype=float)
    hour = rng.choice(24, size=n_orders, p=hours / hours.sum())
    seconds = np.sort(hour * 3600 + rng.integers(0, 3600, n_orders))
    return DayOrders(
        n_orders=n_orders,
        order_seconds=seconds,
        order_of_line=order_of_line,
        line_no=line_no,
        sku=sku,
        qty=qty.astype(np.int64),
        unit_price=price[sku],
    )
