"""Cached versions of the query functions, for the pages.

Each wrapper takes the published run's `run_id` as an extra argument that only keys the cache:
a new run gives a new key, so its data shows on the next rerun instead of after the TTL.
Arguments are hashable by Streamlit (the published folder as a string, frozen dataclasses).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl
import streamlit as st

from dashboards.lib import breakdowns, inventory, kpis, quality, targets
from dashboards.lib.kpis import Filters

TTL_SECONDS = 60


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def filter_options(published_dir: str, run_id: str) -> kpis.FilterOptions:
    return kpis.filter_options(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def headline_kpis(published_dir: str, run_id: str, filters: Filters) -> kpis.Kpis:
    return kpis.headline_kpis(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def daily_trend(published_dir: str, run_id: str, filters: Filters) -> pl.DataFrame:
    return kpis.daily_trend(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def breakdown(
    published_dir: str, run_id: str, filters: Filters, by: Literal["channel", "location"]
) -> pl.DataFrame:
    return kpis.breakdown(Path(published_dir), filters, by)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def batches(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.batches(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def source_summary(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.source_summary(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def unmatched_lines(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.unmatched_lines(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def rejects(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.rejects(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def recent_alerts(published_dir: str, run_id: str) -> pl.DataFrame | None:
    return targets.recent_alerts(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def biggest_movers(published_dir: str, run_id: str, filters: Filters, rate: str) -> pl.DataFrame:
    return kpis.biggest_movers(Path(published_dir), filters, rate)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def freshness(
    published_dir: str, run_id: str, now: datetime, max_age_hours: tuple[tuple[str, float], ...]
) -> pl.DataFrame:
    """`now` keys the cache too: the page passes it to the minute, so ages stay current."""
    return quality.freshness(Path(published_dir), now, dict(max_age_hours))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def inventory_options(published_dir: str, run_id: str) -> inventory.InventoryOptions:
    return inventory.filter_options(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def inventory_headline(
    published_dir: str, run_id: str, filters: inventory.InventoryFilters
) -> inventory.InventoryHeadline:
    return inventory.headline(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def inventory_by_location(
    published_dir: str, run_id: str, filters: inventory.InventoryFilters
) -> pl.DataFrame:
    return inventory.by_location(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def inventory_lowest_cover(
    published_dir: str, run_id: str, filters: inventory.InventoryFilters
) -> pl.DataFrame:
    return inventory.lowest_cover(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def by_dimension(
    published_dir: str, run_id: str, filters: Filters, kpi: str, dimension: str
) -> pl.DataFrame:
    return breakdowns.by_dimension(Path(published_dir), filters, kpi, dimension)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def by_sku(
    published_dir: str, run_id: str, filters: Filters, kpi: str, dimension: str, member: str
) -> pl.DataFrame:
    return breakdowns.by_sku(Path(published_dir), filters, kpi, dimension, member)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def kpi_lines(
    published_dir: str,
    run_id: str,
    filters: Filters,
    kpi: str,
    dimension: str,
    member: str,
    sku: str | None,
    only_against: bool,
) -> pl.DataFrame:
    return breakdowns.lines(Path(published_dir), filters, kpi, dimension, member, sku, only_against)
