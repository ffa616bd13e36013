"""Where each supplier's (and each transfer source's) reorder requests go.

The mapping comes from `Settings.supplier_destinations` (`OMS_SUPPLIER_DESTINATIONS`, JSON):
a supplier id, or a source location id for transfers, or `*` for every other, to an endpoint:

    {"SUP-ACME": "https://edi.acme.example/api", "*": "file:///srv/drop/po?format=csv"}

An `http(s)://` endpoint gets the HTTP JSON adapter (`#no-dedupe` when the supplier cannot
deduplicate by idempotency key), exactly as for fulfillment destinations; a `file://` endpoint or
a plain path gets the purchase-order file drop (`?format=csv|json`). The default drops one CSV
purchase-order file per supplier and batch into `<outbox>/reorders/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ops_actions.delivery.adapters.base import Adapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.adapters.purchase_order_drop import PurchaseOrderDropAdapter

REORDER_FOLDER = "reorders"


def reorder_adapter_for(endpoint: str) -> Adapter:
    parts = urlsplit(endpoint)
    if parts.scheme in ("http", "https"):
        return HttpJsonAdapter(
            endpoint.split("#", 1)[0], dedupes_by_key=parts.fragment != "no-dedupe"
        )
    if parts.scheme not in ("", "file"):
        raise ValueError(f"reorder destination {endpoint!r}: use http(s)://, file:// or a path")
    fmt = parse_qs(parts.query).get("format", ["csv"])[0]
    path = parts.path if parts.scheme == "file" else endpoint.split("?", 1)[0]
    return PurchaseOrderDropAdapter(Path(path), fmt)


def reorder_adapters(mapping: Mapping[str, str], outbox_dir: Path) -> dict[str, Adapter]:
    """Adapter per destination (`*` = every other), the PO file drop by default."""
    adapters = {dest: reorder_adapter_for(url) for dest, url in mapping.items()}
    adapters.setdefault("*", PurchaseOrderDropAdapter(outbox_dir / REORDER_FOLDER, "csv"))
    return adapters
