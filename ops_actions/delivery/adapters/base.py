"""What every adapter takes (`Action`) and returns (`Outcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["delivered", "retry", "failed", "deferred"]


@dataclass(frozen=True)
class Action:
    """One outbox row being attempted."""

    action_id: str  # the idempotency key
    kind: str
    destination: str
    payload: dict[str, Any]
    attempt_no: int  # 1 for the first attempt of this action (across requeues too)
    batch_key: str | None = None

    @property
    def is_retry(self) -> bool:
        return self.attempt_no > 1


@dataclass
class Outcome:
    """Result of one attempt. `delivered` carries the destination's acknowledgement; `retry`
    is a transient failure; `failed` is permanent (dead letter at once); `deferred` means the
    action was held back or throttled (a rate limit, a 429): it is due again after
    `retry_after_s` and the attempt does not count towards the dead letter."""

    action_id: str
    status: Status
    http_status: int | None = None
    error: str | None = None
    response: str | None = None
    ack: dict[str, Any] | None = field(default=None)
    detail: str | None = None  # e.g. "found by lookup before retry"
    retry_after_s: float | None = None  # the destination asked to wait (Retry-After)


class Adapter(Protocol):
    """Delivers a batch of actions for one destination; never raises for a delivery failure."""

    def deliver(self, actions: list[Action]) -> list[Outcome]: ...
