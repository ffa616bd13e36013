"""The columns of `ops_reorder_suggestions` the reorder step reads (planning contract, §4)."""

from __future__ import annotations

import polars as pl

SUGGESTION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "suggestion_id": pl.String,
    "suggestion_version": pl.String,
    "as_of_date": pl.Date,
    "sku": pl.String,
    "location_id": pl.String,
    "supplier_id": pl.String,
    "kind": pl.String,
    "source_location_id": pl.String,
    "suggested_qty": pl.Float64,
    "unit_cost": pl.Float64,
    "currency": pl.String,
}
KINDS = ("purchase", "transfer")

SUGGESTIONS_SQL = f"""
select {", ".join(SUGGESTION_SCHEMA)} from marts.ops_reorder_suggestions
"""


class SuggestionInputError(ValueError):
    """The suggestions table does not follow the contract; the message says how."""


def conform_suggestions(frame: pl.DataFrame) -> pl.DataFrame:
    """The contract's columns, cast to their types; one row per suggestion id.

    Refuses a frame lacking a column, holding a suggestion id twice, an unknown kind, or a
    purchase without a supplier / a transfer without a source location."""
    missing = [c for c in SUGGESTION_SCHEMA if c not in frame.columns]
    if missing:
        raise SuggestionInputError(f"suggestions lack column(s): {', '.join(missing)}")
    out = frame.select(pl.col(c).cast(t) for c, t in SUGGESTION_SCHEMA.items())
    dupes = out.filter(pl.col("suggestion_id").is_duplicated())["suggestion_id"].unique()
    if dupes.len():
        raise SuggestionInputError(f"suggestion id(s) not unique: {dupes.head(5).to_list()}")
    bad_kind = out.filter(~pl.col("kind").is_in(KINDS))["kind"].unique()
    if bad_kind.len():
        raise SuggestionInputError(f"unknown kind(s) {bad_kind.to_list()}; expected {KINDS}")
    no_dest = out.filter(
        ((pl.col("kind") == "purchase") & pl.col("supplier_id").is_null())
        | ((pl.col("kind") == "transfer") & pl.col("source_location_id").is_null())
    )
    if no_dest.height:
        raise SuggestionInputError(
            "suggestion(s) without a destination (purchase without supplier_id or transfer "
            f"without source_location_id): {no_dest['suggestion_id'].head(5).to_list()}"
        )
    return out
