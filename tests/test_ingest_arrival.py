"""Files arrive the way files arrive: half-written, edited in place, copied, empty, linked from
elsewhere, with lines longer than the reader takes. Every file gets exactly one ledger row
(or waits, visibly, for a later run), and every line is loaded or quarantined."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.engine import ingest_all

POS = "pos/ST-NYC/sales_20260802.csv"
HEADER = "store_id,register_id,receipt_no,line_no,sold_at,sku,qty,unit_price,currency\n"


def _row(receipt: int, qty: int = 1, currency: str = "USD") -> str:
    return f"ST-NYC,R1,{receipt},1,2026-08-02 11:00:00-04:00,SKU-1,{qty},1.00,{currency}\n"


def _ledger(warehouse: Path, source: str = "pos") -> dict[str, tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            """select file, records_seen, loaded, rejected, duplicates, duplicate_of
            from raw._batches where source = ? order by file, loaded_at""",
            [source],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, tuple] = {}
    for file, *counts in rows:
        out.setdefault(file, ())
        out[file] += (tuple(counts),)
    return out


def _load(
    warehouse: Path, landing: Path, sources: tuple[str, ...] = ("products", "locations", "pos")
) -> dict:
    return {r.source: r for r in ingest_all(warehouse, landing, list(sources))}


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_file_still_being_written_waits_and_loads_whole_once_complete(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMS_LANDING_SETTLE_SECONDS", "5")
    monkeypatch.setenv("OMS_LANDING_UNTERMINATED_GRACE_SECONDS", "600")
    warehouse = tmp_path / "w.duckdb"
    path = small_landing / POS
    # 1. just written: waits for the settle time
    path.write_text(HEADER + _row(1))
    result = _load(warehouse, small_landing)["pos"]
    assert [rel for rel, _ in result.waiting] == [POS]
    # 2. settled, but the writer is mid-line (no line break yet): a truncated value must
    #    not become permanent, so it still waits
    path.write_text(HEADER + _row(1) + _row(2, qty=12)[:-4])
    _age(path, 30)
    result = _load(warehouse, small_landing)["pos"]
    assert [rel for rel, why in result.waiting if "line break" in why] == [POS]
    assert POS not in _ledger(warehouse)
    # 3. complete: loaded once, whole, with the full value
    path.write_text(HEADER + _row(1) + _row(2, qty=12))
    _age(path, 30)
    result = _load(warehouse, small_landing)["pos"]
    assert result.waiting == []
    assert _ledger(warehouse)[POS] == ((2, 2, 0, 0, None),)
    con = duckdb.connect(str(warehouse), read_only=True)
    qty = con.execute("select qty from raw.pos__sales where receipt_no = '2'").fetchall()
    con.close()
    assert qty == [(12,)]


def test_a_file_without_a_final_line_break_loads_once_its_writer_is_long_gone(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMS_LANDING_UNTERMINATED_GRACE_SECONDS", "600")
    path = small_landing / POS
    path.write_text(HEADER + _row(1) + _row(2).rstrip("\n"))
    _age(path, 601)
    warehouse = tmp_path / "w.duckdb"
    assert _load(warehouse, small_landing)["pos"].waiting == []
    assert _ledger(warehouse)[POS] == ((2, 2, 0, 0, None),)


def test_a_file_edited_in_place_with_size_and_time_restored_is_read_again(
    small_landing: Path, tmp_path: Path
) -> None:
    path = small_landing / POS
    path.write_text(HEADER + _row(1))
    st = path.stat()
    warehouse = tmp_path / "w.duckdb"
    _load(warehouse, small_landing)
    # same size, same modification time, other bytes: a new receipt number
    path.write_text(HEADER + _row(7))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    _load(warehouse, small_landing)
    assert _ledger(warehouse)[POS] == ((1, 1, 0, 0, None), (1, 1, 0, 0, None))
    # touched but unchanged: recognised by content, recorded, and not read again after
    path.touch()
    assert not _load(warehouse, small_landing)["pos"].batches
    assert not _load(warehouse, small_landing)["pos"].batches


def test_every_file_has_one_ledger_row_copies_and_empty_files_included(
    small_landing: Path, tmp_path: Path
) -> None:
    original = small_landing / "pos" / "ST-NYC" / "sales_20260801.csv"
    copy = small_landing / "pos" / "ST-NYC" / "sales_20260803.csv"
    copy.write_bytes(original.read_bytes())
    (small_landing / "pos" / "ST-NYC" / "sales_20260804.csv").write_bytes(b"")
    (small_landing / "pos" / "ST-NYC" / "sales_20260805.csv").write_text(HEADER)
    (small_landing / "webshop" / "orders_20260802_01.jsonl").write_bytes(b"")
    warehouse = tmp_path / "w.duckdb"
    _load(warehouse, small_landing, ("products", "locations", "pos", "webshop"))
    # a second load of the same folder adds nothing
    _load(warehouse, small_landing, ("products", "locations", "pos", "webshop"))
    pos = _ledger(warehouse)
    files = sorted(str(p.relative_to(small_landing)) for p in (small_landing / "pos").rglob("*"))
    assert sorted(pos) == [f for f in files if f.endswith(".csv")]
    assert all(len(rows) == 1 for rows in pos.values())
    seen = pos["pos/ST-NYC/sales_20260801.csv"][0][0]
    assert pos["pos/ST-NYC/sales_20260803.csv"] == ((seen, 0, 0, seen, f"pos:{_sha(original)}"),)
    assert pos["pos/ST-NYC/sales_20260804.csv"][0][:4] == (0, 0, 0, 0)
    assert pos["pos/ST-NYC/sales_20260805.csv"][0][:4] == (0, 0, 0, 0)
    assert _ledger(warehouse, "webshop")["webshop/orders_20260802_01.jsonl"][0][:4] == (0, 0, 0, 0)


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_a_link_leaving_the_landing_folder_is_refused_and_never_read(
    small_landing: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text(HEADER + _row(1, currency="TOP-SECRET-MARKER"))
    link = small_landing / POS
    link.symlink_to(secret)
    inside = small_landing / "pos" / "ST-NYC" / "sales_20260803.csv"
    inside.symlink_to(small_landing / "pos" / "ST-NYC" / "sales_20260801.csv")
    warehouse = tmp_path / "w.duckdb"
    result = _load(warehouse, small_landing)["pos"]
    assert [rel for rel, _ in result.refused] == [POS]
    con = duckdb.connect(str(warehouse), read_only=True)
    texts = con.execute(
        "select coalesce(record, '') || reason from raw._rejects where file = ?", [POS]
    ).fetchall()
    everything = con.execute("select * from raw._rejects").fetchall()
    con.close()
    assert len(texts) == 1 and "outside the landing folder" in texts[0][0]
    assert "TOP-SECRET-MARKER" not in repr(everything)
    # a link inside the folder is a file like any other (here a copy of one loaded)
    assert _ledger(warehouse)["pos/ST-NYC/sales_20260803.csv"][0][4] is not None
    # refused once, recorded once
    assert not _load(warehouse, small_landing)["pos"].refused
    assert len(_ledger(warehouse)[POS]) == 1


def test_a_line_longer_than_the_reader_takes_is_quarantined_not_lost(
    small_landing: Path, tmp_path: Path
) -> None:
    path = small_landing / POS
    huge = _row(2).replace("USD", "U" * (20 << 20))
    path.write_text(HEADER + _row(1) + huge + _row(3))
    warehouse = tmp_path / "w.duckdb"
    _load(warehouse, small_landing)
    assert _ledger(warehouse)[POS] == ((3, 2, 1, 0, None),)
    con = duckdb.connect(str(warehouse), read_only=True)
    (reason,) = con.execute("select reason from raw._rejects where file = ?", [POS]).fetchone()
    con.close()
    assert reason.startswith("malformed_record: line 3: Maximum line size")


def test_a_file_name_that_is_not_utf8_is_refused_by_name_and_never_stops_the_load(
    small_landing: Path, tmp_path: Path
) -> None:
    odd = os.path.join(os.fsencode(small_landing), b"pos", b"ST-NYC", b"sales_2026\xff.csv")
    with open(odd, "wb") as fh:
        fh.write((HEADER + _row(1)).encode())
    warehouse = tmp_path / "w.duckdb"
    result = _load(warehouse, small_landing)["pos"]
    assert [rel for rel, _ in result.refused] == ["pos/ST-NYC/sales_2026\\xff.csv"]
    assert [b.file for b in result.batches] == [
        "pos/ST-NYC/sales_20260801.csv",
        "pos/ST-NYC/sales_2026\\xff.csv",
    ]
    assert not _load(warehouse, small_landing)["pos"].batches


def test_two_links_to_the_same_outside_file_are_two_refused_files(
    small_landing: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.csv").write_text(HEADER + _row(1))
    for day in ("20260802", "20260803"):
        (small_landing / "pos" / "ST-NYC" / f"sales_{day}.csv").symlink_to(tmp_path / "outside.csv")
    result = _load(tmp_path / "w.duckdb", small_landing)["pos"]
    assert len(result.refused) == 2
