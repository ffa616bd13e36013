"""Deterministic idempotency keys: same action, same key, whichever run produced it.

key = sha256(kind | destination | canonical JSON of the run-independent content). The content
must identify the action in the business sense (for a fulfillment request: order, location and
the units of each line, with how many units of the line earlier runs already requested) and
must not contain a run id or a timestamp, so a run that is redone after a crash regenerates the
same keys and `INSERT ... ON CONFLICT DO NOTHING` turns the redo into a no-op.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no whitespace, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def action_key(kind: str, destination: str, content: Any) -> str:
    """The idempotency key (also the outbox `action_id`) of one action."""
    text = f"{kind}|{destination}|{canonical_json(content)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
