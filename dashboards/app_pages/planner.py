"""Planner: reorder suggestions with the figures they came from, a chart of demand history,
forecast and interval, and approve / reject / edit quantity one by one or in bulk, with a note.

Only a signed-in planner (or admin) may decide; everyone else sees the page read-only. Decisions
go to the operational store (never the warehouse) and are consumed by the next planning run.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from dashboards.lib import planner
from dashboards.lib.auth import APPROVE_REPLENISHMENT, PermissionDenied, can, roles_with
from dashboards.lib.planner import SuggestionFilters, explanation_figures
from dashboards.lib.signin import current_user
from dashboards.lib.tiles import NO_VALUE, fmt_int
from dashboards.lib.ui import data_as_of, data_section, require_published_run
from ops_actions.store import DecisionConflict, DecisionInput
from pipelines.settings import get_settings

TTL_SECONDS = 60
MAX_PICKABLE = 1_000
FLASH_KEY = "pl_flash"
STATUS_LABELS = {
    "undecided": "Undecided",
    "approved": "Approved",
    "rejected": "Rejected",
    "requested": "Requested",
}


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _has_suggestions(published_dir: str, run_id: str) -> bool | None:
    return planner.has_suggestions(published_dir)  # type: ignore[arg-type]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _options(published_dir: str, run_id: str) -> planner.SuggestionOptions:
    return planner.suggestion_options(published_dir)  # type: ignore[arg-type]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _suggestions(published_dir: str, run_id: str, filters: SuggestionFilters) -> pl.DataFrame:
    return planner.suggestions(published_dir, filters)  # type: ignore[arg-type]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _requests(published_dir: str, run_id: str) -> pl.DataFrame:
    return planner.request_states(published_dir)  # type: ignore[arg-type]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _series(
    published_dir: str, run_id: str, sku: str, location_id: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return planner.series(published_dir, sku, location_id)  # type: ignore[arg-type]


def _num(label: str, fmt: str = "%.1f", help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format=fmt, help=help)


SUGGESTION_COLUMNS: dict[str, Any] = {
    "status": st.column_config.TextColumn("Status"),
    "delivery_state": st.column_config.TextColumn(
        "Request", help="Delivery state of its reorder request"
    ),
    "sku": st.column_config.TextColumn("SKU"),
    "location_id": st.column_config.TextColumn("Location"),
    "kind": st.column_config.TextColumn("Kind"),
    "party_id": st.column_config.TextColumn("Supplier / source"),
    "abc_class": st.column_config.TextColumn("ABC"),
    "position": _num("Position"),
    "reorder_point": _num("ROP"),
    "suggested_qty": _num("Suggested", "%.0f"),
    "decided_qty": _num("Decided", "%.0f"),
    "suggested_value": _num("Value", "%.2f"),
    "decided_by": st.column_config.TextColumn("Decided by"),
    "decided_at": st.column_config.TextColumn("Decided at (UTC)"),
    "note": st.column_config.TextColumn("Note"),
}

STALE_COLUMNS: dict[str, Any] = {
    "suggestion_id": st.column_config.TextColumn("Suggestion"),
    "suggestion_version": st.column_config.TextColumn("Version approved"),
    "current": st.column_config.TextColumn("Current version", help="Empty: no longer suggested"),
    "quantity": _num("Quantity", "%.0f"),
    "decided_by": st.column_config.TextColumn("Approved by"),
    "decided_at": st.column_config.TextColumn("At (UTC)"),
}


def demand_chart(history: pl.DataFrame, forecast: pl.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Daily demand (line; stockout days marked), forecast (dashed) with 80 % and 95 % bands."""
    layers: list[Any] = []
    if not forecast.is_empty():
        base = alt.Chart(forecast).encode(x=alt.X("forecast_date:T", title=None))
        layers += [
            base.mark_area(opacity=0.15, color="#1f77b4").encode(
                y=alt.Y("units_lo_95:Q", title="Units per day"), y2="units_hi_95:Q"
            ),
            base.mark_area(opacity=0.3, color="#1f77b4").encode(
                y="units_lo_80:Q", y2="units_hi_80:Q"
            ),
            base.mark_line(strokeDash=[5, 3], color="#1f77b4").encode(
                y="units_forecast:Q",
                tooltip=[
                    alt.Tooltip("forecast_date:T", title="Date"),
                    alt.Tooltip("units_forecast:Q", title="Forecast", format=",.1f"),
                    alt.Tooltip("units_lo_80:Q", title="80 % low", format=",.1f"),
                    alt.Tooltip("units_hi_80:Q", title="80 % high", format=",.1f"),
                    alt.Tooltip("units_lo_95:Q", title="95 % low", format=",.1f"),
                    alt.Tooltip("units_hi_95:Q", title="95 % high", format=",.1f"),
                ],
            ),
        ]
    if not history.is_empty():
        hist = alt.Chart(history).encode(x=alt.X("demand_date:T", title=None))
        layers += [
            hist.mark_line(color="#333333").encode(
                y=alt.Y("units:Q", title="Units per day"),
                tooltip=[
                    alt.Tooltip("demand_date:T", title="Date"),
                    alt.Tooltip("units:Q", title="Units", format=",.0f"),
                    alt.Tooltip("is_stockout:N", title="Stockout"),
                ],
            ),
            hist.transform_filter("datum.is_stockout")
            .mark_point(color="#d62728", shape="triangle-down")
            .encode(y="units:Q"),
        ]
    return alt.layer(*layers).properties(height=280)


def _fmt(value: float | str | None) -> str:
    if value is None:
        return NO_VALUE
    if isinstance(value, str):
        return value
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _record(items: list[DecisionInput], where: Any) -> None:
    """Write decisions as the signed-in user; the role is checked again where it writes."""
    store = get_settings().ops_store_path
    try:
        ids = planner.record_planner_decisions(current_user(), store, items)
    except PermissionDenied as exc:
        where.error(f"Nothing recorded: {exc}.", icon=":material/lock:")
    except DecisionConflict as exc:
        where.error(
            f"Nothing recorded — someone decided first: {exc}. Reload to see their decision.",
            icon=":material/group:",
        )
    except ValueError as exc:
        where.error(f"Nothing recorded: {exc}.")
    except (sqlite3.Error, OSError) as exc:
        where.error(f"Could not record the decision in {store}: {exc}")
    else:
        # Rerun so the table shows the new decisions; the message survives the rerun.
        st.session_state[FLASH_KEY] = (
            f"{len(ids)} decision(s) recorded; the next planning run sends the approved ones."
        )
        st.rerun()


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

st.title("Replenishment planner")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY), icon=":material/task_alt:")

available = None
with data_section():
    available = _has_suggestions(*source)
if not available:
    st.info(
        "**No reorder suggestions published yet.** This page lists what to reorder, where, how "
        "much and why, once the planning models (`ops_reorder_suggestions`) have been built "
        "and published by a pipeline run (see `docs/reorders.md`)."
        if available is None
        else "**Nothing to reorder.** The latest planning run found every position above its "
        "reorder point.",
        icon=":material/inventory_2:",
    )
    st.stop()

user = current_user()
may_decide = can(user, APPROVE_REPLENISHMENT)
if not may_decide:
    who = " or ".join(roles_with(APPROVE_REPLENISHMENT))
    st.caption(
        f":material/visibility: Read-only: deciding needs a signed-in {who}"
        + (f"; {user.username} is a {user.role}." if user else " (sign in, left).")
    )

store_path = get_settings().ops_store_path
try:
    decisions = planner.read_decisions(store_path)
except sqlite3.Error as exc:
    st.warning(f"Could not read the decisions in {store_path}: {exc}", icon=":material/warning:")
    decisions = planner.decisions_frame([])

with data_section():
    options = _options(*source)
    cols = st.columns(5)
    filters = SuggestionFilters(
        kinds=tuple(
            cols[0].multiselect("Kind", options.kinds, placeholder="All kinds", key="pl_kind")
        ),
        suppliers=tuple(
            cols[1].multiselect(
                "Supplier / source", options.suppliers, placeholder="All", key="pl_sup"
            )
        ),
        locations=tuple(
            cols[2].multiselect("Location", options.locations, placeholder="All", key="pl_loc")
        ),
        abc_classes=tuple(
            cols[3].multiselect("ABC class", options.abc_classes, placeholder="All", key="pl_abc")
        ),
        search=cols[4].text_input("SKU contains", key="pl_search"),
    )
    statuses = st.multiselect(
        "Status",
        list(STATUS_LABELS),
        format_func=lambda s: STATUS_LABELS.get(s, s),
        placeholder="Every status",
        key="pl_status",
    )
    all_rows = _suggestions(*source, SuggestionFilters())
    table = planner.with_status(_suggestions(*source, filters), decisions, _requests(*source))
    if statuses:
        table = table.filter(pl.col("status").is_in(statuses))

    counts = planner.with_status(all_rows, decisions, _requests(*source))["status"].value_counts()
    by_status = dict(zip(counts["status"], counts["count"], strict=True))
    value = all_rows["suggested_value"].sum()
    currency = ", ".join(sorted({c for c in all_rows["currency"] if c})) or ""
    tiles = [
        ("Suggestions", fmt_int(all_rows.height), "Published by the latest planning run"),
        ("Value", f"{value:,.0f} {currency}".strip(), "Sum of suggested quantity × unit cost"),
        *[(STATUS_LABELS[s], fmt_int(by_status.get(s, 0)), None) for s in STATUS_LABELS],
    ]
    for column, (label, shown, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(label, shown, help=help_text, border=True)

    stale = planner.stale_decisions(all_rows, decisions)
    if not stale.is_empty():
        st.warning(
            f"**{stale.height} approval(s) are stale**: a newer planning run replaced the "
            "suggestion (other figures) or no longer suggests it, so they will not be sent. "
            "Decide the current version instead.",
            icon=":material/history:",
        )
        st.dataframe(
            stale.select([c for c in STALE_COLUMNS if c in stale.columns]),
            hide_index=True,
            column_config=STALE_COLUMNS,
        )

    st.caption(f"{fmt_int(table.height)} suggestion(s) in this selection, largest value first.")
    st.dataframe(
        table.select([c for c in SUGGESTION_COLUMNS if c in table.columns]),
        hide_index=True,
        column_config=SUGGESTION_COLUMNS,
        placeholder=NO_VALUE,
    )

    if not table.is_empty():
        pickable = table.head(MAX_PICKABLE)
        labels = {
            r["suggestion_id"]: f"{r['sku']} @ {r['location_id']} · {r['suggested_qty']:,.0f} · "
            f"{STATUS_LABELS.get(r['status'], r['status'])}"
            for r in pickable.iter_rows(named=True)
        }
        picked = st.selectbox(
            "Suggestion", list(labels), format_func=lambda s: labels.get(s, s), key="pl_pick"
        )
        row = table.filter(pl.col("suggestion_id") == picked).row(0, named=True)

        st.subheader(f"{row['sku']} at {row['location_id']}")
        st.markdown(f"**Why:** {row['explanation'] or NO_VALUE}")
        why_col, chart_col = st.columns([2, 3])
        with why_col:
            figures = explanation_figures(row)
            st.dataframe(
                pl.DataFrame(
                    {
                        "figure": [f.label for f in figures],
                        "value": [_fmt(f.value) for f in figures],
                        "meaning": [f.meaning for f in figures],
                    }
                ),
                hide_index=True,
            )
        with chart_col:
            history, forecast = _series(*source, str(row["sku"]), str(row["location_id"]))
            if history.is_empty() and forecast.is_empty():
                st.info("No demand history or forecast published for this SKU and location.")
            else:
                if not forecast.is_empty():
                    first = forecast.row(0, named=True)
                    st.caption(
                        f"Forecast method {first['method']} ({first['demand_class']} demand), "
                        f"backtest MASE {_fmt(first['mase'])}, bias {_fmt(first['bias'])}; "
                        "bands: 80 % and 95 % intervals."
                    )
                st.altair_chart(demand_chart(history, forecast))
        if row["status"] != "undecided":
            st.info(
                f"{STATUS_LABELS[row['status']]} by {row['decided_by']} at {row['decided_at']} UTC"
                f" · quantity {_fmt(row['decided_qty'])}"
                + (f" · note: {row['note']}" if row["note"] else "")
                + (f" · request {row['delivery_state']}" if row["delivery_state"] else ""),
                icon=":material/how_to_reg:",
            )
        # Drawn for a decided suggestion too: a planner who submitted just after someone else
        # decided then gets the conflict (with who and when) instead of a form that vanished.
        with st.form("pl_one"):
            st.markdown("**Decide this suggestion**")
            c1, c2, c3 = st.columns([1, 1, 3])
            choice = c1.radio(
                "Decision",
                ["approved", "rejected"],
                key=f"pl_one_decision_{row['suggestion_id']}",
                format_func=lambda d: "Approve" if d == "approved" else "Reject",
            )
            quantity = c2.number_input(
                "Quantity",
                min_value=0.0,
                value=float(row["suggested_qty"]),
                step=1.0,
                key=f"pl_one_qty_{row['suggestion_id']}",
                help="Edit to order another quantity",
            )
            note = c3.text_input("Note", key=f"pl_one_note_{row['suggestion_id']}")
            if st.form_submit_button("Record decision", disabled=not may_decide):
                _record(
                    [
                        DecisionInput(
                            str(row["suggestion_id"]),
                            str(row["suggestion_version"]),
                            choice,
                            quantity if choice == "approved" else None,
                            note,
                        )
                    ],
                    st,
                )

    undecided = table.filter(pl.col("status") == "undecided")
    with st.form("pl_bulk"):
        st.markdown(
            f"**Decide in bulk** — every undecided suggestion of this selection "
            f"({fmt_int(undecided.height)}), at its suggested quantity, in one transaction"
        )
        b1, b2 = st.columns([1, 4])
        bulk_choice = b1.radio(
            "Decision",
            ["approved", "rejected"],
            key="pl_bulk_decision",
            format_func=lambda d: "Approve all" if d == "approved" else "Reject all",
        )
        bulk_note = b2.text_input("Note", key="pl_bulk_note")
        if st.form_submit_button(
            "Record bulk decision", disabled=not may_decide or undecided.is_empty()
        ):
            _record(
                [
                    DecisionInput(
                        str(r["suggestion_id"]),
                        str(r["suggestion_version"]),
                        bulk_choice,
                        float(r["suggested_qty"]) if bulk_choice == "approved" else None,
                        bulk_note,
                    )
                    for r in undecided.iter_rows(named=True)
                ],
                st,
            )
