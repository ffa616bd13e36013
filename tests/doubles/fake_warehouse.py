"""A warehouse HTTP JSON API on loopback that can be told to misbehave.

POST /requests (or any path: a channel's API, e.g. /orders/<id>/fulfillments.json) stores the
request under its `Idempotency-Key`; GET .../<key> returns it (404 if unknown). Every stored
request is also appended to `applied` (key, path, body) in the order it was applied, so tests
check the order per order of what a channel applied. A deduplicating server answers a repeated
key with the original acknowledgement (`"duplicate": true`); a non-deduplicating one stores
every POST as a new request, which is why the dispatcher must read it before retrying.

Faults, consumed one per POST in order (`fail_next`):
  "500"             answer 500, store nothing
  "429"             answer 429 Too Many Requests (with `Retry-After: retry_after_s` when set),
                    store nothing; every 429 is logged in `throttled` with its time
  "accept_then_500" store the request, then answer 500 (the client cannot know it landed)
  "timeout"         store the request, then answer after `timeout_sleep_s` (the client times out)
  "slow"            answer normally after `slow_sleep_s`
  "duplicate_ack"   answer 409 with the acknowledgement the key already had (or a fresh one)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("500", "429", "accept_then_500", "timeout", "slow", "duplicate_ack")


class FakeWarehouse:
    def __init__(
        self,
        dedupes_by_key: bool = True,
        timeout_sleep_s: float = 0.6,
        slow_sleep_s: float = 0.05,
        retry_after_s: float | None = None,
    ) -> None:
        self.dedupes_by_key = dedupes_by_key
        self.retry_after_s = retry_after_s
        self.applied: list[tuple[str, str, dict[str, Any]]] = []
        self.throttled: list[float] = []  # monotonic times of the 429 answers
        self.post_times: list[float] = []  # monotonic times of every POST
        self.timeout_sleep_s = timeout_sleep_s
        self.slow_sleep_s = slow_sleep_s
        self.stored: dict[str, list[dict[str, Any]]] = {}
        self.posts: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._seq = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------
    def fail_next(self, fault: str, count: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.extend([fault] * count)

    def stored_count(self, key: str) -> int:
        with self._lock:
            return len(self.stored.get(key, []))

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeWarehouse:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeWarehouse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour -----------------------------------------------------------------------
    def _store(
        self, key: str, body: dict[str, Any], path: str = "/requests"
    ) -> tuple[dict[str, Any], bool]:
        """Store (or find) the request; returns (ack, was_duplicate)."""
        with self._lock:
            if self.dedupes_by_key and key in self.stored:
                return {**self.stored[key][0]["ack"], "duplicate": True}, True
            self._seq += 1
            ack = {"request_id": f"WR{self._seq:08d}", "key": key, "status": "accepted"}
            self.stored.setdefault(key, []).append({"ack": ack, "body": body})
            self.applied.append((key, path, body))
            return ack, False

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None


def _handler(server: FakeWarehouse) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Answer in one segment; without this, Nagle + delayed ACK add ~40 ms per request.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:  # silence
            return

        def _reply(
            self, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_stats":  # for a server run in another process (the bench)
                with server._lock:
                    copies = [len(r) for r in server.stored.values()]
                    self._reply(
                        200,
                        {
                            "stored_keys": len(copies),
                            "applied": len(server.applied),
                            "max_copies": max(copies, default=0),
                            "posts": sum(server.posts.values()),
                        },
                    )
                return
            key = self.path.rsplit("/", 1)[-1]
            with server._lock:
                server.gets[key] += 1
                records = list(server.stored.get(key, []))
            if not records:
                self._reply(404, {"error": "not found", "key": key})
            else:
                self._reply(200, {**records[0]["ack"], "copies": len(records)})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            key = self.headers.get("Idempotency-Key") or body.get("key", "")
            with server._lock:
                server.posts[key] += 1
                server.post_times.append(time.monotonic())
            fault = server._next_fault()
            if fault == "429":
                with server._lock:
                    server.throttled.append(time.monotonic())
                wait = server.retry_after_s
                self._reply(
                    429,
                    {"error": "too many requests"},
                    {"Retry-After": f"{wait:g}"} if wait is not None else None,
                )
                return
            if fault == "500":
                self._reply(500, {"error": "injected failure"})
                return
            if fault == "slow":
                time.sleep(server.slow_sleep_s)
            path = self.path
            if fault == "duplicate_ack":
                ack, _ = server._store(key, body, path)
                self._reply(409, {**ack, "duplicate": True})
                return
            ack, _ = server._store(key, body, path)
            if fault == "accept_then_500":
                self._reply(500, {"error": "stored but failed to answer"})
                return
            if fault == "timeout":
                time.sleep(server.timeout_sleep_s)
            self._reply(200, ack)

    return Handler


def serve_forever(dedupes_by_key: bool, port_file: str) -> None:
    """Run a server in this process until killed, writing its URL to `port_file` (the bench runs
    it in another process, so the server does not share the dispatcher's interpreter)."""
    server = FakeWarehouse(dedupes_by_key=dedupes_by_key).start()
    with open(port_file + ".tmp", "w") as fh:
        fh.write(server.url)
    import os

    os.replace(port_file + ".tmp", port_file)
    while True:
        time.sleep(3600)
