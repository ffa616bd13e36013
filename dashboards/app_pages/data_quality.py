"""Data quality: is every source fresh, do the ingested batches reconcile, and which records
were set aside and why."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from dashboards.lib import cached, charts
from dashboards.lib.quality import FAIL, STALE
from dashboards.lib.tiles import fmt_int
from dashboards.lib.ui import STALE_SOURCE_ICON, data_as_of, data_section, require_published_run
from pipelines.settings import get_settings

st.title("Data quality")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

with data_section():
    summary = cached.source_summary(*source)
    batches = cached.batches(*source)
    failing = batches.filter(pl.col("status") == FAIL)

    tiles = st.columns(6)
    tiles[0].metric("Sources", fmt_int(summary.height), border=True)
    tiles[1].metric("Batches", fmt_int(batches.height), border=True)
    tiles[2].metric("Records seen", fmt_int(int(summary["records_seen"].sum())), border=True)
    tiles[3].metric("Rejected", fmt_int(int(summary["rejected"].sum())), border=True)
    tiles[4].metric("Duplicates", fmt_int(int(summary["duplicates"].sum())), border=True)
    tiles[5].metric(
        "Reconciliation",
        "OK" if failing.is_empty() else f"{failing.height} FAIL",
        help="Every batch: records seen = loaded + rejected + duplicates",
        border=True,
    )
    if not failing.is_empty():
        st.error(
            f"{failing.height} batch(es) do not reconcile (seen ≠ loaded + rejected + "
            "duplicates): records went missing or were counted twice.",
            icon=":material/error:",
        )
        charts.show_table(failing, charts.BATCH_COLUMNS)

    st.subheader("Batches per source")
    charts.show_table(summary, charts.SOURCE_SUMMARY_COLUMNS)
    with st.expander(f"All {batches.height} batches"):
        charts.show_table(batches, charts.BATCH_COLUMNS)

with data_section():
    st.subheader("Freshness")
    # to the minute: the cached answer stays current, and ages are shown to a tenth of an hour
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    thresholds = get_settings().freshness_max_age_hours
    fresh = cached.freshness(*source, now, thresholds)
    stale = fresh.filter(pl.col("status") == STALE)
    if stale.is_empty():
        st.success(
            "Every source's newest batch landed within its threshold.", icon=":material/check:"
        )
    else:
        st.warning(
            f"{stale.height} source(s) delivered nothing new for longer than their threshold: "
            f"{', '.join(stale['source'])}. Check that source's deliveries; thresholds are set "
            "by OMS_FRESHNESS_MAX_AGE_HOURS (docs/dashboards.md).",
            icon=STALE_SOURCE_ICON,
        )
    st.caption(
        f"Age at {now:%Y-%m-%d %H:%M} UTC of the newest batch of each source: the time its "
        "landing file was last written."
    )
    charts.show_table(fresh, charts.FRESHNESS_COLUMNS)

with data_section():
    st.subheader("Lines referring to nothing known")
    unmatched = cached.unmatched_lines(*source)
    if unmatched.is_empty():
        st.success(
            "Every shipment, return and receipt line matches a known order or PO line.",
            icon=":material/check:",
        )
    else:
        st.warning(
            f"{unmatched.height} loaded line(s) refer to an order or purchase-order line the "
            "platform does not know: they count for nothing until it arrives (a late order "
            "file) or the reference is corrected (docs/operations.md).",
            icon=":material/link_off:",
        )
        charts.show_table(unmatched, charts.UNMATCHED_COLUMNS)

with data_section():
    st.subheader("Rejected and duplicate records")
    rejects = cached.rejects(*source)
    if rejects.is_empty():
        st.success("No record was rejected or skipped as a duplicate.", icon=":material/check:")
    else:
        st.altair_chart(charts.rejects_chart(rejects))
        charts.show_table(rejects, charts.REJECT_COLUMNS)
