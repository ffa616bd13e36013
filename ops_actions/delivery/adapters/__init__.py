"""Adapters deliver actions to one kind of destination and report one outcome per action."""
