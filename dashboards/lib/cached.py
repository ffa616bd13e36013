"""Cached versions of the query functions, for the pages.

Each wrapper takes the published run's `run_id` as an extra argument that only keys the cache:
a new run gives a new key, so its data shows on the next rerun instead of after the TTL.
Arguments are plain hashable values (the published folder as a string, dates, tuples).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl
import streamlit as st

from dashboards.lib import kpis, quality

TTL_SECONDS = 60


def _filters(
    start: date, end: date, channels: tuple[str, ...], locations: tuple[str, ...]
) -> kpis.Filters:
    return kpis.Filters(start=start, end=end, channels=channels, locations=locations)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def filter_options(published_dir: str, run_id: str) -> kpis.FilterOptions:
    return kpis.filter_options(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def headline_kpis(
    published_dir: str,
    run_id: str,
    start: date,
    end: date,
    channels: tuple[str, ...],
    locations: tuple[str, ...],
) -> kpis.Kpis:
    return kpis.headline_kpis(Path(published_dir), _filters(start, end, channels, locations))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def daily_trend(
    published_dir: str,
    run_id: str,
    start: date,
    end: date,
    channels: tuple[str, ...],
    locations: tuple[str, ...],
) -> pl.DataFrame:
    return kpis.daily_trend(Path(published_dir), _filters(start, end, channels, locations))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def breakdown(
    published_dir: str,
    run_id: str,
    start: date,
    end: date,
    channels: tuple[str, ...],
    locations: tuple[str, ...],
    by: Literal["channel", "location"],
) -> pl.DataFrame:
    return kpis.breakdown(Path(published_dir), _filters(start, end, channels, locations), by)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def batches(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.batches(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def source_summary(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.source_summary(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def rejects(published_dir: str, run_id: str) -> pl.DataFrame:
    return quality.rejects(Path(published_dir))
