"""Deliver: outbox, idempotency keys, retries, adapters per destination kind, dispatcher."""
