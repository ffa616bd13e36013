"""The ingest engine on hand-written landing files that hold every format and fault kind."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import engine
from pipelines.ingest.engine import ingest_all
from pipelines.ingest.readers import NOT_AN_OBJECT
from pipelines.ingest.sources import SOURCES, SOURCES_BY_NAME
from pipelines.warehouse import Warehouse

# source -> (loaded, rejected, duplicates, reason codes expected among its rejects)
EXPECTED = {
    "products": (2, 0, 0, set()),
    "locations": (2, 0, 0, set()),
    "suppliers": (1, 0, 0, set()),
    "postcodes": (2, 0, 0, set()),
    "webshop": (2, 3, 1, {"unknown_sku", "invalid_timestamp", "malformed_record"}),
    "marketplace": (1, 2, 0, {"malformed_record", "invalid_timestamp"}),
    "pos": (2, 2, 0, {"invalid_quantity", "unknown_location"}),
    "wholesale": (1, 1, 0, {"malformed_record"}),
    "stock_snapshots": (2, 2, 1, {"invalid_timestamp", "invalid_quantity"}),
    "cycle_counts": (1, 2, 0, {"unknown_sku", "malformed_record"}),
    "carrier_events": (2, 1, 0, {"event_before_label"}),
    "returns": (2, 1, 0, {"invalid_value"}),
    "purchase_orders": (1, 1, 0, {"invalid_number"}),
    "receipts": (2, 1, 0, {"unknown_location"}),
}


def _raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    ]


def _table_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = _raw_tables(con)
        return {t: con.execute(f'select count(*) from raw."{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def test_every_record_is_loaded_rejected_or_duplicate_with_its_reason(
    small_landing: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    results = {r.source: r for r in ingest_all(warehouse, small_landing)}
    con = duckdb.connect(str(warehouse), read_only=True)
    for source, (loaded, rejected, dupes, reasons) in EXPECTED.items():
        r = results[source]
        assert (r.total("loaded"), r.total("rejected"), r.total("duplicates")) == (
            loaded,
            rejected,
            dupes,
        ), source
        got = {
            c
            for (c,) in con.execute(
                "select distinct reason_code from raw._rejects "
                "where source = ? and kind = 'rejected'",
                [source],
            ).fetchall()
        }
        assert got == reasons, source
    # every rejected record keeps its text, so nothing is lost
    assert con.execute("select count(*) from raw._rejects where record is null").fetchone()[0] == 0
    con.close()


def test_records_seen_reconcile_for_every_batch(small_landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing)
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        """select b.source, b.file, b.records_seen, b.loaded, b.rejected, b.duplicates,
                  (select count(*) from raw._rejects r where r.batch_id = b.batch_id
                     and r.kind = 'rejected'),
                  (select count(*) from raw._rejects r where r.batch_id = b.batch_id
                     and r.kind = 'duplicate')
           from raw._batches b"""
    ).fetchall()
    assert len(rows) == sum(1 for _ in small_landing.rglob("*.*"))
    for _source, file, seen, loaded, rejected, dupes, reject_rows, dupe_rows in rows:
        assert seen == loaded + rejected + dupes, file
        assert (rejected, dupes) == (reject_rows, dupe_rows), file
    # the loaded counts are the rows that are really in the raw tables
    counts = _table_counts(warehouse)
    for source in SOURCES:
        loaded = con.execute(
            "select sum(loaded) from raw._batches where source = ?", [source.name]
        ).fetchone()[0]
        assert counts[source.table] == loaded, source.name
        if source.child is not None:  # and so are the nested records, per file
            per_file = con.execute(
                f"""select b.file, b.children_loaded, count(c._file)
                    from raw._batches b left join raw."{source.child.table}" c
                      on c._batch_id = b.batch_id
                    where b.source = ? group by all""",
                [source.name],
            ).fetchall()
            assert sum(n for _, n, _ in per_file) > 0, source.name
            for file, ledger, actual in per_file:
                assert ledger == actual, file
    con.close()


def test_loading_the_same_files_twice_changes_nothing(small_landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing)
    before = _table_counts(warehouse)
    again = ingest_all(warehouse, small_landing)
    assert all(not r.batches for r in again)
    assert _table_counts(warehouse) == before
    # also when the files are touched (new mtime) but not changed: hashed, recognised, skipped
    for path in small_landing.rglob("*.*"):
        path.touch()
    assert all(not r.batches for r in ingest_all(warehouse, small_landing))
    assert _table_counts(warehouse) == before


def test_a_changed_file_is_a_new_batch_whose_known_records_are_duplicates(
    small_landing: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing)
    pos = small_landing / "pos" / "ST-NYC" / "sales_20260801.csv"
    pos.write_text(pos.read_text() + "ST-NYC,R2,200,1,2026-08-01 18:00:00-04:00,SKU-1,3,5.00,USD\n")
    (result,) = ingest_all(warehouse, small_landing, ["pos"])
    (batch,) = result.batches
    assert (batch.records_seen, batch.loaded, batch.duplicates) == (5, 1, 2)
    assert batch.rejected == 2  # the two bad rows are still bad, and quarantined again


def test_a_file_with_the_wrong_header_is_quarantined_whole(
    small_landing: Path, tmp_path: Path
) -> None:
    report = small_landing / "marketplace" / "order_report_20260802.tsv"
    report.write_text("order-id\tsku\tquantity\n111-9\tSKU-1\t1\n111-10\tSKU-2\t2\n")
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "marketplace"])
    con = duckdb.connect(str(warehouse), read_only=True)
    seen, loaded, rejected = con.execute(
        "select records_seen, loaded, rejected from raw._batches where file like '%0802%'"
    ).fetchone()
    assert (seen, loaded, rejected) == (2, 0, 2)
    reasons = con.execute("select reason from raw._rejects where file like '%0802%'").fetchall()
    assert all("header" in r for (r,) in reasons)


@pytest.mark.parametrize(
    ("source", "relative", "bad_line"),
    [
        ("webshop", "webshop/orders_20260801_01.jsonl", b'{"id": 9\x01, "name": "#9"}'),
        ("webshop", "webshop/orders_20260801_01.jsonl", b'{"id": 9, "name": "\xff\xfe"}'),
        ("wholesale", "wholesale/PO_CUST01_20260801.txt", b"D" + b"\x01".join([b"x" * 45] * 2)),
    ],
    ids=["control-character", "not-utf8", "fixed-width-control-character"],
)
def test_a_line_the_scanner_cannot_read_is_quarantined_and_the_rest_loaded(
    small_landing: Path, tmp_path: Path, source: str, relative: str, bad_line: bytes
) -> None:
    """Line-based files are first scanned without the scanner's reject bookkeeping; a line it
    cannot read makes the engine scan again keeping it, so it is quarantined, not lost."""
    clean = tmp_path / "clean.duckdb"
    (before,) = ingest_all(clean, small_landing, [source])
    path = small_landing / relative
    lines = path.read_bytes().splitlines(keepends=True)
    # before the last line (a fixed-width file ends with its trailer record)
    path.write_bytes(b"".join(lines[:-1]) + bad_line + b"\n" + lines[-1])
    warehouse = tmp_path / "w.duckdb"
    (after,) = ingest_all(warehouse, small_landing, [source])
    assert after.total("records_seen") == before.total("records_seen") + 1
    assert after.total("loaded") == before.total("loaded")
    assert after.total("rejected") == before.total("rejected") + 1
    con = duckdb.connect(str(warehouse), read_only=True)
    malformed = con.execute(
        "select count(*) from raw._rejects where source = ? and reason_code = 'malformed_record'"
        " and record_no is not null",
        [source],
    ).fetchone()[0]
    assert malformed == 1


_ORDER = (
    '{{"id": {id}, "name": "#{id}", "created_at": "2026-08-02T10:00:00Z", '
    '"updated_at": "2026-08-02T10:00:00Z", "currency": "USD", "financial_status": "paid", '
    '"total_price": "5", "shipping_address": {{"zip": "10001", "country_code": "US"}}{items}}}'
)


def test_an_order_without_line_items_is_rejected_and_never_stops_the_load(
    small_landing: Path, tmp_path: Path
) -> None:
    """Missing, null, empty or non-array line items: the order is quarantined (an order
    without lines cannot be fulfilled), the load goes on and every other order loads."""
    items = {
        6000000001: ', "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "5"}]',
        6000000002: "",
        6000000003: ', "line_items": null',
        6000000004: ', "line_items": []',
        6000000005: ', "line_items": "abc"',
        6000000006: ', "line_items": "[{\\"id\\": 2}]"',
    }
    path = small_landing / "webshop" / "orders_20260802_01.jsonl"
    path.write_text("\n".join(_ORDER.format(id=i, items=v) for i, v in items.items()) + "\n")
    warehouse = tmp_path / "w.duckdb"
    results = {r.source: r for r in ingest_all(warehouse, small_landing)}
    assert all(r.batches for r in results.values())  # every source loaded, after webshop too
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = {i for (i,) in con.execute("select id from raw.webshop__orders").fetchall()}
    assert loaded & set(items) == {6000000001}
    reasons = dict(
        con.execute(
            "select record, reason from raw._rejects where file = ?",
            ["webshop/orders_20260802_01.jsonl"],
        ).fetchall()
    )
    assert len(reasons) == 5
    assert set(reasons.values()) == {"missing_required: line_items is empty"}


def test_file_names_with_glob_characters_are_read_literally(
    small_landing: Path, tmp_path: Path
) -> None:
    """DuckDB's readers expand `[`, `*`, `?`: `orders_[0]1` must not read `orders_01`."""
    original = small_landing / "webshop" / "orders_20260801_01.jsonl"
    (small_landing / "webshop" / "orders_20260801_[0]1.jsonl").write_text(
        _ORDER.format(
            id=6000000009,
            items=', "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "5"}]',
        )
        + "\n"
    )
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "webshop"])
    con = duckdb.connect(str(warehouse), read_only=True)
    seen = dict(
        con.execute(
            "select file, records_seen from raw._batches where source = 'webshop'"
        ).fetchall()
    )
    assert seen["webshop/orders_20260801_[0]1.jsonl"] == 1
    assert seen["webshop/orders_20260801_01.jsonl"] == len(original.read_text().splitlines())
    assert (
        con.execute("select count(*) from raw.webshop__orders where id = 6000000009").fetchone()[0]
        == 1
    )


def test_a_crash_during_commit_leaves_nothing_half_written(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "locations"])
    before = _table_counts(warehouse)
    real_open = Warehouse.open

    class CrashingConnection:
        """Fails on the ledger insert, after the raw rows and rejects were written."""

        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self._con = con

        def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
            if sql.lstrip().startswith("insert into raw._batches"):
                raise RuntimeError("simulated crash")
            return self._con.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self._con, name)

    monkeypatch.setattr(
        Warehouse, "open", lambda self, read_only=False: CrashingConnection(real_open(self))
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_all(warehouse, small_landing, ["pos"])
    assert _table_counts(warehouse) == before
    monkeypatch.setattr(Warehouse, "open", real_open)
    (result,) = ingest_all(warehouse, small_landing, ["pos"])
    assert result.total("loaded") == 2


def test_carrier_events_arriving_out_of_order_are_kept(small_landing: Path, tmp_path: Path) -> None:
    """`delivered` arrives before `label_created` in the file; only the impossible one goes."""
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "locations", "carrier_events"])
    con = duckdb.connect(str(warehouse), read_only=True)
    statuses = {
        s for (s,) in con.execute("select status from raw.carrier__tracking_events").fetchall()
    }
    assert statuses == {"delivered", "label_created"}
    lines = con.execute(
        "select channel, order_id, ship_from, line_ref, sku, quantity "
        "from raw.carrier__shipment_lines"
    ).fetchall()
    assert lines == [("webshop", "5000000001", "WH-DAL", "9000000001", "SKU-1", 2)]


def test_timestamps_with_offsets_are_stored_in_utc(small_landing: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "locations", "webshop", "pos"])
    con = duckdb.connect(str(warehouse), read_only=True)
    created = con.execute(
        "select cast(created_at as VARCHAR) from raw.webshop__orders where id = 5000000001"
    ).fetchone()[0]
    assert created == "2026-08-01 14:22:33"  # 10:22:33-04:00
    sold = con.execute("select distinct cast(sold_at as VARCHAR) from raw.pos__sales").fetchall()
    assert sold == [("2026-08-01 18:22:33",)]


def test_a_load_read_in_chunks_gives_the_same_result_as_one_scan(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long histories are read in chunks to bound memory; the outcome must not change."""
    whole = tmp_path / "whole.duckdb"
    ingest_all(whole, small_landing)
    real_chunks = engine._chunks
    monkeypatch.setattr(engine, "_chunks", lambda files: real_chunks(files, 1))  # a file a chunk
    chunked = tmp_path / "chunked.duckdb"
    ingest_all(chunked, small_landing)
    assert _table_counts(whole) == _table_counts(chunked)

    def verdicts(path: Path) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute(
                "select source, kind, reason_code, count(*) from raw._rejects "
                "group by all order by all"
            ).fetchall()
        finally:
            con.close()

    assert verdicts(whole) == verdicts(chunked)


_ITEM_5 = '[{"id": 8, "sku": "SKU-1", "quantity": 1, "price": "5"}]'

# Awkward and broken JSON Lines.
_EDGE_LINES = {
    "webshop/orders_20260801_01.jsonl": [
        "\t" + _ORDER.format(id=6000000020, items=', "line_items": ' + _ITEM_5),
        " \t " + _ORDER.format(id=6000000021, items=', "line_items": ' + _ITEM_5),
        "[1, 2]",
        "42",
        '"a string"',
        '{"id": 6000000011, "name": "#trunc',
        '{"id": 6000000012} {"id": 6000000013}',
        '{"unknown": 1}',
        "{}",
        _ORDER.format(
            id=6000000014,
            items=', "line_items": [{"id": 3, "sku": "SKU-1", '
            '"quantity": 1, "price": "5"}], "shipping_lines": "n/a"',
        ),
        _ORDER.format(id=6000000015, items=', "line_items": {"id": 4}'),
        _ORDER.format(
            id=6000000016,
            items=', "line_items": [{"id": 5, "sku": "SKU-1", "quantity": 1, "price": "5"},]',
        ),
        _ORDER.format(
            id=6000000017,
            items=', "customer": "anonymous", "line_items": '
            '[{"id": 6, "sku": " SKU-1 ", "quantity": 1.0, "price": 5}]',
        ),
        _ORDER.format(
            id=6000000018,
            items=', "id": 6000000019, "line_items": [{"id": 7, '
            '"sku": "SKU-2", "quantity": 2, "price": "1.50"}]',
        ),
    ],
    "carrier/events_20260802_01.jsonl": [
        '{"event_id": "ev-90", "tracking_number": "PW9", "carrier": "Parcelway", '
        '"status": "label_created", "occurred_at": "2026-08-02T09:00:00Z", "shipment": "n/a"}',
        '{"event_id": "ev-91", "tracking_number": "PW9", "carrier": "Parcelway", '
        '"status": "label_created", "occurred_at": "2026-08-02T09:00:00Z", '
        '"shipment": {"channel": {"x": 1}, "lines": "n/a"}}',
        '{"event_id": "ev-\\"92", "tracking_number": "PW9", "carrier": "Parcelway", '
        '"status": "delivered", "occurred_at": "2026-08-01T09:00:00Z"}',
        '{"event_id": 93, "tracking_number": ["PW9"], "carrier": true, "status": "picked_up", '
        '"occurred_at": "2026-08-03T09:00:00Z", "exception_code": 12.50}',
        "not json at all",
    ],
}


def _contents(warehouse: Path, same_bytes: bool = True) -> dict[str, list[tuple[object, ...]]]:
    """Every raw table, the quarantine and the ledger, without what differs between two
    loads of the same files (load stamps and timings), or, unless `same_bytes`, of the same
    records in other bytes (fingerprints, batch ids, sizes)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = _raw_tables(con)
        drop = "exclude (_loaded_at)" if same_bytes else "exclude (_loaded_at, _batch_id)"
        drops = {
            "_rejects": "exclude (rejected_at)"
            if same_bytes
            else "exclude (rejected_at, batch_id)",
            "_batches": "exclude (load_id, loaded_at, load_seconds)"
            if same_bytes
            else "exclude (batch_id, sha256, bytes, mtime_ns, ctime_ns, load_id, loaded_at, "
            "load_seconds)",
        }
        return {
            t: sorted(
                con.execute(f'select * {drops.get(t, drop)} from raw."{t}"').fetchall(), key=repr
            )
            for t in tables
        }
    finally:
        con.close()


def test_every_json_line_is_loaded_with_its_values_or_quarantined_with_its_text(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Awkward and broken JSON Lines, checked against Python's own parse of each line: every
    line is one record, loaded with the values it holds or quarantined with its own text, and
    the scan without the scanner's reject bookkeeping (the usual one) judges every record as
    the scan that keeps it (the fallback) does."""
    for relative, extra in _EDGE_LINES.items():
        path = small_landing / relative
        path.write_text(path.read_text() + "\n".join(extra) + "\n")
    real_load_chunk = engine._load_chunk
    paths: list[tuple[str, bool]] = []

    def recording(*args: object, keep_rejects: bool) -> None:
        paths.append((args[1].name, keep_rejects))  # type: ignore[attr-defined]
        real_load_chunk(*args, keep_rejects=keep_rejects)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_load_chunk", recording)
    fast = tmp_path / "fast.duckdb"
    ingest_all(fast, small_landing)
    # the fast path took these files as they are, with no second scan
    assert ("webshop", True) not in paths and ("carrier_events", True) not in paths

    def line_by_line(*args: object, keep_rejects: bool) -> None:
        real_load_chunk(*args, keep_rejects=True)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_load_chunk", line_by_line)
    slow = tmp_path / "slow.duckdb"
    ingest_all(slow, small_landing)
    fast_contents, slow_contents = _contents(fast), _contents(slow)
    assert fast_contents.keys() == slow_contents.keys()
    for table in fast_contents:
        assert fast_contents[table] == slow_contents[table], table
    rejected = {
        r
        for (r,) in duckdb.connect(str(fast), read_only=True)
        .execute("select record from raw._rejects where source in ('webshop', 'carrier_events')")
        .fetchall()
    }
    assert {"[1, 2]", "42", "not json at all", "{}"} <= rejected
    for relative in _EDGE_LINES:
        _assert_lines_accounted_for(fast, small_landing, relative)


# JSON Lines sources: source -> (raw table, key member, members compared with the raw columns)
_JSON_MEMBERS = {
    "webshop": ("webshop__orders", "id", {"name": "name", "currency": "currency"}),
    "carrier_events": (
        "carrier__tracking_events",
        "event_id",
        {"tracking_number": "tracking_number", "carrier": "carrier", "status": "status"},
    ),
}


def _first(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _as_text(value: object) -> str | None:
    """A JSON value where text belongs, as the engine stores it: a string as it is, anything
    else as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _parsed(line: str) -> object:
    """A line as DuckDB's JSON parser reads it (landing contract): a trailing comma in an
    array or object is taken, and of a member repeated in one object the first is read."""
    return json.loads(re.sub(r",\s*([\]}])", r"\1", line), object_pairs_hook=_first)


def _is_object(line: str) -> bool:
    try:
        return isinstance(_parsed(line), dict)
    except ValueError:  # not JSON at all
        return False


def _assert_lines_accounted_for(warehouse: Path, landing: Path, relative: str) -> None:
    """Each non-blank line of a JSON Lines file, parsed here by Python: a quarantined record
    whose text is the line itself (and that is no JSON object, if quarantined as such), or a
    loaded record with the line's key and values."""
    source = next(s for s in SOURCES if any(Path(relative).match(g) for g in s.globs))
    table, key, members = _JSON_MEMBERS[source.name]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rejects = con.execute(
            "select record, reason from raw._rejects where file = ?", [relative]
        ).fetchall()
        quarantined = Counter(r for r, _ in rejects)
        cols = ", ".join(f'cast("{c}" as VARCHAR)' for c in [key, *members.values()])
        loaded = {
            row[0]: row[1:]
            for row in con.execute(
                f'select {cols} from raw."{table}" where _file = ?', [relative]
            ).fetchall()
        }
    finally:
        con.close()
    # a byte-order mark opening the file is not part of its first line; a line of spaces is
    # blank, a line of tabs is a (broken) record
    text = (landing / relative).read_text(encoding="utf-8-sig")
    lines = [ln for ln in (x.removesuffix("\r") for x in text.split("\n")) if ln.strip(" ")]
    for line in lines:
        if quarantined[line]:
            quarantined[line] -= 1
            continue
        record = _parsed(line)  # a line that is not quarantined must be a valid record
        assert isinstance(record, dict), line
        assert _as_text(record[key]) in loaded, line
        expected = tuple(_as_text(record.get(m)) for m in members)
        assert loaded.pop(_as_text(record[key])) == expected, line
    assert not +quarantined, f"quarantined texts that are not lines of the file: {quarantined}"
    assert not loaded, f"loaded records that are no line of the file: {loaded}"
    for text, reason in rejects:
        if reason == NOT_AN_OBJECT:
            assert not _is_object(text), text


@pytest.mark.parametrize(
    ("source", "relative", "copy_as"),
    [
        ("pos", "pos/ST-NYC/sales_20260801.csv", "pos/ST-NYC/sales_20260803.csv"),
        (
            "marketplace",
            "marketplace/order_report_20260801.tsv",
            "marketplace/order_report_20260803.tsv",
        ),
        ("wholesale", "wholesale/PO_CUST01_20260801.txt", "wholesale/PO_CUST01_20260803.txt"),
        ("carrier_events", "carrier/events_20260802_01.jsonl", "carrier/events_20260803_01.jsonl"),
    ],
    ids=["csv", "tsv", "fixed-width", "json-lines"],
)
def test_a_file_the_scanner_cannot_read_is_quarantined_whole_and_the_rest_loads(
    small_landing: Path, tmp_path: Path, source: str, relative: str, copy_as: str
) -> None:
    """A file mixing Windows and Unix line endings cannot be read by DuckDB's scanner at all.
    It must neither stop its source (on this run and every next one) nor be half-loaded: it is
    quarantined whole, each record with the scanner's reason, and the other files load."""
    sources = ["products", "locations", source]
    (clean,) = [
        r
        for r in ingest_all(tmp_path / "clean.duckdb", small_landing, sources)
        if r.source == source
    ]
    lines = (small_landing / relative).read_text().splitlines()
    assert len(lines) >= 3  # two lines end in CRLF, the others in LF
    # a line separator inside a value does not end a record
    lines[-1] = lines[-1].replace("Parcelway", "Parcel\u2028way")
    records = {"csv": len(lines) - 1, "tsv": len(lines) - 1, "jsonl": len(lines)}.get(
        SOURCES_BY_NAME[source].format, sum(ln[:1] not in "HT" for ln in lines)
    )
    (small_landing / copy_as).write_bytes(
        ("\r\n".join(lines[:2]) + "\r\n" + "\n".join(lines[2:]) + "\n").encode()
    )
    warehouse = tmp_path / "w.duckdb"
    (after,) = [r for r in ingest_all(warehouse, small_landing, sources) if r.source == source]
    by_file = {b.file: b for b in after.batches}
    (original,) = clean.batches
    assert by_file[relative] == original
    bad = by_file[copy_as]
    assert bad.records_seen == records
    assert (bad.loaded, bad.rejected, bad.duplicates) == (0, bad.records_seen, 0)
    con = duckdb.connect(str(warehouse), read_only=True)
    reasons = con.execute(
        "select reason, record_no from raw._rejects where file = ?", [copy_as]
    ).fetchall()
    con.close()
    assert len(reasons) == bad.records_seen
    assert all(r.startswith("malformed_record: the file cannot be read") for r, _ in reasons)
    assert all(n is not None for _, n in reasons)
    counts = _table_counts(warehouse)
    (again,) = [r for r in ingest_all(warehouse, small_landing, sources) if r.source == source]
    assert again.batches == [] and _table_counts(warehouse) == counts


def test_windows_line_endings_load_like_unix_ones(small_landing: Path, tmp_path: Path) -> None:
    """A file with CRLF line endings throughout is read as usual, in every format."""
    ingest_all(tmp_path / "unix.duckdb", small_landing)
    for path in small_landing.rglob("*.*"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    ingest_all(tmp_path / "windows.duckdb", small_landing)
    unix = _contents(tmp_path / "unix.duckdb", same_bytes=False)
    windows = _contents(tmp_path / "windows.duckdb", same_bytes=False)
    assert unix.keys() == windows.keys()
    for table in unix:
        assert windows[table] == unix[table], table


def _fast_and_slow(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sources: list[str]
) -> tuple[dict[str, list[tuple[object, ...]]], dict[str, list[tuple[object, ...]]]]:
    """The same files loaded as usual, then forced through the line-by-line parse."""
    ingest_all(tmp_path / "fast.duckdb", landing, sources)
    real_load_chunk = engine._load_chunk

    def line_by_line(*args: object, keep_rejects: bool) -> None:
        real_load_chunk(*args, keep_rejects=True)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_load_chunk", line_by_line)
    ingest_all(tmp_path / "slow.duckdb", landing, sources)
    return _contents(tmp_path / "fast.duckdb"), _contents(tmp_path / "slow.duckdb")


_ITEMS = ', "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "5"}]'


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff" + _ORDER.format(id=6000000031, items=_ITEMS) + "\n",
        "\ufeff" + _ORDER.format(id=6000000032, items=_ITEMS) + "\r\n",
        "\ufeff\n"
        + _ORDER.format(id=6000000033, items=_ITEMS)
        + "\n"
        + _ORDER.format(id=6000000034, items="")
        + "\n\t\n"
        + _ORDER.format(id=6000000035, items=_ITEMS)
        + "\n",
    ],
    ids=["byte-order-mark", "byte-order-mark-crlf", "lines-the-readers-split-differently"],
)
def test_byte_order_marks_and_lines_of_tabs_are_read_as_the_lines_they_are(
    small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """A byte-order mark before the first record (which DuckDB's JSON reader cannot take), a
    lone mark, a line of tabs: the first record is loaded, not lost, every line is accounted
    for, and both scans (with and without the scanner's reject bookkeeping) agree."""
    (small_landing / "webshop" / "orders_20260803_01.jsonl").write_text(text, encoding="utf-8")
    fast, slow = _fast_and_slow(small_landing, tmp_path, monkeypatch, ["products", "webshop"])
    for table in slow:
        assert fast[table] == slow[table], table
    loaded = {row[0] for row in fast["webshop__orders"]}
    first = int(text.split('"id": ')[1].split(",")[0])
    assert first in loaded
    _assert_lines_accounted_for(
        tmp_path / "fast.duckdb", small_landing, "webshop/orders_20260803_01.jsonl"
    )


def test_a_broken_link_in_the_landing_folder_is_skipped(
    small_landing: Path, tmp_path: Path
) -> None:
    """A link to a file that is gone (a half-finished delivery) must not stop the load."""
    (small_landing / "webshop" / "orders_20260803_01.jsonl").symlink_to(tmp_path / "gone.jsonl")
    results = {r.source: r for r in ingest_all(tmp_path / "w.duckdb", small_landing)}
    assert [b.file for b in results["webshop"].batches] == ["webshop/orders_20260801_01.jsonl"]


def test_a_quarantined_json_record_keeps_its_own_line_as_its_text(
    small_landing: Path, tmp_path: Path
) -> None:
    """Texts are taken apart from the checks and attached to the quarantined records by row:
    an order without an `id` between two good ones must get its own line, not a neighbour's."""
    orders = [
        _ORDER.format(id=6000000041, items=_ITEMS),
        _ORDER.format(id=6000000042, items=_ITEMS).replace('"id": 6000000042, ', ""),
        _ORDER.format(id=6000000043, items=_ITEMS),
    ]
    relative = "webshop/orders_20260801_01.jsonl"
    (small_landing / relative).write_text("\n".join(orders) + "\n")
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "webshop"])
    con = duckdb.connect(str(warehouse), read_only=True)
    (text,) = con.execute("select record from raw._rejects where source = 'webshop'").fetchone()
    con.close()
    assert text == orders[1]
    _assert_lines_accounted_for(warehouse, small_landing, relative)


def test_files_in_hidden_folders_are_loaded_like_any_other(
    small_landing: Path, tmp_path: Path
) -> None:
    """A store whose folder name starts with a dot is still a store: its files are found."""
    hidden = small_landing / "pos" / ".ST-NYC"
    (small_landing / "pos" / "ST-NYC").rename(hidden)
    results = {r.source: r for r in ingest_all(tmp_path / "w.duckdb", small_landing)}
    assert [b.file for b in results["pos"].batches] == ["pos/.ST-NYC/sales_20260801.csv"]
