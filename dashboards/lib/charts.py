"""Charts and table layouts for the pages (altair and Streamlit column configs)."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl
import streamlit as st

SERVICE_LEVELS = {
    "fill_rate": "Fill rate",
    "on_time_ship_rate": "On-time ship",
    "on_time_delivery_rate": "On-time delivery",
}


def service_level_chart(trend: pl.DataFrame, rolling: bool) -> alt.Chart:
    """Fill rate and on-time rates per day (or over the rolling window ending each day)."""
    suffix = "_rolling" if rolling else ""
    long = trend.select(
        "kpi_date",
        *[pl.col(f"{rate}{suffix}").alias(label) for rate, label in SERVICE_LEVELS.items()],
    ).unpivot(index="kpi_date", variable_name="measure", value_name="rate")
    return (
        alt.Chart(long)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("kpi_date:T", title=None, axis=alt.Axis(format="%b %d")),
            y=alt.Y("rate:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=list(SERVICE_LEVELS.values()),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("kpi_date:T", title="Date"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("rate:Q", title="Rate", format=".1%"),
            ],
        )
        .properties(height=300)
    )


def orders_chart(trend: pl.DataFrame, window_days: int = 7) -> alt.LayerChart:
    """Orders per day as bars, with the rolling daily average as a line."""
    base = alt.Chart(trend).encode(x=alt.X("kpi_date:T", title=None, axis=alt.Axis(format="%b %d")))
    bars = base.mark_bar(opacity=0.55).encode(
        y=alt.Y("orders:Q", title="Orders per day"),
        tooltip=[
            alt.Tooltip("kpi_date:T", title="Date"),
            alt.Tooltip("orders:Q", title="Orders", format=","),
            alt.Tooltip("orders_rolling:Q", title=f"{window_days}-day average", format=",.1f"),
        ],
    )
    line = base.mark_line(strokeWidth=2.5, color="#d62728").encode(y="orders_rolling:Q")
    return (bars + line).properties(height=300)


def _pct(label: str, help: str | None = None) -> Any:
    # Values are ratios; `show_table` scales them to percent (one decimal, like the tiles).
    return st.column_config.NumberColumn(label, format="%.1f%%", help=help)


def _hours(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="%.1f h", help=help)


def _count(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="localized", help=help)


PERCENT_COLUMNS = frozenset(
    {
        "fill_rate",
        "on_time_ship_rate",
        "on_time_delivery_rate",
        "return_rate",
        "inventory_accuracy",
        "reject_rate",
        "stockout_rate",
    }
)


def show_table(frame: pl.DataFrame, columns: dict[str, Any]) -> None:
    """A read-only table with the columns of `columns`, in that order, ratios as percent."""
    shown = [name for name in columns if name in frame.columns]
    st.dataframe(
        frame.select(shown).with_columns(
            pl.col(name) * 100 for name in shown if name in PERCENT_COLUMNS
        ),
        hide_index=True,
        column_config=columns,
        placeholder="–",
    )


BREAKDOWN_COLUMNS: dict[str, Any] = {
    "orders": _count("Orders"),
    "units_ordered": _count("Units ordered"),
    "revenue": st.column_config.NumberColumn("Revenue", format="localized"),
    "fill_rate": _pct("Fill rate", help="Units shipped / units ordered"),
    "on_time_ship_rate": _pct("On-time ship"),
    "on_time_delivery_rate": _pct("On-time delivery"),
    "fulfillment_hours_p50": _hours("Time p50", help="Median fulfillment time (hours)"),
    "fulfillment_hours_p90": _hours("Time p90", help="90th percentile fulfillment time (hours)"),
    "return_rate": _pct("Return rate"),
    "inventory_accuracy": _pct("Inventory accuracy"),
}


def breakdown_columns(name_label: str) -> dict[str, Any]:
    return {"name": st.column_config.TextColumn(name_label), **BREAKDOWN_COLUMNS}


SOURCE_SUMMARY_COLUMNS: dict[str, Any] = {
    "source": st.column_config.TextColumn("Source"),
    "status": st.column_config.TextColumn(
        "Reconciles", help="OK when records seen = loaded + rejected + duplicates in every batch"
    ),
    "batches": _count("Batches"),
    "records_seen": _count("Seen"),
    "loaded": _count("Loaded"),
    "rejected": _count("Rejected"),
    "duplicates": _count("Duplicates"),
    "reject_rate": _pct("Rejected share"),
    "failed_batches": _count("Batches failing"),
    "last_loaded_at": st.column_config.DatetimeColumn("Last load (UTC)", format="YYYY-MM-DD HH:mm"),
}

BATCH_COLUMNS: dict[str, Any] = {
    "source": st.column_config.TextColumn("Source"),
    "status": st.column_config.TextColumn("Reconciles"),
    "batch_id": st.column_config.TextColumn("Batch"),
    "file": st.column_config.TextColumn("File"),
    "records_seen": _count("Seen"),
    "loaded": _count("Loaded"),
    "rejected": _count("Rejected"),
    "duplicates": _count("Duplicates"),
    "loaded_at": st.column_config.DatetimeColumn("Loaded (UTC)", format="YYYY-MM-DD HH:mm"),
}

REJECT_COLUMNS: dict[str, Any] = {
    "source": st.column_config.TextColumn("Source"),
    "kind": st.column_config.TextColumn("Kind"),
    "reason_code": st.column_config.TextColumn("Reason"),
    "records": _count("Records"),
    "example_record": st.column_config.TextColumn("Example record", width="large"),
}


UNMATCHED_COLUMNS: dict[str, Any] = {
    "line_kind": st.column_config.TextColumn("Line"),
    "record_id": st.column_config.TextColumn("Record"),
    "reason": st.column_config.TextColumn("Refers to", width="large"),
    "sku": st.column_config.TextColumn("SKU"),
    "quantity": _count("Units"),
    "file": st.column_config.TextColumn("File"),
    "loaded_at": st.column_config.DatetimeColumn("Loaded at", format="YYYY-MM-DD HH:mm"),
}


FRESHNESS_COLUMNS: dict[str, Any] = {
    "source": st.column_config.TextColumn("Source"),
    "status": st.column_config.TextColumn(
        "Freshness", help="stale when the newest batch landed longer ago than the threshold"
    ),
    "last_landed_at": st.column_config.DatetimeColumn(
        "Newest batch landed (UTC)",
        format="YYYY-MM-DD HH:mm",
        help="Modification time of the source's newest landing file",
    ),
    "age_hours": _hours("Age", help="Hours since the newest batch landed"),
    "max_age_hours": _hours("Threshold", help="OMS_FRESHNESS_MAX_AGE_HOURS"),
    "last_loaded_at": st.column_config.DatetimeColumn("Last load (UTC)", format="YYYY-MM-DD HH:mm"),
}


def _days(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="%.1f d", help=help)


def _money(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="localized", help=help)


INVENTORY_LOCATION_COLUMNS: dict[str, Any] = {
    "location_id": st.column_config.TextColumn("Location"),
    "location_name": st.column_config.TextColumn("Name"),
    "location_kind": st.column_config.TextColumn("Kind"),
    "skus": _count("SKUs"),
    "units_on_hand": _count("On hand"),
    "available_to_promise": _count("Available to promise"),
    "out_of_stock": _count("Out of stock", help="Active SKUs with nothing on hand"),
    "avg_daily_demand": st.column_config.NumberColumn("Demand / day", format="%.1f"),
    "cover_days": _days("Cover", help="Σ available to promise / Σ average daily demand"),
    "stockout_rate": _pct("Stock-out rate", help="Σ stock-out days / Σ snapshot days"),
    "inventory_accuracy": _pct("Inventory accuracy", help="Accurate cycle counts / counts"),
    "lost_sales_value": _money("Lost sales (est.)", help="docs/dashboards.md, Inventory"),
    "currency": st.column_config.TextColumn("Currency"),
}

INVENTORY_COVER_COLUMNS: dict[str, Any] = {
    "sku": st.column_config.TextColumn("SKU"),
    "product_name": st.column_config.TextColumn("Product"),
    "category": st.column_config.TextColumn("Category"),
    "location_id": st.column_config.TextColumn("Location"),
    "on_hand": _count("On hand"),
    "available_to_promise": _count("Available to promise"),
    "avg_daily_demand": st.column_config.NumberColumn("Demand / day", format="%.2f"),
    "cover_days": _days("Cover", help="Available to promise / average daily demand"),
    "stockout_days": _count("Stock-out days"),
    "stockout_rate": _pct("Stock-out rate"),
    "inventory_accuracy": _pct("Inventory accuracy"),
    "lost_sales_value": _money("Lost sales (est.)"),
    "currency": st.column_config.TextColumn("Currency"),
}


def rejects_chart(rejects: pl.DataFrame) -> alt.Chart:
    """Records set aside per reason, stacked by source (rejects and duplicates)."""
    data = rejects.with_columns(
        pl.when(pl.col("kind") == "duplicate")
        .then(pl.lit("duplicate"))
        .otherwise(pl.col("reason_code"))
        .alias("reason")
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("reason:N", title=None, sort="-x"),
            x=alt.X("sum(records):Q", title="Records", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color("source:N", title="Source", legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("source:N", title="Source"),
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("sum(records):Q", title="Records", format=","),
            ],
        )
        .properties(height=alt.Step(28))
    )


def breakdown_chart(frame: pl.DataFrame, rate_label: str) -> alt.Chart:
    """One bar per member (`name`): its rate, with numerator and denominator in the tooltip."""
    return (
        alt.Chart(frame.select("name", "rate", "numerator", "denominator", "against"))
        .mark_bar()
        .encode(
            y=alt.Y("name:N", title=None, sort="-x"),
            x=alt.X("rate:Q", title=rate_label, axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("name:N", title="Group"),
                alt.Tooltip("rate:Q", title=rate_label, format=".1%"),
                alt.Tooltip("numerator:Q", title="Numerator", format=","),
                alt.Tooltip("denominator:Q", title="Denominator", format=","),
                alt.Tooltip("against:Q", title="Against the rate", format=","),
            ],
        )
        .properties(height=alt.Step(24))
    )


def rate_table_columns(name_label: str) -> dict[str, Any]:
    """Layout of a breakdown table (`dashboards.lib.breakdowns`): ratios shown as percent."""
    return {
        "name": st.column_config.TextColumn(name_label),
        "member": None,
        "category": st.column_config.TextColumn("Category"),
        "rate": st.column_config.NumberColumn("Rate", format="percent"),
        "numerator": _count("Numerator"),
        "denominator": _count("Denominator"),
        "against": _count("Against the rate"),
        "share": st.column_config.NumberColumn("Share of denominator", format="percent"),
    }
