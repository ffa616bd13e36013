"""The Olist sources through the real ingest: hostile rows are quarantined with a reason a
person can act on, São Paulo wall-clock times become UTC, and an export can be dropped under
its release names or its subset names, in one folder per export, without loading anything
twice. Small hand-written files (the real subset is exercised by test_olist.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.ingest.engine import ingest_all

ORDERS_HEADER = (
    "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
    "order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date"
)
ITEMS_HEADER = "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value"
PRODUCTS_HEADER = (
    "product_id,product_category_name,product_name_lenght,product_description_lenght,"
    "product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm"
)
OLIST = (
    "olist_products",
    "olist_categories",
    "olist_customers",
    "olist_orders",
    "olist_order_items",
)


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _good_export(folder: Path, long_names: bool, later_order: bool = False) -> None:
    """Two orders, three items, two products, in the release's or the subset's file names
    (and a third order placed later, in a later export)."""
    name = (lambda n: f"olist_{n}_dataset.csv") if long_names else (lambda n: f"{n}.csv")
    _write(
        folder / name("products"),
        PRODUCTS_HEADER,
        ["p1,perfumaria,40,287,1,225,16,10,14", "p2,,,,,,,,"],
    )
    _write(
        folder / "product_category_name_translation.csv",
        "product_category_name,product_category_name_english",
        ["perfumaria,perfumery"],
    )
    _write(
        folder / name("customers"),
        "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state",
        ["c1,u1,01310,sao paulo,SP", "c2,u2,4571,sao paulo,SP"],
    )
    _write(
        folder / name("orders"),
        ORDERS_HEADER,
        [
            # October: UTC-3
            "o1,c1,delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,2017-10-04 19:55:00,"
            "2017-10-10 21:25:13,2017-10-18 00:00:00",
            # December: summer time in 2017, UTC-2
            "o2,c2,canceled,2017-12-01 10:00:00,,,,2017-12-20 00:00:00",
        ]
        + (["o6,c2,created,2017-12-02 10:00:00,,,,2017-12-22 00:00:00"] if later_order else []),
    )
    _write(
        folder / name("order_items"),
        ITEMS_HEADER,
        [
            "o1,1,p1,s1,2017-10-06 11:07:15,58.90,13.29",
            "o1,2,p2,s1,2017-10-06 11:07:15,10.00,0.00",
            "o2,1,p1,s2,2017-12-05 10:00:00,58.90,13.29",
        ],
    )


def _rejects(warehouse: Path) -> list[tuple[str, str, str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select source, reason_code, reason, record from raw._rejects "
            "where kind = 'rejected' order by source, record_no"
        ).fetchall()
    finally:
        con.close()


def _reconciled(warehouse: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per source: seen, loaded, rejected, duplicates; each file's seen = the other three."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for file, seen, loaded, rejected, dupes in con.execute(
            "select file, records_seen, loaded, rejected, duplicates from raw._batches"
        ).fetchall():
            assert seen == loaded + rejected + dupes, file
        rows = con.execute(
            "select source, sum(records_seen), sum(loaded), sum(rejected), sum(duplicates) "
            "from raw._batches group by source"
        ).fetchall()
        return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}  # type: ignore[misc]
    finally:
        con.close()


def test_hostile_olist_rows_are_quarantined_with_a_reason(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _good_export(landing / "olist", long_names=False)
    _write(
        landing / "olist" / "orders.csv",
        ORDERS_HEADER,
        [
            "o1,c1,delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,2017-10-04 19:55:00,"
            "2017-10-10 21:25:13,2017-10-18 00:00:00",
            "o3,c1,lost_in_space,2017-10-02 10:00:00,,,,2017-10-18 00:00:00",
            "o4,c1,delivered,2017-13-45 10:00:00,,,,2017-10-18 00:00:00",
            ",c1,created,2017-10-02 10:00:00,,,,2017-10-18 00:00:00",
            "o5,c1,created,2017-10-02 10:00:00,,,,2017-10-18 00:00:00,one too many",
        ],
    )
    _write(
        landing / "olist" / "order_items.csv",
        ITEMS_HEADER,
        [
            "o1,1,p1,s1,2017-10-06 11:07:15,58.90,13.29",
            "o1,2,not-a-product,s1,2017-10-06 11:07:15,10.00,0.00",
            "o1,3,p2,s1,2017-10-06 11:07:15,ten reais,0.00",
            "o1,0,p2,s1,2017-10-06 11:07:15,10.00,0.00",
        ],
    )
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, landing, list(OLIST))
    rejects = _rejects(warehouse)
    assert {(s, r) for s, code, r, _ in rejects if code != "malformed_record"} == {
        (
            "olist_orders",
            "invalid_value: order_status = 'lost_in_space' is not in the vocabulary "
            "olist_order_status",
        ),
        (
            "olist_orders",
            "invalid_timestamp: order_purchase_timestamp = '2017-13-45 10:00:00' is not a "
            "valid timestamp",
        ),
        ("olist_orders", "missing_required: order_id is empty"),
        ("olist_order_items", "unknown_sku: not-a-product is not in the product reference"),
        ("olist_order_items", "invalid_number: price = 'ten reais' is not a number"),
        ("olist_order_items", "invalid_quantity: order_item_id = 0, must be > 0"),
    }
    # the row with one field too many is quarantined whole, with its own text
    malformed = [(s, r, rec) for s, code, r, rec in rejects if code == "malformed_record"]
    assert len(malformed) == 1 and malformed[0][0] == "olist_orders", malformed
    assert "one too many" in malformed[0][2]
    counts = _reconciled(warehouse)
    assert counts["olist_orders"] == (5, 1, 4, 0)
    assert counts["olist_order_items"] == (4, 1, 3, 0)


def test_sao_paulo_wall_clock_times_are_stored_in_utc(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _good_export(landing / "olist", long_names=False)
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, landing, list(OLIST))
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = dict(
        con.execute("select order_id, order_purchase_timestamp from raw.olist__orders").fetchall()
    )
    con.close()
    assert rows == {
        "o1": datetime(2017, 10, 2, 13, 56, 33),  # UTC-3
        "o2": datetime(2017, 12, 1, 12, 0, 0),  # summer time, UTC-2
    }


def test_an_export_under_release_names_in_its_own_folder_loads_once(tmp_path: Path) -> None:
    """The release's long names in `olist/<export>/`; a later export of the same orders in
    another folder, under the subset's names, adds only what is new: the rest are duplicates,
    counted."""
    landing = tmp_path / "landing"
    _good_export(landing / "olist" / "2018-10-17", long_names=True)
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, landing, list(OLIST))
    first = _reconciled(warehouse)
    assert first["olist_orders"] == (2, 2, 0, 0)
    assert first["olist_order_items"] == (3, 3, 0, 0)
    assert first["olist_products"] == (2, 2, 0, 0)
    _good_export(landing / "olist" / "2018-10-18", long_names=False, later_order=True)
    ingest_all(warehouse, landing, list(OLIST))
    second = _reconciled(warehouse)
    # the orders file differs (a new order): its known rows are duplicates by key
    assert second["olist_orders"] == (5, 3, 0, 2)
    # the other files are byte copies: counted as duplicates, not read again
    assert second["olist_order_items"] == (6, 3, 0, 3)
    assert second["olist_customers"] == (4, 2, 0, 2)
