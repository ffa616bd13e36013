"""Manager overview: headline fulfillment KPIs against the previous period and their targets,
trends, the biggest movers, the latest alerts and breakdowns over a date range.

Figures follow the KPI catalogue (docs/kpis.md): only what was due by the cut-off is in a rate,
the weighting (units, lines, orders) is chosen and named, and the open, not-yet-due volume is
shown under each rate. Targets come from the operational store (the Targets and alerts page),
alerts from the published outbox (docs/alerts.md). Only pre-aggregated marts are read.
"""

from __future__ import annotations

import sqlite3

import streamlit as st

from dashboards.lib import cached, charts
from dashboards.lib import targets as tg
from dashboards.lib.kpis import Filters, tile_targets
from dashboards.lib.shared_filters import filter_bar
from dashboards.lib.tiles import headline_tiles
from dashboards.lib.ui import data_as_of, data_section, require_published_run
from pipelines.settings import get_settings

TILES_PER_ROW = 5
MOVER_RATES = {
    "fill_rate": "Fill rate",
    "on_time_ship_rate": "On-time ship",
    "on_time_delivery_rate": "On-time delivery",
    "return_rate": "Return rate (units)",
}
MOVER_COLUMNS = {
    "dimension": st.column_config.TextColumn("Dimension"),
    "member": st.column_config.TextColumn("Member"),
    "rate_now": st.column_config.NumberColumn("Now", format="percent"),
    "rate_before": st.column_config.NumberColumn("Before", format="percent"),
    "change_pp": st.column_config.NumberColumn("Change (pp)", format="%+.1f"),
    "share": st.column_config.NumberColumn("Share of volume", format="percent"),
    "impact_pp": st.column_config.NumberColumn(
        "Impact (pp)", format="%+.2f", help="Share of volume now × change"
    ),
    "volume_now": st.column_config.NumberColumn("Volume now", format="localized"),
    "volume_before": st.column_config.NumberColumn("Volume before", format="localized"),
}

st.title("Fulfillment overview")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

with data_section():
    options = cached.filter_options(*source)
    # period, channels, locations and weighting follow the user across pages and reloads
    picked_filters = filter_bar(options, page="overview", default_days=28)
    if picked_filters is None:
        st.info("The published run has no fulfillment KPIs yet.")
        st.stop()
    filters: Filters = picked_filters
    weighting = filters.weighting
    previous = filters.previous()

    current_kpis = cached.headline_kpis(*source, filters)
    # A previous period reaching before the first day of data would make every count look
    # like growth: compare only when it is fully covered.
    comparable = options.min_date is not None and previous.start >= options.min_date
    previous_kpis = cached.headline_kpis(*source, previous) if comparable else None
    try:
        targets = tile_targets(tg.in_force(get_settings().ops_store_path), filters)
    except sqlite3.Error as exc:
        st.warning(f"Targets unavailable: {exc}", icon=":material/warning:")
        targets = {}
    tiles = headline_tiles(current_kpis, previous_kpis, targets)
    for row_start in range(0, len(tiles), TILES_PER_ROW):
        columns = st.columns(TILES_PER_ROW)
        row = tiles[row_start : row_start + TILES_PER_ROW]
        for column, tile in zip(columns, row, strict=False):
            column.metric(
                tile.label,
                tile.value,
                tile.delta,
                delta_color=tile.delta_color,
                help=tile.help,
                border=True,
            )
            if tile.note:
                column.caption(tile.note)
            if tile.target:
                mark = {True: ":green", False: ":red", None: ":gray"}[tile.target_met]
                column.caption(f"{mark}[{tile.target}]")
    if current_kpis.as_of is not None:
        st.caption(
            f"Cut-off {current_kpis.as_of:%d %b %Y %H:%M} UTC (the latest order or carrier event): "
            f"rates count what was due by then, weighted by {weighting}."
        )
    period = f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y} ({filters.days} days)"
    if comparable:
        st.caption(
            f"{period}. Changes against the previous {filters.days} days "
            f"({previous.start:%d %b} – {previous.end:%d %b %Y})."
        )
    else:
        st.caption(
            f"{period}. No changes shown: the previous {filters.days} days start before the "
            f"first day of published data ({options.min_date:%d %b %Y})."
        )

    st.subheader("Trends")
    trend = cached.daily_trend(*source, filters)
    if trend.is_empty():
        st.info("No orders in this selection.")
    else:
        rolling = st.toggle(
            "7-day rolling", value=True, help="Rates over the 7 days ending each day"
        )
        service_col, orders_col = st.columns(2)
        with service_col:
            st.markdown("**Fill rate and on-time rates**")
            st.altair_chart(charts.service_level_chart(trend, rolling=rolling))
        with orders_col:
            st.markdown("**Orders per day** (line: 7-day average)")
            st.altair_chart(charts.orders_chart(trend))

    st.subheader("Biggest movers")
    if not comparable:
        st.caption("No movers: the previous period is not covered by the published data.")
    else:
        mover_rate = st.selectbox(
            "Movers of",
            options=list(MOVER_RATES),
            format_func=lambda rate: MOVER_RATES[rate],
            key="overview_mover_rate",
        )
        movers = cached.biggest_movers(*source, filters, mover_rate or "fill_rate")
        st.caption(
            "Channels, locations, carriers and categories whose rate moved most against the "
            f"previous {filters.days} days, ranked by impact: their share of the volume now × "
            "their change, the points they moved the headline by (docs/kpis.md)."
            + (
                " Under a channel or location filter, channels and locations only."
                if filters.channels or filters.locations
                else ""
            )
        )
        if movers.is_empty():
            st.info("Nothing to compare in this selection.")
        else:
            st.dataframe(movers, column_config=MOVER_COLUMNS, hide_index=True)

    st.subheader("Alerts")
    alerts = cached.recent_alerts(*source)
    if alerts is None or alerts.is_empty():
        st.caption("No target breached in the published runs (Targets and alerts page).")
    else:
        st.caption(
            f"{alerts.height:,} alert(s), one per breach and judged order day, sent through the "
            "outbox; the latest first (Targets and alerts, Action log)."
        )
        st.dataframe(
            alerts.select("order_date", "alert", "state", "attempts").head(10),
            hide_index=True,
        )

    st.subheader("By channel")
    charts.show_table(
        cached.breakdown(*source, filters, by="channel"), charts.breakdown_columns("Channel")
    )
    st.subheader("By ship-from location")
    charts.show_table(
        cached.breakdown(*source, filters, by="location"), charts.breakdown_columns("Location")
    )
