"""Send one batch over several connections at once.

A claim holds at most one action per ordering key (`claim_due`), so the actions of one batch
never depend on each other and may go out concurrently: `ParallelAdapter` splits the batch
over its adapters (one connection each, e.g. `ShopApiAdapter`s of one endpoint), each sending
its share one action at a time in its own thread. Once any of them is throttled (429), the
others send nothing more of this batch: the rest comes back as throttled too, so the rate
limit around this adapter defers it to the Retry-After.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ops_actions.delivery.adapters.base import Action, Adapter, Outcome


@dataclass
class ParallelAdapter:
    adapters: list[Adapter]
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.adapters:
            raise ValueError("a parallel adapter needs at least one adapter")

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self.adapters), thread_name_prefix="deliver")
        return self._pool

    def deliver(self, actions: list[Action]) -> list[Outcome]:
        if len(self.adapters) == 1 or len(actions) <= 1:
            return self._send(self.adapters[0], actions, threading.Event(), [])
        throttled = threading.Event()
        retry_after: list[float | None] = []
        shares = [actions[i :: len(self.adapters)] for i in range(len(self.adapters))]
        futures = [
            self._executor().submit(self._send, adapter, share, throttled, retry_after)
            for adapter, share in zip(self.adapters, shares, strict=True)
            if share
        ]
        by_key = {o.action_id: o for f in futures for o in f.result()}
        return [by_key[a.action_id] for a in actions]

    @staticmethod
    def _send(
        adapter: Adapter,
        actions: list[Action],
        throttled: threading.Event,
        retry_after: list[float | None],
    ) -> list[Outcome]:
        out = []
        for a in actions:
            if throttled.is_set():
                wait = retry_after[0] if retry_after else None
                out.append(
                    Outcome(a.action_id, "retry", http_status=429, error="not sent: throttled",
                            retry_after_s=wait)
                )  # fmt: skip
                continue
            (o,) = adapter.deliver([a])
            if o.http_status == 429:
                retry_after.append(o.retry_after_s)
                throttled.set()
            out.append(o)
        return out
