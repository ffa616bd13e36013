"""Candidate generation: one row per (order line x eligible location) for one inventory rule.

A location is a candidate for a line when it can ship, serves the line's channel, passes the
rule's location filter (include / exclude / maximum distance), and holds at least the rule's
`min_stock` units of the SKU right now (stock taken by earlier routings and rules, and by earlier
runs, is already deducted). Each row carries the distance, estimated transit and lateness, and
the per-unit cost parts the solver and the greedy baseline share.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ops_actions.routing.rules import InventoryRule, RuleSet

EARTH_RADIUS_KM = 6371.0088

CANDIDATE_COLUMNS = (
    "line_idx",
    "sku",
    "location_id",
    "available",
    "distance_km",
    "transit_days",
    "late_days",
    "ship_cost_unit",
    "handling_cost_unit",
    "late_cost_unit",
    "unit_cost",
    "shipment_base_cost",
)


def haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = lat1.radians(), lat2.radians()
    dphi = p2 - p1
    dlmb = lon2.radians() - lon1.radians()
    a = (dphi / 2).sin() ** 2 + p1.cos() * p2.cos() * (dlmb / 2).sin() ** 2
    return 2 * EARTH_RADIUS_KM * a.sqrt().arcsin()


def service_level_table(rules: RuleSet, levels: list[str]) -> pl.DataFrame:
    """Transit speed and cost multiplier per service level present in the lines."""
    rows = [(name, rules.service_level(name)) for name in levels]
    return pl.DataFrame(
        {
            "service_level": [n for n, _ in rows],
            "km_per_day": [s.km_per_day for _, s in rows],
            "cost_multiplier": [s.cost_multiplier for _, s in rows],
        },
        schema={
            "service_level": pl.String,
            "km_per_day": pl.Float64,
            "cost_multiplier": pl.Float64,
        },
    )


def build_candidates(
    lines: pl.DataFrame,
    locations: pl.DataFrame,
    stock: pl.DataFrame,
    rule: InventoryRule,
    rules: RuleSet,
    today: dt.date,
) -> pl.DataFrame:
    """Candidates for `lines` (which carry `line_idx` and `quantity` still to route).

    `stock` holds the current units per (sku, location_id) in column `available`.
    Returns one row per (line_idx, location_id) with `CANDIDATE_COLUMNS`.
    """
    flt = rule.locations
    locs = locations.filter(pl.col("can_ship"))
    if flt.include is not None:
        locs = locs.filter(pl.col("location_id").is_in(list(flt.include)))
    if flt.exclude:
        locs = locs.filter(~pl.col("location_id").is_in(list(flt.exclude)))
    loc_channels = locs.select(
        "location_id",
        pl.col("ships_channels").alias("channel"),
        pl.col("latitude").alias("loc_lat"),
        pl.col("longitude").alias("loc_lon"),
        "handling_cost_per_unit",
        "shipment_base_cost",
        "processing_days",
    ).explode("channel")
    eligible_stock = stock.filter(pl.col("available") >= flt.min_stock).select(
        "sku", "location_id", "available"
    )
    levels = service_level_table(rules, lines["service_level"].unique().to_list())
    c = rules.costs
    cand = (
        lines.select(
            "line_idx",
            "sku",
            "channel",
            "service_level",
            "weight_kg",
            "promised_delivery_date",
            "ship_to_latitude",
            "ship_to_longitude",
        )
        .join(eligible_stock, on="sku", how="inner")
        .join(loc_channels, on=["location_id", "channel"], how="inner")
        .join(levels, on="service_level", how="left")
        .with_columns(
            haversine_km(
                pl.col("ship_to_latitude"),
                pl.col("ship_to_longitude"),
                pl.col("loc_lat"),
                pl.col("loc_lon"),
            ).alias("distance_km")
        )
    )
    if flt.max_distance_km is not None:
        cand = cand.filter(pl.col("distance_km") <= flt.max_distance_km)
    today_lit = pl.lit(today, dtype=pl.Date)
    cand = cand.with_columns(
        (pl.col("distance_km") / pl.col("km_per_day"))
        .ceil()
        .clip(lower_bound=1)
        .cast(pl.Int64)
        .alias("transit_days")
    ).with_columns(
        (
            today_lit
            + pl.duration(days=pl.col("processing_days") + pl.col("transit_days"))
            - pl.col("promised_delivery_date")
        )
        .dt.total_days()
        .clip(lower_bound=0)
        .alias("late_days"),
        (
            pl.max_horizontal(
                pl.lit(c.shipping_min_per_unit),
                c.shipping_per_kg_km * pl.col("weight_kg") * pl.col("distance_km"),
            )
            * pl.col("cost_multiplier")
        ).alias("ship_cost_unit"),
        pl.col("handling_cost_per_unit").alias("handling_cost_unit"),
    )
    cand = cand.with_columns(
        (pl.col("late_days") * c.late_penalty_per_unit_day).cast(pl.Float64).alias("late_cost_unit")
    ).with_columns(
        (pl.col("ship_cost_unit") + pl.col("handling_cost_unit") + pl.col("late_cost_unit")).alias(
            "unit_cost"
        )
    )
    return cand.select(CANDIDATE_COLUMNS).sort("line_idx", "unit_cost", "location_id")
