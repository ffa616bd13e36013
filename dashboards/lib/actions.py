"""The dashboard's write actions: each checks the user's permission, then writes, recording who.

Pages call these and never the store directly, so the check sits where the write happens: a
button shown to the wrong user, a disabled button clicked anyway, or a page rerun with a
forged widget value still reaches `require` and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from dashboards.lib.auth import RETRY_DELIVERY, User, require
from ops_actions.store import request_retry


def retry_dead_letter(user: User | None, store_path: Path, action_id: str) -> str:
    """Ask for a dead-lettered delivery to be sent again; returns the request id.

    Raises PermissionDenied (nothing written) unless `user` may retry deliveries; the request
    records the user's name and role.
    """
    allowed = require(user, RETRY_DELIVERY)
    return request_retry(store_path, action_id, allowed.username, allowed.role)
