"""Behaviour of the demo-data generator (demo_generator) against docs/landing_contract.md."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from demo_generator import GenerationReport, generate
from demo_generator.demand import derive_scale
from demo_generator.faults import applicable_kinds
from demo_generator.landing import SOURCES

SMALL = {"days": 12, "order_lines": 3_000, "seed": 7}

CSV_HEADERS = {
    "pos": "store_id,register_id,receipt_no,line_no,sold_at,sku,qty,unit_price,currency",
    "stock_snapshots": "location_id,sku,snapshot_date,on_hand",
    "cycle_counts": "location_id,sku,counted_at,system_qty,counted_qty,counter_id",
    "returns": "rma_id,rma_line,channel,order_id,line_ref,sku,quantity,reason_code,condition,"
    "restockable,refund_status,refund_amount,currency,requested_at,received_at,"
    "received_location_id",
    "purchase_orders": "po_id,po_line,supplier_id,location_id,sku,ordered_qty,unit_cost,currency,"
    "ordered_date,expected_date",
    "receipts": "receipt_id,po_id,po_line,location_id,sku,received_qty,received_date",
    "products": "sku,name,category,weight_kg,pack_size,unit_cost,list_price,currency,supplier_id,"
    "is_active",
    "locations": "location_id,name,kind,latitude,longitude,timezone,postcode,can_ship,"
    "ships_channels",
    "suppliers": "supplier_id,name,lead_time_days,lead_time_sd_days,min_order_qty",
    "postcodes": "postcode,latitude,longitude,region",
}
MARKETPLACE_HEADER = (
    "order-id\torder-item-id\tpurchase-date\tlast-updated-date\torder-status\t"
    "fulfillment-channel\tship-service-level\tsku\tquantity-purchased\tcurrency\titem-price\t"
    "shipping-price\tship-postal-code\tship-country\tlatest-ship-date\tlatest-delivery-date"
)
ORDER_KEYS = [
    "id", "name", "created_at", "updated_at", "cancelled_at", "cancel_reason", "currency",
    "financial_status", "fulfillment_status", "total_price", "customer", "shipping_address",
    "shipping_lines", "line_items",
]  # fmt: skip
EVENT_KEYS = ["event_id", "tracking_number", "carrier", "status", "occurred_at", "exception_code"]
# Which source a landing path belongs to, by the contract's file patterns.
PATTERNS = {
    "webshop": r"webshop/orders_\d{8}_\d{2}\.jsonl",
    "marketplace": r"marketplace/order_report_\d{8}\.tsv",
    "pos": r"pos/ST-[A-Z]{3}/sales_\d{8}\.csv",
    "wholesale": r"wholesale/PO_[A-Z0-9]+_\d{8}\.txt",
    "stock_snapshots": r"stock/(WH|ST)-[A-Z]{3}/snapshot_\d{8}\.csv",
    "cycle_counts": r"stock/(WH|ST)-[A-Z]{3}/cycle_count_\d{8}\.csv",
    "carrier_events": r"carrier/events_\d{8}_\d{2}\.jsonl",
    "returns": r"returns/rma_\d{8}\.csv",
    "purchase_orders": r"inbound/purchase_orders_\d{8}\.csv",
    "receipts": r"inbound/receipts_\d{8}\.csv",
    "products": r"reference/products_\d{8}\.csv",
    "locations": r"reference/locations_\d{8}\.csv",
    "suppliers": r"reference/suppliers_\d{8}\.csv",
    "postcodes": r"reference/postcodes_\d{8}\.csv",
}


def source_of(rel: str) -> str:
    matches = [s for s, p in PATTERNS.items() if re.fullmatch(p, rel)]
    assert len(matches) == 1, rel
    return matches[0]


def landing_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def digests(root: Path) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in landing_files(root).items()}


def read_truth(truth_dir: Path) -> list[dict[str, str]]:
    with (truth_dir / "faults.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, Path, GenerationReport]:
    root = tmp_path_factory.mktemp("small")
    report = generate(root / "landing", truth_dir=root / "truth", **SMALL)
    return root / "landing", root / "truth", report


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> tuple[Path, Path, GenerationReport]:
    """Long enough for returns to come back from the first weeks' parcels."""
    root = tmp_path_factory.mktemp("long")
    report = generate(root / "landing", truth_dir=root / "truth", days=45, order_lines=6_000)
    return root / "landing", root / "truth", report


def test_same_seed_writes_identical_files(small_run, tmp_path):
    landing, _, _ = small_run
    generate(tmp_path / "again", **SMALL)
    assert digests(tmp_path / "again") == digests(landing)


def test_different_seed_writes_different_data(small_run, tmp_path):
    landing, _, _ = small_run
    generate(tmp_path / "other", **{**SMALL, "seed": 8})
    first = digests(landing)
    other = digests(tmp_path / "other")
    shared = set(first) & set(other)
    assert sum(first[k] != other[k] for k in shared) > len(shared) // 2


def test_from_day_writes_only_later_days_with_same_content(small_run, tmp_path):
    landing, _, _ = small_run
    report = generate(tmp_path / "tail", from_day=9, **SMALL)
    tail = digests(tmp_path / "tail")
    full = digests(landing)
    later_days = {"20260810", "20260811", "20260812"}
    expected = {k: v for k, v in full.items() if re.search(r"_(\d{8})", k)[1] in later_days}
    assert tail == expected
    assert report.days_written == ["2026-08-10", "2026-08-11", "2026-08-12"]


def test_one_more_day_keeps_the_daily_volume_of_the_default_run():
    assert derive_scale(120_000, 90) == derive_scale(120_000, 91)
    assert derive_scale(10_000_000, 90) == derive_scale(10_000_000, 91)


def test_extending_by_one_day_adds_the_day_a_longer_full_run_writes(tmp_path):
    base = {"order_lines": 4_300, "seed": 3}
    # The daily rate sits on a 6 % grid; these sizes keep the same step for 40 and 41 days.
    assert derive_scale(4_300, 40) == derive_scale(4_300, 41)
    generate(tmp_path / "longer", days=41, **base)
    generate(tmp_path / "extended", days=40, **base)
    before = digests(tmp_path / "extended")
    generate(tmp_path / "extended", days=41, from_day=40, **base)
    after = digests(tmp_path / "extended")
    # Earlier files are untouched, and the folder now equals an 11-day run's.
    assert {k: after[k] for k in before} == before
    assert after == digests(tmp_path / "longer")


def test_every_fault_kind_is_injected_for_every_applicable_source(small_run):
    _, truth_dir, report = small_run
    truth = read_truth(truth_dir)
    kinds: dict[str, set[str]] = defaultdict(set)
    for row in truth:
        kinds[row["source"]].add(row["fault_kind"])
    for name, source in SOURCES.items():
        assert kinds[name] >= set(applicable_kinds(source)), name
    assert set(report.faults) == set(SOURCES)
    summary = json.loads((truth_dir / "summary.json").read_text())
    assert summary["faults_total"] == len(truth)


def test_truth_rows_name_a_written_file_and_a_valid_reason(small_run):
    landing, truth_dir, _ = small_run
    reasons = {
        "duplicate",
        "malformed_record",
        "missing_required",
        "invalid_number",
        "invalid_timestamp",
        "invalid_quantity",
        "unknown_sku",
        "unknown_location",
        "event_before_label",
    }
    for row in read_truth(truth_dir):
        assert (landing / row["file"]).is_file(), row
        assert source_of(row["file"]) == row["source"]
        assert row["expected_reason"] in reasons
        assert (row["record_key"] == "") == (row["fault_kind"] == "malformed_record")


def test_fault_share_follows_fault_rate(tmp_path):
    report = generate(tmp_path / "clean", days=10, order_lines=2_500, fault_rate=0.0)
    # With no random faults, only the guaranteed one per kind and source remains.
    assert report.total_faults == sum(len(applicable_kinds(s)) for s in SOURCES.values())
    noisy = generate(tmp_path / "noisy", days=10, order_lines=2_500, fault_rate=0.05)
    records = sum(v for k, v in noisy.records.items() if k in SOURCES)
    assert 0.03 < noisy.total_faults / records < 0.07


def _malformed_per_file(truth_dir: Path) -> Counter[str]:
    return Counter(
        r["file"] for r in read_truth(truth_dir) if r["fault_kind"] == "malformed_record"
    )


def test_files_follow_the_landing_contract(small_run):
    landing, truth_dir, _ = small_run
    malformed = _malformed_per_file(truth_dir)
    seen_sources = set()
    for rel, content in landing_files(landing).items():
        source = source_of(rel)
        seen_sources.add(source)
        text = content.decode("utf-8")
        assert text.endswith("\n") and "\r" not in text
        lines = text.splitlines()
        if source in CSV_HEADERS:
            assert lines[0] == CSV_HEADERS[source], rel
            width = len(lines[0].split(","))
            rows = list(csv.reader(lines[1:]))
            bad = sum(len(r) != width for r in rows)
            assert bad == malformed[rel], rel
        elif source == "marketplace":
            assert lines[0] == MARKETPLACE_HEADER
            bad = sum(len(line.split("\t")) != 16 for line in lines[1:])
            assert bad == malformed[rel], rel
        elif source in ("webshop", "carrier_events"):
            bad = 0
            for line in lines:
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
                    continue
                if source == "carrier_events":
                    assert list(doc)[:6] == EVENT_KEYS
                    assert ("shipment" in doc) == (doc["status"] == "label_created")
                else:
                    assert list(doc) == ORDER_KEYS
                    assert set(doc["line_items"][0]) == {"id", "sku", "quantity", "price"}
            assert bad == malformed[rel], rel
        else:  # wholesale fixed width
            customer, ymd = re.fullmatch(r"wholesale/PO_(\w+)_(\d{8})\.txt", rel).groups()
            assert lines[0] == f"H{customer:<8}{ymd}"
            details = lines[1:-1]
            assert lines[-1] == f"T{len(details):07d}"
            assert all(d.startswith("D") for d in details)
            assert sum(len(d) != 81 for d in details) == malformed[rel], rel
            assert all(len(d) < 81 for d in details if len(d) != 81)
    assert seen_sources == set(PATTERNS)


def test_reference_data_describes_the_network(small_run):
    landing, _, _ = small_run
    with (landing / "reference/locations_20260801.csv").open(newline="") as f:
        locations = {r["location_id"]: r for r in csv.DictReader(f)}
    warehouses = [r for r in locations.values() if r["kind"] == "warehouse"]
    stores = [r for r in locations.values() if r["kind"] == "store"]
    assert {r["location_id"] for r in warehouses} == {
        "WH-RNO",
        "WH-DAL",
        "WH-CMH",
        "WH-ATL",
        "WH-ABE",
    }
    assert len(stores) == 6
    assert all(r["can_ship"] == "Y" for r in warehouses)
    assert sum(r["can_ship"] == "Y" for r in stores) in (1, 2)
    with (landing / "reference/postcodes_20260801.csv").open(newline="") as f:
        postcodes = list(csv.DictReader(f))
    assert 200 <= len(postcodes) <= 600
    assert all(re.fullmatch(r"\d{5}", r["postcode"]) for r in postcodes)


def _parse_jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _fault_keys(truth_dir: Path, source: str) -> set[str]:
    return {
        r["record_key"]
        for r in read_truth(truth_dir)
        if r["source"] == source and r["fault_kind"] != "duplicate"
    }


def test_order_line_count_close_to_requested(small_run):
    landing, truth_dir, _ = small_run
    lines: set[tuple[str, str]] = set()
    web_faults = _fault_keys(truth_dir, "webshop")
    for path in (landing / "webshop").glob("*.jsonl"):
        for doc in _parse_jsonl(path):
            if f"{doc['id']}|{doc['updated_at']}" not in web_faults:
                lines |= {("web", str(li["id"])) for li in doc["line_items"]}
    mkt_faults = _fault_keys(truth_dir, "marketplace")
    for path in (landing / "marketplace").glob("*.tsv"):
        with path.open(newline="") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                key = f"{r['order-id']}|{r['order-item-id']}|{r['last-updated-date']}"
                if key not in mkt_faults and r["order-item-id"]:
                    lines.add(("mkt", r["order-item-id"]))
    pos_faults = _fault_keys(truth_dir, "pos")
    for path in (landing / "pos").rglob("*.csv"):
        with path.open(newline="") as f:
            for r in csv.DictReader(f):
                key = "|".join((r["store_id"], r["register_id"], r["receipt_no"], r["line_no"]))
                if key not in pos_faults and r["qty"] and int(r["qty"] or 0) > 0:
                    lines.add(("pos", key))
    wh_faults = _fault_keys(truth_dir, "wholesale")
    for path in (landing / "wholesale").glob("*.txt"):
        for d in path.read_text().splitlines()[1:-1]:
            key = f"{d[1:9].strip()}|{d[9:21].strip()}|{d[21:25]}"
            if len(d) == 81 and key not in wh_faults:
                lines.add(("wh", key))
    assert abs(len(lines) / SMALL["order_lines"] - 1) <= 0.10
    share = Counter(kind for kind, _ in lines)
    assert share["web"] > share["mkt"] > share["pos"] > 0 and share["wh"] > 0


def test_order_line_count_scales_with_the_request(tmp_path):
    report = generate(tmp_path / "x", days=10, order_lines=8_000, fault_rate=0.0)
    assert abs(report.metrics["order_lines"] / 8_000 - 1) <= 0.10


def _carrier(landing: Path) -> tuple[list[dict], dict[str, str]]:
    events, file_of = [], {}
    for path in sorted((landing / "carrier").glob("*.jsonl")):
        for doc in _parse_jsonl(path):
            events.append(doc)
            file_of.setdefault(doc["event_id"], path.name)
    return events, file_of


def test_labels_arrive_no_later_than_the_other_events_of_their_parcel(small_run):
    landing, truth_dir, _ = small_run
    faults = _fault_keys(truth_dir, "carrier_events")
    events, file_of = _carrier(landing)
    label_file = {
        e["tracking_number"]: file_of[e["event_id"]]
        for e in events
        if e["status"] == "label_created" and e["event_id"] not in faults
    }
    scans = [e for e in events if e["status"] != "label_created" and e["event_id"] not in faults]
    assert scans
    for e in scans:
        if e["tracking_number"] in label_file:
            assert label_file[e["tracking_number"]] <= file_of[e["event_id"]]
    assert any(e["status"] == "delivered" for e in scans)
    assert any(e["status"] == "exception" for e in scans) or len(scans) < 500


def test_return_share_is_between_5_and_10_percent(long_run):
    landing, truth_dir, _ = long_run
    faults = _fault_keys(truth_dir, "carrier_events")
    events, _ = _carrier(landing)
    # Parcels labelled in the first two weeks have had time to come back within the span.
    shipped: dict[str, int] = {}
    early_labels = (
        e
        for e in events
        if e["status"] == "label_created"
        and e["event_id"] not in faults
        and e["occurred_at"][:10] <= "2026-08-14"
    )
    for e in early_labels:
        for line in e["shipment"]["lines"]:
            shipped[line["line_ref"]] = line["quantity"]
    returned = 0
    rma_faults = _fault_keys(truth_dir, "returns")
    for path in (landing / "returns").glob("*.csv"):
        with path.open(newline="") as f:
            for r in csv.DictReader(f):
                if f"{r['rma_id']}|{r['rma_line']}" not in rma_faults and r["line_ref"] in shipped:
                    returned += int(r["quantity"])
    share = returned / sum(shipped.values())
    assert 0.05 <= share <= 0.10, share


def test_fill_rate_lateness_and_returns_are_plausible(long_run):
    _, _, report = long_run
    m = report.metrics
    # Small runs sit lower: a wholesale order of several packs can empty a thin shelf.
    assert 0.85 <= m["unit_fill_rate"] <= 0.99
    assert 0.03 <= m["late_delivery_share"] <= 0.14
    assert 0.02 <= m["late_ship_share"] <= 0.10


def test_stock_is_never_negative_outside_injected_faults(small_run):
    landing, truth_dir, _ = small_run
    faults = _fault_keys(truth_dir, "stock_snapshots")
    for path in (landing / "stock").rglob("snapshot_*.csv"):
        with path.open(newline="") as f:
            for r in csv.DictReader(f):
                key = f"{r['location_id']}|{r['sku']}|{r['snapshot_date']}"
                if key not in faults and r["on_hand"]:
                    assert int(r["on_hand"]) >= 0, key


def test_webshop_orders_are_rewritten_when_cancelled_or_refunded(long_run):
    landing, truth_dir, _ = long_run
    faults = _fault_keys(truth_dir, "webshop")
    versions: dict[int, list[dict]] = defaultdict(list)
    for path in sorted((landing / "webshop").glob("*.jsonl")):
        for doc in _parse_jsonl(path):
            if f"{doc['id']}|{doc['updated_at']}" not in faults:
                versions[doc["id"]].append(doc)
    later = [v for vs in versions.values() for v in vs if v["updated_at"] != v["created_at"]]
    assert any(v["cancelled_at"] for v in later)
    assert {"refunded", "partially_refunded"} & {v["financial_status"] for v in later}
    assert all(v["updated_at"][:10] > v["created_at"][:10] for v in later)


def test_cli_prints_the_report(tmp_path, capsys):
    from demo_generator.__main__ import main

    main(
        [
            "--landing",
            str(tmp_path / "l"),
            "--days",
            "3",
            "--order-lines",
            "600",
            "--truth",
            str(tmp_path / "t"),
        ]
    )
    out = capsys.readouterr().out
    assert "files written" in out and (tmp_path / "t" / "faults.csv").is_file()


def test_start_date_moves_the_file_dates(tmp_path):
    generate(tmp_path / "l", start=date(2026, 11, 2), days=2, order_lines=500)
    names = {p.name for p in (tmp_path / "l" / "reference").iterdir()}
    assert "products_20261102.csv" in names
