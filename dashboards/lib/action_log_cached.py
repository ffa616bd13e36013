"""Cached versions of the action log queries (same rules as `routing_cached.py`): `run_id`, the
published pipeline run's id, only keys the cache, so a new publish shows on the next rerun.
Retry requests (the operational store) are never cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from dashboards.lib import action_log
from dashboards.lib.action_log import ActionFilters

TTL_SECONDS = 60


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def has_actions(published_dir: str, run_id: str) -> bool:
    return action_log.has_actions(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def options(published_dir: str, run_id: str) -> action_log.ActionOptions:
    return action_log.options(Path(published_dir))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def counts(published_dir: str, run_id: str, filters: ActionFilters | None = None) -> pl.DataFrame:
    return action_log.counts(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def actions(published_dir: str, run_id: str, filters: ActionFilters) -> tuple[pl.DataFrame, int]:
    return action_log.actions(Path(published_dir), filters)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def action(published_dir: str, run_id: str, action_id: str) -> dict[str, Any] | None:
    return action_log.action(Path(published_dir), action_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def attempts(published_dir: str, run_id: str, action_id: str) -> pl.DataFrame:
    return action_log.attempts(Path(published_dir), action_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def retries_applied(published_dir: str, run_id: str, action_id: str) -> pl.DataFrame:
    return action_log.retries_applied(Path(published_dir), action_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def dead_letters(published_dir: str, run_id: str, filters: ActionFilters) -> pl.DataFrame:
    return action_log.dead_letters(Path(published_dir), filters)
