"""Synthetic router inputs (open lines, available-to-promise, locations) for tests and bench.

Stands in for the dbt action marts until they exist. Deterministic for a given seed. Stock is
deliberately tight and unevenly spread, so lines compete for the nearest locations and some
SKUs run short: the interesting case for a router.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

CHANNELS = ("webshop", "marketplace", "wholesale")


@dataclass(frozen=True)
class RouterInputs:
    lines: pl.DataFrame
    atp: pl.DataFrame
    locations: pl.DataFrame
    today: dt.date


def make_locations(n_locations: int, rng: np.random.Generator) -> pl.DataFrame:
    """Distribution centres and stores spread over a Europe-sized area."""
    ids = [f"LOC{i:03d}" for i in range(n_locations)]
    is_store = np.arange(n_locations) >= max(1, int(n_locations * 0.6))
    return pl.DataFrame(
        {
            "location_id": ids,
            "latitude": rng.uniform(40.0, 56.0, n_locations),
            "longitude": rng.uniform(-5.0, 20.0, n_locations),
            "can_ship": [True] * n_locations,
            "ships_channels": [
                ["webshop"] if store else list(CHANNELS) for store in is_store.tolist()
            ],
            "handling_cost_per_unit": np.where(is_store, 1.2, 0.4)
            + rng.uniform(0, 0.2, n_locations),
            "shipment_base_cost": np.where(is_store, 4.0, 2.5) + rng.uniform(0, 0.5, n_locations),
            "processing_days": np.where(is_store, 2, 1).astype(np.int64),
        }
    )


def make_inputs(
    n_lines: int = 2_000,
    n_locations: int = 20,
    n_skus: int = 300,
    seed: int = 7,
    stock_ratio: float = 1.1,
    today: dt.date = dt.date(2026, 1, 15),
) -> RouterInputs:
    """Open lines, ATP and locations; `stock_ratio` is total stock / total demand (about)."""
    rng = np.random.default_rng(seed)
    locations = make_locations(n_locations, rng)

    # Orders with 1-4 lines (mostly 1), popular SKUs dominate (Zipf-like).
    n_orders = max(1, int(n_lines / 1.6))
    lines_per_order = rng.choice([1, 2, 3, 4], size=n_orders, p=[0.62, 0.23, 0.10, 0.05])
    order_of_line = np.repeat(np.arange(n_orders), lines_per_order)[:n_lines]
    if order_of_line.size < n_lines:
        extra = np.arange(n_orders, n_orders + n_lines - order_of_line.size)
        order_of_line = np.concatenate([order_of_line, extra])
    n_orders = int(order_of_line.max()) + 1
    popularity = 1.0 / np.arange(1, n_skus + 1) ** 0.8
    popularity /= popularity.sum()
    sku_idx = rng.choice(n_skus, size=n_lines, p=popularity)
    sku_weight = rng.uniform(0.1, 4.0, n_skus)

    order_channel = rng.choice(len(CHANNELS), size=n_orders, p=[0.6, 0.35, 0.05])
    order_level = rng.choice(3, size=n_orders, p=[0.8, 0.15, 0.05])
    channel = np.array(CHANNELS)[order_channel][order_of_line]
    level = np.array(["standard", "express", "next_day"])[order_level][order_of_line]
    quantity = np.where(
        channel == "wholesale",
        rng.integers(2, 12, n_lines),
        rng.choice([1, 1, 1, 2, 3], size=n_lines),
    ).astype(np.int64)
    order_lat = rng.uniform(41.0, 55.0, n_orders)
    order_lon = rng.uniform(-4.0, 19.0, n_orders)
    ordered_days_ago = rng.integers(0, 4, n_orders)
    ordered_at = [
        dt.datetime.combine(today, dt.time(9)) - dt.timedelta(days=int(d), minutes=int(m))
        for d, m in zip(ordered_days_ago, rng.integers(0, 600, n_orders), strict=True)
    ]
    ship_days = np.where(order_level == 0, 2, 1)
    transit_days = np.where(order_level == 0, 4, np.where(order_level == 1, 2, 1))
    order_ship = [
        today - dt.timedelta(days=int(a)) + dt.timedelta(days=int(s))
        for a, s in zip(ordered_days_ago, ship_days, strict=True)
    ]
    order_delivery = [
        d + dt.timedelta(days=int(t)) for d, t in zip(order_ship, transit_days, strict=True)
    ]
    lines = pl.DataFrame(
        {
            "order_line_id": [f"L{i:07d}" for i in range(n_lines)],
            "order_id": [f"O{o:07d}" for o in order_of_line],
            "channel": channel,
            "sku": [f"SKU{s:05d}" for s in sku_idx],
            "quantity": quantity,
            "service_level": level,
            "promised_ship_date": [order_ship[o] for o in order_of_line],
            "promised_delivery_date": [order_delivery[o] for o in order_of_line],
            "ordered_at": [ordered_at[o] for o in order_of_line],
            "ship_to_latitude": order_lat[order_of_line],
            "ship_to_longitude": order_lon[order_of_line],
            "weight_kg": sku_weight[sku_idx],
        }
    )

    # Stock: each SKU at a handful of locations, total about stock_ratio x demand.
    demand = np.bincount(sku_idx, weights=quantity, minlength=n_skus)
    rows_sku: list[str] = []
    rows_loc: list[str] = []
    rows_avail: list[int] = []
    for s in range(n_skus):
        k = int(rng.integers(3, min(9, n_locations) + 1)) if n_locations >= 3 else n_locations
        locs = rng.choice(n_locations, size=k, replace=False)
        total = round(demand[s] * stock_ratio * rng.uniform(0.6, 1.4)) + int(rng.integers(0, 3))
        split = rng.multinomial(total, rng.dirichlet(np.ones(k)))
        rows_sku.extend([f"SKU{s:05d}"] * k)
        rows_loc.extend(f"LOC{int(loc):03d}" for loc in locs)
        rows_avail.extend(int(v) for v in split)
    avail = np.array(rows_avail, dtype=np.int64)
    buffer = rng.integers(0, 2, avail.size)
    atp = pl.DataFrame(
        {
            "sku": rows_sku,
            "location_id": rows_loc,
            "on_hand": avail + buffer,
            "allocated": np.zeros(avail.size, dtype=np.int64),
            "safety_buffer": buffer,
            "inbound": np.zeros(avail.size, dtype=np.int64),
            "available": avail,
            "snapshot_at": [dt.datetime.combine(today, dt.time(6))] * avail.size,
        }
    )
    return RouterInputs(lines=lines, atp=atp, locations=locations, today=today)
