"""A per-destination rate limit around any adapter, honouring a 429's Retry-After.

A token bucket: `rate_per_s` updates a second on average, `burst` at once at most. One
`deliver` call sends its actions in chunks as tokens come (waiting at most `max_wait_s` in
all); what it could not send in that time is handed back `deferred` with the time the next
token is due, so the dispatcher claims it again later and the attempt does not count towards
the dead letter.

A destination that answers 429 Too Many Requests is paused for its `Retry-After` (seconds,
or `default_pause_s` when it gives none): the throttled action and the rest of the batch are
deferred to then, and `paused_until` tells the dispatcher not to claim for it meanwhile.
Without a rate (`rate_per_s` None) only the 429 handling applies.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ops_actions.delivery.adapters.base import Action, Adapter, Outcome


@dataclass
class RateLimitedAdapter:
    inner: Adapter
    rate_per_s: float | None = None
    burst: int | None = None  # default: one second's worth (at least 1)
    chunk: int | None = None  # most actions per call of `inner` (1 for a request-per-action API)
    max_wait_s: float = 2.0
    default_pause_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _tokens: float = field(default=0.0, init=False)
    _stamp: float | None = field(default=None, init=False)
    _paused_until: float = field(default=-math.inf, init=False)

    def __post_init__(self) -> None:
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise ValueError(f"a rate limit must be positive, not {self.rate_per_s!r}")
        if self.burst is None:
            self.burst = max(1, int(self.rate_per_s or 1))
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst!r}")
        self._tokens = float(self.burst)

    def paused_until(self, at: dt.datetime) -> dt.datetime | None:
        """When the destination may be called again (None: now), as a time after `at`."""
        left = self._paused_until - self.clock()
        return at + dt.timedelta(seconds=left) if left > 0 else None

    def _refill(self) -> None:
        now = self.clock()
        if self.rate_per_s is not None and self._stamp is not None:
            assert self.burst is not None
            self._tokens = min(
                float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s
            )
        self._stamp = now

    def _grant(self, wanted: int, waited: float) -> tuple[int, float]:
        """How many actions may go now (waiting for the first token if the budget allows),
        and the seconds waited; 0 when the budget is spent."""
        if self.rate_per_s is None:
            return wanted, waited
        self._refill()
        if self._tokens < 1:
            need = (1 - self._tokens) / self.rate_per_s
            if waited + need > self.max_wait_s:
                return 0, waited
            self.sleep(need)
            waited += need
            self._refill()
        n = min(wanted, int(self._tokens))
        self._tokens -= n
        return n, waited

    def _defer(self, actions: list[Action], wait_s: float, why: str) -> list[Outcome]:
        return [
            Outcome(a.action_id, "deferred", error=why, retry_after_s=wait_s, detail=why)
            for a in actions
        ]

    def deliver(self, actions: list[Action]) -> list[Outcome]:
        out: list[Outcome] = []
        waited = 0.0
        i = 0
        while i < len(actions):
            pause = self._paused_until - self.clock()
            if pause > 0:
                return out + self._defer(actions[i:], pause, "destination paused (Retry-After)")
            want = min(self.chunk or len(actions), len(actions) - i)
            n, waited = self._grant(want, waited)
            if n == 0:
                next_token = 1.0 / self.rate_per_s if self.rate_per_s else 0.0
                return out + self._defer(actions[i:], next_token, "rate limit")
            for o in self.inner.deliver(actions[i : i + n]):
                if o.status == "retry" and o.http_status == 429:
                    wait = o.retry_after_s if o.retry_after_s is not None else self.default_pause_s
                    self._paused_until = max(self._paused_until, self.clock() + wait)
                    o = Outcome(
                        o.action_id,
                        "deferred",
                        http_status=429,
                        error=o.error,
                        response=o.response,
                        retry_after_s=wait,
                        detail=f"throttled, Retry-After {wait:g}s",
                    )
                out.append(o)
            i += n
        return out
