"""HTTP JSON API adapter.

POST {base_url}{post_path} with the JSON body {"key", "kind", "destination", "payload"} and the
header `Idempotency-Key`. 2xx is delivered (the body is the acknowledgement); 409 means the
destination already holds the key (a duplicate acknowledgement) and counts as delivered; 408,
429, 5xx, timeouts and connection errors are retried (a `Retry-After` in seconds is passed on,
so the retry is never sooner); any other 4xx is permanent.

A destination that does not deduplicate by key (`dedupes_by_key=False`) is read before every
retry: GET {base_url}{get_path} with the key; 200 means an earlier attempt did land (its answer
was lost), so the action is marked delivered without sending it again.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ops_actions.delivery.adapters.base import Action, Outcome
from ops_actions.delivery.keys import canonical_json

RETRYABLE_STATUS = {408, 425, 429}


@dataclass
class HttpJsonAdapter:
    base_url: str
    dedupes_by_key: bool = True
    timeout_s: float = 10.0
    post_path: str = "/requests"
    get_path: str = "/requests/{key}"
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._https = parts.scheme == "https"
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout_s)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _request(self, method: str, path: str, body: bytes | None, key: str) -> tuple[int, str]:
        status, text, _ = self._exchange(method, path, body, key)
        return status, text

    def _exchange(
        self, method: str, path: str, body: bytes | None, key: str
    ) -> tuple[int, str, float | None]:
        """One request: (status, body text, Retry-After seconds or None)."""
        headers = {"Idempotency-Key": key, "Accept": "application/json", **(self.headers or {})}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            if conn.sock is None:
                conn.connect()
                assert conn.sock is not None
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request(method, self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", errors="replace")
            retry_after = _seconds(resp.getheader("Retry-After"))
            if resp.will_close:
                self.close()
            return resp.status, text, retry_after
        except BaseException:
            # The connection state is unknown after any failure: start a fresh one.
            self.close()
            raise

    def lookup(self, key: str) -> tuple[int, str]:
        """GET the destination's record for `key`: (status, body)."""
        return self._request("GET", self.get_path.format(key=key), None, key)

    def deliver(self, actions: list[Action]) -> list[Outcome]:
        return [self._deliver_one(a) for a in actions]

    def _deliver_one(self, action: Action) -> Outcome:
        key = action.action_id
        try:
            if action.is_retry and not self.dedupes_by_key:
                status, text = self.lookup(key)
                if status == 200:
                    return Outcome(
                        key,
                        "delivered",
                        http_status=status,
                        response=text[:2000],
                        ack=_json_or_none(text),
                        detail="found by lookup before retry",
                    )
                if status != 404:
                    return _classify(key, status, text, prefix="lookup: ")
            try:
                method, path, doc = self.request_for(action)
            except ValueError as exc:  # the payload cannot be sent as it is: permanent
                return Outcome(key, "failed", error=str(exc))
            body = canonical_json(doc).encode("utf-8")
            status, text, retry_after = self._exchange(method, path, body, key)
        except TimeoutError as exc:
            return Outcome(key, "retry", error=f"timeout: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            return Outcome(key, "retry", error=f"{type(exc).__name__}: {exc}")
        outcome = _classify(key, status, text)
        outcome.retry_after_s = retry_after if outcome.status == "retry" else None
        return outcome

    def request_for(self, action: Action) -> tuple[str, str, Any]:
        """(method, path, JSON document) of the request that delivers `action`: the envelope
        {key, kind, destination, payload} POSTed to `post_path`."""
        doc = {
            "key": action.action_id,
            "kind": action.kind,
            "destination": action.destination,
            "payload": action.payload,
        }
        return "POST", self.post_path, doc


def _seconds(value: str | None) -> float | None:
    """A Retry-After given in seconds (an HTTP date is not honoured: None)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def _json_or_none(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else {"value": value}


def _classify(key: str, status: int, text: str, prefix: str = "") -> Outcome:
    response = text[:2000]
    if 200 <= status < 300:
        return Outcome(
            key, "delivered", http_status=status, response=response, ack=_json_or_none(text)
        )
    if status == 409:
        return Outcome(
            key,
            "delivered",
            http_status=status,
            response=response,
            ack=_json_or_none(text),
            detail="destination already held the key",
        )
    if status in RETRYABLE_STATUS or status >= 500:
        return Outcome(
            key, "retry", http_status=status, error=f"{prefix}HTTP {status}", response=response
        )
    return Outcome(
        key, "failed", http_status=status, error=f"{prefix}HTTP {status}", response=response
    )
