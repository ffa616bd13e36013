"""Days loaded one after another on top of history give exactly the models a full rebuild gives.

One warehouse is built as the data arrives, over four loads: 20 days of history, the next day,
a load of late and corrected records only (the delivery scans of parcels of the first days,
a marketplace item of an old order corrected to cancelled under the same order item id, a
return for an old order's line), then one more day. A copy of it is then rebuilt with
`dbt build --full-refresh`, and every incremental model (and the tables built on them) must
hold the same rows in both, bookkeeping columns (`_...`) aside.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from demo_generator import generate
from pipelines.ingest.engine import ingest_all
from pipelines.settings import PROJECT_ROOT
from pipelines.transform.project import dbt_env, dbt_executable

pytestmark = pytest.mark.e2e

COMPARED = (
    ("intermediate", "int_order_lines_unioned"),
    ("intermediate", "int_rma_lines_matched"),
    ("marts", "fct_order_lines"),
    ("marts", "fct_orders"),
    ("marts", "fct_shipments"),
    ("marts", "fct_returns"),
    ("marts", "fct_inventory_snapshots"),
    ("marts", "fct_cycle_counts"),
    ("marts", "fct_kpi_order_lines"),
    ("marts", "fct_kpis"),
    ("marts", "fct_kpi_time_sketch"),
    ("marts", "fct_kpi_return_reasons"),
    ("marts", "fct_fulfillment_kpis_daily"),
    ("marts", "fct_inventory_kpis_daily"),
    ("marts", "fct_available_to_promise"),
    ("marts", "fct_demand_daily"),
    ("marts", "ops_open_order_lines"),
)


# A return window of 3 days instead of 35: most lines of the short history are settled (due,
# delivered, matured), so the incremental runs keep them and restamp only their cut-off.
VARS = '{"kpi_return_maturity_days": 3}'


def _dbt_build(warehouse: Path, work: Path, *args: str) -> None:
    project = PROJECT_ROOT / "dbt_project"
    result = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--quiet",
            "--vars",
            VARS,
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        env={**dbt_env(), "OMS_WAREHOUSE_PATH": str(warehouse)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def _hold_back_deliveries(warehouse: Path) -> None:
    """Take the delivery scans of a few parcels of the first days out of `raw`, as if the
    carrier sent them weeks late (`_late_and_corrected_load` delivers them)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            """create table raw._held_back_deliveries as
               select * from raw.carrier__tracking_events
               where status = 'delivered' and tracking_number in (
                   select tracking_number from raw.carrier__tracking_events
                   where status = 'delivered'
                   order by occurred_at, tracking_number limit 3)"""
        )
        held = con.execute("select count(*) from raw._held_back_deliveries").fetchone()
        assert held and held[0] > 0
        con.execute(
            """delete from raw.carrier__tracking_events
               where event_id in (select event_id from raw._held_back_deliveries)"""
        )
    finally:
        con.close()


def _late_and_corrected_load(warehouse: Path) -> dict[str, str]:
    """One load of late and corrected records for orders of the first days, stamped like a
    load of the ingest (one `_loaded_at`, later than every earlier load). Returns what it
    changed, to check that the incremental build saw it."""
    now = datetime.now(UTC).replace(tzinfo=None)
    con = duckdb.connect(str(warehouse))
    try:
        # the delivery scans held back after the first load (`_hold_back_deliveries`) arrive
        con.execute(
            """insert into raw.carrier__tracking_events
               select * replace (? as _loaded_at) from raw._held_back_deliveries""",
            [now],
        )
        parcel = con.execute(
            "select min(tracking_number) from raw._held_back_deliveries"
        ).fetchone()
        con.execute("drop table raw._held_back_deliveries")
        # a marketplace item of an old open order, corrected: same order item id, a later
        # version cancelling it
        item = con.execute(
            """select order_id, order_item_id from raw.marketplace__order_items
               where purchase_date < (select min(purchase_date) + interval 5 day
                                      from raw.marketplace__order_items)
               order by order_id, order_item_id limit 1"""
        ).fetchone()
        assert item
        con.execute(
            """insert into raw.marketplace__order_items
               select * replace (
                   'Canceled' as order_status,
                   last_updated_date + interval 30 day as last_updated_date,
                   'marketplace/correction.tsv' as _file, ? as _loaded_at)
               from raw.marketplace__order_items
               where order_id = ? and order_item_id = ?
               order by last_updated_date desc limit 1""",
            [now, item[0], item[1]],
        )
        # a return, received and restockable, for a line of an old web shop order
        line = con.execute(
            """select o.id, l.id, l.sku, l.quantity
               from raw.webshop__orders as o
               join raw.webshop__order_line_items as l on l.order_id = o.id
               order by o.created_at, o.id, l.id limit 1"""
        ).fetchone()
        assert line
        con.execute(
            """insert into raw.returns__rma_lines
               select 'RMA-LATE-1', 1, 'webshop', ?, ?, ?, 1, 'damaged', 'new', true,
                      'refunded', 10.00, 'USD', max(requested_at), max(received_at),
                      min(received_location_id), 'late', 'returns/late.csv', ?
               from raw.returns__rma_lines""",
            [str(line[0]), str(line[1]), line[2], now],
        )
    finally:
        con.close()
    return {
        "tracking_number": parcel[0],
        "marketplace_line": f"marketplace:{item[0]}:{item[1]}",
        "webshop_order": f"webshop:{line[0]}",
    }


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> str:
    names = con.execute(
        """select column_name from information_schema.columns
           where table_catalog = ? and table_schema = ? and table_name = ?
             and not starts_with(column_name, '_')
           order by ordinal_position""",
        [catalog, schema, table],
    ).fetchall()
    assert names, f"{schema}.{table} missing"
    return ", ".join(f'"{name}"' for (name,) in names)


def test_incremental_loads_equal_a_full_rebuild(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    staged, full = tmp_path / "staged.duckdb", tmp_path / "full.duckdb"
    # same daily volume in every call, so each later day continues the history exactly
    generate(landing, days=20, order_lines=3_000, seed=5)
    ingest_all(staged, landing)
    _hold_back_deliveries(staged)
    _dbt_build(staged, tmp_path)
    generate(landing, days=21, order_lines=3_150, seed=5, from_day=20)
    ingest_all(staged, landing)
    _dbt_build(staged, tmp_path)  # incremental models consume only the new day
    changed = _late_and_corrected_load(staged)
    _dbt_build(staged, tmp_path)
    generate(landing, days=22, order_lines=3_300, seed=5, from_day=21)
    ingest_all(staged, landing)
    _dbt_build(staged, tmp_path)
    shutil.copyfile(staged, full)
    _dbt_build(full, tmp_path, "--full-refresh")

    con = duckdb.connect()
    con.execute(f"attach '{staged}' as s (read_only)")
    con.execute(f"attach '{full}' as f (read_only)")
    # the late and corrected records reached the incremental models
    assert con.execute(
        "select count(*) from s.marts.fct_shipments where tracking_number = ? and is_delivered",
        [changed["tracking_number"]],
    ).fetchone() == (1,)
    assert con.execute(
        "select cancel_origin from s.marts.fct_kpi_order_lines where order_line_id = ?",
        [changed["marketplace_line"]],
    ).fetchone() == ("ours",)
    assert con.execute(
        "select sum(units_returned) from s.marts.fct_returns where rma_id = 'RMA-LATE-1'"
        " and order_line_id like ?",
        [changed["webshop_order"] + ":%"],
    ).fetchone() == (1,)
    # the last run kept settled KPI lines and recomputed the others
    kept, rewritten = con.execute(
        """select count(*) filter (where _dbt_run_at < latest),
                  count(*) filter (where _dbt_run_at = latest)
           from s.marts.fct_kpi_order_lines,
                (select max(_dbt_run_at) as latest from s.marts.fct_kpi_order_lines)"""
    ).fetchone()
    assert kept > rewritten > 0, (kept, rewritten)
    for schema, table in COMPARED:
        cols = _columns(con, "f", schema, table)
        rows = con.execute(f"select count(*) from f.{schema}.{table}").fetchone()[0]
        assert rows > 0, table
        for a, b in (("s", "f"), ("f", "s")):
            diff = con.execute(
                f"select count(*) from (select {cols} from {a}.{schema}.{table} "
                f"except all select {cols} from {b}.{schema}.{table})"
            ).fetchone()[0]
            assert diff == 0, f"{table}: {diff} rows in {a} not in {b}"
