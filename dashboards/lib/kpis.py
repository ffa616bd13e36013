"""Fulfillment and inventory KPIs for the manager overview: plain functions of the published
folder.

Rates are always recomputed from their counts over the rows a filter selects
(sum numerator / sum denominator, see `schema.RATES`), never averaged; fulfillment-time
percentiles are computed from the shipments themselves, because daily percentiles cannot be
combined.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dashboards.lib.published import query
from dashboards.lib.schema import RATES, UNASSIGNED_LOCATION

UNASSIGNED_LABEL = "Not shipped yet"


@dataclass(frozen=True)
class Filters:
    """The overview's selection: an inclusive date range, and channels / locations (empty = all)."""

    start: date
    end: date
    channels: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of equal length just before this one, same channels and locations."""
        return replace(
            self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1)
        )


@dataclass(frozen=True)
class Kpis:
    """Headline figures over one selection. Rates and times are None when undefined."""

    orders: int
    units_ordered: int
    units_shipped: int
    revenue: float
    fill_rate: float | None
    on_time_ship_rate: float | None
    on_time_delivery_rate: float | None
    fulfillment_hours_p50: float | None
    fulfillment_hours_p90: float | None
    return_rate: float | None
    inventory_accuracy: float | None


@dataclass(frozen=True)
class FilterOptions:
    """What the overview's filters can choose from."""

    min_date: date | None
    max_date: date | None
    channels: dict[str, str]
    """channel -> display name."""
    locations: dict[str, str]
    """location_id -> display name."""

    def default_filters(self, days: int = 28) -> Filters | None:
        """The last `days` days of data, all channels and locations."""
        if self.min_date is None or self.max_date is None:
            return None
        return Filters(
            start=max(self.min_date, self.max_date - timedelta(days=days - 1)), end=self.max_date
        )


def _ratio(numerator: str, denominator: str) -> str:
    return f"cast(sum({numerator}) as double) / nullif(sum({denominator}), 0)"


def _rate_columns(prefix: str = "") -> str:
    return ",\n".join(f"{_ratio(num, den)} as {prefix}{rate}" for rate, (num, den) in RATES.items())


def _where(
    filters: Filters, *, channel: str | None = "channel", location: str | None = "location_id"
) -> tuple[str, list[Any]]:
    """A WHERE clause (and its parameters) selecting `filters` in a view with a kpi_date."""
    clauses = ["kpi_date between ? and ?"]
    params: list[Any] = [filters.start, filters.end]
    if channel and filters.channels:
        clauses.append(f"list_contains(?, {channel})")
        params.append(list(filters.channels))
    if location and filters.locations:
        clauses.append(f"list_contains(?, {location})")
        params.append(list(filters.locations))
    return " and ".join(clauses), params


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def filter_options(published_dir: Path) -> FilterOptions:
    """Date range, channels and locations present in the fulfillment KPIs."""
    dates = query(
        published_dir,
        "select min(kpi_date) as min_date, max(kpi_date) as max_date from fulfillment_daily",
        ["fulfillment_daily"],
    ).row(0, named=True)
    channels = query(
        published_dir,
        """
        select distinct f.channel, coalesce(c.channel_name, f.channel) as channel_name
        from fulfillment_daily as f
        left join channels as c on c.channel = f.channel
        order by f.channel
        """,
        ["fulfillment_daily", "channels"],
    )
    locations = query(
        published_dir,
        f"""
        select distinct
            f.location_id,
            case when f.location_id = '{UNASSIGNED_LOCATION}' then '{UNASSIGNED_LABEL}'
                 else coalesce(l.location_name, f.location_id) end as location_name
        from fulfillment_daily as f
        left join locations as l on l.location_id = f.location_id
        order by f.location_id = '{UNASSIGNED_LOCATION}', location_name
        """,
        ["fulfillment_daily", "locations"],
    )
    return FilterOptions(
        min_date=dates["min_date"],
        max_date=dates["max_date"],
        channels=dict(zip(channels["channel"], channels["channel_name"], strict=True)),
        locations=dict(zip(locations["location_id"], locations["location_name"], strict=True)),
    )


def headline_kpis(published_dir: Path, filters: Filters) -> Kpis:
    """The overview's headline figures over `filters`.

    Inventory accuracy follows the date and location selection only (stock has no channel).
    """
    fulfillment_where, fulfillment_params = _where(filters)
    shipments_where, shipments_params = _where(filters)
    inventory_where, inventory_params = _where(filters, channel=None)
    row = query(
        published_dir,
        f"""
        with fulfillment as (
            select
                coalesce(sum(orders), 0) as orders,
                coalesce(sum(units_ordered), 0) as units_ordered,
                coalesce(sum(units_shipped), 0) as units_shipped,
                coalesce(sum(revenue), 0) as revenue,
                {_rate_columns()}
            from fulfillment_daily
            where {fulfillment_where}
        ),
        shipped as (
            select
                quantile_cont(fulfillment_hours, 0.5) as fulfillment_hours_p50,
                quantile_cont(fulfillment_hours, 0.9) as fulfillment_hours_p90
            from shipments
            where {shipments_where}
        ),
        inventory as (
            select {_ratio("counts_accurate", "skus_counted")} as inventory_accuracy
            from inventory_daily
            where {inventory_where}
        )
        select * from fulfillment cross join shipped cross join inventory
        """,
        ["fulfillment_daily", "shipments", "inventory_daily"],
        fulfillment_params + shipments_params + inventory_params,
    ).row(0, named=True)
    return Kpis(
        orders=int(row["orders"]),
        units_ordered=int(row["units_ordered"]),
        units_shipped=int(row["units_shipped"]),
        revenue=float(row["revenue"] or Decimal(0)),
        fill_rate=_float(row["fill_rate"]),
        on_time_ship_rate=_float(row["on_time_ship_rate"]),
        on_time_delivery_rate=_float(row["on_time_delivery_rate"]),
        fulfillment_hours_p50=_float(row["fulfillment_hours_p50"]),
        fulfillment_hours_p90=_float(row["fulfillment_hours_p90"]),
        return_rate=_float(row["return_rate"]),
        inventory_accuracy=_float(row["inventory_accuracy"]),
    )


def daily_trend(published_dir: Path, filters: Filters, window_days: int = 7) -> pl.DataFrame:
    """One row per day in `filters`: orders, units and rates, each rate also over a rolling
    `window_days`-day window ending that day (`<rate>_rolling`, recomputed from counts; the
    window reaches back before the start date so the first days are complete too)."""
    lookback = replace(filters, start=filters.start - timedelta(days=window_days - 1))
    where, params = _where(lookback)
    counts = sorted({col for pair in RATES.values() for col in pair})
    daily_rates = ",\n".join(
        f"cast({num} as double) / nullif({den}, 0) as {rate}" for rate, (num, den) in RATES.items()
    )
    rolling_rates = ",\n".join(
        f"cast(sum({num}) over w as double) / nullif(sum({den}) over w, 0) as {rate}_rolling"
        for rate, (num, den) in RATES.items()
    )
    return query(
        published_dir,
        f"""
        with daily as (
            select
                kpi_date,
                cast(sum(orders) as bigint) as orders,
                {", ".join(f"cast(sum({c}) as bigint) as {c}" for c in counts)}
            from fulfillment_daily
            where {where}
            group by kpi_date
        ),
        rolled as (
            select
                kpi_date,
                orders,
                units_ordered,
                cast(sum(orders) over w as double) / {window_days} as orders_rolling,
                {daily_rates},
                {rolling_rates}
            from daily
            window w as (
                order by kpi_date
                range between interval {window_days - 1} days preceding and current row
            )
        )
        select * from rolled where kpi_date >= ? order by kpi_date
        """,
        ["fulfillment_daily"],
        [*params, filters.start],
    )


def breakdown(
    published_dir: Path, filters: Filters, by: Literal["channel", "location"]
) -> pl.DataFrame:
    """One row per channel or per ship-from location over `filters`, busiest first.

    Columns: key, name, orders, units_ordered, units_shipped, revenue, the rates of
    `schema.RATES`, fulfillment_hours_p50/p90, and for locations also location_kind and
    inventory_accuracy.
    """
    key = "channel" if by == "channel" else "location_id"
    fulfillment_where, fulfillment_params = _where(filters)
    shipments_where, shipments_params = _where(filters)
    params = fulfillment_params + shipments_params
    tables = ["fulfillment_daily", "shipments"]
    if by == "channel":
        extra_ctes = ""
        names = "coalesce(d.channel_name, f.key) as name"
        extra_columns = ""
        joins = "left join channels as d on d.channel = f.key"
        tables.append("channels")
    else:
        inventory_where, inventory_params = _where(filters, channel=None)
        params += inventory_params
        extra_ctes = f"""
        , inventory as (
            select location_id as key,
                   {_ratio("counts_accurate", "skus_counted")} as inventory_accuracy
            from inventory_daily
            where {inventory_where}
            group by location_id
        )"""
        names = (
            f"case when f.key = '{UNASSIGNED_LOCATION}' then '{UNASSIGNED_LABEL}' "
            "else coalesce(d.location_name, f.key) end as name, d.location_kind"
        )
        extra_columns = ", i.inventory_accuracy"
        joins = (
            "left join locations as d on d.location_id = f.key "
            "left join inventory as i on i.key = f.key"
        )
        tables += ["locations", "inventory_daily"]
    return query(
        published_dir,
        f"""
        with fulfillment as (
            select
                {key} as key,
                cast(sum(orders) as bigint) as orders,
                cast(sum(units_ordered) as bigint) as units_ordered,
                cast(sum(units_shipped) as bigint) as units_shipped,
                round(cast(sum(revenue) as double), 0) as revenue,
                {_rate_columns()}
            from fulfillment_daily
            where {fulfillment_where}
            group by {key}
        ),
        shipped as (
            select
                {key} as key,
                quantile_cont(fulfillment_hours, 0.5) as fulfillment_hours_p50,
                quantile_cont(fulfillment_hours, 0.9) as fulfillment_hours_p90
            from shipments
            where {shipments_where}
            group by {key}
        ){extra_ctes}
        select
            f.key,
            {names},
            f.* exclude (key),
            s.fulfillment_hours_p50,
            s.fulfillment_hours_p90{extra_columns}
        from fulfillment as f
        left join shipped as s on s.key = f.key
        {joins}
        order by f.orders desc, f.key
        """,
        tables,
        params,
    )
