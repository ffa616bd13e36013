"""Order: find one order by any id it is known by, and see its whole story: its state and its
lines' states, every accepted state change from every source, the routing decisions with their
explanation, its holds and every action sent out for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from dashboards.lib import order_timeline_cached as cached
from dashboards.lib.action_log import parse_json
from dashboards.lib.published import MissingTableError
from dashboards.lib.routing_views import show
from dashboards.lib.tiles import NO_VALUE, fmt_int
from dashboards.lib.ui import data_as_of, data_section, require_published_run

# `?order=<id>` opens the page on that order (a link from elsewhere).
QUERY_PARAM = "order"


def _time(label: str) -> Any:
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm:ss")


def _text(label: str, **kwargs: Any) -> Any:
    return st.column_config.TextColumn(label, **kwargs)


def _count(label: str) -> Any:
    return st.column_config.NumberColumn(label, format="localized")


LINE_COLUMNS: dict[str, Any] = {
    "line_ref": _text("Line"),
    "sku": _text("SKU"),
    "quantity": _count("Quantity"),
    "state": _text("State"),
    "state_since": _time("Since (UTC)"),
    "units_shipped": _count("Shipped"),
    "units_delivered": _count("Delivered"),
    "units_cancelled": _count("Cancelled"),
    "units_returned": _count("Returned"),
    "units_refunded": _count("Refunded"),
    "carrier": _text("Carrier"),
    "tracking_number": _text("Tracking"),
    "last_event_at": _time("Last event (UTC)"),
}

TIMELINE_COLUMNS: dict[str, Any] = {
    "occurred_at": _time("Occurred (UTC)"),
    "line_ref": _text("Line"),
    "from_state": _text("From"),
    "to_state": _text("To"),
    "units": _count("Units"),
    "source": _text("Source"),
    "carrier": _text("Carrier"),
    "tracking_number": _text("Tracking"),
    "location_id": _text("Location"),
    "detail": _text("Detail", width="large"),
    "recorded_at": _time("Recorded (UTC)"),
    "source_event_id": _text("Source event"),
}

DECISION_COLUMNS: dict[str, Any] = {
    "decided_at": _time("Decided (UTC)"),
    "order_line_id": _text("Line"),
    "sku": _text("SKU"),
    "outcome": _text("Outcome"),
    "location_id": _text("Location"),
    "units": _count("Units"),
    "rule": _text("Rule"),
    "reason": _text("Why", width="large"),
    "total_cost": st.column_config.NumberColumn("Cost", format="%.2f"),
    "run_id": _text("Routing run"),
}

HOLD_COLUMNS: dict[str, Any] = {
    "held_at": _time("Held (UTC)"),
    "reason_code": _text("Reason"),
    "detail": _text("Detail", width="large"),
    "rules_version": _text("Rules version"),
    "resolution": _text("Resolution"),
    "resolved_at": _time("Resolved (UTC)"),
    "resolved_by": _text("By"),
}

ACTION_COLUMNS: dict[str, Any] = {
    "created_at": _time("Created (UTC)"),
    "kind": _text("Kind"),
    "destination": _text("Destination"),
    "state": _text("State"),
    "total_attempts": _count("Attempts"),
    "last_error": _text("Last error", width="large"),
    "delivered_at": _time("Delivered (UTC)"),
    "action_id": _text("Action"),
}


def _section(title: str, read: Callable[[], pl.DataFrame], missing: str) -> pl.DataFrame | None:
    """A section's table, or a note when the published run does not hold its source."""
    st.subheader(title)
    try:
        return read()
    except MissingTableError:
        st.info(missing, icon=":material/info:")
        return None


def _pick_json(
    frame: pl.DataFrame, label: str, key: str, id_column: str, text_column: str, describe: Any
) -> None:
    """A picker over `frame`'s rows and the JSON document of the picked one."""
    labels = {row[id_column]: describe(row) for row in frame.iter_rows(named=True)}
    picked = st.selectbox(
        label, options=list(labels), format_func=lambda v: labels.get(v, v), key=key
    )
    if picked is not None:
        text = frame.filter(pl.col(id_column) == picked)[text_column][0]
        st.json(parse_json(text), expanded=False)


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

st.title("Order")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

initial = st.query_params.get(QUERY_PARAM, "")
if "order_search" not in st.session_state and initial:
    st.session_state["order_search"] = initial
text = st.text_input(
    "Order id",
    placeholder="web shop id or #name, marketplace order-id, POS store-register-receipt, "
    "wholesale PO number, or channel:order_id",
    key="order_search",
).strip()

if not text:
    st.info(
        "Type any id the order is known by: the web shop's order id or its name (`#12345`), "
        "the marketplace order-id, the store receipt as store-register-receipt, the "
        "wholesale PO number, or the platform's `channel:order_id`.",
        icon=":material/search:",
    )
    st.stop()

matches: list[Any] = []
with data_section():
    matches = cached.find_orders(*source, text)
if not matches:
    st.warning(
        f"**No order is known by `{text}`** in the published data (pipeline run "
        f"`{published.run.run_id}`). Check the id, or the channel: ids are matched whole, "
        "case aside; an order placed after this run shows once the next run is published.",
        icon=":material/search_off:",
    )
    st.stop()

if len(matches) > 1:
    by_id = {m.channel_order_id: m for m in matches}
    chosen = st.selectbox(
        f"{len(matches)} orders are known by `{text}`",
        options=list(by_id),
        format_func=lambda c: f"{c} ({by_id[c].channel}; {by_id[c].matched})",
        key="order_match",
    )
    match = by_id[chosen]
else:
    match = matches[0]
order = match.channel_order_id
st.query_params[QUERY_PARAM] = order
st.caption(
    f"`{order}` · channel {match.channel} · order {match.order_id} · found by {match.matched}"
)

with data_section():
    try:
        state = cached.order_state(*source, order)
    except MissingTableError:
        state = None
    tiles = st.columns(5)
    if state is None:
        st.info(
            "This order has no lifecycle state in the published run yet (fct_order_states).",
            icon=":material/info:",
        )
    else:
        held = "yes" if state["is_held"] else "no"
        tiles[0].metric("State", str(state["state"]), border=True)
        since = state["state_since"]
        tiles[1].metric(
            "Since (UTC)", f"{since:%Y-%m-%d %H:%M}" if since else NO_VALUE, border=True
        )
        tiles[2].metric("Lines", fmt_int(state["lines"]), border=True)
        tiles[3].metric("Units", fmt_int(state["units"]), border=True)
        tiles[4].metric("Held", held, border=True, help=state["hold_reasons"] or None)

with data_section():
    lines = _section(
        "Lines",
        lambda: cached.order_lines(*source, order),
        "The published run has no line states (fct_order_line_states).",
    )
    if lines is not None:
        show(lines, LINE_COLUMNS)

with data_section():
    history = _section(
        "Timeline",
        lambda: cached.timeline(*source, order),
        "The published run has no lifecycle transitions (fct_order_line_transitions).",
    )
    if history is not None:
        st.caption(
            f"{fmt_int(history.height)} accepted state change(s) of the order's lines, from "
            "every source, in business time. *Recorded* is when the platform learned of it: a "
            "late event keeps its own time."
        )
        show(history, TIMELINE_COLUMNS)

with data_section():
    decisions = _section(
        "Routing decisions",
        lambda: cached.routing_decisions(*source, order),
        "No routing run has been published yet.",
    )
    if decisions is not None:
        if decisions.is_empty():
            st.caption("No routing run decided on this order's lines.")
        else:
            show(decisions, DECISION_COLUMNS)
            _pick_json(
                decisions,
                "Explain a decision",
                "order_decision",
                "decision_id",
                "explanation",
                lambda r: (
                    f"{r['order_line_id']} · {r['outcome']}"
                    + (f" @ {r['location_id']}" if r["location_id"] else "")
                    + f" · {r['decided_at']:%Y-%m-%d %H:%M}"
                ),
            )

with data_section():
    held_rows = _section(
        "Holds",
        lambda: cached.holds(*source, order),
        "No order holds are published (the holds step has not run).",
    )
    if held_rows is not None:
        if held_rows.is_empty():
            st.caption("This order was never held.")
        else:
            show(held_rows, HOLD_COLUMNS)

with data_section():
    sent = _section(
        "Actions sent",
        lambda: cached.actions(*source, order),
        "No outbound action has been published yet.",
    )
    if sent is not None:
        if sent.is_empty():
            st.caption("No action was sent out for this order.")
        else:
            st.caption(
                f"{fmt_int(sent.height)} action(s) for this order; the Action log page shows "
                "every attempt and retries dead letters."
            )
            show(sent, ACTION_COLUMNS)
            _pick_json(
                sent,
                "Payload of",
                "order_action",
                "action_id",
                "payload",
                lambda r: (
                    f"{r['kind']} → {r['destination']} ({r['state']}) · {r['action_id'][:12]}…"
                ),
            )
