"""Targets and alerts: the KPI targets in force (and every earlier version, with who set them),
a form for a signed-in manager to set or retire one, and the alerts raised on them.

Targets are written to the operational store (never the warehouse); the next run's alert step
judges them on the KPI catalogue and sends one alert per breach and day (docs/alerts.md).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import streamlit as st

from dashboards.lib import targets as tg
from dashboards.lib.auth import SET_TARGETS, PermissionDenied, can, roles_with
from dashboards.lib.published import read_run_info
from dashboards.lib.signin import current_user
from dashboards.lib.ui import data_as_of, data_section
from ops_actions.alerts.metrics import (
    DIMENSIONS,
    DIRECTION_WORDS,
    DIRECTIONS,
    EVERY_MEMBER,
    METRICS,
)
from ops_actions.alerts.targets import DEFAULT_MIN_VOLUME, TargetInput, TargetScope
from ops_actions.store import TargetConflict
from pipelines.settings import get_settings

FLASH_KEY = "tg_flash"
# Scope -> the version this session last saw: a change made by someone else since then is
# refused as a conflict instead of silently overwritten. (A bare string here would be shown:
# Streamlit's "magic" writes every expression statement of a page script.)
SEEN_KEY = "tg_seen_versions"

TARGET_COLUMNS: dict[str, Any] = {
    "kpi": st.column_config.TextColumn("KPI"),
    "weighting": st.column_config.TextColumn("Weighted by"),
    "dimension": st.column_config.TextColumn("Dimension"),
    "member": st.column_config.TextColumn("Member", help="* = each member alike"),
    "target": st.column_config.TextColumn("Target"),
    "min_volume": st.column_config.NumberColumn(
        "Min. volume", help="A day with less due volume is not judged", format="%.0f"
    ),
    "version": st.column_config.NumberColumn("Version", help="0 = the default"),
    "set_by": st.column_config.TextColumn("Set by"),
    "set_role": st.column_config.TextColumn("Role"),
    "set_at": st.column_config.TextColumn("At (UTC)"),
    "note": st.column_config.TextColumn("Note"),
}


def _scope_key(scope: TargetScope) -> str:
    return "|".join((scope.metric, scope.weighting, scope.dimension, scope.member))


def _after_write(message: str) -> None:
    st.session_state.pop(SEEN_KEY, None)
    st.session_state[FLASH_KEY] = message
    st.rerun()


def _write(action: Any, describe: str) -> None:
    """Run one write; show why when it is refused (nothing is written then)."""
    store = get_settings().ops_store_path
    try:
        stored = action()
    except PermissionDenied as exc:
        st.error(f"Nothing saved: {exc}.", icon=":material/lock:")
    except TargetConflict as exc:
        st.error(f"Nothing saved: {exc}.", icon=":material/group:")
    except ValueError as exc:
        st.error(f"Nothing saved: {exc}.")
    except (sqlite3.Error, OSError) as exc:
        st.error(f"Could not write the target to {store}: {exc}")
    else:
        _after_write(f"{describe} saved as version {stored.version}.")


st.title("Targets and alerts")
run = read_run_info(get_settings().published_dir)
if run is not None:
    data_as_of(run)
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY), icon=":material/task_alt:")

store_path = get_settings().ops_store_path
try:
    in_force = tg.in_force(store_path)
except sqlite3.Error as exc:
    st.error(f"Could not read the targets in {store_path}: {exc}")
    st.stop()
seen: dict[str, int] = st.session_state.setdefault(
    SEEN_KEY, {_scope_key(t.scope): t.version for t in in_force}
)

st.subheader("Targets in force")
st.caption(
    "Rates are judged on the KPI catalogue's day rows, each on the order day whose promises "
    "have come due (docs/alerts.md); a day with less due volume than the minimum is not judged. "
    "Version 0 is a default nobody has changed."
)
st.dataframe(tg.targets_frame(in_force), column_config=TARGET_COLUMNS, hide_index=True)

user = current_user()
may_set = can(user, SET_TARGETS)
if not may_set:
    who = " or ".join(roles_with(SET_TARGETS))
    st.caption(
        f":material/visibility: Read-only: setting targets needs a signed-in {who}"
        + (f"; {user.username} is a {user.role}." if user else " (sign in, left).")
    )
else:
    st.subheader("Set a target")
    metric_col, weight_col, dim_col, member_col = st.columns(4)
    metric_name = metric_col.selectbox(
        "KPI", options=list(METRICS), format_func=lambda m: METRICS[m].label, key="tg_metric"
    )
    m = METRICS[metric_name]
    weighting = weight_col.selectbox("Weighted by", options=m.weightings, key="tg_weighting")
    dimension = dim_col.selectbox("Dimension", options=DIMENSIONS, key="tg_dimension")
    member = member_col.text_input(
        "Member",
        value="all" if dimension == "all" else EVERY_MEMBER,
        disabled=dimension == "all",
        help=f"A channel, location, carrier or category; {EVERY_MEMBER} for each one alike",
        key=f"tg_member_{dimension}",
    )
    dir_col, value_col, volume_col = st.columns(3)
    direction = dir_col.selectbox(
        "Direction",
        options=DIRECTIONS,
        index=DIRECTIONS.index(m.default_direction),
        format_func=lambda d: DIRECTION_WORDS[d],
        key=f"tg_direction_{metric_name}",
    )
    unit = "%" if m.kind == "rate" else "hours"
    entered = value_col.number_input(
        f"Threshold ({unit})", value=95.0 if m.kind == "rate" else 72.0, key="tg_threshold"
    )
    min_volume = volume_col.number_input(
        "Minimum volume a day", value=DEFAULT_MIN_VOLUME, step=1.0, key="tg_min_volume"
    )
    note = st.text_input("Note (why this target)", key="tg_note")
    scope = TargetScope(metric_name, weighting or m.weightings[0], dimension or "all", member)
    threshold = entered / 100 if m.kind == "rate" else entered
    if st.button("Save target", type="primary"):
        item = TargetInput(scope, direction or m.default_direction, threshold, min_volume, note)
        _write(
            lambda: tg.save_target(user, store_path, item, seen.get(_scope_key(scope), 0)),
            scope.describe() if scope.member else "The target",
        )

    st.subheader("Retire a target")
    choices = {_scope_key(t.scope): t for t in in_force}
    picked = st.selectbox(
        "Target",
        options=list(choices),
        format_func=lambda k: f"{choices[k].scope.describe()}: {choices[k].describe()}",
        key="tg_retire_pick",
    )
    if picked and st.button("Retire target"):
        retired = choices[picked].scope
        _write(
            lambda: tg.retire_target(user, store_path, retired, seen.get(picked, 0)),
            f"Retirement of {retired.describe()}",
        )

st.subheader("Alerts raised")
with data_section():
    alerts = tg.recent_alerts(get_settings().published_dir) if run is not None else None
    if alerts is None or alerts.is_empty():
        st.info("No alert raised yet: no target was breached in a published run.")
    else:
        st.dataframe(alerts.drop("metric"), hide_index=True)

st.subheader("Every version")
history = tg.history_frame(store_path)
if history.is_empty():
    st.caption("Nobody has changed a target yet: the defaults are in force.")
else:
    st.dataframe(history, hide_index=True)
