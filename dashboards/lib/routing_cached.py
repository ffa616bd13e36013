"""Cached versions of the routing queries, for the routing page (same rules as `cached.py`).

`run_id` is the published pipeline run's id and only keys the cache: a new publish gives a new
key, so new routing runs and delivery states show on the next rerun instead of after the TTL.
What people asked for (retry requests in the operational store) is never cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from dashboards.lib import routing
from dashboards.lib.routing import DecisionFilters

TTL_SECONDS = 60


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def has_routing_runs(published_dir: str, run_id: str) -> bool:
    return routing.has_routing_runs(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def runs(published_dir: str, run_id: str) -> pl.DataFrame:
    return routing.runs(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def decision_options(
    published_dir: str, run_id: str, routing_run_id: str
) -> routing.DecisionOptions:
    return routing.decision_options(Path(published_dir), routing_run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def decisions(
    published_dir: str, run_id: str, routing_run_id: str, filters: DecisionFilters
) -> pl.DataFrame:
    return routing.decisions(Path(published_dir), routing_run_id, filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def explanation(published_dir: str, run_id: str, decision_id: str) -> dict[str, Any] | None:
    return routing.explanation(Path(published_dir), decision_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def open_queue(published_dir: str, run_id: str, routing_run_id: str) -> pl.DataFrame:
    return routing.open_queue(Path(published_dir), routing_run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def outbox_states(published_dir: str, run_id: str) -> dict[str, int]:
    return routing.outbox_states(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def outbox_by_destination(published_dir: str, run_id: str) -> pl.DataFrame:
    return routing.outbox_by_destination(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def dead_letters(published_dir: str, run_id: str) -> pl.DataFrame:
    return routing.dead_letters(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def retrying_actions(published_dir: str, run_id: str) -> pl.DataFrame:
    return routing.retrying_actions(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def attempts(published_dir: str, run_id: str, action_id: str) -> pl.DataFrame:
    return routing.attempts(Path(published_dir), action_id)
