"""Where each channel's status updates go and how fast, from settings.

`OMS_STATUS_DESTINATIONS` maps a channel to an endpoint:

    {"webshop": "https://shop.example/admin/api/2024-10", "marketplace": "file:///srv/feeds"}

An `http(s)://` endpoint of a `shop_api` channel gets the shop admin API adapter (each update is
the request its payload names); of any other shape, the HTTP JSON adapter (the envelope POSTed
to `/requests`). Add `#no-dedupe` when the channel cannot deduplicate by idempotency key. A
`file://` endpoint or a plain path gets the shape's file drop: JSON request documents for the
web shop, the tab-separated feed for the marketplace, one acknowledgement CSV per customer for
wholesale. Unset channels drop files under `<outbox>/status/<channel>/`.

`OMS_STATUS_RATE_LIMITS` ({"webshop": 2}) caps a channel's updates per second; every channel
honours a 429's Retry-After, limit or not. `OMS_STATUS_HTTP_CONNECTIONS` (default 4) is how many
requests to one channel's API may be in flight at once (never two of one order).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ops_actions.delivery.adapters.base import Adapter
from ops_actions.delivery.adapters.file_drop import FileDropAdapter
from ops_actions.delivery.adapters.parallel import ParallelAdapter
from ops_actions.delivery.adapters.rate_limit import RateLimitedAdapter
from ops_actions.delivery.adapters.shop_api import ShopApiAdapter
from ops_actions.delivery.adapters.status_files import (
    AcknowledgementDropAdapter,
    StatusFeedAdapter,
)
from ops_actions.status.shapes import (
    ACKNOWLEDGEMENT,
    FEED,
    NONE,
    SHOP_API,
    channel_destination,
    resolve_shapes,
)
from pipelines.actions.destinations import adapter_for
from pipelines.settings import Settings, get_settings

STATUS_FOLDER = "status"


def _file_adapter(shape: str, folder: Path, fmt: str | None) -> Adapter:
    if shape == FEED:
        return StatusFeedAdapter(folder, fmt or "tsv")
    if shape == ACKNOWLEDGEMENT:
        return AcknowledgementDropAdapter(folder, fmt or "csv")
    return FileDropAdapter(folder, fmt or "json")


def status_adapter_for(
    shape: str, endpoint: str | None, default_folder: Path, connections: int = 1
) -> Adapter:
    """The adapter of one channel (before its rate limit); an HTTP endpoint gets
    `connections` concurrent connections."""
    if endpoint is None:
        return _file_adapter(shape, default_folder, None)
    parts = urlsplit(endpoint)
    if parts.scheme in ("http", "https"):
        if shape == SHOP_API:
            base, dedupes = endpoint.split("#", 1)[0], parts.fragment != "no-dedupe"
            return ParallelAdapter(
                [ShopApiAdapter(base, dedupes_by_key=dedupes) for _ in range(connections)]
            )
        return ParallelAdapter([adapter_for(endpoint) for _ in range(connections)])
    folder_adapter = adapter_for(endpoint)  # validates the scheme and the host of file://
    assert isinstance(folder_adapter, FileDropAdapter)
    fmt = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("format")
    return _file_adapter(shape, folder_adapter.directory, fmt)


def status_adapters(settings: Settings | None = None) -> dict[str, Adapter]:
    """Destination (`channel:<channel>`) -> adapter, rate-limited, for every channel with a
    shape other than `none`; channels configured but without a shape are refused by name."""
    settings = settings or get_settings()
    shapes = resolve_shapes(dict(settings.status_shapes))
    endpoints = dict(settings.status_destinations)
    rates = dict(settings.status_rate_limits)
    unknown = sorted((set(endpoints) | set(rates)) - set(shapes))
    if unknown:
        raise ValueError(
            f"status destinations or rates name channels without a status shape: {unknown} "
            "(give them one in OMS_STATUS_SHAPES)"
        )
    adapters: dict[str, Adapter] = {}
    for channel, shape in shapes.items():
        if shape == NONE:
            continue
        endpoint = endpoints.get(channel)
        inner = status_adapter_for(
            shape,
            endpoint,
            settings.outbox_dir / STATUS_FOLDER / channel,
            settings.status_http_connections,
        )
        adapters[channel_destination(channel)] = RateLimitedAdapter(
            inner, rate_per_s=rates.get(channel)
        )
    return adapters
