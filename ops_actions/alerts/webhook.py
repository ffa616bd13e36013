"""Where alerts go: a webhook over HTTP, or JSON files in a folder (the default).

An `http(s)://` URL gets the HTTP JSON adapter POSTing each alert to the URL itself, with the
alert's key as `Idempotency-Key` (the envelope {key, kind, destination, payload}; the payload's
`text` is the message). A receiver that cannot deduplicate by that header (`#no-dedupe`) is
asked `GET <url>/<key>` before a retry, so an alert whose answer was lost is not sent twice. A
`file://` URL or a folder gets one JSON document per delivery batch.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ops_actions.delivery.adapters.base import Adapter
from ops_actions.delivery.adapters.file_drop import FileDropAdapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter


def alert_adapter(endpoint: str, default_folder: Path, timeout_s: float = 10.0) -> Adapter:
    """The adapter of the alert destination `endpoint` (empty: files in `default_folder`)."""
    if not endpoint:
        return FileDropAdapter(default_folder, "json")
    parts = urlsplit(endpoint)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"alert destination {endpoint!r} names no host")
        path = parts.path or "/"
        base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return HttpJsonAdapter(
            base,
            dedupes_by_key=parts.fragment != "no-dedupe",
            timeout_s=timeout_s,
            post_path=path + (f"?{parts.query}" if parts.query else ""),
            get_path=path.rstrip("/") + "/{key}",
        )
    if parts.scheme not in ("", "file"):
        raise ValueError(
            f"alert destination {endpoint!r}: unknown scheme {parts.scheme!r} "
            "(use http://, https://, file:// or a folder path)"
        )
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"alert destination {endpoint!r} names host {parts.netloc!r}: a file:// "
            "destination is a local folder, written file:///absolute/path"
        )
    return FileDropAdapter(Path(parts.path if parts.scheme == "file" else endpoint), "json")
