"""Breakdowns: one catalogue KPI over a period by channel, location, carrier or category, then
one group by SKU and down to the order lines behind its figure, each table downloadable as CSV.

The first render reads only the catalogue's day rows (`fct_kpis`); the order lines are read
once a group is picked, filtered by the period and the group in the Parquet scan. The period,
channels, locations, weighting and KPI are shared with the other pages and kept in the URL
(`dashboards/lib/shared_filters.py`). Definitions: docs/kpis.md; the page: docs/dashboards.md.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards.lib import cached, charts
from dashboards.lib.breakdowns import DIMENSIONS, KPIS, can_break_down
from dashboards.lib.kpis import Filters
from dashboards.lib.shared_filters import KPI, filter_bar, shared_choice
from dashboards.lib.tiles import fmt_int, fmt_pct
from dashboards.lib.ui import data_as_of, data_section, require_published_run

PAGE = "breakdowns"
DIMENSION_LABELS = {
    "channel": "Channel",
    "location": "Fulfilling location",
    "carrier": "Carrier",
    "category": "Category",
}
ALL_SKUS = ""


def download(frame: pl.DataFrame, what: str, file_name: str) -> None:
    """The table as CSV, exactly as shown (no rerun on click)."""
    st.download_button(
        f"Download {what} (CSV)",
        data=frame.write_csv(),
        file_name=file_name,
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key=f"download_{file_name}",
    )


def _slug(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in value)


st.title("Breakdowns")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

with data_section():
    options = cached.filter_options(*source)
    picked_filters = filter_bar(options, page=PAGE)
    if picked_filters is None:
        st.info("The published run has no fulfillment KPIs yet.")
        st.stop()
    filters: Filters = picked_filters

    kpi_col, by_col = st.columns(2)
    kpi_name = shared_choice(
        KPI,
        "KPI",
        list(KPIS),
        PAGE,
        format_func=lambda name: KPIS[name].label,
        container=kpi_col,
    )
    kpi = KPIS[kpi_name]
    dimensions = [d for d in DIMENSIONS if can_break_down(filters, d)]
    dimension = shared_choice(
        "by",
        "By",
        dimensions,
        PAGE,
        format_func=DIMENSION_LABELS.__getitem__,
        container=by_col,
        help="Under a channel or location filter: channels and locations only (carrier and "
        "category day rows cannot be filtered by them).",
    )
    weighting = kpi.weighting(filters.weighting)
    names = {"channel": options.channels, "location": options.locations}.get(dimension, {})
    period = f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y} ({filters.days} days)"
    st.caption(
        f"{kpi.label} by {DIMENSION_LABELS[dimension].lower()}, orders placed {period}, "
        f"weighted by {weighting}; counted against the rate: {kpi.against}. " + (kpi.note or "")
    )

    table = cached.by_dimension(*source, filters, kpi_name, dimension).with_columns(
        name=pl.col("member").replace_strict(names, default=pl.col("member"))
    )
    if table.is_empty():
        st.info("Nothing due in this selection.")
        st.stop()
    label = f"{kpi.label} ({weighting})"
    table_col, chart_col = st.columns([3, 2])
    with table_col:
        st.dataframe(
            table.select("name", "rate", "numerator", "denominator", "against", "share"),
            column_config=charts.rate_table_columns(DIMENSION_LABELS[dimension]),
            hide_index=True,
            key="breakdowns_by_dimension",
        )
        download(table, f"by {dimension}", f"{kpi_name}_by_{dimension}.csv")
    with chart_col:
        st.altair_chart(charts.breakdown_chart(table, label))

    st.subheader("Drill down")
    members = table["member"].to_list()
    group = shared_choice(
        "group",
        f"{DIMENSION_LABELS[dimension]} to drill into",
        ["", *members],
        PAGE,
        format_func=lambda m: "Pick a group…" if not m else str(names.get(m, m)),
        help="Listed as in the table: the most volume against the rate first.",
    )
    if not group:
        st.info(
            "Pick a group to see its SKUs and the order lines behind its figure (read only "
            "then: the order lines are not scanned before).",
            icon=":material/ads_click:",
        )
        st.stop()

    line_weighting = kpi.line_weighting(filters.weighting)
    group_row = table.filter(pl.col("member") == group).row(0, named=True)
    group_name = names.get(group, group)
    skus = cached.by_sku(*source, filters, kpi_name, dimension, group)
    st.markdown(
        f"**{group_name}**: {label} {fmt_pct(group_row['rate'])}, "
        f"{fmt_int(group_row['numerator'])} of {fmt_int(group_row['denominator'])}"
    )
    sku_numerator, sku_denominator = int(skus["numerator"].sum()), int(skus["denominator"].sum())
    if line_weighting != weighting:
        st.caption(
            f"By SKU and line the orders weighting is counted by lines (an order spans SKUs): "
            f"{fmt_int(sku_numerator)} of {fmt_int(sku_denominator)} lines."
        )
    elif (sku_numerator, sku_denominator) != (group_row["numerator"], group_row["denominator"]):
        st.caption(
            f"The SKUs add up to {fmt_int(sku_numerator)} of {fmt_int(sku_denominator)}: "
            f"{fmt_int(group_row['numerator'] - sku_numerator)} of the figure's numerator has "
            "no order line (till returns)."
        )
    st.markdown(f"**By SKU** ({len(skus):,} SKUs, most {kpi.against.split(' (')[0]} first)")
    st.dataframe(
        skus.select("member", "category", "rate", "numerator", "denominator", "against"),
        column_config={**charts.rate_table_columns("SKU"), "member": "SKU"},
        hide_index=True,
        key="breakdowns_by_sku",
    )
    download(skus, "SKUs", f"{kpi_name}_{dimension}_{_slug(group)}_by_sku.csv")

    sku_col, only_col = st.columns([3, 2])
    sku = shared_choice(
        "sku",
        "Lines of SKU",
        [ALL_SKUS, *skus["member"].to_list()],
        PAGE,
        format_func=lambda s: s or "All SKUs of the group",
        container=sku_col,
    )
    only_against = only_col.toggle(
        f"Only lines {kpi.against.split(' (')[0]}",
        value=True,
        key="breakdowns_only_against",
        help="Off: every line in the denominator, with whether it counts against the rate.",
    )
    lines = cached.kpi_lines(
        *source, filters, kpi_name, dimension, group, sku or None, only_against
    )
    st.markdown(
        f"**Order lines** ({len(lines):,} "
        + (f"{kpi.against.split(' (')[0]}" if only_against else "in the denominator")
        + f"; {line_weighting} counted: numerator {fmt_int(int(lines['numerator'].sum()))}, "
        f"denominator {fmt_int(int(lines['denominator'].sum()))})"
    )
    st.dataframe(lines, hide_index=True, key="breakdowns_lines")
    download(
        lines,
        "order lines",
        f"{kpi_name}_{dimension}_{_slug(group)}_{_slug(sku or 'all')}_lines.csv",
    )
