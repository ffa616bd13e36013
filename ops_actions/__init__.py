"""Operational write-back: decide (pure routing) -> outbox -> adapters -> warehouses.

Entry points: `ops_actions.run_routing.run_routing` (one routing run, committed atomically)
and `ops_actions.delivery.dispatcher.dispatch_due` (deliver due outbox actions). See
docs/routing.md.
"""
