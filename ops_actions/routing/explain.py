"""Why each decision was taken: the routing and rule that applied, the alternatives the stage
considered with their cost and stock, and a short reason. One JSON document per decision row,
stored in `ops.routing_decisions.explanation`."""

from __future__ import annotations

import polars as pl

MAX_ALTERNATIVES = 5


def alternatives(cand: pl.DataFrame) -> pl.DataFrame:
    """Per line_idx: up to `MAX_ALTERNATIVES` cheapest candidates, as a list of structs.

    `cand` holds the stage's candidates with `units` (chosen), `available` (stock when the stage
    started) and `left_after` (stock left when the stage ended)."""
    return cand.group_by("line_idx").agg(
        pl.struct(
            "location_id",
            pl.col("distance_km").round(1),
            "transit_days",
            "late_days",
            pl.col("unit_cost").round(4).alias("cost_per_unit"),
            pl.col("available").alias("stock_at_start"),
            "left_after",
            (pl.col("units") > 0).alias("chosen"),
        )
        .sort_by(["unit_cost", "location_id"])
        .head(MAX_ALTERNATIVES)
        .alias("alternatives"),
        pl.len().alias("candidates"),
        (pl.col("left_after") > 0).any().alias("stock_left_somewhere"),
    )


def explanation_column(
    decisions: pl.DataFrame, alts: pl.DataFrame, rules_version: str, split: str
) -> pl.Series:
    """JSON text per decision row. `decisions` holds line_idx, outcome, routing, rule,
    rules_tried and the cost columns."""
    joined = decisions.select(
        "line_idx", "outcome", "routing", "rule", "rules_tried", "units", "unit_cost"
    ).join(alts, on="line_idx", how="left")
    reason = (
        pl.when(pl.col("outcome") == "allocated")
        .then(pl.lit("lowest total cost among eligible locations with stock"))
        .when(pl.col("candidates").is_null())
        .then(pl.lit("no eligible location holds this SKU under the rule's filters"))
        .when(~pl.col("stock_left_somewhere").fill_null(False))
        .then(pl.lit("eligible stock was taken by higher-priority or cheaper assignments"))
        .otherwise(
            pl.lit("shipping would cost more than the unfilled penalty, or split not allowed")
        )
    )
    doc = joined.select(
        pl.struct(
            pl.col("outcome"),
            pl.col("routing"),
            pl.col("rule"),
            pl.col("rules_tried"),
            pl.lit(rules_version).alias("rules_version"),
            pl.lit(split).alias("split"),
            reason.alias("reason"),
            pl.col("units"),
            pl.col("unit_cost").round(4).alias("cost_per_unit"),
            pl.col("candidates").fill_null(0).alias("locations_considered"),
            pl.col("alternatives").fill_null(pl.lit([], dtype=alts.schema["alternatives"])),
        )
        .struct.json_encode()
        .alias("explanation")
    )
    return doc["explanation"]
