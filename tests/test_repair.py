"""Repairing loaded records: re-checked by today's rules or quarantined by a person, the
ledger still reconciled, an order never half-removed, the corrected record loadable again."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.engine import ingest_all
from pipelines.ingest.repair import quarantine, rebuild_selection, recheck
from pipelines.warehouse import Warehouse


def _reconciled(con: duckdb.DuckDBPyConnection) -> None:
    """For every batch: seen = loaded + rejected + duplicates, and `loaded` is what raw holds."""
    broken = con.execute(
        "select file from raw._batches where records_seen <> loaded + rejected + duplicates"
    ).fetchall()
    assert broken == []
    for table, source in (("pos__sales", "pos"), ("webshop__orders", "webshop")):
        (diff,) = con.execute(
            f"""select count(*) from (
                  select _batch_id, count(*) as n from raw.{table} group by _batch_id) r
                full join (select batch_id, loaded from raw._batches where source = ?) b
                  on r._batch_id = b.batch_id
                where coalesce(r.n, 0) <> coalesce(b.loaded, 0)""",
            [source],
        ).fetchone()
        assert diff == 0, table


def _loaded(small_landing: Path, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "locations", "pos", "webshop"])
    return Warehouse(warehouse).open()


def test_recheck_moves_rows_an_older_version_let_through_with_their_reason(
    small_landing: Path, tmp_path: Path
) -> None:
    con = _loaded(small_landing, tmp_path)
    # as an older version with looser rules loaded them
    con.execute(
        "update raw.pos__sales set qty = -2147483648 where receipt_no = '100' and line_no = 2"
    )
    con.execute("update raw.webshop__order_line_items set quantity = 5000000 where id = 9000000002")
    con.execute("update raw.webshop__orders set currency = 'x' where id = 5000000005")
    orders_before = con.execute("select count(*) from raw.webshop__orders").fetchone()[0]
    moved = {(m.table, m.rows) for m in recheck(con)}
    assert ("pos__sales", 1) in moved
    # both orders go (one for its currency, one for its line item), with every line item
    assert ("webshop__orders", 2) in moved
    assert (
        con.execute("select count(*) from raw.webshop__orders").fetchone()[0] == orders_before - 2
    )
    assert con.execute(
        "select count(*) from raw.webshop__order_line_items where order_id in "
        "(5000000001, 5000000005)"
    ).fetchone() == (0,)
    reasons = dict(
        con.execute(
            "select source || ':' || reason_code, count(*) from raw._rejects "
            "where rejected_at >= (select max(loaded_at) from raw._batches) group by all"
        ).fetchall()
    )
    assert reasons["pos:invalid_quantity"] == 1
    assert reasons["webshop:invalid_value"] == 1
    assert reasons["webshop:invalid nested record"] == 1
    _reconciled(con)
    # a second re-check finds nothing more
    assert recheck(con) == []
    con.close()


def test_a_person_quarantines_a_record_and_its_correction_then_loads(
    small_landing: Path, tmp_path: Path
) -> None:
    con = _loaded(small_landing, tmp_path)
    moved = quarantine(
        con, "pos", {"store_id": "ST-NYC", "receipt_no": "100", "line_no": "1"}, "wrong SKU"
    )
    assert [(m.table, m.rows) for m in moved] == [("pos__sales", 1)]
    (reason, record) = con.execute(
        "select reason, record from raw._rejects where reason_code = 'quarantined_by_operator'"
    ).fetchone()
    assert reason == "quarantined_by_operator: wrong SKU" and '"receipt_no":"100"' in record
    _reconciled(con)
    con.close()
    fixed = small_landing / "pos" / "ST-NYC" / "sales_20260802.csv"
    fixed.write_text(
        "store_id,register_id,receipt_no,line_no,sold_at,sku,qty,unit_price,currency\n"
        "ST-NYC,R1,100,1,2026-08-01 14:22:33-04:00,SKU-2,1,3.00,USD\n"
    )
    (result,) = ingest_all(tmp_path / "w.duckdb", small_landing, ["pos"])
    assert [(b.loaded, b.duplicates) for b in result.batches] == [(1, 0)]


def test_quarantine_refuses_an_unknown_column_or_no_reason(
    small_landing: Path, tmp_path: Path
) -> None:
    con = _loaded(small_landing, tmp_path)
    with pytest.raises(ValueError, match="unknown: receipt"):
        quarantine(con, "pos", {"receipt": "100"}, "typo")
    with pytest.raises(ValueError, match="--reason"):
        quarantine(con, "pos", {"receipt_no": "100"}, " ")
    con.close()


def test_the_rebuild_selects_every_model_built_on_the_tables_touched() -> None:
    from pipelines.ingest.repair import Moved

    assert rebuild_selection([Moved("pos", "pos__sales", 1)]) == ["source:pos.sales+"]
