"""Named crash points for crash-safety tests.

`crashpoint(CrashPoint.ROUTING_BEFORE_COMMIT)` kills the current process with SIGKILL when the
environment variable `OMS_OPS_CRASH_AT` names that point, so tests can prove that a crash
anywhere in decide / commit / deliver neither loses nor duplicates an action. A no-op otherwise.

`CrashPoint` is the one list of points, in the order a routing run reaches them: the code passes
its members (never a bare string), and the crash-safety tests are parametrized over it, so a new
point is tested as soon as it is added here.
"""

from __future__ import annotations

import os
import signal
from enum import StrEnum

CRASH_ENV = "OMS_OPS_CRASH_AT"


class CrashPoint(StrEnum):
    """Where a routing run or a dispatch cycle can be killed; the value is what the environment
    variable names."""

    ROUTING_AFTER_DECIDE = "routing.after_decide"
    ROUTING_BEFORE_COMMIT = "routing.before_commit"
    ROUTING_AFTER_COMMIT = "routing.after_commit"
    DISPATCH_AFTER_CLAIM = "dispatch.after_claim"
    DISPATCH_AFTER_SEND = "dispatch.after_send"
    DISPATCH_BEFORE_RECORD = "dispatch.before_record"
    DISPATCH_AFTER_RECORD = "dispatch.after_record"
    REORDERS_AFTER_DECIDE = "reorders.after_decide"
    REORDERS_BEFORE_COMMIT = "reorders.before_commit"
    REORDERS_AFTER_COMMIT = "reorders.after_commit"
    STATUS_AFTER_DECIDE = "status.after_decide"
    STATUS_BEFORE_COMMIT = "status.before_commit"
    STATUS_AFTER_COMMIT = "status.after_commit"


def crashpoint(point: CrashPoint) -> None:
    if os.environ.get(CRASH_ENV) == point.value:
        os.kill(os.getpid(), signal.SIGKILL)


def points_of(*steps: str) -> tuple[CrashPoint, ...]:
    """The crash points of the named steps (`routing`, `dispatch`, `reorders`, `status`), step
    by step in the order given and within a step in the order the code reaches them: what a
    crash test of those steps must go through."""
    return tuple(p for step in steps for p in CrashPoint if p.value.split(".", 1)[0] == step)
