"""How the Routing page shows things: its table layouts and charts (the page script,
`dashboards/app_pages/routing.py`, decides what to show; `dashboards/lib/routing.py` reads it)."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from dashboards.lib.tiles import NO_VALUE

RUN_TIME_FORMAT = "%b %d %H:%M"
STATE_LABELS = {
    "pending": "Pending",
    "in_flight": "In flight",
    "delivered": "Delivered",
    "dead_letter": "Dead letter",
}


def _count(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="localized", help=help)


def _money(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="%.2f", help=help)


def _time(label: str) -> Any:
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm:ss")


RUN_COLUMNS: dict[str, Any] = {
    "committed_at": _time("Committed (UTC)"),
    "run_id": st.column_config.TextColumn("Run"),
    "rules_version": st.column_config.TextColumn("Rules version"),
    "method": st.column_config.TextColumn("Method"),
    "lines_routed": _count("Lines routed", help="Open order lines the run decided on"),
    "units_allocated": _count("Units allocated"),
    "units_backordered": _count("Units backordered"),
    "units_cancelled": _count("Units cancelled"),
    "total_cost": _money("Total cost", help="Sum of the decisions' total cost"),
    "split_rate": st.column_config.NumberColumn(
        "Split rate", format="%.1f%%", help="Orders shipped from >1 location / orders shipped"
    ),
    "gap": st.column_config.NumberColumn(
        "Gap to bound", format="%.2f%%", help="Objective vs the run's lower bound (figures.gap)"
    ),
    "cost_vs_greedy": st.column_config.NumberColumn(
        "Cost vs greedy", format="%.3f", help="Solver cost / greedy baseline cost"
    ),
}

QUEUE_COLUMNS: dict[str, Any] = {
    "promised_ship_date": st.column_config.DateColumn(
        "Promised ship (order)",
        help="From the order's fulfillment requests; blank when no part of the order has been "
        "requested yet (the routing tables carry no promised dates)",
    ),
    "order_id": st.column_config.TextColumn("Order"),
    "order_line_id": st.column_config.TextColumn("Line"),
    "sku": st.column_config.TextColumn("SKU"),
    "units": _count("Units"),
    "channel": st.column_config.TextColumn("Channel"),
    "routing": st.column_config.TextColumn("Routing"),
    "rule": st.column_config.TextColumn("Rule"),
    "reason": st.column_config.TextColumn("Why", width="large"),
}

DECISION_COLUMNS: dict[str, Any] = {
    "order_id": st.column_config.TextColumn("Order"),
    "order_line_id": st.column_config.TextColumn("Line"),
    "sku": st.column_config.TextColumn("SKU"),
    "channel": st.column_config.TextColumn("Channel"),
    "outcome": st.column_config.TextColumn("Outcome"),
    "location_id": st.column_config.TextColumn("Location"),
    "units": _count("Units"),
    "routing": st.column_config.TextColumn("Routing"),
    "rule": st.column_config.TextColumn("Rule"),
    "total_cost": _money("Total cost"),
    "late_days": _count("Late days"),
    "distance_km": st.column_config.NumberColumn("Distance km", format="%.0f"),
}

ALTERNATIVE_COLUMNS: dict[str, Any] = {
    "chosen": st.column_config.CheckboxColumn("Chosen"),
    "location_id": st.column_config.TextColumn("Location"),
    "cost_per_unit": _money("Cost per unit"),
    "distance_km": st.column_config.NumberColumn("Distance km", format="%.0f"),
    "transit_days": _count("Transit days"),
    "late_days": _count("Late days"),
    "stock_at_start": _count("Stock at start"),
    "left_after": _count("Left after"),
}

DESTINATION_COLUMNS: dict[str, Any] = {
    "destination": st.column_config.TextColumn("Destination"),
    **{state: _count(label) for state, label in STATE_LABELS.items()},
    "total": _count("Total"),
}

DEAD_LETTER_COLUMNS: dict[str, Any] = {
    "action_id": st.column_config.TextColumn("Action"),
    "destination": st.column_config.TextColumn("Destination"),
    "order_id": st.column_config.TextColumn("Order"),
    "last_error": st.column_config.TextColumn("Last error", width="large"),
    "total_attempts": _count("Attempts", help="Every attempt, across retry cycles"),
    "last_attempt_at": _time("Last attempt (UTC)"),
    "created_at": _time("Created (UTC)"),
}

ATTEMPT_COLUMNS: dict[str, Any] = {
    "attempt_no": _count("Attempt"),
    "started_at": _time("Started (UTC)"),
    "finished_at": _time("Finished (UTC)"),
    "outcome": st.column_config.TextColumn("Outcome"),
    "http_status": st.column_config.NumberColumn("HTTP status", format="%d"),
    "error": st.column_config.TextColumn("Error"),
    "response": st.column_config.TextColumn("Response", width="large"),
}


def show(frame: pl.DataFrame, columns: dict[str, Any], percent: tuple[str, ...] = ()) -> None:
    """A read-only table with the columns of `columns` present in `frame`, ratios as percent;
    columns listed in `percent` that are empty in every row are left out."""
    shown = [
        name
        for name in columns
        if name in frame.columns
        and not (name in percent and frame[name].null_count() == frame.height)
    ]
    st.dataframe(
        frame.select(shown).with_columns(pl.col(name) * 100 for name in shown if name in percent),
        hide_index=True,
        column_config=columns,
        placeholder=NO_VALUE,
    )


def split_rate_chart(runs: pl.DataFrame) -> alt.Chart:
    data = runs.select("committed_at", "run_id", "split_rate", "orders_shipped", "orders_split")
    return (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=30))
        .encode(
            x=alt.X("committed_at:T", title=None, axis=alt.Axis(format=RUN_TIME_FORMAT)),
            y=alt.Y("split_rate:Q", title="Split rate", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("committed_at:T", title="Run committed", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("run_id:N", title="Run"),
                alt.Tooltip("split_rate:Q", title="Split rate", format=".1%"),
                alt.Tooltip("orders_split:Q", title="Orders split", format=","),
                alt.Tooltip("orders_shipped:Q", title="Orders shipped", format=","),
            ],
        )
        .properties(height=260)
    )


def unfilled_chart(runs: pl.DataFrame) -> alt.Chart:
    data = runs.select(
        "committed_at",
        pl.col("lines_backordered").alias("Backordered"),
        pl.col("lines_cancelled").alias("Cancelled"),
    ).unpivot(index="committed_at", variable_name="outcome", value_name="lines")
    return (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=30))
        .encode(
            x=alt.X("committed_at:T", title=None, axis=alt.Axis(format=RUN_TIME_FORMAT)),
            y=alt.Y("lines:Q", title="Lines", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color("outcome:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("committed_at:T", title="Run committed", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("lines:Q", title="Lines", format=","),
            ],
        )
        .properties(height=260)
    )


def money_text(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.2f}"
