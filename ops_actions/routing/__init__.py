"""Decide: the router (pure functions over polars DataFrames) and its rules file."""
