"""Action log: every outbound action of any kind (fulfillment requests, purchase orders and
transfer requests, status updates, alerts …) with its state, attempts, last error, destination
and payload; the attempt history of one action; the retry of dead letters of any kind."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from dashboards.lib import action_log_cached as cached
from dashboards.lib.action_log import ActionFilters, parse_json, state_totals
from dashboards.lib.retry_panel import retry_panel
from dashboards.lib.routing_views import (
    ATTEMPT_COLUMNS,
    DEAD_LETTER_COLUMNS,
    STATE_LABELS,
    show,
)
from dashboards.lib.schema import OUTBOX_STATES
from dashboards.lib.tiles import NO_VALUE, fmt_int
from dashboards.lib.ui import data_as_of, data_section, require_published_run

NO_ACTIONS_TITLE = "No outbound action published yet"
MAX_PICKABLE = 1_000

COUNT_COLUMNS: dict[str, Any] = {
    "kind": st.column_config.TextColumn("Kind"),
    **{
        s: st.column_config.NumberColumn(label, format="localized")
        for s, label in STATE_LABELS.items()
    },
    "total": st.column_config.NumberColumn("Total", format="localized"),
}


def _time(label: str) -> Any:
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm:ss")


ACTION_COLUMNS: dict[str, Any] = {
    "created_at": _time("Created (UTC)"),
    "action_id": st.column_config.TextColumn("Action"),
    "kind": st.column_config.TextColumn("Kind"),
    "destination": st.column_config.TextColumn("Destination"),
    "state": st.column_config.TextColumn("State"),
    "channel_order_id": st.column_config.TextColumn("Order"),
    "attempts": st.column_config.NumberColumn(
        "Attempts (cycle)", format="localized", help="Attempts in the current retry cycle"
    ),
    "total_attempts": st.column_config.NumberColumn(
        "Attempts", format="localized", help="Every attempt, across retry cycles"
    ),
    "last_error": st.column_config.TextColumn("Last error", width="large"),
    "next_attempt_at": _time("Next attempt (UTC)"),
    "delivered_at": _time("Delivered (UTC)"),
}

RETRY_HISTORY_COLUMNS: dict[str, Any] = {
    "requested_by": st.column_config.TextColumn("Asked by"),
    "requested_role": st.column_config.TextColumn("Role"),
    "requested_at": st.column_config.TextColumn("Asked at (UTC)"),
    "applied_at": _time("Applied (UTC)"),
    "outcome": st.column_config.TextColumn("Outcome"),
}


def _day_bounds(picked: Any) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A date range from the date input -> [first day 00:00, last day 23:59:59]."""
    if not isinstance(picked, tuple | list) or not picked:
        return None, None
    first = dt.datetime.combine(picked[0], dt.time.min)
    last = dt.datetime.combine(picked[-1], dt.time(23, 59, 59))
    return first, last


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

st.title("Action log")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

present: bool | None = None
with data_section():
    present = cached.has_actions(*source)
if not present:
    if present is False:
        st.info(
            f"**{NO_ACTIONS_TITLE}.** This page lists every action the platform sends out "
            "(fulfillment requests from routing, reorder requests from planning, status "
            "updates to the channels …) with its delivery state and attempts. It fills in once "
            "a pipeline run has produced an action and published it.",
            icon=":material/outbox:",
        )
    st.stop()

with data_section():
    st.subheader("Actions by kind and state")
    everything = cached.counts(*source)
    totals = state_totals(everything)
    tiles = st.columns(len(OUTBOX_STATES) + 1)
    tiles[0].metric("Actions", fmt_int(totals["total"]), border=True, help="Every kind")
    for column, state in zip(tiles[1:], OUTBOX_STATES, strict=True):
        column.metric(STATE_LABELS[state], fmt_int(totals.get(state, 0)), border=True)
    other_states = {
        c: st.column_config.NumberColumn(c, format="localized")
        for c in everything.columns
        if c not in COUNT_COLUMNS
    }
    show(everything, COUNT_COLUMNS | other_states)

    st.subheader("Actions")
    opts = cached.options(*source)
    kind_col, state_col, dest_col = st.columns(3)
    kinds = kind_col.multiselect(
        "Kind", options=list(opts.kinds), placeholder="All kinds", key="actions_kinds"
    )
    states = state_col.multiselect(
        "State", options=list(opts.states), placeholder="All states", key="actions_states"
    )
    destinations = dest_col.multiselect(
        "Destination",
        options=list(opts.destinations),
        placeholder="All destinations",
        key="actions_destinations",
    )
    time_col, search_col = st.columns([1, 2])
    first_day = opts.first_created_at.date() if opts.first_created_at else None
    last_day = opts.last_created_at.date() if opts.last_created_at else None
    picked_days = time_col.date_input(
        "Created between (UTC)",
        value=(first_day, last_day),
        min_value=first_day,
        max_value=last_day,
        key="actions_created",
    )
    search = search_col.text_input(
        "Action id or order id",
        placeholder="contains… (e.g. webshop:1234)",
        key="actions_search",
    )
    created_from, created_to = _day_bounds(picked_days)
    filters = ActionFilters(
        tuple(kinds), tuple(states), tuple(destinations), created_from, created_to, search
    )
    listed, selected = cached.actions(*source, filters)
    st.caption(
        f"{fmt_int(selected)} action(s) in this selection"
        + (
            f"; the newest {fmt_int(listed.height)} are listed."
            if selected > listed.height
            else "."
        )
    )
    if selected:
        per_kind = cached.counts(*source, filters)
        st.caption(
            "By kind: "
            + "; ".join(
                f"{row['kind']} {fmt_int(row['total'])}" for row in per_kind.iter_rows(named=True)
            )
        )
    show(listed, ACTION_COLUMNS)

    st.markdown("**One action: payload and attempts**")
    pickable = listed.head(MAX_PICKABLE)
    labels = {
        row["action_id"]: f"{row['action_id'][:12]}… · {row['kind']} → {row['destination']} "
        f"({row['state']})"
        for row in pickable.iter_rows(named=True)
    }
    pick_col, id_col = st.columns(2)
    picked = pick_col.selectbox(
        "Action",
        options=list(labels),
        format_func=lambda action_id: labels.get(action_id, action_id),
        index=0 if labels else None,
        placeholder="No action in this selection",
        key="actions_pick",
        help=f"The first {MAX_PICKABLE:,} of the selection; type any action id on the right.",
    )
    typed = id_col.text_input("…or any action id", key="actions_action_id").strip()
    action_id = typed or picked
    if action_id:
        row = cached.action(*source, action_id)
        if row is None:
            st.warning(f"No action with id `{action_id}` in the published outbox.")
        else:
            st.markdown(
                "\n".join(
                    [
                        f"- **Action:** `{row['action_id']}`",
                        f"- **Kind:** {row['kind']} → **destination** {row['destination']}",
                        f"- **State:** {row['state']} · attempts {fmt_int(row['total_attempts'])}"
                        f" ({fmt_int(row['attempts'])} in this cycle)",
                        f"- **Order:** {row['channel_order_id'] or NO_VALUE}",
                        f"- **Created:** {row['created_at']:%Y-%m-%d %H:%M:%S} UTC · "
                        "**delivered:** "
                        + (
                            f"{row['delivered_at']:%Y-%m-%d %H:%M:%S} UTC"
                            if row["delivered_at"]
                            else NO_VALUE
                        ),
                        f"- **Last error:** {row['last_error'] or NO_VALUE}",
                        f"- **Produced by run:** `{row['source_run_id'] or NO_VALUE}`",
                    ]
                )
            )
            with st.expander("Payload", expanded=False):
                st.json(parse_json(row["payload"]), expanded=True)
            if row["ack"]:
                with st.expander("Acknowledgement from the destination"):
                    st.json(parse_json(row["ack"]))
            history = cached.attempts(*source, action_id)
            if history.is_empty():
                st.info(f"No delivery attempt recorded for `{action_id}` yet.")
            else:
                st.caption(
                    "Attempts in order. *Outcome* is the adapter's verdict on each attempt "
                    "(`retry` = a failure worth retrying); attempt numbers keep counting across "
                    "retry cycles."
                )
                show(history, ATTEMPT_COLUMNS)
            retried = cached.retries_applied(*source, action_id)
            if not retried.is_empty():
                st.caption("Retries people asked for, as the pipeline applied them")
                show(retried, RETRY_HISTORY_COLUMNS)

with data_section():
    st.subheader("Dead letters")
    dead = cached.dead_letters(*source, filters)
    if dead.is_empty():
        st.success(
            "No dead letter in this selection: every action was delivered or is still being tried.",
            icon=":material/check:",
        )
    else:
        st.caption(
            f"{fmt_int(dead.height)} action(s) of this selection failed every attempt of their "
            "cycle. **Retry** asks for a new cycle of attempts, whatever the kind; it is "
            "recorded in the operational store (never the warehouse) and applied once by the "
            "next delivery run, then sent by the run that delivers that kind."
        )
        show(dead, {"kind": st.column_config.TextColumn("Kind"), **DEAD_LETTER_COLUMNS})
        retry_panel(dead, bulk=True)
