"""Retry policy: exponential backoff with jitter, dead letter after `max_attempts`."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 2.0
    max_delay_s: float = 600.0
    jitter: float = 0.5  # the delay is drawn from [(1 - jitter) * d, d]
    lease_s: float = 120.0  # how long a claimed action stays in flight before it is due again

    def delay_s(self, attempt_no: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt `attempt_no` (1-based)."""
        d = min(self.max_delay_s, self.base_delay_s * 2 ** max(attempt_no - 1, 0))
        r = (rng or random).uniform(1.0 - self.jitter, 1.0)
        return d * r

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
