"""Routing: the scheduled routing runs, what they decided and why, the lines waiting for stock,
and the delivery of the decisions to the warehouses (with a retry for dead letters)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards.lib import routing_cached as cached
from dashboards.lib.retry_panel import retry_panel
from dashboards.lib.routing import DecisionFilters, explanation_view, parse_figures, stage_figures
from dashboards.lib.routing_views import (
    ALTERNATIVE_COLUMNS,
    ATTEMPT_COLUMNS,
    DEAD_LETTER_COLUMNS,
    DECISION_COLUMNS,
    DESTINATION_COLUMNS,
    QUEUE_COLUMNS,
    RUN_COLUMNS,
    STATE_LABELS,
    money_text,
    show,
    split_rate_chart,
    unfilled_chart,
)
from dashboards.lib.schema import DEAD_LETTER, OUTBOX_STATES
from dashboards.lib.tiles import NO_VALUE, fmt_int, fmt_pct
from dashboards.lib.ui import data_as_of, data_section, require_published_run

NO_ROUTING_TITLE = "No routing run published yet"
RECENT_RUNS_SHOWN = 20
MAX_DECISIONS_PICKABLE = 1_000


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

st.title("Routing")
published = require_published_run()
data_as_of(published.run)
source = (published.published_dir, published.run.run_id)

available: bool | None = None
with data_section():
    available = cached.has_routing_runs(*source)
if not available:
    if available is False:
        st.info(
            f"**{NO_ROUTING_TITLE}.** This page follows the scheduled routing runs: which "
            "location ships each open order line and why, the lines waiting for stock, and the "
            "delivery of the decisions to the warehouses. It fills in once a routing run has "
            "happened and a pipeline run has published it (see `docs/routing.md`).",
            icon=":material/alt_route:",
        )
    st.stop()

latest_run_id: str | None = None
runs = pl.DataFrame()

with data_section():
    runs = cached.runs(*source)
    latest = runs.row(0, named=True)
    latest_run_id = str(latest["run_id"])
    figures = parse_figures(latest["figures"])
    committed = latest["committed_at"] or latest["started_at"]

    st.subheader("Latest routing run")
    st.caption(
        f"Run `{latest_run_id}` committed {committed:%Y-%m-%d %H:%M:%S} UTC · rules version "
        f"`{latest['rules_version']}` (sha `{str(latest['rules_sha'])[:12]}`) · "
        f"method {latest['method']}"
    )
    tiles: list[tuple[str, str, str]] = [
        ("Lines routed", fmt_int(latest["lines_routed"]), "Open order lines the run decided on"),
        ("Allocated", fmt_int(latest["units_allocated"]), "Units sent to a location"),
        (
            "Backordered",
            fmt_int(latest["units_backordered"]),
            "Units waiting for stock; the next run routes them again",
        ),
        ("Cancelled", fmt_int(latest["units_cancelled"]), "Units the rules cancelled"),
        (
            "Total cost",
            fmt_int(latest["total_cost"]),
            "Sum of the decisions' cost: shipping, handling, lateness, shipment base costs, "
            "split and unfilled penalties (see the table for cents)",
        ),
    ]
    if latest["gap"] is not None:
        tiles.append(
            (
                "Gap to bound",
                f"{latest['gap']:.2%}",
                "How far the run's objective is above its lower bound (figures.gap)",
            )
        )
    if latest["cost_vs_greedy"] is not None:
        tiles.append(
            (
                "Cost vs greedy",
                f"{latest['cost_vs_greedy']:.3f}",
                "Solver cost / greedy baseline cost (below 1: the solver is cheaper)",
            )
        )
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(label, value, help=help_text, border=True)

    st.markdown(f"**Recent runs** (newest first, up to {RECENT_RUNS_SHOWN})")
    show(runs.head(RECENT_RUNS_SHOWN), RUN_COLUMNS, percent=("split_rate", "gap"))
    with st.expander("Figures reported by the latest run"):
        stages = stage_figures(figures)
        if not stages.is_empty():
            st.markdown("**Per stage** (routing × rule)")
            st.dataframe(stages, hide_index=True)
        st.json(figures, expanded=False)

    st.subheader("Split rate")
    split_tiles = st.columns(5)
    split_tiles[0].metric(
        "Split rate",
        fmt_pct(latest["split_rate"]),
        help="Orders of the latest run shipped from more than one location / orders it shipped",
        border=True,
    )
    split_tiles[1].metric("Orders shipped", fmt_int(latest["orders_shipped"]), border=True)
    split_tiles[2].metric("Orders split", fmt_int(latest["orders_split"]), border=True)
    split_tiles[3].metric("Lines backordered", fmt_int(latest["lines_backordered"]), border=True)
    split_tiles[4].metric("Lines cancelled", fmt_int(latest["lines_cancelled"]), border=True)
    trend = runs.with_columns(pl.coalesce("committed_at", "started_at").alias("committed_at"))
    split_col, unfilled_col = st.columns(2)
    with split_col:
        st.markdown("**Split rate per run**")
        st.altair_chart(split_rate_chart(trend))
    with unfilled_col:
        st.markdown("**Lines backordered and cancelled per run**")
        st.altair_chart(unfilled_chart(trend))

if latest_run_id is not None:
    with data_section():
        st.subheader("Open queue")
        queue = cached.open_queue(*source, latest_run_id)
        if queue.is_empty():
            st.success(
                "Nothing is waiting for stock: the latest run backordered no line.",
                icon=":material/check:",
            )
        else:
            st.caption(
                f"{fmt_int(queue.height)} line(s), {fmt_int(int(queue['units'].sum()))} unit(s) "
                "backordered by the latest run: they wait for stock and the next run routes "
                "them again. Earliest promise first."
            )
            show(queue, QUEUE_COLUMNS)

    with data_section():
        st.subheader("Decisions and why")
        options = cached.decision_options(*source, latest_run_id)
        outcome_col, location_col, channel_col, search_col = st.columns(4)
        outcomes = outcome_col.multiselect(
            "Outcome",
            options=list(options.outcomes),
            placeholder="All outcomes",
            key="routing_outcomes",
        )
        locations = location_col.multiselect(
            "Location",
            options=list(options.locations),
            placeholder="All locations",
            key="routing_locations",
        )
        channels = channel_col.multiselect(
            "Channel",
            options=list(options.channels),
            placeholder="All channels",
            key="routing_channels",
        )
        search = search_col.text_input(
            "Order or line id", placeholder="contains…", key="routing_order_search"
        )
        filters = DecisionFilters(tuple(outcomes), tuple(locations), tuple(channels), search)
        table = cached.decisions(*source, latest_run_id, filters)
        st.caption(f"{fmt_int(table.height)} decision(s) of the latest run in this selection.")
        show(table, DECISION_COLUMNS)

        if not table.is_empty():
            pickable = table.head(MAX_DECISIONS_PICKABLE)
            labels = {
                row["decision_id"]: f"{row['order_id']} · {row['order_line_id']} · "
                f"{row['outcome']}" + (f" @ {row['location_id']}" if row["location_id"] else "")
                for row in pickable.iter_rows(named=True)
            }
            picked = st.selectbox(
                "Explain a decision",
                options=list(labels),
                format_func=lambda decision_id: labels.get(decision_id, decision_id),
                key="routing_decision",
                help=f"The first {MAX_DECISIONS_PICKABLE:,} decisions of the selection; "
                "search an order to find one further down.",
            )
            doc = cached.explanation(*source, picked) if picked else None
            if doc is None:
                st.info("This decision has no explanation.")
            else:
                view = explanation_view(doc)
                why_col, alternatives_col = st.columns([2, 3])
                with why_col:
                    tried = " → ".join(f"`{rule}`" for rule in view.rules_tried)
                    st.markdown(
                        "\n".join(
                            [
                                f"- **Outcome:** {view.outcome or NO_VALUE}",
                                f"- **Routing:** `{view.routing or NO_VALUE}`",
                                f"- **Rule that applied:** `{view.rule or NO_VALUE}`",
                                f"- **Rules tried before:** {tried or 'none (first rule)'}",
                                f"- **Why:** {view.reason or NO_VALUE}",
                                f"- **Split:** {view.split or NO_VALUE}",
                                f"- **Units:** {fmt_int(view.units)}",
                                f"- **Cost per unit:** {money_text(view.cost_per_unit)}",
                                f"- **Rules version:** `{view.rules_version or NO_VALUE}`",
                            ]
                        )
                    )
                    if view.other:
                        st.json(view.other, expanded=False)
                with alternatives_col:
                    considered = fmt_int(view.locations_considered)
                    st.markdown(
                        f"**Alternatives considered** ({considered} eligible location(s); "
                        "the cheapest are listed)"
                    )
                    if view.alternatives.is_empty():
                        st.caption("No location could take this line under the rule.")
                    else:
                        show(view.alternatives, ALTERNATIVE_COLUMNS)
                with st.expander("Explanation JSON"):
                    st.json(doc)

with data_section():
    st.subheader("Deliveries")
    states = cached.outbox_states(*source)
    state_tiles = st.columns(len(OUTBOX_STATES))
    for column, state in zip(state_tiles, OUTBOX_STATES, strict=True):
        column.metric(STATE_LABELS[state], fmt_int(states[state]), border=True)
    others = {s: n for s, n in states.items() if s not in OUTBOX_STATES}
    if others:
        st.caption("Other states: " + ", ".join(f"{s} {fmt_int(n)}" for s, n in others.items()))
    st.markdown("**By destination**")
    show(cached.outbox_by_destination(*source), DESTINATION_COLUMNS)

    st.markdown("**Dead letters**")
    dead = cached.dead_letters(*source)
    if dead.is_empty():
        st.success(
            "No dead letter: every request was delivered or is still being tried.",
            icon=":material/check:",
        )
    else:
        st.caption(
            "Fulfillment requests that failed every attempt of their cycle (every kind of "
            "action: the Action log page). **Retry** asks the delivery job for a new cycle of "
            "attempts; it is recorded in the operational store (never the warehouse) and "
            "consumed by the next delivery run."
        )
        show(dead, DEAD_LETTER_COLUMNS)
        retry_panel(dead)

    st.markdown("**Delivery attempts of an action**")
    retrying = cached.retrying_actions(*source)
    failed = pl.concat(
        [
            dead.select("action_id", "destination", pl.lit(DEAD_LETTER).alias("state")),
            retrying.select("action_id", "destination", "state"),
        ]
    )
    label_of = {
        row["action_id"]: f"{row['action_id'][:12]}… → {row['destination']} ({row['state']})"
        for row in failed.iter_rows(named=True)
    }
    pick_col, id_col = st.columns(2)
    picked_action = pick_col.selectbox(
        "Failed action",
        options=list(label_of),
        format_func=lambda action_id: label_of.get(action_id, action_id),
        index=0 if label_of else None,
        placeholder="No failed action",
        key="routing_attempts_action",
        help="Dead letters, then actions still being retried",
    )
    typed = id_col.text_input("…or any action id", key="routing_attempts_action_id").strip()
    action = typed or picked_action
    if action:
        history = cached.attempts(*source, action)
        if history.is_empty():
            st.info(f"No delivery attempt recorded for `{action}` yet.")
        else:
            st.caption(
                f"Action `{action}`. *Outcome* is the adapter's verdict on each attempt "
                "(`retry` = a failure worth retrying); whether the action was then retried or "
                "dead-lettered is its state in the outbox."
            )
            show(history, ATTEMPT_COLUMNS)
