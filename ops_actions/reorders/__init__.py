"""Reorder requests from approved suggestions: decide (pure), then commit to the outbox.

`decide.py` turns the current suggestions and the planners' open decisions into reorder
requests and an outcome per decision; `run.py` commits them with the warehouse outbox and marks
the decisions consumed in the operational store; `destinations.py` picks the adapter per
supplier. See `docs/reorders.md`.
"""
