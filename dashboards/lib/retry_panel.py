"""The retry of dead-lettered actions, as the pages show it: one piece for every kind of action,
used by the Action log page (every kind) and the Routing page (its fulfillment requests).

A click records a retry request in the operational store through `dashboards.lib.actions`
(which checks the user's role again: a disabled button is no protection on its own); the next
pipeline step that delivers applies it exactly once (`ops_actions/retries.py`). Nothing here
is cached: what people asked for is read live.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import polars as pl
import streamlit as st

from dashboards.lib.actions import retry_dead_letter
from dashboards.lib.auth import RETRY_DELIVERY, PermissionDenied, User, can, roles_with
from dashboards.lib.signin import current_user
from dashboards.lib.tiles import NO_VALUE, fmt_int
from ops_actions.reorders.decide import REORDER_KINDS
from ops_actions.run_routing import FULFILLMENT_KIND
from ops_actions.store import open_retry_requests
from pipelines.settings import get_settings

RETRY_MESSAGE = "retry requested — it will be sent on the next delivery run (every minute)"
"""For fulfillment requests: the `deliver_due` job (every minute) requeues and sends them."""

EVERY_MINUTE = "the next delivery run (every minute)"
SENT_BY = {
    FULFILLMENT_KIND: EVERY_MINUTE,
    "status_update": EVERY_MINUTE,  # the deliver_due job sends the channels' status updates
    **dict.fromkeys(REORDER_KINDS, "the next planning run (daily, 05:30 UTC)"),
}
"""Which run sends a requeued action of each kind (every delivering step requeues them all)."""

MAX_RETRY_ROWS = 100
RETRY_ROW_HEIGHT = 48


def retry_message(kind: str | None) -> str:
    """What the user is told after asking to retry an action of `kind`."""
    if kind is None or SENT_BY.get(kind) == EVERY_MINUTE:
        return RETRY_MESSAGE
    when = SENT_BY.get(kind, f"the next run that delivers {kind} actions")
    return f"retry requested — it will be sent on {when}"


def open_requests() -> dict[str, str]:
    """action_id -> when a retry was requested, for requests no pipeline step consumed yet
    (nothing is created when the store does not exist yet)."""
    path = get_settings().ops_store_path
    if not path.exists():
        return {}
    try:
        return {r.action_id: r.requested_at for r in open_retry_requests(path)}
    except sqlite3.Error as exc:
        st.warning(f"Could not read the retry requests in {path}: {exc}", icon=":material/warning:")
        return {}


def _request(
    user: User | None, rows: Sequence[dict[str, object]], where: st.delta_generator.DeltaGenerator
) -> None:
    store = get_settings().ops_store_path
    for row in rows:
        action_id = str(row["action_id"])
        kind = None if row.get("kind") is None else str(row["kind"])
        try:
            # checks the role again: a disabled button is no protection on its own
            retry_dead_letter(user, store, action_id)
        except PermissionDenied as exc:
            where.error(f"Not retried: {exc}.", icon=":material/lock:")
            return
        except (sqlite3.Error, OSError) as exc:
            where.error(f"Could not record the retry request in {store}: {exc}")
            return
        where.success(
            f"`{action_id[:12]}…`: {retry_message(kind)}", icon=":material/schedule_send:"
        )


def retry_panel(
    dead: pl.DataFrame, *, key_prefix: str = "retry_", bulk: bool = False, max_rows: int = 100
) -> None:
    """A Retry button per dead letter of `dead` (columns action_id, destination, order_id,
    last_error, total_attempts; `kind` when there are several kinds), the most recent
    `max_rows` of them, and with `bulk` one button retrying all of those."""
    if dead.is_empty():
        return
    requested = open_requests()
    user = current_user()
    may_retry = can(user, RETRY_DELIVERY)
    if not may_retry:
        who = " or ".join(roles_with(RETRY_DELIVERY))
        st.caption(
            f"Retrying needs a signed-in {who}"
            + (f"; {user.username} is a {user.role}." if user else " (sign in, left).")
        )
    shown = dead.head(max_rows)
    if dead.height > max_rows:
        st.caption(f"Retry buttons for the {max_rows} most recent dead letters.")
    rows = shown.to_dicts()
    if bulk:
        waiting = [r for r in rows if str(r["action_id"]) not in requested]
        if st.button(
            f"Retry all {fmt_int(len(waiting))} dead letter(s) listed",
            key=f"{key_prefix}all",
            icon=":material/replay:",
            disabled=not may_retry or not waiting,
            help="One retry request per dead letter listed below that has none open yet",
        ):
            _request(user, waiting, st.container())
    retry_list = st.container(
        height=min(RETRY_ROW_HEIGHT * len(rows) + 24, 8 * RETRY_ROW_HEIGHT), border=True
    )
    for row in rows:
        action_id = str(row["action_id"])
        cells = retry_list.columns([2, 2, 2, 4, 2], vertical_alignment="center")
        kind = f" · {row['kind']}" if row.get("kind") else ""
        cells[0].markdown(f"`{action_id[:12]}…`{kind}")
        cells[1].markdown(f"→ {row['destination']}")
        cells[2].markdown(f"order {row.get('order_id') or NO_VALUE}")
        cells[3].markdown(
            f"{row['last_error'] or NO_VALUE} · {fmt_int(row['total_attempts'])} attempt(s)"
        )
        clicked = cells[4].button(
            "Retry",
            key=f"{key_prefix}{action_id}",
            icon=":material/replay:",
            disabled=not may_retry,
        )
        if clicked:
            _request(user, [row], retry_list)
        elif action_id in requested:
            cells[4].caption(f"retry requested {requested[action_id]} UTC")
