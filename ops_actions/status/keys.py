"""The one key function of status updates (contract 4), shared by every producer.

A status update is one (order, change): `change` is one of `CHANGES`; `tracking_number` tells
two shipments (or two deliveries) of one order apart; `units` maps each order line the update
concerns to its units (None: the whole line). The per-line units, rather than their total, are
hashed because two changes of one order can concern the same number of units (the router
cancels one unit of line A today and one unit of line B tomorrow): a total would give both the
same key and the second would be dropped as a duplicate. `accepted` is once per order, so its
units are always empty.

The producer of `marts.fct_order_line_transitions` and the producers that enqueue their own
changes in their transaction (router cancellations, hold cancellations) call this function with
the same arguments for the same change, so both paths give one action.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

ACCEPTED, SHIPPED, DELIVERED, CANCELLED, RETURNED, REFUNDED = (
    "accepted",
    "shipped",
    "delivered",
    "cancelled",
    "returned",
    "refunded",
)
# In business order: within one batch of one order, updates are delivered in this order.
CHANGES = (ACCEPTED, SHIPPED, DELIVERED, CANCELLED, RETURNED, REFUNDED)
STATUS_KIND = "status_update"
KEY_PREFIX = "status:"


def status_key_text(
    channel_order_id: str,
    change: str,
    tracking_number: str | None,
    units: Mapping[str, int | None],
) -> str:
    """The text the key hashes: `order|change|tracking|line=units;line=units` (lines sorted,
    None written as empty)."""
    if change not in CHANGES:
        raise ValueError(f"unknown status change {change!r}; expected one of {CHANGES}")
    if not channel_order_id:
        raise ValueError("a status update needs its channel_order_id")
    if change == ACCEPTED:
        units = {}
    lines = ";".join(f"{line}={'' if n is None else int(n)}" for line, n in sorted(units.items()))
    return f"{channel_order_id}|{change}|{tracking_number or ''}|{lines}"


def status_action_id(
    channel_order_id: str,
    change: str,
    tracking_number: str | None,
    units: Mapping[str, int | None],
) -> str:
    """`'status:' || sha256(status_key_text(...))`: the outbox `action_id` of the update."""
    text = status_key_text(channel_order_id, change, tracking_number, units)
    return KEY_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()
