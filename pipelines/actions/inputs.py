"""Read the routing inputs from the action marts, in the router's column contract."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.db import frame

OPEN_LINES_SQL = """
select order_line_id, order_id, channel, sku, quantity, service_level,
       promised_ship_date, promised_delivery_date, ordered_at,
       ship_to_latitude, ship_to_longitude, weight_kg
from marts.ops_open_order_lines
"""

# The router subtracts its own outstanding allocations at run time (they change every few
# minutes, the mart daily), so it gets the availability *before* allocations.
ATP_SQL = """
select sku, location_id, on_hand, reserved + allocated as allocated, safety_buffer,
       inbound_eligible as inbound, available_before_allocations as available, snapshot_at
from marts.fct_available_to_promise
"""

LOCATIONS_SQL = """
select location_id, latitude, longitude, can_ship,
       string_split(coalesce(ships_channels, ''), '|') as ships_channels
from marts.dim_locations
"""


def read_routing_inputs(
    con: duckdb.DuckDBPyConnection,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    lines = frame(con, OPEN_LINES_SQL)
    atp = frame(con, ATP_SQL).with_columns(pl.col("allocated").cast(pl.Int64))
    locations = frame(con, LOCATIONS_SQL).with_columns(
        pl.col("ships_channels").list.eval(pl.element().filter(pl.element() != ""))
    )
    return lines, atp, locations
