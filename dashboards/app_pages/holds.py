"""Order holds: held orders by reason, filters, release or cancel in bulk, and the decisions
waiting for the next run.

Only a signed-in operator (or admin) may decide; everyone else sees the page read-only.
Decisions go to the operational store (never the warehouse) and take effect once, at the next
run's hold step: a released order is then routed, a cancelled one never is (docs/holds.md).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import polars as pl
import streamlit as st

from dashboards.lib import holds
from dashboards.lib.auth import HOLD_ORDER, PermissionDenied, can, roles_with
from dashboards.lib.holds import CANCEL, RELEASE, HoldFilters
from dashboards.lib.signin import current_user
from dashboards.lib.tiles import NO_VALUE, fmt_int
from dashboards.lib.ui import data_as_of, data_section, require_published_run
from ops_actions.store import HoldDecisionConflict
from pipelines.settings import get_settings

TTL_SECONDS = 60
FLASH_KEY = "ho_flash"
DECISION_LABELS = {RELEASE: "Release", CANCEL: "Cancel the order"}


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _open_holds(published_dir: str, run_id: str) -> pl.DataFrame | None:
    return holds.open_holds(published_dir)  # type: ignore[arg-type]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _resolved(published_dir: str, run_id: str) -> dict[str, int]:
    return holds.resolved_counts(published_dir)  # type: ignore[arg-type]


ORDER_COLUMNS: dict[str, Any] = {
    "channel_order_id": st.column_config.TextColumn("Order"),
    "channel": st.column_config.TextColumn("Channel"),
    "reasons": st.column_config.TextColumn("Held for"),
    "details": st.column_config.TextColumn("What to check", width="large"),
    "pending": st.column_config.TextColumn(
        "Decision waiting", help="Recorded; takes effect at the next run"
    ),
    "held_at": st.column_config.DatetimeColumn("Held at (UTC)"),
    "ordered_at": st.column_config.DatetimeColumn("Ordered at (UTC)"),
    "order_amount": st.column_config.NumberColumn("Value", format="%.2f"),
    "currency": st.column_config.TextColumn("Currency"),
    "customer_id": st.column_config.TextColumn("Customer"),
    "ship_to_postcode": st.column_config.TextColumn("Postcode"),
    "ship_to_country": st.column_config.TextColumn("Country"),
}
WAITING_COLUMNS: dict[str, Any] = {
    "channel_order_id": st.column_config.TextColumn("Order"),
    "hold_id": st.column_config.TextColumn("Hold"),
    "decision": st.column_config.TextColumn("Decision"),
    "decided_by": st.column_config.TextColumn("By"),
    "decided_role": st.column_config.TextColumn("Role"),
    "decided_at": st.column_config.TextColumn("At (UTC)"),
    "note": st.column_config.TextColumn("Note"),
}


def _record(orders: pl.DataFrame, decision: str, note: str) -> None:
    """Write the decisions as the signed-in user; the role is checked again where it writes."""
    store = get_settings().ops_store_path
    try:
        items = holds.decisions_for(orders, decision, note)
        ids = holds.record_operator_decisions(current_user(), store, items)
    except PermissionDenied as exc:
        st.error(f"Nothing recorded: {exc}.", icon=":material/lock:")
    except HoldDecisionConflict as exc:
        st.error(
            f"Nothing recorded — someone decided first: {exc}. Reload to see their decision.",
            icon=":material/group:",
        )
    except ValueError as exc:
        st.error(f"Nothing recorded: {exc}.")
    except (sqlite3.Error, OSError) as exc:
        st.error(f"Could not record the decision in {store}: {exc}")
    else:
        st.session_state[FLASH_KEY] = (
            f"{len(ids)} decision(s) recorded on {orders.height} order(s); "
            "they take effect at the next run."
        )
        st.rerun()


st.title("Order holds")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY), icon=":material/task_alt:")

open_holds = None
with data_section():
    open_holds = _open_holds(*source)
if open_holds is None:
    st.info(
        "**No holds published yet.** This page lists the orders held before routing (unknown "
        "SKU, address, payment, duplicate, risk rules) once a pipeline run with the hold step "
        "has published `ops_order_holds` (see `docs/holds.md`).",
        icon=":material/front_hand:",
    )
    st.stop()

user = current_user()
may_decide = can(user, HOLD_ORDER)
if not may_decide:
    who = " or ".join(roles_with(HOLD_ORDER))
    st.caption(
        f":material/visibility: Read-only: releasing or cancelling needs a signed-in {who}"
        + (f"; {user.username} is a {user.role}." if user else " (sign in, left).")
    )

store_path = get_settings().ops_store_path
try:
    decisions = holds.read_hold_decisions(store_path)
except sqlite3.Error as exc:
    st.warning(f"Could not read the decisions in {store_path}: {exc}", icon=":material/warning:")
    decisions = holds.decisions_frame([])

with data_section():
    resolved = _resolved(*source)
    reasons = holds.by_reason(open_holds)
    everything = holds.held_orders(open_holds, HoldFilters())
    pending = holds.waiting(decisions)
    tiles = [
        ("Held orders", fmt_int(everything.height), "Orders with at least one open hold"),
        ("Open holds", fmt_int(open_holds.height), "One per order and reason"),
        ("Decisions waiting", fmt_int(pending.height), "Recorded, for the next run"),
        ("Released", fmt_int(resolved.get(RELEASE, 0)), "Orders released so far"),
        ("Cancelled", fmt_int(resolved.get(CANCEL, 0)), "Orders cancelled so far"),
    ]
    for column, (label, shown, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(label, shown, help=help_text, border=True)

    st.subheader("Held orders by reason")
    st.dataframe(
        reasons,
        hide_index=True,
        column_config={
            "reason_code": st.column_config.TextColumn("Reason"),
            "holds": st.column_config.NumberColumn("Open holds"),
            "orders": st.column_config.NumberColumn("Orders"),
        },
    )

    cols = st.columns(3)
    filters = HoldFilters(
        reasons=tuple(
            cols[0].multiselect(
                "Reason", reasons["reason_code"].to_list(), placeholder="All", key="ho_reason"
            )
        ),
        channels=tuple(
            cols[1].multiselect(
                "Channel",
                sorted(c for c in open_holds["channel"].unique().to_list() if c),
                placeholder="All",
                key="ho_channel",
            )
        ),
        search=cols[2].text_input("Order id contains", key="ho_search"),
    )
    table = holds.with_decisions(holds.held_orders(open_holds, filters), decisions)
    st.caption(f"{fmt_int(table.height)} held order(s) in this selection, oldest hold first.")
    st.dataframe(
        table.select([c for c in ORDER_COLUMNS if c in table.columns]),
        hide_index=True,
        column_config=ORDER_COLUMNS,
        placeholder=NO_VALUE,
    )

    undecided = table.filter(pl.col("pending").is_null())
    with st.form("ho_decide"):
        st.markdown(
            f"**Release or cancel** — pick orders, or every undecided order of this selection "
            f"({fmt_int(undecided.height)}), in one transaction"
        )
        picked = st.multiselect(
            "Orders",
            undecided["channel_order_id"].to_list(),
            placeholder="Pick orders (or tick 'every order' below)",
            key="ho_pick",
        )
        every = st.checkbox("Every undecided order of this selection", key="ho_every")
        c1, c2 = st.columns([1, 3])
        choice = c1.radio(
            "Decision",
            list(DECISION_LABELS),
            format_func=lambda d: DECISION_LABELS[d],
            key="ho_decision",
        )
        note = c2.text_input("Note (why)", key="ho_note")
        if st.form_submit_button("Record decision", disabled=not may_decide):
            chosen = (
                undecided if every else undecided.filter(pl.col("channel_order_id").is_in(picked))
            )
            if chosen.is_empty():
                st.warning("Pick at least one order, or tick 'every undecided order'.")
            else:
                _record(chosen, choice, note)

    st.subheader("Decisions waiting for the next run")
    if pending.is_empty():
        st.caption("None: every decision recorded so far has been applied by a run.")
    else:
        st.dataframe(
            pending.select([c for c in WAITING_COLUMNS if c in pending.columns]),
            hide_index=True,
            column_config=WAITING_COLUMNS,
        )
