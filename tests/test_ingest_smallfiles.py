"""Many small files loaded in one batch give what loading them one by one gives.

The batch path (`pipelines.ingest.small_files`) reads small line-based files in Python and
stages their lines itself, handing only the odd file (Windows line endings, bytes that are not
UTF-8, a line ending that mixes both) to DuckDB's scanner. Whatever the path, each file keeps
its own reconciliation, a file the scanner cannot read is quarantined whole, a copy is
recognised as a copy and a file still being written waits.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from demo_generator import generate
from pipelines.ingest import small_files
from pipelines.ingest.engine import ingest_all
from pipelines.ingest.small_files import read_texts

REFERENCE = ["products", "locations", "suppliers", "postcodes"]


def _po_file(landing: Path, name: str, lines: list[str], ending: bytes = b"\n") -> Path:
    path = landing / "wholesale" / name
    path.write_bytes(ending.join(line.encode("latin-1") for line in lines) + ending)
    return path


def _settle_all(landing: Path) -> None:
    then = time.time() - 120
    for path in landing.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference files and 80 one-PO wholesale files with the generator's faults (malformed
    lines, duplicates, unknown SKUs, bad quantities and dates), plus hand-made odd files."""
    root = tmp_path_factory.mktemp("smallfiles") / "landing"
    generate(root, days=3, wholesale_pos=80, seed=11, fault_rate=0.3)
    files = sorted((root / "wholesale").iterdir())
    body = files[0].read_text().splitlines()
    detail = body[1]
    # the same PO lines again under another name, with Windows line endings (the scanner's)
    _po_file(root, "PO_WC9001_20260801_PO90000001.txt", body, b"\r\n")
    # a record that is not UTF-8: the scanner rejects that line, the rest loads
    latin = detail[:10] + "PO9000002\xe9" + detail[20:]
    _po_file(root, "PO_WC9001_20260801_PO90000002.txt", ["HWC9001  20260801", latin, "T0000001"])
    # Windows and Unix line endings mixed: the scanner cannot read it, quarantined whole
    mixed = files[1].read_bytes().replace(b"\n", b"\r\n", 1)
    (root / "wholesale" / "PO_WC9001_20260801_PO90000003.txt").write_bytes(mixed)
    # a byte-identical copy of a file under another name
    shutil.copy(files[2], root / "wholesale" / "PO_WC9001_20260801_PO90000004.txt")
    # an empty file and one with blank lines around its records
    (root / "wholesale" / "PO_WC9001_20260801_PO90000005.txt").write_bytes(b"")
    blank = ["", "   ", *files[3].read_text().splitlines(), ""]
    _po_file(root, "PO_WC9001_20260801_PO90000006.txt", blank)
    _settle_all(root)
    return root


def _ledger(warehouse: Path) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(
            """select file, records_seen, loaded, rejected, duplicates, duplicate_of is not null
                   as is_copy
               from raw._batches where source = 'wholesale' order by file"""
        ).pl()


def _rejects(warehouse: Path, duplicate_reasons: bool = True) -> pl.DataFrame:
    # without `duplicate_reasons`: a duplicate's reason says whether the first copy came in
    # this load or an earlier one, which is what loading one by one changes; its code and kind
    # do not change
    reason = "reason" if duplicate_reasons else "case when kind = 'duplicate' then null end"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(
            f"""select file, record_no, kind, reason_code, {reason} as reason, record
               from raw._rejects where source = 'wholesale'
               order by file, record_no nulls last, record, reason_code"""
        ).pl()


def _loaded(warehouse: Path) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(
            """select _file, customer_id, po_number, line_no, sku, quantity, unit_price
               from raw.wholesale__order_lines order by all"""
        ).pl()


def test_a_batch_of_small_files_loads_as_they_would_one_by_one(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged: list[int] = []
    stage = small_files.stage_lines

    def counting_stage(*args, **kwargs):  # type: ignore[no-untyped-def]
        staged.append(1)
        return stage(*args, **kwargs)

    monkeypatch.setattr("pipelines.ingest.engine.stage_lines", counting_stage)
    batch = tmp_path / "batch.duckdb"
    ingest_all(batch, landing, REFERENCE)
    [result] = ingest_all(batch, landing, ["wholesale"])
    assert staged, "the batch was not staged by the small-file path"
    files = sorted(p.name for p in (landing / "wholesale").iterdir())
    assert len(result.batches) == len(files)

    # one by one: the same files land one at a time, in path order, each loaded by its own run
    single = tmp_path / "single.duckdb"
    one = tmp_path / "one" / "landing"
    shutil.copytree(landing / "reference", one / "reference")
    ingest_all(single, one, REFERENCE)
    (one / "wholesale").mkdir()
    for name in files:
        shutil.copy2(landing / "wholesale" / name, one / "wholesale" / name)
        ingest_all(single, one, ["wholesale"])

    assert _ledger(batch).equals(_ledger(single))
    assert _rejects(batch, False).equals(_rejects(single, False))
    assert _loaded(batch).equals(_loaded(single))

    # and the same batch through DuckDB's scanner alone, as before the small-file path
    monkeypatch.setattr("pipelines.ingest.engine.stageable", lambda *_: False)
    scanner = tmp_path / "scanner.duckdb"
    ingest_all(scanner, landing, REFERENCE)
    ingest_all(scanner, landing, ["wholesale"])
    assert _ledger(batch).equals(_ledger(scanner))
    assert _rejects(batch).equals(_rejects(scanner))
    assert _loaded(batch).equals(_loaded(scanner))


def test_each_file_reconciles_and_odd_files_get_the_scanners_verdict(
    landing: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, landing, REFERENCE)
    ingest_all(warehouse, landing, ["wholesale"])
    ledger = {row["file"]: row for row in _ledger(warehouse).iter_rows(named=True)}
    for row in ledger.values():
        assert row["records_seen"] == row["loaded"] + row["rejected"] + row["duplicates"]
    w = "wholesale/PO_WC9001_20260801_PO9000000"
    # Windows line endings read by the scanner: the first file's lines again, none loaded
    crlf, first = ledger[w + "1.txt"], ledger[min(ledger)]
    assert crlf["records_seen"] == first["records_seen"] > 0
    assert crlf["loaded"] == 0 and crlf["duplicates"] >= first["loaded"] > 0
    # the line that is not UTF-8 rejected by the scanner, its file's other lines kept
    with duckdb.connect(str(warehouse), read_only=True) as con:
        codes = con.execute(
            "select file, reason_code, count(*) from raw._rejects where file like ? "
            "group by all order by all",
            [w + "%"],
        ).fetchall()
    assert (w + "2.txt", "malformed_record", 1) in codes
    # mixed line endings: quarantined whole, every record rejected
    mixed = ledger[w + "3.txt"]
    assert mixed["records_seen"] > 0 and mixed["rejected"] == mixed["records_seen"]
    assert (w + "3.txt", "malformed_record", mixed["records_seen"]) in codes
    # the byte-identical copy is a copy; the empty file has no record; blank lines are skipped
    assert ledger[w + "4.txt"]["is_copy"]
    assert ledger[w + "5.txt"]["records_seen"] == 0
    assert ledger[w + "6.txt"]["records_seen"] > 0


def test_a_file_changed_since_its_fingerprint_is_not_staged(tmp_path: Path) -> None:
    path = tmp_path / "PO_WC0001_20260801_PO00000001.txt"
    path.write_bytes(b"HWC0001  20260801\nT0000000\n")
    right = hashlib.sha256(path.read_bytes()).hexdigest()
    chunk = pl.DataFrame({"path": [str(path), str(path)], "sha256": [right, "0" * 64]})
    found = read_texts(chunk, {})
    assert found.texts[0] == "HWC0001  20260801\nT0000000\n"
    assert found.changed == [1]
    # the bytes discovery kept are the bytes loaded, whatever the file holds now
    found = read_texts(chunk.head(1), {str(path): b"HWC0002  20260801\n"})
    assert found.texts == ["HWC0002  20260801\n"] and found.changed == []


def test_a_small_file_still_being_written_waits_for_a_later_run(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "landing"
    shutil.copytree(landing, root)
    fresh = root / "wholesale" / "PO_WC9002_20260801_PO90000009.txt"
    shutil.copy(next((landing / "wholesale").iterdir()), fresh)
    monkeypatch.setenv("OMS_LANDING_SETTLE_SECONDS", "30")
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, root, REFERENCE)
    [result] = ingest_all(warehouse, root, ["wholesale"])
    assert [rel for rel, _ in result.waiting] == ["wholesale/" + fresh.name]
    assert "wholesale/" + fresh.name not in _ledger(warehouse)["file"].to_list()
