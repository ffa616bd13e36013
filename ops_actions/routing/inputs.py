"""Typed column contracts of the router's inputs.

The dbt action marts will provide these tables; until then any polars DataFrame that satisfies
the contract can be routed. `conform_*` checks required columns, casts to the contract's types
and fills optional columns with their defaults, so the decide half never guesses a type.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl


class InputContractError(ValueError):
    """An input table misses a required column or holds a value the router cannot use."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType | type[pl.DataType]
    required: bool = True
    default: object = None
    description: str = ""


OPEN_LINES: tuple[Column, ...] = (
    Column("order_line_id", pl.String, description="unique key, one row per open order line"),
    Column("order_id", pl.String, description="lines of one order may be shipped together"),
    Column("channel", pl.String, description="sales channel (webshop, marketplace, pos, ...)"),
    Column("sku", pl.String),
    Column("quantity", pl.Int64, description="units still to route (> 0)"),
    Column("service_level", pl.String, description="standard, express, ... (see rules costs)"),
    Column("promised_ship_date", pl.Date),
    Column("promised_delivery_date", pl.Date),
    Column("ordered_at", pl.Datetime("us")),
    Column("ship_to_latitude", pl.Float64),
    Column("ship_to_longitude", pl.Float64),
    Column("weight_kg", pl.Float64, description="weight of ONE unit"),
)

AVAILABLE_TO_PROMISE: tuple[Column, ...] = (
    Column("sku", pl.String, description="key with location_id: one row per sku x location"),
    Column("location_id", pl.String),
    Column("on_hand", pl.Int64, required=False, default=0),
    Column("allocated", pl.Int64, required=False, default=0),
    Column("safety_buffer", pl.Int64, required=False, default=0),
    Column("inbound", pl.Int64, required=False, default=0),
    Column("available", pl.Int64, description="units free to promise per the stock snapshot"),
    Column(
        "snapshot_at",
        pl.Datetime("us"),
        required=False,
        default=None,
        description="when the stock figures were taken; allocations acknowledged by the "
        "warehouse before this instant are assumed reflected in `allocated` (see docs/routing.md)",
    ),
)

LOCATIONS: tuple[Column, ...] = (
    Column("location_id", pl.String, description="one row per location"),
    Column("latitude", pl.Float64),
    Column("longitude", pl.Float64),
    Column("can_ship", pl.Boolean, required=False, default=True),
    Column("ships_channels", pl.List(pl.String), description="channels this location serves"),
    Column("handling_cost_per_unit", pl.Float64, required=False, default=0.0),
    Column("shipment_base_cost", pl.Float64, required=False, default=0.0),
    Column("processing_days", pl.Int64, required=False, default=1),
)


def _conform(df: pl.DataFrame, contract: tuple[Column, ...], table: str) -> pl.DataFrame:
    missing = [c.name for c in contract if c.required and c.name not in df.columns]
    if missing:
        raise InputContractError(f"{table}: missing required column(s) {', '.join(missing)}")
    exprs = []
    for c in contract:
        if c.name in df.columns:
            try:
                exprs.append(pl.col(c.name).cast(c.dtype, strict=True))
            except Exception as exc:  # pragma: no cover - cast errors surface at collect
                raise InputContractError(f"{table}.{c.name}: {exc}") from exc
        else:
            exprs.append(pl.lit(c.default, dtype=c.dtype).alias(c.name))
    try:
        out = df.select(exprs)
    except pl.exceptions.PolarsError as exc:
        raise InputContractError(f"{table}: cannot cast to the contract types: {exc}") from exc
    nulls = [c.name for c in contract if c.required and out[c.name].null_count() > 0]
    if nulls:
        raise InputContractError(f"{table}: null values in required column(s) {', '.join(nulls)}")
    return out


def conform_open_lines(df: pl.DataFrame) -> pl.DataFrame:
    """One row per open order line, typed per `OPEN_LINES`; rejects duplicate or empty lines."""
    out = _conform(df, OPEN_LINES, "open_lines")
    if out["order_line_id"].n_unique() != out.height:
        raise InputContractError("open_lines: order_line_id is not unique")
    if out.height and out["quantity"].min() <= 0:  # type: ignore[operator]
        raise InputContractError("open_lines: quantity must be > 0")
    return out


def conform_atp(df: pl.DataFrame) -> pl.DataFrame:
    """One row per sku x location, typed per `AVAILABLE_TO_PROMISE`; negative available -> 0."""
    out = _conform(df, AVAILABLE_TO_PROMISE, "available_to_promise")
    if out.select(pl.struct("sku", "location_id").n_unique()).item() != out.height:
        raise InputContractError("available_to_promise: (sku, location_id) is not unique")
    return out.with_columns(pl.col("available").clip(lower_bound=0))


def conform_locations(df: pl.DataFrame) -> pl.DataFrame:
    """One row per location, typed per `LOCATIONS`."""
    out = _conform(df, LOCATIONS, "locations")
    if out["location_id"].n_unique() != out.height:
        raise InputContractError("locations: location_id is not unique")
    return out


# Orders the router must leave out: an unresolved hold (waiting for a person), or a hold a
# person cancelled (the order is cancelled). Read live from `ops.order_holds` in the routing
# run's own connection, so a hold placed or released earlier in the same run is in effect.
HELD_ORDERS_SQL = """
select distinct channel_order_id as order_id
from ops.order_holds
where resolution is null or resolution = 'cancelled'
"""


def exclude_held_orders(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> pl.DataFrame:
    """`lines` (open lines, `order_id` = channel_order_id) without the lines of held or
    cancelled-on-hold orders (see docs/holds.md)."""
    held = con.sql(HELD_ORDERS_SQL).pl()
    if held.is_empty():
        return lines
    return lines.join(held, on="order_id", how="anti")
