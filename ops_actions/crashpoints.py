"""Named crash points for crash-safety tests.

`crashpoint("routing.before_commit")` kills the current process with SIGKILL when the
environment variable `OMS_OPS_CRASH_AT` names that point, so tests can prove that a crash
anywhere in decide / commit / deliver neither loses nor duplicates an action. A no-op otherwise.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "OMS_OPS_CRASH_AT"

POINTS = (
    "routing.after_decide",
    "routing.before_commit",
    "routing.after_commit",
    "dispatch.after_claim",
    "dispatch.after_send",
    "dispatch.before_record",
    "dispatch.after_record",
)


def crashpoint(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
