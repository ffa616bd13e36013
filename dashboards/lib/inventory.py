"""Inventory for the managers' Inventory page: plain functions of the published folder.

They read `inventory_position` (the mart `fct_inventory_position`: one row per SKU and
location, window figures over the `inventory_window_days` days ending at the latest snapshot;
definitions in docs/dashboards.md). Across rows, rates are recomputed from their counts
(Σ stock-out days / Σ snapshot days, Σ accurate counts / Σ counts) and cover from its sums
(Σ available to promise / Σ average daily demand), never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dashboards.lib.published import query

TABLE = "inventory_position"

NO_CATEGORY = "(none)"
"""Category label of a product without one in the product reference."""

LOWEST_COVER_ROWS = 50


@dataclass(frozen=True)
class InventoryFilters:
    """The page's selection: locations and categories (empty = all)."""

    locations: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class InventoryOptions:
    """What the filters can choose from, and the window the figures cover."""

    locations: dict[str, str]
    """location_id -> display name."""
    categories: tuple[str, ...]
    as_of_date: date | None
    window_start_date: date | None
    window_days: int | None


@dataclass(frozen=True)
class InventoryHeadline:
    """Headline figures over one selection."""

    positions: int
    """SKU-locations in the selection."""
    units_on_hand: int
    available_to_promise: int
    out_of_stock: int
    """Active SKU-locations with nothing on hand in their latest snapshot."""
    active_positions: int
    lost_sales: dict[str, float]
    """Estimated lost sales over the window, per currency (positions without a list price or
    without an in-stock day in the window are not in it)."""


def _category() -> str:
    return f"coalesce(category, '{NO_CATEGORY}')"


def _where(filters: InventoryFilters) -> tuple[str, list[Any]]:
    clauses = ["true"]
    params: list[Any] = []
    if filters.locations:
        clauses.append("list_contains(?, location_id)")
        params.append(list(filters.locations))
    if filters.categories:
        clauses.append(f"list_contains(?, {_category()})")
        params.append(list(filters.categories))
    return " and ".join(clauses), params


def filter_options(published_dir: Path) -> InventoryOptions:
    """Locations and categories present in the inventory position, and its window."""
    locations = query(
        published_dir,
        """select distinct location_id, coalesce(location_name, location_id) as name
           from inventory_position order by location_id""",
        [TABLE],
    )
    categories = query(
        published_dir,
        f"select distinct {_category()} as category from inventory_position order by category",
        [TABLE],
    )
    window = query(
        published_dir,
        """select max(as_of_date) as as_of_date, max(window_start_date) as window_start_date,
                  max(window_days) as window_days
           from inventory_position""",
        [TABLE],
    ).row(0, named=True)
    return InventoryOptions(
        locations=dict(zip(locations["location_id"], locations["name"], strict=True)),
        categories=tuple(categories["category"]),
        as_of_date=window["as_of_date"],
        window_start_date=window["window_start_date"],
        window_days=None if window["window_days"] is None else int(window["window_days"]),
    )


def headline(published_dir: Path, filters: InventoryFilters) -> InventoryHeadline:
    """Units on hand, available to promise, active SKU-locations out of stock and the estimated
    lost sales (per currency) of the selection."""
    where, params = _where(filters)
    totals = query(
        published_dir,
        f"""select count(*) as positions,
                   cast(coalesce(sum(on_hand), 0) as bigint) as units_on_hand,
                   cast(coalesce(sum(available_to_promise), 0) as bigint) as available_to_promise,
                   count(*) filter (where is_active_sku and is_out_of_stock) as out_of_stock,
                   count(*) filter (where is_active_sku) as active_positions
            from inventory_position where {where}""",
        [TABLE],
        params,
    ).row(0, named=True)
    lost = query(
        published_dir,
        f"""select currency, cast(sum(lost_sales_value) as double) as lost_sales
            from inventory_position
            where {where} and lost_sales_value is not null
            group by currency order by lost_sales desc, currency""",
        [TABLE],
        params,
    )
    return InventoryHeadline(
        positions=int(totals["positions"]),
        units_on_hand=int(totals["units_on_hand"]),
        available_to_promise=int(totals["available_to_promise"]),
        out_of_stock=int(totals["out_of_stock"]),
        active_positions=int(totals["active_positions"]),
        lost_sales={
            str(currency): float(value)
            for currency, value in zip(lost["currency"], lost["lost_sales"], strict=True)
        },
    )


def by_location(published_dir: Path, filters: InventoryFilters) -> pl.DataFrame:
    """One row per location of the selection: SKUs, units, out-of-stock SKUs, cover, stock-out
    rate, inventory accuracy and estimated lost sales (summed over currencies only when the
    location sells in one: `currency` says which, null when several)."""
    where, params = _where(filters)
    return query(
        published_dir,
        f"""select
                location_id,
                any_value(location_name) as location_name,
                any_value(location_kind) as location_kind,
                count(*) as skus,
                cast(sum(on_hand) as bigint) as units_on_hand,
                cast(sum(available_to_promise) as bigint) as available_to_promise,
                count(*) filter (where is_active_sku and is_out_of_stock) as out_of_stock,
                cast(sum(avg_daily_demand) as double) as avg_daily_demand,
                cast(sum(available_to_promise) as double) / nullif(sum(avg_daily_demand), 0)
                    as cover_days,
                cast(sum(stockout_days) as double) / nullif(sum(snapshot_days), 0)
                    as stockout_rate,
                cast(sum(counts_accurate) as double) / nullif(sum(cycle_counts), 0)
                    as inventory_accuracy,
                cast(sum(lost_sales_value) as double) as lost_sales_value,
                case when count(distinct currency) filter (where lost_sales_value is not null) = 1
                     then any_value(currency) filter (where lost_sales_value is not null)
                end as currency
            from inventory_position
            where {where}
            group by location_id
            order by location_id""",
        [TABLE],
        params,
    )


def lowest_cover(
    published_dir: Path, filters: InventoryFilters, limit: int = LOWEST_COVER_ROWS
) -> pl.DataFrame:
    """The `limit` SKU-locations of the selection with the lowest cover (days of average demand
    their available-to-promise stock lasts); those without demand have no cover and are left
    out. Ties: the larger estimated lost sales first."""
    where, params = _where(filters)
    return query(
        published_dir,
        f"""select sku, product_name, {_category()} as category, location_id, location_name,
                   on_hand, available_to_promise, avg_daily_demand, cover_days, stockout_days,
                   stockout_rate, inventory_accuracy, lost_sales_value, currency
            from inventory_position
            where {where} and cover_days is not null
            order by cover_days, lost_sales_value desc nulls last, location_id, sku
            limit {int(limit)}""",
        [TABLE],
        params,
    )


def to_csv(frame: pl.DataFrame) -> bytes:
    """A table as the CSV its download button hands out (UTF-8, header row, ratios as ratios)."""
    return frame.write_csv().encode("utf-8")
