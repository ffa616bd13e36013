"""Where each warehouse's fulfillment requests go, from settings.

`OMS_FULFILLMENT_DESTINATIONS` maps a location id (or `*` for every other) to an endpoint:

    {"WH-DAL": "http://wms-dal.internal:8080/api", "*": "file:///srv/drop/fulfillment?format=csv"}

An `http(s)://` endpoint gets the HTTP JSON adapter (add `#no-dedupe` when the warehouse cannot
deduplicate by idempotency key: the adapter then reads its state before a retry); a `file://`
endpoint, or a plain path, gets the file-drop adapter (`?format=json|csv`). The default drops
CSV files per batch into `<data>/outbox/fulfillment/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ops_actions.delivery.adapters.base import Adapter
from ops_actions.delivery.adapters.file_drop import FileDropAdapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from pipelines.settings import get_settings


def adapter_for(endpoint: str) -> Adapter:
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError(f"a fulfillment destination must be a URL or a path, not {endpoint!r}")
    parts = urlsplit(endpoint)
    if parts.scheme in ("http", "https"):
        base = endpoint.split("#", 1)[0]
        return HttpJsonAdapter(base, dedupes_by_key=parts.fragment != "no-dedupe")
    # Any other scheme would otherwise become a local folder named after the URL.
    if parts.scheme not in ("", "file"):
        raise ValueError(
            f"fulfillment destination {endpoint!r}: unknown scheme {parts.scheme!r} "
            "(use http://, https://, file:// or a folder path)"
        )
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"fulfillment destination {endpoint!r} names host {parts.netloc!r}: a file:// "
            "destination is a local folder, written file:///absolute/path"
        )
    fmt = parse_qs(parts.query).get("format", ["csv"])[0]
    path = parts.path if parts.scheme == "file" else endpoint.split("?", 1)[0]
    return FileDropAdapter(Path(path), fmt)


def fulfillment_adapters() -> dict[str, Adapter]:
    settings = get_settings()
    raw = settings.fulfillment_destinations
    try:
        mapping: dict[str, str] = json.loads(raw) if raw else {}
    except json.JSONDecodeError as error:
        raise ValueError(
            f"OMS_FULFILLMENT_DESTINATIONS is not valid JSON ({error}); expected an object "
            '{"<location id or *>": "<url or folder>"}'
        ) from None
    if not isinstance(mapping, dict):
        raise ValueError("OMS_FULFILLMENT_DESTINATIONS must be a JSON object {location: url}")
    adapters = {dest: adapter_for(url) for dest, url in mapping.items()}
    adapters.setdefault("*", FileDropAdapter(settings.outbox_dir / "fulfillment", "csv"))
    return adapters
