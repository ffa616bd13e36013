"""What the hold step reads from the warehouse, as polars frames for the pure evaluation.

- `candidates`: one row per channel order to evaluate now: not a till sale, not cancelled, with
  units still open, and not in `ops.order_validations` yet (so a rerun evaluates nothing
  twice). With its amount, customer, ship-to and, for the web shop, the payment state of its
  latest version (`financial_status` from staging: the marts do not carry it).
- `lines`: one row per order line of those orders, with the state of its SKU in the product
  reference (`active`, `inactive`, `missing`).
- `history`: one row per channel order of the candidates' customers (any state, candidates
  included), with its lines' signature (sorted `sku×units`), for first-order, new-ship-to and
  duplicate checks.
- `known_postcodes`: every postcode with a centroid in the postcode reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

CANDIDATES_SQL = """
select o.channel_order_id, o.channel, o.order_id, o.customer_id, o.ordered_at,
       cast(o.order_amount as double) as order_amount, o.currency,
       o.ship_to_postcode, o.ship_to_country,
       case when o.channel = 'webshop' then w.financial_status end as payment_status
from marts.fct_orders as o
left join staging.stg_webshop__orders as w
    on o.channel = 'webshop' and o.order_id = w.order_id
where o.channel <> 'pos'
  and not o.is_cancelled
  and o.units_open > 0
  and o.channel_order_id not in (select channel_order_id from ops.order_validations)
"""

LINES_SQL = """
select l.channel_order_id, l.order_line_id, l.sku, l.units_ordered as quantity,
       case when p.sku is null then 'missing'
            when coalesce(p.is_active, false) then 'active'
            else 'inactive' end as sku_status
from marts.fct_order_lines as l
left join marts.dim_products as p on l.sku = p.sku
where l.channel_order_id in (select channel_order_id from candidates)
"""

HISTORY_SQL = """
with customers as (
    select distinct channel, customer_id from candidates where customer_id is not null
)
select o.channel, o.customer_id, o.channel_order_id, o.ordered_at, o.ship_to_postcode,
       o.ship_to_country, o.is_cancelled,
       string_agg(l.sku || '×' || cast(l.units_ordered as varchar), ', '
                  order by l.sku, l.units_ordered) as line_signature
from marts.fct_orders as o
inner join customers as c on o.channel = c.channel and o.customer_id = c.customer_id
inner join marts.fct_order_lines as l on l.channel_order_id = o.channel_order_id
group by all
"""

POSTCODES_SQL = "select distinct postcode from staging.stg_reference__postcodes"


@dataclass(frozen=True)
class HoldInputs:
    candidates: pl.DataFrame
    lines: pl.DataFrame
    history: pl.DataFrame
    known_postcodes: pl.Series


def read_hold_inputs(con: duckdb.DuckDBPyConnection) -> HoldInputs:
    """Everything the evaluation needs, read on `con` (inside or outside a transaction)."""
    candidates = con.sql(CANDIDATES_SQL).pl()
    con.register("candidates", candidates.select("channel_order_id", "channel", "customer_id"))
    try:
        lines = con.sql(LINES_SQL).pl()
        history = con.sql(HISTORY_SQL).pl()
    finally:
        con.unregister("candidates")
    postcodes = con.sql(POSTCODES_SQL).pl()["postcode"]
    return HoldInputs(candidates, lines, history, postcodes)
