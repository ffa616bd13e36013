"""The Breakdowns page's queries: one catalogue KPI by dimension, then, for one group, by SKU and
down to the order lines behind its figure (docs/dashboards.md, "Breakdowns page").

The by-dimension figures read the catalogue's day rows (`fct_kpis`), never the order lines, and
recompute each rate as Σ numerator / Σ denominator over the period. Only once the user picks a
group are the published KPI lines (`fct_kpi_order_lines`) read, with the period and the group as
predicates of the Parquet scan. A line-level figure counts the same lines as the catalogue's
column it stands for (`BreakdownKpi.lines`); tests hold the two equal for every KPI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import polars as pl

from dashboards.lib.kpis import Filters, _where
from dashboards.lib.published import query
from dashboards.lib.schema import KPI_RATES, RETURN_RATE, Weighting

DIMENSIONS: dict[str, str] = {
    "channel": "channel",
    "location": "location_id",
    "carrier": "carrier",
    "category": "category",
}
"""Dimension of `fct_kpis` -> the column of the KPI lines holding its member."""

FILTERABLE_DIMENSIONS = ("channel", "location")
"""Under a channel or location filter only these can be broken down: the catalogue's day rows
that take both filters are per channel and location (carrier and category rows cannot be
filtered by them, and summing order lines instead would scan them on first render)."""


@dataclass(frozen=True)
class BreakdownKpi:
    """One rate of the catalogue, as `fct_kpis` counts it and as its order lines count it."""

    label: str
    counts: Mapping[str, tuple[str, str]]
    """Weighting -> (numerator, denominator) columns of `fct_kpis`."""
    in_denominator: str
    """SQL over a KPI line: the line is in the denominator (a line in the numerator is too)."""
    in_numerator: str
    """SQL over a KPI line in the denominator: the line counts in the numerator."""
    units: tuple[str, str]
    """SQL over a KPI line in the denominator: its (numerator, denominator) units."""
    higher_is_better: bool
    against: str
    """What a line counting against the rate is ("late", "not filled", "cancelled by us")."""
    note: str = ""

    def weighting(self, wanted: Weighting) -> Weighting:
        """The weighting the catalogue has for this KPI: `wanted`, else its first one."""
        return wanted if wanted in self.counts else cast(Weighting, next(iter(self.counts)))

    def line_weighting(self, wanted: Weighting) -> Weighting:
        """Lines and SKUs are counted by units or lines: an order spans SKUs, so at SKU grain
        the orders weighting is counted by lines."""
        weighting = self.weighting(wanted)
        return "lines" if weighting == "orders" else weighting

    def is_against(self) -> str:
        """SQL over a line in the denominator: it counts against the rate."""
        return f"not ({self.in_numerator})" if self.higher_is_better else f"({self.in_numerator})"

    def line_counts(self, weighting: Weighting) -> tuple[str, str]:
        """SQL (numerator, denominator) of one line at `weighting` (units or lines); zero for a
        line outside the denominator."""
        den = f"coalesce({self.in_denominator}, false)"
        if weighting == "units":
            num_units, den_units = self.units
            return (
                f"case when {den} then {num_units} else 0 end",
                f"case when {den} then {den_units} else 0 end",
            )
        return (
            f"case when {den} and coalesce({self.in_numerator}, false) then 1 else 0 end",
            f"case when {den} then 1 else 0 end",
        )


_SHIP_DUE = "is_due_to_ship and channel <> 'pos'"

KPIS: dict[str, BreakdownKpi] = {
    "fill_rate": BreakdownKpi(
        label="Fill rate",
        counts=KPI_RATES["fill_rate"],
        in_denominator="is_due_to_ship",
        in_numerator="is_filled",
        units=("units_filled", "units_required"),
        higher_is_better=True,
        against="not filled",
    ),
    "on_time_ship_rate": BreakdownKpi(
        label="On-time ship",
        counts=KPI_RATES["on_time_ship_rate"],
        in_denominator=_SHIP_DUE,
        in_numerator="is_shipped_on_time",
        units=("least(units_shipped_by_promise, units_required)", "units_required"),
        higher_is_better=True,
        against="late (shipped late or not shipped)",
    ),
    "on_time_delivery_rate": BreakdownKpi(
        label="On-time delivery",
        counts=KPI_RATES["on_time_delivery_rate"],
        in_denominator="is_due_to_deliver",
        in_numerator="is_delivered_on_time",
        units=("least(units_delivered_by_promise, units_required)", "units_required"),
        higher_is_better=True,
        against="late (delivered late or still in transit)",
    ),
    "order_accuracy": BreakdownKpi(
        label="Order accuracy",
        counts={
            "units": ("units_accurate", "ship_units_due"),
            "lines": ("lines_accurate", "ship_lines_due"),
            "orders": ("orders_accurate", "ship_orders_due"),
        },
        in_denominator=_SHIP_DUE,
        in_numerator="is_accurate",
        units=("greatest(units_filled - units_returned_wrong_or_damaged, 0)", "units_required"),
        higher_is_better=True,
        against="not accurate (short, or returned wrong or damaged)",
    ),
    "backorder_rate": BreakdownKpi(
        label="Backorder rate",
        counts={
            "units": ("units_backordered", "ship_units_due"),
            "lines": ("lines_backordered", "ship_lines_due"),
            "orders": ("orders_backordered", "ship_orders_due"),
        },
        in_denominator=_SHIP_DUE,
        in_numerator="is_backordered",
        units=("units_backordered", "units_required"),
        higher_is_better=False,
        against="backordered",
    ),
    "cancellation_rate_ours": BreakdownKpi(
        label="Cancellation rate (ours)",
        counts={
            "units": ("units_cancelled_ours", "units_ordered"),
            "lines": ("lines_cancelled_ours", "order_lines"),
            "orders": ("orders_cancelled_ours", "orders"),
        },
        in_denominator="true",
        in_numerator="cancel_origin = 'ours'",
        units=("units_cancelled_ours", "units_ordered"),
        higher_is_better=False,
        against="cancelled by us",
    ),
    "cancellation_rate_customer": BreakdownKpi(
        label="Cancellation rate (customer)",
        counts={
            "units": ("units_cancelled_customer", "units_ordered"),
            "lines": ("lines_cancelled_customer", "order_lines"),
            "orders": ("orders_cancelled_customer", "orders"),
        },
        in_denominator="true",
        in_numerator="cancel_origin = 'customer'",
        units=("units_cancelled_customer", "units_ordered"),
        higher_is_better=False,
        against="cancelled by the customer",
    ),
    "return_rate": BreakdownKpi(
        label="Return rate",
        counts={"units": RETURN_RATE},
        in_denominator="is_return_matured and units_shipped > 0",
        in_numerator="units_returned_counted > 0",
        units=("units_returned_counted", "units_shipped"),
        higher_is_better=False,
        against="returned",
        note="Units only, over matured cohorts. Till returns reference no sale: they count at "
        "the store in the figure but have no order line to drill down to.",
    ),
}
"""The KPIs the Breakdowns page offers (docs/kpis.md, the catalogue)."""


def _kpi(name: str) -> BreakdownKpi:
    try:
        return KPIS[name]
    except KeyError:
        raise ValueError(f"no breakdown for {name!r}; choose one of {list(KPIS)}") from None


def can_break_down(filters: Filters, dimension: str) -> bool:
    """Whether the catalogue's day rows answer `dimension` under `filters` (see
    FILTERABLE_DIMENSIONS)."""
    if dimension not in DIMENSIONS:
        return False
    return dimension in FILTERABLE_DIMENSIONS or not (filters.channels or filters.locations)


def _rated(frame_sql: str, extra: str = "") -> str:
    """Rate, share of the denominator and the volume against the rate, per member of
    `frame_sql` (member, numerator, denominator, against, and the `extra` columns)."""
    return f"""
        select member, {extra} numerator, denominator,
               cast(numerator as double) / nullif(denominator, 0) as rate,
               against,
               cast(denominator as double) / nullif(sum(denominator) over (), 0) as share
        from ({frame_sql}) as counted
        where denominator > 0
        order by against desc, member
    """


def _against(kpi: BreakdownKpi, numerator: str, denominator: str) -> str:
    return f"{denominator} - {numerator}" if kpi.higher_is_better else numerator


def by_dimension(
    published_dir: Path, filters: Filters, kpi_name: str, dimension: str
) -> pl.DataFrame:
    """One row per member of `dimension` with volume due in `filters`: the KPI's numerator and
    denominator at the filter's weighting (summed from the catalogue's day rows), rate, share
    of the denominator, and `against` (the volume counting against the rate), most against
    first. Columns: member, numerator, denominator, rate, against, share."""
    kpi = _kpi(kpi_name)
    if not can_break_down(filters, dimension):
        raise ValueError(f"{dimension} cannot be broken down under a channel or location filter")
    numerator, denominator = kpi.counts[kpi.weighting(filters.weighting)]
    sums = f"cast(sum({numerator}) as bigint) as numerator, " + (
        f"cast(sum({denominator}) as bigint) as denominator"
    )
    against = f"cast(sum({_against(kpi, numerator, denominator)}) as bigint) as against"
    if filters.locations or (filters.channels and dimension != "channel"):
        # the channel-location rows: the only ones both filters select (an order fulfilled
        # from two locations counts at each, as on the overview under a location filter)
        where, params = _where(filters)
        column = DIMENSIONS[dimension]
        rows = f"""select {column} as member, {sums}, {against}
                   from kpi_daily_breakdown where {where} group by {column}"""
        view = "kpi_daily_breakdown"
    else:
        # the dimension's own rows, where an order counts once per member
        where, params = _where(filters, channel="member", location=None)
        rows = f"""select member, {sums}, {against}
                   from kpi_daily_by_dimension
                   where dimension = ? and {where}
                   group by member"""
        params = [dimension, *params]
        view = "kpi_daily_by_dimension"
    return query(published_dir, _rated(rows), [view], params)


def _line_where(
    filters: Filters, kpi: BreakdownKpi, dimension: str, member: str, sku: str | None
) -> tuple[str, list[Any]]:
    """The lines of `member` in `filters` in the KPI's denominator (and of `sku`). The period
    and the member are plain comparisons, so DuckDB pushes them into the Parquet scan."""
    where, params = _where(filters)
    where += f" and {DIMENSIONS[dimension]} = ? and coalesce({kpi.in_denominator}, false)"
    params.append(member)
    if sku is not None:
        where += " and sku = ?"
        params.append(sku)
    return where, params


def by_sku(
    published_dir: Path, filters: Filters, kpi_name: str, dimension: str, member: str
) -> pl.DataFrame:
    """One row per SKU of the group `member` of `dimension` in `filters`: the KPI counted on
    its order lines at the lines' weighting (`BreakdownKpi.line_weighting`), most against
    first. Columns: member (the SKU), category, numerator, denominator, rate, against, share.
    Summed over the SKUs, the numerator and denominator are the group's figure."""
    kpi = _kpi(kpi_name)
    num, den = kpi.line_counts(kpi.line_weighting(filters.weighting))
    where, params = _line_where(filters, kpi, dimension, member, None)
    rows = f"""select sku as member, min(category) as category,
                      cast(sum({num}) as bigint) as numerator,
                      cast(sum({den}) as bigint) as denominator,
                      cast(sum({_against(kpi, num, den)}) as bigint) as against
               from kpi_order_lines where {where} group by sku"""
    return query(published_dir, _rated(rows, "category,"), ["kpi_order_lines"], params)


LINE_COLUMNS = (
    "order_line_id",
    "channel_order_id",
    "channel",
    "sku",
    "category",
    "location_id",
    "carrier",
    "kpi_date",
    "ordered_at",
    "promise_ship_date",
    "promise_delivery_date",
    "units_ordered",
    "units_required",
    "units_shipped",
    "units_shipped_by_promise",
    "units_delivered",
    "units_delivered_by_promise",
    "cancel_origin",
    "units_returned_counted",
    "units_returned_wrong_or_damaged",
    "units_late_unshipped",
    "units_late_in_transit",
    "units_backordered",
    "line_amount",
)
"""Columns of a drilled-down line, beside whether and how much it counts."""


def lines(
    published_dir: Path,
    filters: Filters,
    kpi_name: str,
    dimension: str,
    member: str,
    sku: str | None = None,
    only_against: bool = True,
) -> pl.DataFrame:
    """The order lines behind the group's figure: one row per line of `member` (and `sku`) in
    the KPI's denominator, or only those counting against the rate (the late lines for
    on-time ship). `counts_against`, and the line's own `numerator` / `denominator` at the
    lines' weighting, say how it counts. Oldest first."""
    kpi = _kpi(kpi_name)
    num, den = kpi.line_counts(kpi.line_weighting(filters.weighting))
    where, params = _line_where(filters, kpi, dimension, member, sku)
    if only_against:
        where += f" and coalesce({kpi.is_against()}, false)"
    return query(
        published_dir,
        f"""
        select {", ".join(LINE_COLUMNS)},
               coalesce({kpi.is_against()}, false) as counts_against,
               cast({num} as bigint) as numerator,
               cast({den} as bigint) as denominator
        from kpi_order_lines
        where {where}
        order by kpi_date, order_line_id
        """,
        ["kpi_order_lines"],
        params,
    )
