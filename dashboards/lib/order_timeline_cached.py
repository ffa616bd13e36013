"""Cached versions of the order page's queries: one entry per (published run, order), so an
order read once is not read again until a new run is published (`run_id` only keys the
cache, as in `routing_cached.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from dashboards.lib import action_log, order_timeline

TTL_SECONDS = 300


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def find_orders(published_dir: str, run_id: str, text: str) -> list[order_timeline.Match]:
    return order_timeline.find_orders(Path(published_dir), text)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def order_state(published_dir: str, run_id: str, channel_order_id: str) -> dict[str, Any] | None:
    return order_timeline.order_state(Path(published_dir), channel_order_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def order_lines(published_dir: str, run_id: str, channel_order_id: str) -> pl.DataFrame:
    return order_timeline.order_lines(Path(published_dir), channel_order_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def timeline(published_dir: str, run_id: str, channel_order_id: str) -> pl.DataFrame:
    return order_timeline.timeline(Path(published_dir), channel_order_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def routing_decisions(published_dir: str, run_id: str, channel_order_id: str) -> pl.DataFrame:
    return order_timeline.routing_decisions(Path(published_dir), channel_order_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def holds(published_dir: str, run_id: str, channel_order_id: str) -> pl.DataFrame:
    return order_timeline.holds(Path(published_dir), channel_order_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def actions(published_dir: str, run_id: str, channel_order_id: str) -> pl.DataFrame:
    return action_log.order_actions(Path(published_dir), channel_order_id)
