"""The published tables and columns the dashboards read: the one place their names live.

Every query in `dashboards.lib` reads a *view* named after the logical table (left-hand keys of
`TABLES`), whose columns carry the names the queries use. Each view is built from
`<published folder>/current/<file>.parquet`, selecting the published column named on the
right-hand side. When a model renames a column, change the right-hand side here, and every query
keeps working; a published file that lacks a column listed here is reported by name on the page
instead of failing somewhere inside a SQL statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pipelines.vocabularies import vocabulary


@dataclass(frozen=True)
class PublishedTable:
    """One published Parquet file and the columns the dashboards take from it."""

    file: str
    """File stem inside the published folder (`<file>.parquet`)."""
    columns: Mapping[str, str]
    """Name used by the queries -> name of the column in the published file."""
    derived: Mapping[str, str] = field(default_factory=dict)
    """Extra columns: name -> SQL expression over the query names above."""
    grain: str = ""
    rows: str = ""
    """SQL filter over the query names: the rows of a published file the view holds (empty: all)."""


FULFILLMENT_DAILY = PublishedTable(
    file="fct_fulfillment_kpis_daily",
    grain="one row per kpi_date, channel and ship-from location ('unassigned' until shipped)",
    columns={
        "kpi_date": "kpi_date",
        "channel": "channel",
        "location_id": "location_id",
        "orders": "orders",
        "order_lines": "order_lines",
        "units_ordered": "units_ordered",
        "units_shipped": "units_shipped",
        "units_cancelled": "units_cancelled",
        "revenue": "revenue",
        "fill_rate": "fill_rate",
        "shipments": "shipments",
        "shipments_shipped_on_time": "shipments_shipped_on_time",
        "on_time_ship_rate": "on_time_ship_rate",
        "shipments_delivered": "shipments_delivered",
        "shipments_delivered_on_time": "shipments_delivered_on_time",
        "on_time_delivery_rate": "on_time_delivery_rate",
        "fulfillment_hours_p50": "fulfillment_hours_p50",
        "fulfillment_hours_p90": "fulfillment_hours_p90",
        "units_returned": "units_returned",
        "return_rate": "return_rate",
        "till_return_units": "till_return_units",
    },
)

INVENTORY_DAILY = PublishedTable(
    file="fct_inventory_kpis_daily",
    grain="one row per kpi_date and location",
    columns={
        "kpi_date": "kpi_date",
        "location_id": "location_id",
        "skus_counted": "skus_counted",
        "counts_accurate": "counts_accurate",
        "inventory_accuracy": "inventory_accuracy",
        "skus_tracked": "skus_tracked",
        "stockout_skus": "stockout_skus",
        "stockout_rate": "stockout_rate",
        "units_on_hand": "units_on_hand",
    },
)

SHIPMENTS = PublishedTable(
    file="fct_shipments",
    grain="one row per shipment (tracking number)",
    columns={
        "tracking_number": "tracking_number",
        "channel": "channel",
        "order_id": "order_id",
        "location_id": "ship_from_location_id",
        "service_level": "service_level",
        "ordered_at": "ordered_at",
        "label_created_at": "label_created_at",
        "picked_up_at": "picked_up_at",
        "delivered_at": "delivered_at",
        "promised_ship_date": "promised_ship_date",
        "promised_delivery_date": "promised_delivery_date",
        "is_on_time_ship": "is_on_time_ship",
        "is_on_time_delivery": "is_on_time_delivery",
        "fulfillment_hours": "fulfillment_hours",
        "ship_date": "ship_date",
        "current_status": "current_status",
    },
    # The day a shipment counts towards, so its fulfillment time lands in the same period as
    # the order in fct_fulfillment_kpis_daily (whose kpi_date is the order date).
    derived={"kpi_date": "cast(ordered_at as date)"},
)

# The KPI catalogue (docs/kpis.md): the dashboards read its day rows per channel and location
# (dimension channel_location, member 'channel|location_id'), which add up under any filter of
# dates, channels and locations; other grains and dimensions are for the breakdown pages.
KPI_DAILY = PublishedTable(
    file="fct_kpis",
    grain="one row per day, channel and fulfilling location ('unassigned' until shipped)",
    columns={
        "period_grain": "period_grain",
        "period_start": "period_start",
        "dimension": "dimension",
        "member": "member",
        "orders": "orders",
        "order_lines": "order_lines",
        "units_ordered": "units_ordered",
        "revenue": "revenue",
        "units_due": "units_due",
        "units_filled": "units_filled",
        "lines_due": "lines_due",
        "lines_filled": "lines_filled",
        "orders_due": "orders_due",
        "orders_filled": "orders_filled",
        "units_open_not_due": "units_open_not_due",
        "lines_open_not_due": "lines_open_not_due",
        "orders_open_not_due": "orders_open_not_due",
        "ship_units_due": "ship_units_due",
        "ship_units_on_time": "ship_units_on_time",
        "ship_lines_due": "ship_lines_due",
        "ship_lines_on_time": "ship_lines_on_time",
        "ship_orders_due": "ship_orders_due",
        "ship_orders_on_time": "ship_orders_on_time",
        "lines_late_unshipped": "lines_late_unshipped",
        "units_late_unshipped": "units_late_unshipped",
        "delivery_units_due": "delivery_units_due",
        "delivery_units_on_time": "delivery_units_on_time",
        "delivery_lines_due": "delivery_lines_due",
        "delivery_lines_on_time": "delivery_lines_on_time",
        "delivery_orders_due": "delivery_orders_due",
        "delivery_orders_on_time": "delivery_orders_on_time",
        "lines_late_in_transit": "lines_late_in_transit",
        "units_late_in_transit": "units_late_in_transit",
        "delivery_units_open_not_due": "delivery_units_open_not_due",
        "delivery_lines_open_not_due": "delivery_lines_open_not_due",
        "units_returned": "units_returned",
        "return_units_shipped": "return_units_shipped",
        "return_units_not_matured": "return_units_not_matured",
        "units_cancelled_customer": "units_cancelled_customer",
        "units_cancelled_ours": "units_cancelled_ours",
        "lines_timed_to_ship": "lines_timed_to_ship",
        "as_of_at": "as_of_at",
    },
    derived={
        "kpi_date": "period_start",
        "channel": "split_part(member, '|', 1)",
        "location_id": "split_part(member, '|', 2)",
    },
    rows="period_grain = 'day' and dimension = 'channel_location'",
)

KPI_DAILY_BY_CHANNEL = PublishedTable(
    file="fct_kpis",
    grain="one row per day and channel (every order counted once)",
    columns=KPI_DAILY.columns,
    derived={"kpi_date": "period_start", "channel": "member", "location_id": "'all'"},
    rows="period_grain = 'day' and dimension = 'channel'",
)
"""The day rows per channel: read when no location is selected, so an order fulfilled from two
locations counts once in the order-weighted rates (in `kpi_daily` it counts at each)."""

BREAKDOWN_COLUMNS = {
    **KPI_DAILY.columns,
    "lines_cancelled_customer": "lines_cancelled_customer",
    "lines_cancelled_ours": "lines_cancelled_ours",
    "orders_cancelled_customer": "orders_cancelled_customer",
    "orders_cancelled_ours": "orders_cancelled_ours",
    "lines_accurate": "lines_accurate",
    "units_accurate": "units_accurate",
    "orders_accurate": "orders_accurate",
    "lines_backordered": "lines_backordered",
    "units_backordered": "units_backordered",
    "orders_backordered": "orders_backordered",
}
"""The day rows' columns plus the counts only the Breakdowns page reads (accuracy, backorders,
cancellations): kept out of the overview's views, which stay as narrow as their queries."""

KPI_DAILY_BREAKDOWN = PublishedTable(
    file="fct_kpis",
    grain=KPI_DAILY.grain,
    columns=BREAKDOWN_COLUMNS,
    derived=KPI_DAILY.derived,
    rows=KPI_DAILY.rows,
)
"""The channel-location day rows with every count of the Breakdowns page."""

KPI_DAILY_BY_DIMENSION = PublishedTable(
    file="fct_kpis",
    grain="one row per day, dimension (channel, location, carrier, category) and member",
    columns=BREAKDOWN_COLUMNS,
    derived={"kpi_date": "period_start"},
    rows="period_grain = 'day' and dimension in ('channel', 'location', 'carrier', 'category')",
)
"""The day rows of every single dimension: the overview's biggest movers compare members of
each dimension (docs/kpis.md, "Biggest movers")."""

KPI_ORDER_LINES = PublishedTable(
    file="fct_kpi_order_lines",
    grain="one row per order line: the flags and units every catalogue figure counts",
    columns={
        column: column
        for column in (
            "order_line_id",
            "channel_order_id",
            "channel",
            "order_id",
            "line_ref",
            "sku",
            "category",
            "location_id",
            "carrier",
            "kpi_date",
            "ordered_at",
            "promise_ship_date",
            "promise_delivery_date",
            "units_ordered",
            "units_required",
            "units_shipped",
            "units_filled",
            "units_shipped_by_promise",
            "units_delivered",
            "units_delivered_by_promise",
            "units_in_first_shipment",
            "cancel_origin",
            "units_cancelled_customer",
            "units_cancelled_ours",
            "units_returned_counted",
            "units_returned_wrong_or_damaged",
            "units_late_unshipped",
            "units_late_in_transit",
            "units_backordered",
            "line_amount",
            "is_due_to_ship",
            "is_due_to_deliver",
            "is_return_matured",
            "is_filled",
            "is_shipped_on_time",
            "is_delivered_on_time",
            "is_late_unshipped",
            "is_late_in_transit",
            "is_backordered",
            "is_accurate",
        )
    },
)
"""The lines behind the catalogue (published sorted by kpi_date, channel, location, SKU, so a
drill-down's date and member predicates skip most row groups). Only the Breakdowns page's
drill-down reads it, and only once a group is picked."""

TIME_SKETCH = PublishedTable(
    file="fct_kpi_time_sketch",
    grain="one row per day, channel, location, measure and fulfilment time rounded to 0.1 h",
    columns={
        "kpi_date": "kpi_date",
        "channel": "channel",
        "location_id": "location_id",
        "measure": "measure",
        "hours": "hours",
        "lines": "lines",
    },
)

LOCATIONS = PublishedTable(
    file="dim_locations",
    grain="one row per location",
    columns={
        "location_id": "location_id",
        "location_name": "location_name",
        "location_kind": "location_kind",
        "latitude": "latitude",
        "longitude": "longitude",
        "can_ship": "can_ship",
    },
)

CHANNELS = PublishedTable(
    file="dim_channels",
    grain="one row per sales channel",
    columns={"channel": "channel", "channel_name": "channel_name"},
)

INGEST_BATCHES = PublishedTable(
    file="ingest_batches",
    grain="one row per loaded batch (landing file)",
    columns={
        "source": "source",
        "batch_id": "batch_id",
        "file": "file",
        "records_seen": "records_seen",
        "loaded": "loaded",
        "rejected": "rejected",
        "duplicates": "duplicates",
        "loaded_at": "loaded_at",
        "landed_at": "landed_at",
    },
)

INGEST_REJECTS = PublishedTable(
    file="ingest_rejects",
    grain="one row per source, kind and reason code",
    columns={
        "source": "source",
        "kind": "kind",
        "reason_code": "reason_code",
        "records": "records",
        "example_record": "example_record",
    },
)

UNMATCHED_LINES = PublishedTable(
    file="fct_unmatched_lines",
    grain="one row per shipment, RMA or receipt line referring to no known order or PO line",
    columns={
        "line_kind": "line_kind",
        "record_id": "record_id",
        "channel": "channel",
        "order_id": "order_id",
        "line_ref": "line_ref",
        "sku": "sku",
        "quantity": "quantity",
        "reason": "reason",
        "file": "_file",
        "loaded_at": "_loaded_at",
    },
)

# Routing and delivery state (`ops` schema of the warehouse), published once a routing run has
# happened; see docs/routing.md. JSON documents (`figures`, `explanation`, `payload`, `ack`) are
# JSON text.
ROUTING_RUNS = PublishedTable(
    file="ops_routing_runs",
    grain="one row per committed routing run",
    columns={
        "run_id": "run_id",
        "started_at": "started_at",
        "committed_at": "committed_at",
        "rules_version": "rules_version",
        "rules_sha": "rules_sha",
        "method": "method",
        "status": "status",
        "figures": "figures",
    },
)

ROUTING_DECISIONS = PublishedTable(
    file="ops_routing_decisions",
    grain="one row per routing run, order line, outcome and location",
    columns={
        "decision_id": "decision_id",
        "run_id": "run_id",
        "order_line_id": "order_line_id",
        "order_id": "order_id",
        "channel": "channel",
        "sku": "sku",
        "outcome": "outcome",
        "location_id": "location_id",
        "units": "units",
        "routing": "routing",
        "rule": "rule",
        "total_cost": "total_cost",
        "distance_km": "distance_km",
        "late_days": "late_days",
        "action_id": "action_id",
        "explanation": "explanation",
        "decided_at": "decided_at",
    },
)

OUTBOX = PublishedTable(
    file="ops_outbox",
    grain="one row per outbound action of any kind (fulfillment request, reorder request, "
    "status update …), keyed by its idempotency key",
    columns={
        "action_id": "action_id",
        "kind": "kind",
        "destination": "destination",
        "channel_order_id": "channel_order_id",
        "batch_key": "batch_key",
        "ack": "ack",
        "state": "state",
        "attempts": "attempts",
        "total_attempts": "total_attempts",
        "next_attempt_at": "next_attempt_at",
        "last_error": "last_error",
        "created_at": "created_at",
        "delivered_at": "delivered_at",
        "source_run_id": "source_run_id",
        "payload": "payload",
    },
)

DELIVERY_ATTEMPTS = PublishedTable(
    file="ops_delivery_attempts",
    grain="one row per delivery attempt of an action",
    columns={
        "action_id": "action_id",
        "attempt_no": "attempt_no",
        "started_at": "started_at",
        "finished_at": "finished_at",
        "outcome": "outcome",
        "http_status": "http_status",
        "error": "error",
        "response": "response",
    },
)

RETRIES_APPLIED = PublishedTable(
    file="ops_retry_requests_applied",
    grain="one row per retry request a pipeline step applied (ops_actions/retries.py)",
    columns={
        "request_id": "request_id",
        "action_id": "action_id",
        "kind": "kind",
        "outcome": "outcome",
        "requested_by": "requested_by",
        "requested_role": "requested_role",
        "requested_at": "requested_at",
        "applied_at": "applied_at",
    },
)

# Orders, one at a time (the order page): the ids people search by, the lifecycle marts
# (fct_order_*, built by the lifecycle models) and the holds (ops.order_holds).
ORDER_REFERENCES = PublishedTable(
    file="order_references",
    grain="one row per (reference, channel_order_id): every id an order is known by",
    columns={
        "reference": "reference",
        "reference_key": "reference_key",
        "reference_kind": "reference_kind",
        "channel": "channel",
        "channel_order_id": "channel_order_id",
        "order_id": "order_id",
    },
)

ORDER_STATES = PublishedTable(
    file="fct_order_states",
    grain="one row per channel order: its current lifecycle state",
    columns={
        "channel_order_id": "channel_order_id",
        "channel": "channel",
        "order_id": "order_id",
        "state": "state",
        "lines": "lines",
        "units": "units",
        "state_since": "state_since",
        "is_held": "is_held",
        "hold_reasons": "hold_reasons",
    },
)

ORDER_LINE_STATES = PublishedTable(
    file="fct_order_line_states",
    grain="one row per order line: its current lifecycle state and units per state",
    columns={
        "order_line_id": "order_line_id",
        "channel_order_id": "channel_order_id",
        "line_ref": "line_ref",
        "sku": "sku",
        "quantity": "quantity",
        "state": "state",
        "state_since": "state_since",
        "units_shipped": "units_shipped",
        "units_delivered": "units_delivered",
        "units_cancelled": "units_cancelled",
        "units_returned": "units_returned",
        "units_refunded": "units_refunded",
        "carrier": "carrier",
        "tracking_number": "tracking_number",
        "last_event_at": "last_event_at",
    },
)

ORDER_LINE_TRANSITIONS = PublishedTable(
    file="fct_order_line_transitions",
    grain="one row per accepted state change of an order line, in business order",
    columns={
        "transition_id": "transition_id",
        "order_line_id": "order_line_id",
        "channel_order_id": "channel_order_id",
        "line_ref": "line_ref",
        "transition_seq": "transition_seq",
        "from_state": "from_state",
        "to_state": "to_state",
        "occurred_at": "occurred_at",
        "recorded_at": "recorded_at",
        "source": "source",
        "source_event_id": "source_event_id",
        "carrier": "carrier",
        "tracking_number": "tracking_number",
        "location_id": "location_id",
        "units": "units",
        "detail": "detail",
    },
)

ORDER_HOLDS = PublishedTable(
    file="ops_order_holds",
    grain="one row per hold put on an order, with its resolution once released or cancelled",
    columns={
        "hold_id": "hold_id",
        "channel_order_id": "channel_order_id",
        "reason_code": "reason_code",
        "detail": "detail",
        "rules_version": "rules_version",
        "held_at": "held_at",
        "resolution": "resolution",
        "resolved_at": "resolved_at",
        "resolved_by": "resolved_by",
        # the held order (marts.fct_orders), published beside each hold for the holds page
        "channel": "channel",
        "order_id": "order_id",
        "ordered_at": "ordered_at",
        "customer_id": "customer_id",
        "order_amount": "order_amount",
        "currency": "currency",
        "ship_to_postcode": "ship_to_postcode",
        "ship_to_country": "ship_to_country",
    },
)


# Planning (see docs/reorders.md and the planning contract): the reorder suggestions with every
# figure they came from, the daily demand history and the forecasts, for the planner page.
REORDER_SUGGESTIONS = PublishedTable(
    file="ops_reorder_suggestions",
    grain="one row per (sku, location) that needs an order, in its current version",
    columns={
        "suggestion_id": "suggestion_id",
        "suggestion_version": "suggestion_version",
        "as_of_date": "as_of_date",
        "sku": "sku",
        "location_id": "location_id",
        "supplier_id": "supplier_id",
        "kind": "kind",
        "source_location_id": "source_location_id",
        "policy": "policy",
        "abc_class": "abc_class",
        "service_level": "service_level",
        "z": "z",
        "forecast_lt_units": "forecast_lt_units",
        "forecast_lt_sigma": "forecast_lt_sigma",
        "lead_time_mean_days": "lead_time_mean_days",
        "lead_time_sd_days": "lead_time_sd_days",
        "review_period_days": "review_period_days",
        "safety_stock": "safety_stock",
        "reorder_point": "reorder_point",
        "order_up_to": "order_up_to",
        "on_hand": "on_hand",
        "inbound": "inbound",
        "allocated": "allocated",
        "backorders": "backorders",
        "position": "position",
        "raw_qty": "raw_qty",
        "pack_size": "pack_size",
        "min_order_qty": "min_order_qty",
        "suggested_qty": "suggested_qty",
        "unit_cost": "unit_cost",
        "currency": "currency",
        "suggested_value": "suggested_value",
        "explanation": "explanation",
    },
)

DEMAND_DAILY = PublishedTable(
    file="fct_demand_daily",
    grain="one row per series (sku@location, or sku@ALL) and calendar day",
    columns={
        "series_id": "series_id",
        "sku": "sku",
        "location_id": "location_id",
        "demand_date": "demand_date",
        "units": "units",
        "is_stockout": "is_stockout",
        "is_outlier": "is_outlier",
    },
)

DEMAND_FORECASTS = PublishedTable(
    file="fct_forecast_daily",
    grain="one row per series and forecast day",
    columns={
        "series_id": "series_id",
        "sku": "sku",
        "location_id": "location_id",
        "forecast_date": "forecast_date",
        "step": "step",
        "units_forecast": "units_forecast",
        "units_lo_80": "units_lo_80",
        "units_hi_80": "units_hi_80",
        "units_lo_95": "units_lo_95",
        "units_hi_95": "units_hi_95",
        "method": "method",
        "demand_class": "demand_class",
        "mase": "mase",
        "bias": "bias",
        "sigma_daily": "sigma_daily",
    },
)

INVENTORY_POSITION = PublishedTable(
    file="fct_inventory_position",
    grain="one row per SKU and location with a stock position; window figures over the "
    "inventory_window_days days ending at the latest snapshot (docs/dashboards.md, Inventory)",
    columns={
        "sku": "sku",
        "product_name": "product_name",
        "category": "category",
        "is_active_sku": "is_active_sku",
        "location_id": "location_id",
        "location_name": "location_name",
        "location_kind": "location_kind",
        "as_of_date": "as_of_date",
        "window_start_date": "window_start_date",
        "window_days": "window_days",
        "on_hand": "on_hand",
        "is_out_of_stock": "is_out_of_stock",
        "available_to_promise": "available_to_promise",
        "avg_daily_demand": "avg_daily_demand",
        "cover_days": "cover_days",
        "snapshot_days": "snapshot_days",
        "stockout_days": "stockout_days",
        "stockout_rate": "stockout_rate",
        "in_stock_daily_demand": "in_stock_daily_demand",
        "lost_sales_units": "lost_sales_units",
        "lost_sales_value": "lost_sales_value",
        "currency": "currency",
        "cycle_counts": "cycle_counts",
        "counts_accurate": "counts_accurate",
        "inventory_accuracy": "inventory_accuracy",
    },
)

TABLES: dict[str, PublishedTable] = {
    "fulfillment_daily": FULFILLMENT_DAILY,
    "kpi_daily": KPI_DAILY,
    "kpi_daily_by_channel": KPI_DAILY_BY_CHANNEL,
    "kpi_daily_by_dimension": KPI_DAILY_BY_DIMENSION,
    "kpi_daily_breakdown": KPI_DAILY_BREAKDOWN,
    "kpi_time_sketch": TIME_SKETCH,
    "kpi_order_lines": KPI_ORDER_LINES,
    "inventory_daily": INVENTORY_DAILY,
    "shipments": SHIPMENTS,
    "locations": LOCATIONS,
    "channels": CHANNELS,
    "ingest_batches": INGEST_BATCHES,
    "ingest_rejects": INGEST_REJECTS,
    "unmatched_lines": UNMATCHED_LINES,
    "routing_runs": ROUTING_RUNS,
    "routing_decisions": ROUTING_DECISIONS,
    "outbox": OUTBOX,
    "delivery_attempts": DELIVERY_ATTEMPTS,
    "retries_applied": RETRIES_APPLIED,
    "order_references": ORDER_REFERENCES,
    "order_states": ORDER_STATES,
    "order_line_states": ORDER_LINE_STATES,
    "order_line_transitions": ORDER_LINE_TRANSITIONS,
    "order_holds": ORDER_HOLDS,
    "reorder_suggestions": REORDER_SUGGESTIONS,
    "demand_daily": DEMAND_DAILY,
    "demand_forecasts": DEMAND_FORECASTS,
    "inventory_position": INVENTORY_POSITION,
}
"""View name used in the queries -> published table."""

OUTBOX_STATES = vocabulary("outbox_state")
"""States of an outbox row (`ops.outbox.state`), in the order an action moves through them
(seed `vocabularies`, the list the dbt tests check the published outbox against)."""

DEAD_LETTER = "dead_letter"
assert DEAD_LETTER in OUTBOX_STATES, "seeds/vocabularies.csv lost the outbox state dead_letter"

ROUTING_OUTCOMES = vocabulary("routing_outcome")
"""Outcomes of a routing decision (`ops.routing_decisions.outcome`), seed `vocabularies`."""

UNASSIGNED_LOCATION = "unassigned"
"""location_id of order lines not shipped yet in fct_fulfillment_kpis_daily."""

RATES: dict[str, tuple[str, str]] = {
    "fill_rate": ("units_shipped", "units_ordered"),
    "on_time_ship_rate": ("shipments_shipped_on_time", "shipments"),
    "on_time_delivery_rate": ("shipments_delivered_on_time", "shipments_delivered"),
    "return_rate": ("units_returned", "units_shipped"),
}
"""Rate in fct_fulfillment_kpis_daily (the first definitions, kept for comparison) ->
(numerator, denominator) counts in the same table.

Across rows a rate is recomputed as sum(numerator) / sum(denominator), never averaged.
"""

Weighting = Literal["units", "lines", "orders"]

WEIGHTINGS: tuple[Weighting, ...] = ("units", "lines", "orders")
"""How a catalogue rate counts: each unit, each order line or each order the same."""

KPI_RATES: dict[str, dict[str, tuple[str, str]]] = {
    "fill_rate": {
        "units": ("units_filled", "units_due"),
        "lines": ("lines_filled", "lines_due"),
        "orders": ("orders_filled", "orders_due"),
    },
    "on_time_ship_rate": {
        "units": ("ship_units_on_time", "ship_units_due"),
        "lines": ("ship_lines_on_time", "ship_lines_due"),
        "orders": ("ship_orders_on_time", "ship_orders_due"),
    },
    "on_time_delivery_rate": {
        "units": ("delivery_units_on_time", "delivery_units_due"),
        "lines": ("delivery_lines_on_time", "delivery_lines_due"),
        "orders": ("delivery_orders_on_time", "delivery_orders_due"),
    },
}
"""Catalogue rate -> weighting -> (numerator, denominator) in fct_kpis (docs/kpis.md)."""

KPI_OPEN: dict[str, dict[str, str]] = {
    "fill_rate": {
        "units": "units_open_not_due",
        "lines": "lines_open_not_due",
        "orders": "orders_open_not_due",
    },
    "on_time_ship_rate": {
        "units": "units_open_not_due",
        "lines": "lines_open_not_due",
        "orders": "orders_open_not_due",
    },
    "on_time_delivery_rate": {
        "units": "delivery_units_open_not_due",
        "lines": "delivery_lines_open_not_due",
        "orders": "delivery_lines_open_not_due",
    },
}
"""The open, not-yet-due volume shown beside each rate (orders not due to deliver are not
counted separately: their lines are shown)."""

RETURN_RATE = ("units_returned", "return_units_shipped")
"""Return rate (units, matured cohorts); `return_units_not_matured` is shown beside it."""
