"""The web shop's admin API: each status update is the HTTP request its payload names.

The payload is already in the shop platform's shape ({"method", "path", "body"}, see
`ops_actions.status.shapes.shop_api_payload`); this adapter sends `body` to
`{base_url}{path}` with the update's key as `Idempotency-Key`, and classifies the answer like
every HTTP JSON destination (2xx / 409 delivered, 408 / 429 / 5xx / timeouts retried, other 4xx
permanent). A shop that does not deduplicate by key (`dedupes_by_key=False`) is read before a
retry at `get_path` (default `/status_updates/{key}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops_actions.delivery.adapters.base import Action
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter


@dataclass
class ShopApiAdapter(HttpJsonAdapter):
    get_path: str = "/status_updates/{key}"

    def request_for(self, action: Action) -> tuple[str, str, Any]:
        p = action.payload
        try:
            return str(p["method"]), str(p["path"]), p["body"]
        except KeyError as missing:
            raise ValueError(
                f"status update {action.action_id} is not a shop API request (no {missing})"
            ) from None
