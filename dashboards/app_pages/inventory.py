"""Inventory for managers: stock on hand and available to promise now, and over the window
(the last `inventory_window_days` days of snapshots) demand cover, stock-outs, inventory
accuracy and an estimate of the sales lost to stock-outs; by location and the SKU-locations
with the lowest cover. Reads the published `fct_inventory_position` only (docs/dashboards.md).
"""

from __future__ import annotations

import streamlit as st

from dashboards.lib import cached, charts
from dashboards.lib.inventory import InventoryFilters, InventoryHeadline, to_csv
from dashboards.lib.tiles import fmt_int, fmt_money
from dashboards.lib.ui import data_as_of, data_section, require_published_run


def headline_metrics(figures: InventoryHeadline, window: str) -> None:
    tiles = st.columns(4)
    tiles[0].metric(
        "Units on hand",
        fmt_int(figures.units_on_hand),
        help="Latest end-of-day snapshot of every SKU-location selected",
        border=True,
    )
    tiles[1].metric(
        "Available to promise",
        fmt_int(figures.available_to_promise),
        help="On hand + restocked - reserved - safety buffer + inbound due - allocated",
        border=True,
    )
    tiles[2].metric(
        "SKU-locations out of stock",
        fmt_int(figures.out_of_stock),
        help="Active SKUs with nothing on hand at a location in its latest snapshot",
        border=True,
    )
    tiles[2].caption(f"of {figures.active_positions:,} active SKU-locations")
    tiles[3].metric(
        "Estimated lost sales",
        fmt_money(figures.lost_sales),
        help="Stock-out days × average daily demand on in-stock days × list price, over "
        f"{window} (docs/dashboards.md)",
        border=True,
    )


st.title("Inventory")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

with data_section():
    options = cached.inventory_options(*source)
    if options.as_of_date is None or options.window_start_date is None:
        st.info("The published run has no inventory positions yet.")
        st.stop()
    window = (
        f"the {options.window_days} days {options.window_start_date:%d %b} – "
        f"{options.as_of_date:%d %b %Y}"
    )

    location_col, category_col = st.columns(2)
    locations = location_col.multiselect(
        "Locations",
        options=list(options.locations),
        format_func=lambda location: options.locations.get(location, location),
        placeholder="All locations",
        key="inventory_locations",
    )
    categories = category_col.multiselect(
        "Categories",
        options=list(options.categories),
        placeholder="All categories",
        key="inventory_categories",
    )
    filters = InventoryFilters(locations=tuple(locations), categories=tuple(categories))

    figures = cached.inventory_headline(*source, filters)
    headline_metrics(figures, window)
    st.caption(
        f"Stock as of the latest snapshot ({options.as_of_date:%d %b %Y}); demand, stock-outs, "
        f"cycle counts and lost sales over {window}."
    )

    st.subheader("By location")
    locations_table = cached.inventory_by_location(*source, filters)
    charts.show_table(locations_table, charts.INVENTORY_LOCATION_COLUMNS)
    st.download_button(
        "Download CSV",
        data=to_csv(locations_table),
        file_name=f"inventory_by_location_{options.as_of_date:%Y%m%d}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="inventory_by_location_csv",
    )

    st.subheader("Lowest cover")
    st.caption(
        "SKU-locations whose available-to-promise stock covers the fewest days of their "
        "average daily demand (those without demand in the window have no cover)."
    )
    lowest = cached.inventory_lowest_cover(*source, filters)
    if lowest.is_empty():
        st.info("No SKU-location in this selection had demand in the window.")
    else:
        charts.show_table(lowest, charts.INVENTORY_COVER_COLUMNS)
    st.download_button(
        "Download CSV",
        data=to_csv(lowest),
        file_name=f"inventory_lowest_cover_{options.as_of_date:%Y%m%d}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="inventory_lowest_cover_csv",
    )
