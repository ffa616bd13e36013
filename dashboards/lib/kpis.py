"""Fulfillment and inventory KPIs for the manager overview: plain functions of the published
folder, under the catalogue's definitions (docs/kpis.md).

They read the day rows of the KPI catalogue per channel and location (`kpi_daily`), never the
order lines. Rates are recomputed from their counts over the rows a filter selects
(Σ numerator / Σ denominator at the chosen weighting, `schema.KPI_RATES`), never averaged;
only what was due by the cut-off is in a rate, and the open, not-yet-due volume comes beside
it. Fulfilment-time percentiles are recomputed over the selection from the mergeable sketch
`kpi_time_sketch` (times rounded to 0.1 h with their counts), never averaged from daily ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dashboards.lib.published import query
from dashboards.lib.schema import (
    KPI_OPEN,
    KPI_RATES,
    RETURN_RATE,
    UNASSIGNED_LOCATION,
    Weighting,
)
from ops_actions.alerts.metrics import METRICS
from ops_actions.alerts.targets import Target, target_for

UNASSIGNED_LABEL = "Not shipped yet"


@dataclass(frozen=True)
class Filters:
    """The overview's selection: an inclusive date range, and channels / locations (empty = all)."""

    start: date
    end: date
    channels: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    weighting: Weighting = "units"
    """What each rate counts alike: units, order lines or orders."""

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
    """Headline figures over one selection. Rates and times are None when undefined.

    Rates are at `weighting`; `open_not_due` holds, per rate, the volume (in the same weighting)
    left out of it because it was not due yet at the cut-off `as_of`."""

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
    weighting: Weighting = "units"
    open_not_due: dict[str, int] | None = None
    units_late_unshipped: int = 0
    units_late_in_transit: int = 0
    as_of: Any = None


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


def _rate_columns(weighting: Weighting, prefix: str = "") -> str:
    """The catalogue's rates at `weighting`, recomputed from the counts of the selected rows."""
    rates = {rate: pairs[weighting] for rate, pairs in KPI_RATES.items()}
    rates["return_rate"] = RETURN_RATE
    return ",\n".join(f"{_ratio(num, den)} as {prefix}{rate}" for rate, (num, den) in rates.items())


def _open_columns(weighting: Weighting) -> str:
    return ",\n".join(
        f"cast(coalesce(sum({columns[weighting]}), 0) as bigint) as open_{rate}"
        for rate, columns in KPI_OPEN.items()
    )


def _percentile_sql(where: str, key: str, measure: str = "order_to_ship") -> str:
    """Continuous percentiles (p50, p90, linear interpolation) per `key` over the sketch rows
    `where` selects: the value at rank k is the smallest time whose running count exceeds k."""
    return f"""
        binned as (
            select {key} as key, hours, sum(lines) as n
            from kpi_time_sketch
            where measure = '{measure}' and {where}
            group by {key}, hours
        ),
        running as (
            select key, hours,
                   sum(n) over (partition by key order by hours) as upto,
                   sum(n) over (partition by key) as total
            from binned
        ),
        percentiles as (
            select key,
                   {_interpolate(0.5)} as fulfillment_hours_p50,
                   {_interpolate(0.9)} as fulfillment_hours_p90
            from running
            group by key
        )"""


def _interpolate(fraction: float) -> str:
    rank = f"{fraction} * (max(total) - 1)"
    low = f"min(case when upto > floor({fraction} * (total - 1)) then hours end)"
    high = f"min(case when upto > ceil({fraction} * (total - 1)) then hours end)"
    return f"{low} + ({rank} - floor({rank})) * ({high} - {low})"


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


def _daily_rows(filters: Filters) -> str:
    """The day rows that answer `filters`: per channel when no location is selected (an order
    counts once), else per channel and location (an order counts at each of its locations)."""
    return "kpi_daily" if filters.locations else "kpi_daily_by_channel"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def filter_options(published_dir: Path) -> FilterOptions:
    """Date range, channels and locations present in the KPI catalogue's day rows."""
    dates = query(
        published_dir,
        "select min(kpi_date) as min_date, max(kpi_date) as max_date from kpi_daily",
        ["kpi_daily"],
    ).row(0, named=True)
    channels = query(
        published_dir,
        """
        select distinct f.channel, coalesce(c.channel_name, f.channel) as channel_name
        from kpi_daily as f
        left join channels as c on c.channel = f.channel
        order by f.channel
        """,
        ["kpi_daily", "channels"],
    )
    locations = query(
        published_dir,
        f"""
        select distinct
            f.location_id,
            case when f.location_id = '{UNASSIGNED_LOCATION}' then '{UNASSIGNED_LABEL}'
                 else coalesce(l.location_name, f.location_id) end as location_name
        from kpi_daily as f
        left join locations as l on l.location_id = f.location_id
        order by f.location_id = '{UNASSIGNED_LOCATION}', location_name
        """,
        ["kpi_daily", "locations"],
    )
    return FilterOptions(
        min_date=dates["min_date"],
        max_date=dates["max_date"],
        channels=dict(zip(channels["channel"], channels["channel_name"], strict=True)),
        locations=dict(zip(locations["location_id"], locations["location_name"], strict=True)),
    )


def headline_kpis(published_dir: Path, filters: Filters) -> Kpis:
    """The overview's headline figures over `filters`, rates at `filters.weighting`.

    Inventory accuracy follows the date and location selection only (stock has no channel).
    """
    where, params = _where(filters)
    inventory_where, inventory_params = _where(filters, channel=None)
    row = query(
        published_dir,
        f"""
        with fulfillment as (
            select
                coalesce(sum(orders), 0) as orders,
                coalesce(sum(units_ordered), 0) as units_ordered,
                coalesce(sum(units_filled), 0) as units_shipped,
                coalesce(sum(revenue), 0) as revenue,
                coalesce(sum(units_late_unshipped), 0) as units_late_unshipped,
                coalesce(sum(units_late_in_transit), 0) as units_late_in_transit,
                coalesce(sum(return_units_not_matured), 0) as open_return_rate,
                max(as_of_at) as as_of,
                {_rate_columns(filters.weighting)},
                {_open_columns(filters.weighting)}
            from {_daily_rows(filters)}
            where {where}
        ),
        {_percentile_sql(where, "'all'")},
        inventory as (
            select {_ratio("counts_accurate", "skus_counted")} as inventory_accuracy
            from inventory_daily
            where {inventory_where}
        )
        select fulfillment.*, percentiles.* exclude (key), inventory.*
        from fulfillment
        left join percentiles on true
        cross join inventory
        """,
        [_daily_rows(filters), "kpi_time_sketch", "inventory_daily"],
        params + params + inventory_params,
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
        weighting=filters.weighting,
        open_not_due={rate: int(row[f"open_{rate}"]) for rate in [*KPI_OPEN, "return_rate"]},
        units_late_unshipped=int(row["units_late_unshipped"]),
        units_late_in_transit=int(row["units_late_in_transit"]),
        as_of=row["as_of"],
    )


def daily_trend(published_dir: Path, filters: Filters, window_days: int = 7) -> pl.DataFrame:
    """One row per day in `filters`: orders, units and rates at `filters.weighting`, each rate
    also over a rolling `window_days`-day window ending that day (`<rate>_rolling`, recomputed
    from counts; the window reaches back before the start date so the first days are complete)."""
    lookback = replace(filters, start=filters.start - timedelta(days=window_days - 1))
    where, params = _where(lookback)
    rates = {rate: pairs[filters.weighting] for rate, pairs in KPI_RATES.items()}
    rates["return_rate"] = RETURN_RATE
    counts = sorted({col for pair in rates.values() for col in pair})
    daily_rates = ",\n".join(
        f"cast({num} as double) / nullif({den}, 0) as {rate}" for rate, (num, den) in rates.items()
    )
    rolling_rates = ",\n".join(
        f"cast(sum({num}) over w as double) / nullif(sum({den}) over w, 0) as {rate}_rolling"
        for rate, (num, den) in rates.items()
    )
    return query(
        published_dir,
        f"""
        with daily as (
            select
                kpi_date,
                cast(sum(orders) as bigint) as orders,
                cast(sum(units_ordered) as bigint) as units_ordered,
                {", ".join(f"cast(sum({c}) as bigint) as {c}" for c in counts)}
            from {_daily_rows(filters)}
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
        [_daily_rows(filters)],
        [*params, filters.start],
    )


def breakdown(
    published_dir: Path, filters: Filters, by: Literal["channel", "location"]
) -> pl.DataFrame:
    """One row per channel or per fulfilling location over `filters`, busiest first.

    Columns: key, name, orders, units_ordered, units_shipped, revenue, the catalogue's rates at
    `filters.weighting`, fulfillment_hours_p50/p90, and for locations also location_kind and
    inventory_accuracy.
    """
    key = "channel" if by == "channel" else "location_id"
    where, params = _where(filters)
    params = params + params
    rows = _daily_rows(filters) if by == "channel" else "kpi_daily"
    tables = [rows, "kpi_time_sketch"]
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
                cast(sum(units_filled) as bigint) as units_shipped,
                round(cast(sum(revenue) as double), 0) as revenue,
                {_rate_columns(filters.weighting)}
            from {rows}
            where {where}
            group by {key}
        ),
        {_percentile_sql(where, key)}{extra_ctes}
        select
            f.key,
            {names},
            f.* exclude (key),
            s.fulfillment_hours_p50,
            s.fulfillment_hours_p90{extra_columns}
        from fulfillment as f
        left join percentiles as s on s.key = f.key
        {joins}
        order by f.orders desc, f.key
        """,
        tables,
        params,
    )


def tile_targets(targets: Sequence[Target], filters: Filters) -> dict[str, Target]:
    """Headline field -> the target it is held to under `filters`: a rate at the chosen
    weighting (the return rate in units, the p90 over lines), for the one channel or the one
    location selected when that is the selection (its own target, else its dimension's `*`
    target), else the overall target."""
    dimension, member = "all", "all"
    if len(filters.channels) == 1 and not filters.locations:
        dimension, member = "channel", filters.channels[0]
    elif len(filters.locations) == 1 and not filters.channels:
        dimension, member = "location", filters.locations[0]
    found: dict[str, Target] = {}
    for name, m in METRICS.items():
        weighting = filters.weighting if filters.weighting in m.weightings else m.weightings[0]
        target = target_for(targets, name, weighting, dimension, member)
        if target is None and dimension != "all":
            target = target_for(targets, name, weighting, "all", "all")
        if target is not None:
            found[name] = target
    return found


MOVER_DIMENSIONS = ("channel", "location", "carrier", "category")


def _mover_rows(filters: Filters, numerator: str, denominator: str) -> tuple[str, list[Any], str]:
    """SQL selecting (dimension, member, kpi_date, num, den) day rows for the movers, its
    parameters and the view it reads: every dimension's own rows when nothing is filtered;
    under a channel or location filter, the channel-location rows grouped by channel and by
    location (carrier and category rows cannot be filtered by channel or location)."""
    if not filters.channels and not filters.locations:
        sql = f"""select dimension, member, kpi_date, {numerator} as num, {denominator} as den
                  from kpi_daily_by_dimension"""
        return sql, [], "kpi_daily_by_dimension"
    # both periods: the previous one and this one
    where, params = _where(replace(filters, start=filters.previous().start))
    parts = [
        f"""select '{dimension}' as dimension, {column} as member, kpi_date,
                   {numerator} as num, {denominator} as den
            from kpi_daily where {where}"""
        for dimension, column in (("channel", "channel"), ("location", "location_id"))
    ]
    return " union all ".join(parts), params + params, "kpi_daily"


def biggest_movers(
    published_dir: Path, filters: Filters, rate: str, limit: int = 10
) -> pl.DataFrame:
    """The dimension members whose `rate` moved most against the previous period of equal
    length, ranked by their weighted impact (docs/kpis.md, "Biggest movers").

    Impact = the member's share of the dimension's volume now (its denominator over the
    dimension's) × its change in the rate: the points its own change moved the headline by, so
    a tiny member moving 20 points ranks below a large one moving 2. Members without volume in
    either period have no change and are left out. Columns: dimension, member, rate_now,
    rate_before, change_pp, share, impact_pp, volume_now, volume_before.
    """
    pairs = KPI_RATES.get(rate)
    if pairs is not None:
        numerator, denominator = pairs[filters.weighting]
    elif rate == "return_rate":
        numerator, denominator = RETURN_RATE
    else:
        raise ValueError(f"no movers for {rate!r}; choose one of {[*KPI_RATES, 'return_rate']}")
    rows, params, view = _mover_rows(filters, numerator, denominator)
    previous = filters.previous()
    return query(
        published_dir,
        f"""
        with rows as ({rows}),
        per_member as (
            select dimension, member,
                   sum(num) filter (where kpi_date between ? and ?) as num_now,
                   sum(den) filter (where kpi_date between ? and ?) as den_now,
                   sum(num) filter (where kpi_date between ? and ?) as num_before,
                   sum(den) filter (where kpi_date between ? and ?) as den_before
            from rows
            group by dimension, member
        ),
        rated as (
            select dimension, member,
                   cast(num_now as double) / nullif(den_now, 0) as rate_now,
                   cast(num_before as double) / nullif(den_before, 0) as rate_before,
                   cast(den_now as double)
                       / nullif(sum(den_now) over (partition by dimension), 0) as share,
                   cast(den_now as bigint) as volume_now,
                   cast(den_before as bigint) as volume_before
            from per_member
        )
        select dimension, member, rate_now, rate_before,
               100 * (rate_now - rate_before) as change_pp,
               share,
               100 * share * (rate_now - rate_before) as impact_pp,
               volume_now, volume_before
        from rated
        where rate_now is not null and rate_before is not null
        order by abs(impact_pp) desc, dimension, member
        limit {int(limit)}
        """,
        [view],
        [
            *params,
            filters.start,
            filters.end,
            filters.start,
            filters.end,
            previous.start,
            previous.end,
            previous.start,
            previous.end,
        ],
    )
