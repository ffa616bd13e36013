"""Replenishment policy arithmetic, one SKU at one location at one review: pure Python.

The same formulas as the dbt model `fct_safety_stock` (dbt_project/models/marts/planning/), kept
in one small module so the replenishment simulation (bench/bench_replenishment.py) replays the
policy the warehouse suggests; tests/test_planning_policy.py checks this module gives the
figures the dbt unit tests pin, so the SQL and the Python cannot drift apart.

Units are product units and days. With P = lead time + review period (the protection interval):

    d                 = forecast over P / P
    forecast_lt_sigma = sqrt(P * sigma_daily^2 + d^2 * lead_time_sd^2)
    safety_stock      = z * forecast_lt_sigma
    reorder_point     = forecast over P + safety_stock
    eoq               = sqrt(2 * 365 d * order_cost / (holding_rate * unit_cost))
    order_up_to       = reorder_point + d * order_cycle_days   (order_up_to)
                      = reorder_point + eoq                    (min_max, eoq)
    position          = on_hand + inbound - allocated - backorders
"""

from __future__ import annotations

import math
from dataclasses import dataclass

POLICIES = ("order_up_to", "eoq", "min_max")
DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class PolicyInputs:
    """Everything one review needs (the columns of int_planning_replenishment_inputs)."""

    policy: str
    z: float
    lead_time_mean_days: float
    lead_time_sd_days: float
    review_period_days: float
    order_cycle_days: float
    forecast_lt_units: float
    sigma_daily: float
    on_hand: float = 0.0
    inbound: float = 0.0
    allocated: float = 0.0
    backorders: float = 0.0
    pack_size: float = 1.0
    min_order_qty: float = 0.0
    unit_cost: float | None = None
    order_cost: float = 50.0
    holding_rate_per_year: float = 0.25

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}: expected one of {POLICIES}")
        for name in (
            "lead_time_mean_days",
            "lead_time_sd_days",
            "review_period_days",
            "forecast_lt_units",
            "sigma_daily",
            "min_order_qty",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.order_cycle_days <= 0:
            raise ValueError(f"order_cycle_days must be positive, got {self.order_cycle_days}")
        if self.pack_size < 1:
            raise ValueError(f"pack_size must be at least 1, got {self.pack_size}")


@dataclass(frozen=True)
class PolicyFigures:
    """What one review decides, with the figures it came from (fct_safety_stock's columns)."""

    protection_days: float
    demand_daily: float
    forecast_lt_sigma: float
    safety_stock: float
    reorder_point: float
    eoq: float
    order_up_to: float
    position: float
    raw_qty: float
    purchase_qty: float
    transfer_qty: float

    @property
    def is_order_due(self) -> bool:
        return self.raw_qty > 0


def stock_position(on_hand: float, inbound: float, allocated: float, backorders: float) -> float:
    """Projected stock position: what is and will be there, less what is already promised."""
    return on_hand + inbound - allocated - backorders


def lead_time_demand_sigma(
    protection_days: float, sigma_daily: float, demand_daily: float, lead_time_sd_days: float
) -> float:
    """Std dev of demand over the protection interval: demand noise plus lead-time noise."""
    return math.sqrt(protection_days * sigma_daily**2 + demand_daily**2 * lead_time_sd_days**2)


def economic_order_quantity(
    demand_daily: float,
    unit_cost: float | None,
    order_cost: float,
    holding_rate_per_year: float,
    order_cycle_days: float,
) -> float:
    """Wilson's EOQ; without a cost to hold (no unit cost), the order cycle's demand."""
    if demand_daily > 0 and unit_cost is not None and unit_cost > 0 and holding_rate_per_year > 0:
        annual = DAYS_PER_YEAR * demand_daily
        return math.sqrt(2 * annual * order_cost / (holding_rate_per_year * unit_cost))
    return demand_daily * order_cycle_days


def raw_order_quantity(
    policy: str, position: float, reorder_point: float, order_up_to: float, eoq: float
) -> float:
    """Units to order before rounding; 0 while the position is above the reorder point."""
    if position > reorder_point:
        return 0.0
    if policy == "eoq" and eoq > 0:
        # whole lots, enough to lift the position above the reorder point
        return eoq * (math.floor((reorder_point - position) / eoq) + 1)
    return max(order_up_to - position, 0.0)


def round_order(raw_qty: float, pack_size: float, min_order_qty: float = 0.0) -> float:
    """Round up to the supplier minimum, then up to whole packs (0 stays 0)."""
    if raw_qty <= 0:
        return 0.0
    return pack_size * math.ceil(max(raw_qty, min_order_qty) / pack_size)


def plan(inputs: PolicyInputs) -> PolicyFigures:
    """All figures of one review, in the order fct_safety_stock computes them."""
    protection = inputs.lead_time_mean_days + inputs.review_period_days
    demand_daily = inputs.forecast_lt_units / protection if protection > 0 else 0.0
    sigma = lead_time_demand_sigma(
        protection, inputs.sigma_daily, demand_daily, inputs.lead_time_sd_days
    )
    safety_stock = inputs.z * sigma
    reorder_point = inputs.forecast_lt_units + safety_stock
    eoq = economic_order_quantity(
        demand_daily,
        inputs.unit_cost,
        inputs.order_cost,
        inputs.holding_rate_per_year,
        inputs.order_cycle_days,
    )
    if inputs.policy == "order_up_to":
        order_up_to = reorder_point + demand_daily * inputs.order_cycle_days
    else:
        order_up_to = reorder_point + eoq
    position = stock_position(inputs.on_hand, inputs.inbound, inputs.allocated, inputs.backorders)
    raw = raw_order_quantity(inputs.policy, position, reorder_point, order_up_to, eoq)
    return PolicyFigures(
        protection_days=protection,
        demand_daily=demand_daily,
        forecast_lt_sigma=sigma,
        safety_stock=safety_stock,
        reorder_point=reorder_point,
        eoq=eoq,
        order_up_to=order_up_to,
        position=position,
        raw_qty=raw,
        purchase_qty=round_order(raw, inputs.pack_size, inputs.min_order_qty),
        transfer_qty=round_order(raw, inputs.pack_size),
    )
