"""One order at a time, for the Order page: find it by any id it is known by, then read its
lifecycle, lines, routing decisions, holds and outbound actions (plain functions of the
published folder).

Every read filters on the order's `channel_order_id` (the platform's id, `channel:order_id`),
and the filter reaches the Parquet scan: DuckDB pushes a comparison through the renaming view
of `dashboards.lib.published` into `read_parquet`, and the publish step writes the tables this
page reads sorted by order (`pipelines/publish/publish.py`), so the scan skips every row group
whose min/max statistics exclude the order instead of reading the whole table.

Sources:
- `order_references`: every id of an order (the platform's, the channel's own order id: web
  shop id, marketplace order-id, POS store-register-receipt, wholesale PO number; the web
  shop's order name such as `#12345`);
- `fct_order_states`, `fct_order_line_states`, `fct_order_line_transitions`: the lifecycle
  marts (one row per order / per line / per accepted state change of a line);
- `ops_routing_decisions` (routing's `order_id` is the platform's channel_order_id),
  `ops_order_holds`, `ops_outbox` (see `dashboards.lib.action_log.order_actions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dashboards.lib.published import query


@dataclass(frozen=True)
class Match:
    """An order found by a search: the id typed, and the order it names."""

    channel_order_id: str
    channel: str
    order_id: str
    matched: str
    """The reference that matched and its kind (`order_name #12345`, `order_id 1234` …)."""


def normalise(text: str) -> str:
    """A search as the references are keyed: no surrounding blanks, lower case."""
    return text.strip().lower()


def search_keys(text: str) -> list[str]:
    """The reference keys a search may mean: itself, and for a bare number also the web shop's
    order name with `#` (people type `12345` for order `#12345`)."""
    key = normalise(text)
    if not key:
        return []
    keys = [key]
    if not key.startswith("#"):
        keys.append(f"#{key}")
    return keys


def find_orders(published_dir: Path, text: str) -> list[Match]:
    """Orders whose id, channel order id or order name equals `text` (case and blanks
    aside), one per order, in channel order; [] when nothing matches or `text` is blank."""
    keys = search_keys(text)
    if not keys:
        return []
    frame = query(
        published_dir,
        """
        select
            channel_order_id,
            any_value(channel) as channel,
            any_value(order_id) as order_id,
            string_agg(distinct reference_kind || ' ' || reference, ', ') as matched
        from order_references
        where list_contains(?, reference_key)
        group by channel_order_id
        order by any_value(channel), channel_order_id
        """,
        ["order_references"],
        [keys],
    )
    return [Match(**row) for row in frame.iter_rows(named=True)]


def order_state(published_dir: Path, channel_order_id: str) -> dict[str, Any] | None:
    """The order's current lifecycle state (one row of fct_order_states), None when unknown."""
    frame = query(
        published_dir,
        """select channel_order_id, channel, order_id, state, lines, units, state_since,
                  is_held, hold_reasons
           from order_states where channel_order_id = ?""",
        ["order_states"],
        [channel_order_id],
    )
    return frame.row(0, named=True) if frame.height else None


def order_lines(published_dir: Path, channel_order_id: str) -> pl.DataFrame:
    """The order's lines and their states, by line."""
    return query(
        published_dir,
        """select order_line_id, line_ref, sku, quantity, state, state_since, units_shipped,
                  units_delivered, units_cancelled, units_returned, units_refunded, carrier,
                  tracking_number, last_event_at
           from order_line_states where channel_order_id = ?
           order by line_ref, order_line_id""",
        ["order_line_states"],
        [channel_order_id],
    )


TIMELINE_SQL = """
select occurred_at, recorded_at, line_ref, order_line_id, transition_seq, from_state, to_state,
       units, source, source_event_id, carrier, tracking_number, location_id, detail,
       transition_id
from order_line_transitions
where channel_order_id = ?
order by occurred_at, order_line_id, transition_seq
"""
"""The order's accepted state changes, every line, in business time (a line's own changes in
their sequence)."""


def timeline(published_dir: Path, channel_order_id: str) -> pl.DataFrame:
    """Every accepted state change of the order's lines, from every source, in business time
    (one row per transition of fct_order_line_transitions; `recorded_at` is when the platform
    learned of it)."""
    return query(published_dir, TIMELINE_SQL, ["order_line_transitions"], [channel_order_id])


def routing_decisions(published_dir: Path, channel_order_id: str) -> pl.DataFrame:
    """Every routing decision on the order's lines (every run), oldest first, with its
    explanation JSON text."""
    return query(
        published_dir,
        """select decided_at, run_id, order_line_id, sku, outcome, location_id, units, routing,
                  rule, total_cost, late_days, action_id, decision_id,
                  json_extract_string(explanation, '$.reason') as reason, explanation
           from routing_decisions where order_id = ?
           order by decided_at, order_line_id, outcome, location_id""",
        ["routing_decisions"],
        [channel_order_id],
    )


def holds(published_dir: Path, channel_order_id: str) -> pl.DataFrame:
    """Holds put on the order, with their resolution (released or cancelled, by whom, when)."""
    return query(
        published_dir,
        """select held_at, reason_code, detail, rules_version, resolution, resolved_at,
                  resolved_by, hold_id
           from order_holds where channel_order_id = ?
           order by held_at, hold_id""",
        ["order_holds"],
        [channel_order_id],
    )
