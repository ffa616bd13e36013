"""Each channel's own shape of a status update (the outbox payload), from one update record.

An update record is a dict with: `channel`, `channel_order_id`, `order_id` (the channel's own
order number), `change`, `occurred_at` (ISO text), `carrier`, `tracking_number`, `location_id`,
`detail`, `customer_id` and `lines` (a list of {order_line_id, line_ref, units}).

- `shop_api` (the web shop): one HTTP request to a hosted shop platform's admin API, written as
  {"method", "path", "body"}: fulfillments with tracking, fulfillment events, cancellations,
  returns and refunds on the shop's order, in the style of such platforms' REST APIs.
- `feed` (the marketplace): rows of a tab-separated order-status feed, one per order line.
- `acknowledgement` (wholesale): an acknowledgement of the customer's purchase order, one row
  per PO line; the adapter writes one file per customer.
- `none` (a till sale is complete at the till): no update at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ops_actions.status.keys import (
    ACCEPTED,
    CANCELLED,
    DELIVERED,
    REFUNDED,
    RETURNED,
    SHIPPED,
)

SHOP_API, FEED, ACKNOWLEDGEMENT, NONE = "shop_api", "feed", "acknowledgement", "none"
SHAPES = (SHOP_API, FEED, ACKNOWLEDGEMENT, NONE)
DEFAULT_CHANNEL_SHAPES = {
    "webshop": SHOP_API,
    "marketplace": FEED,
    "wholesale": ACKNOWLEDGEMENT,
    "pos": NONE,
}

FEED_COLUMNS = (
    "update-key",
    "order-id",
    "order-item-id",
    "status",
    "quantity",
    "status-date",
    "carrier-code",
    "tracking-number",
    "reason",
)
ACK_COLUMNS = (
    "ack_key",
    "customer_id",
    "po_number",
    "po_line",
    "status",
    "units",
    "status_at",
    "carrier",
    "tracking_number",
    "reason",
)

# The shop platform's cancellation reasons; the router cancels for want of stock.
_SHOP_CANCEL_REASON = {"inventory": "inventory", "customer": "customer", "fraud": "fraud"}


def _line_items(update: dict[str, Any], id_field: str = "id") -> list[dict[str, Any]]:
    return [{id_field: line["line_ref"], "quantity": line["units"]} for line in update["lines"]]


def shop_api_payload(update: dict[str, Any]) -> dict[str, Any]:
    """The admin-API request for one update on the shop's order `order_id`."""
    order = f"/orders/{quote(str(update['order_id']), safe='')}"
    at = update["occurred_at"]
    change = update["change"]
    if change == ACCEPTED:
        path, body = (
            f"{order}/acknowledgement.json",
            {"acknowledgement": {"status": "accepted", "accepted_at": at}},
        )
    elif change == SHIPPED:
        path = f"{order}/fulfillments.json"
        body = {
            "fulfillment": {
                "line_items": _line_items(update),
                "tracking_info": {
                    "company": update["carrier"],
                    "number": update["tracking_number"],
                },
                "location_id": update["location_id"],
                "shipped_at": at,
                "notify_customer": True,
            }
        }
    elif change == DELIVERED:
        path = f"{order}/fulfillments/events.json"
        body = {
            "event": {
                "status": "delivered",
                "tracking_number": update["tracking_number"],
                "happened_at": at,
            }
        }
    elif change == CANCELLED:
        path = f"{order}/cancel.json"
        reason = _SHOP_CANCEL_REASON.get(str(update.get("detail") or ""), "other")
        body = {
            "cancellation": {
                "line_items": _line_items(update),
                "reason": reason,
                "cancelled_at": at,
                "notify_customer": True,
            }
        }
    elif change == RETURNED:
        path = f"{order}/returns.json"
        body = {"return": {"line_items": _line_items(update), "received_at": at}}
    elif change == REFUNDED:
        path = f"{order}/refunds.json"
        body = {
            "refund": {
                "refund_line_items": _line_items(update, "line_item_id"),
                "processed_at": at,
            }
        }
    else:  # pragma: no cover - keys.status_key_text refuses unknown changes first
        raise ValueError(f"no shop API request for change {change!r}")
    return {"method": "POST", "path": path, "body": body}


def feed_payload(update: dict[str, Any]) -> dict[str, Any]:
    """Rows of the marketplace's tab-separated status feed (columns `FEED_COLUMNS`)."""
    return {
        "rows": [
            {
                "order-id": update["order_id"],
                "order-item-id": line["line_ref"],
                "status": update["change"],
                "quantity": line["units"],
                "status-date": update["occurred_at"],
                "carrier-code": update["carrier"],
                "tracking-number": update["tracking_number"],
                "reason": update["detail"],
            }
            for line in (update["lines"] or [{"line_ref": None, "units": None}])
        ]
    }


def acknowledgement_payload(update: dict[str, Any]) -> dict[str, Any]:
    """The wholesale customer's PO acknowledgement rows (columns `ACK_COLUMNS`)."""
    return {
        "customer_id": update["customer_id"],
        "rows": [
            {
                "customer_id": update["customer_id"],
                "po_number": update["order_id"],
                "po_line": line["line_ref"],
                "status": update["change"],
                "units": line["units"],
                "status_at": update["occurred_at"],
                "carrier": update["carrier"],
                "tracking_number": update["tracking_number"],
                "reason": update["detail"],
            }
            for line in (update["lines"] or [{"line_ref": None, "units": None}])
        ],
    }


RENDERERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    SHOP_API: shop_api_payload,
    FEED: feed_payload,
    ACKNOWLEDGEMENT: acknowledgement_payload,
}


def channel_destination(channel: str) -> str:
    """The outbox destination of a channel's updates (contract 4)."""
    return f"channel:{channel}"


def resolve_shapes(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Channel -> shape: the defaults, with `overrides` (a channel with no shape gets none)."""
    shapes = {**DEFAULT_CHANNEL_SHAPES, **(overrides or {})}
    bad = {c: s for c, s in shapes.items() if s not in SHAPES}
    if bad:
        raise ValueError(f"unknown status update shapes {bad}; expected one of {SHAPES}")
    return shapes
