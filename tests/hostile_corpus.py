"""A corpus of hostile landing files for every source, written next to a generated demo landing.

Two kinds of files, each in its source's own folder and matching its file-name glob:

- file cases: files that are hostile as files (empty, binary, not UTF-8, a line over the
  scanner's limit, the wrong delimiter, a header only, a JSON array, pretty-printed JSON, CRLF
  line endings, no trailing newline, odd names, links leaving the landing folder, a
  byte-identical copy, a file still being written);
- value cases: ONE record per file, a valid record of the source with one field replaced by a
  hostile value (extreme and non-finite numbers, impossible dates, injection strings, values
  outside a vocabulary). One record per file makes the ledger row of the file the record's fate
  (loaded, rejected with its reason, duplicate), so a value that ingest accepts and a later step
  chokes on can be named exactly.

Every record but the hostile value is valid and carries a key of its own (`HX…`), so a record
that is not rejected is loaded, not hidden as a duplicate.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from pipelines.ingest.sources import SOURCES, SOURCES_BY_NAME
from pipelines.ingest.spec import Field, Source

# Files are written as if they had arrived a while ago, so an engine that waits for files
# still being written (modified within the last seconds) reads them in this run.
SETTLED_AGO_SECONDS = 120

HUGE_LINE_BYTES = 40 << 20  # over DuckDB's CSV line limit (about 32 MB) and our 16 MB

# A valid record of every source (native field path -> text). SKUs and locations are in the
# generated reference data (`demo_generator`, any seed).
TEMPLATES: dict[str, dict[str, str]] = {
    "products": {
        "sku": "SKU-00001",
        "name": "Studio Cap",
        "category": "Apparel",
        "weight_kg": "0.56",
        "pack_size": "4",
        "unit_cost": "12.38",
        "list_price": "22.99",
        "currency": "USD",
        "supplier_id": "SUP-03",
        "is_active": "Y",
    },
    "locations": {
        "location_id": "WH-DAL",
        "name": "Dallas DC",
        "kind": "warehouse",
        "latitude": "32.7767",
        "longitude": "-96.797",
        "timezone": "America/Chicago",
        "postcode": "75201",
        "can_ship": "Y",
        "ships_channels": "webshop|marketplace|wholesale",
    },
    "suppliers": {
        "supplier_id": "SUP-01",
        "name": "Harbor Home Goods",
        "lead_time_days": "5",
        "lead_time_sd_days": "1.0",
        "min_order_qty": "6",
    },
    "postcodes": {
        "postcode": "10043",
        "latitude": "40.7459",
        "longitude": "-74.5104",
        "region": "NY",
    },
    "marketplace": {
        "order-id": "112-7636712-0000001",
        "order-item-id": "30000000000197",
        "purchase-date": "2026-08-01T01:41:57+00:00",
        "last-updated-date": "2026-08-01T01:41:57+00:00",
        "order-status": "Unshipped",
        "fulfillment-channel": "MFN",
        "ship-service-level": "Standard",
        "sku": "SKU-00075",
        "quantity-purchased": "3",
        "currency": "USD",
        "item-price": "182.97",
        "shipping-price": "0.00",
        "ship-postal-code": "11209",
        "ship-country": "US",
        "latest-ship-date": "2026-08-03T23:59:59+00:00",
        "latest-delivery-date": "2026-08-07T23:59:59+00:00",
    },
    "pos": {
        "store_id": "ST-NYC",
        "register_id": "R2",
        "receipt_no": "100001",
        "line_no": "1",
        "sold_at": "2026-08-01 15:30:35-04:00",
        "sku": "SKU-00019",
        "qty": "1",
        "unit_price": "12.99",
        "currency": "USD",
    },
    "wholesale": {
        "2:8": "CUST01",
        "10:12": "PO1000001",
        "22:4": "0001",
        "26:12": "SKU-00012",
        "38:7": "0000012",
        "45:9": "000001299",
        "54:8": "20260801",
        "62:8": "20260808",
        "70:10": "75201",
        "80:2": "US",
    },
    "stock_snapshots": {
        "location_id": "ST-NYC",
        "sku": "SKU-00001",
        "snapshot_date": "2026-08-01",
        "on_hand": "3",
    },
    "cycle_counts": {
        "location_id": "ST-NYC",
        "sku": "SKU-00047",
        "counted_at": "2026-08-01T06:49:09-04:00",
        "system_qty": "2",
        "counted_qty": "2",
        "counter_id": "CNT-NYC-3",
    },
    "returns": {
        "rma_id": "RMA-0000004",
        "rma_line": "1",
        "channel": "webshop",
        "order_id": "5000000013",
        "line_ref": "9000000022",
        "sku": "SKU-00085",
        "quantity": "1",
        "reason_code": "no_longer_needed",
        "condition": "new",
        "restockable": "Y",
        "refund_status": "refunded",
        "refund_amount": "17.99",
        "currency": "USD",
        "requested_at": "2026-08-04T19:49:34+00:00",
        "received_at": "2026-08-08T16:43:59+00:00",
        "received_location_id": "WH-CMH",
    },
    "purchase_orders": {
        "po_id": "IPO-000001",
        "po_line": "1",
        "supplier_id": "SUP-03",
        "location_id": "WH-RNO",
        "sku": "SKU-00046",
        "ordered_qty": "24",
        "unit_cost": "6.25",
        "currency": "USD",
        "ordered_date": "2026-08-01",
        "expected_date": "2026-08-15",
    },
    "receipts": {
        "receipt_id": "RCV-0000012",
        "po_id": "IPO-000008",
        "po_line": "1",
        "location_id": "ST-NYC",
        "sku": "SKU-00071",
        "received_qty": "12",
        "received_date": "2026-08-03",
    },
    # The Olist export (docs/olist.md); the texts carry words the latin-1 case rewrites.
    "olist_products": {
        "product_id": "4244733e06e7ecb4970a6e2683c13e61",
        "product_category_name": "Cap",
        "product_name_lenght": "48.0",
        "product_description_lenght": "1031",
        "product_photos_qty": "1",
        "product_weight_g": "650",
        "product_length_cm": "28",
        "product_height_cm": "9",
        "product_width_cm": "14",
    },
    "olist_categories": {
        "product_category_name": "cama_mesa_banho",
        "product_category_name_english": "Cap",
    },
    "olist_customers": {
        "customer_id": "3ce436f183e68e07877b285a838db11a",
        "customer_unique_id": "RCV-871766c5855e863f6eccc05f988b23cb",
        "customer_zip_code_prefix": "28013",
        "customer_city": "Harbor",
        "customer_state": "NY",
    },
    "olist_orders": {
        "order_id": "00010242fe8c5a6d1ba2dd792cb16214",
        "customer_id": "RCV-3ce436f183e68e07877b285a838db11a",
        "order_status": "delivered",
        "order_purchase_timestamp": "2017-09-13 08:59:02",
        "order_approved_at": "2017-09-13 09:45:35",
        "order_delivered_carrier_date": "2017-09-19 18:34:16",
        "order_delivered_customer_date": "2017-09-20 23:43:48",
        "order_estimated_delivery_date": "2017-09-29 00:00:00",
    },
    "olist_order_items": {
        "order_id": "00010242fe8c5a6d1ba2dd792cb16214",
        "order_item_id": "1",
        "product_id": "SKU-00071",
        "seller_id": "ST-NYC-48436dade18ac8b2bce089ec2a041202",
        "shipping_limit_date": "2017-09-19 09:45:35",
        "price": "58.90",
        "freight_value": "13.29",
    },
}

JSON_TEMPLATES: dict[str, dict[str, object]] = {
    "webshop": {
        "id": 5000000001,
        "name": "#1",
        "created_at": "2026-08-01T06:10:14-04:00",
        "updated_at": "2026-08-01T06:10:14-04:00",
        "cancelled_at": None,
        "cancel_reason": None,
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": None,
        "total_price": "28.98",
        "customer": {"id": 700164, "email": "c700164@example.com"},
        "shipping_address": {
            "zip": "64140",
            "country_code": "US",
            "latitude": 39.0324,
            "longitude": -94.6919,
        },
        "shipping_lines": [{"code": "standard", "price": "4.99"}],
        "line_items": [{"id": 9000000001, "sku": "SKU-00033", "quantity": 1, "price": "23.99"}],
    },
    "carrier_events": {
        "event_id": "ev-000000046",
        "tracking_number": "PW100000046",
        "carrier": "Parcelway",
        "status": "label_created",
        "occurred_at": "2026-08-01T00:55:42-04:00",
        "exception_code": None,
        "shipment": {
            "channel": "marketplace",
            "order_id": "114-9087949-0000002",
            "ship_from": "WH-CMH",
            "service_level": "express",
            "lines": [{"line_ref": "30000000000221", "sku": "SKU-00018", "quantity": 1}],
        },
    },
}

# -- hostile values by field type ------------------------------------------------------------

INT_VALUES = [
    "-2147483648",
    "2147483648",
    "2147483647",
    "-2147483647",
    "1000001",
    "1.5",
    "0.5",
    "1.0",
    "0x10",
    "1e3",
    "1_000",
    "+5",
    "-0",
    "007",
    "NaN",
    "Infinity",
    "-inf",
    "99999999999999999999",
    "\uff15",  # fullwidth 5
    "\u0663",  # Arabic-Indic 3
    "1,000",
    "5 units",
]
BIGINT_VALUES = [
    "-9223372036854775808",
    "9223372036854775807",
    "9223372036854775808",
    "-1",
    "0",
    "1.5",
    "0x10",
    "1e3",
    "NaN",
    "inf",
]
DOUBLE_VALUES = [
    "NaN",
    "nan",
    "-NaN",
    "Infinity",
    "-inf",
    "inf",
    "1e308",
    "-1e308",
    "1e400",
    "-1e400",
    "1e-320",
    "-0",
    "0x10",
    "1e3",
    "91",
    "-91",
    "181",
    "-181",
    "1_0",
    "90.0000001",
]
MONEY_VALUES = [
    "1e308",
    "-1e400",
    "NaN",
    "Infinity",
    "-inf",
    "-0.01",
    "-5",
    "0",
    "9999999999999999.99",
    "99999999999999999.99",
    "1000000000.01",
    "999999999.99",
    "0.005",
    "1.005",
    "$5.00",
    "5,00",
    "0x10",
    "1e3",
    "1_0",
    "-2147483648",
]
TIMESTAMP_VALUES = [
    "2026-02-30T10:00:00Z",
    "1999-12-31T23:59:59Z",
    "2101-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "2026-08-01T25:00:00Z",
    "2026-08-01T10:00:00+25:00",
    "2026-08-01T10:00:00+14:00",
    "2026-08-01T10:00:00-12:00",
    "2026-08-01",
    "1785000000",
    "infinity",
    "-infinity",
    "epoch",
    "now",
    "today",
    "2026-08-01T10:00:00.123456789Z",
    "2026-08-01 10:00:00 America/New_York",
    "2026-08-01 10:00:00 Mars/Olympus",
    "allballs",
    "2100-12-31T23:59:59-14:00",
    "2000-01-01T00:00:00+14:00",
    "294247-01-10T04:00:54Z",
    "2026-08-01T10:00:00 (BC)",
]
DATE_VALUES = [
    "2026-02-30",
    "infinity",
    "-infinity",
    "epoch",
    "today",
    "2026-8-1",
    "20260801",
    "2026/08/01",
    "1999-12-31",
    "2101-01-01",
    "9999-12-31",
    "2026-08-01T10:00:00Z",
    "2026-08-01 (BC)",
    "5881580-07-11",
]
YYYYMMDD_VALUES = [
    "20260230",
    "99991231",
    "00000000",
    "infinity",
    "20261301",
    "19991231",
    "21010101",
    "2026081",
    "-2026080",
    "2026+801",
]
CENTS_VALUES = [
    "999999999",
    "-00000001",
    "000001.50",
    "NaN",
    "Infinity",
    "0x0000010",
    "+00000010",
    "1e308",
    "000000000",
]
FIXED_INT_VALUES = [  # 4 or 7 characters wide
    "9999999",
    "1000001",
    "00001.5",
    "0x00010",
    "NaN",
    "Inf",
    "-000001",
    "+000005",
    "1e00003",
    "-0",
    "0000000",
]
YN_VALUES = ["y", "n", "yes", "true", "TRUE", "1", "0", "Ja", "T", "\u202eY"]
TEXT_VALUES = [
    "'; drop table raw._batches; --",
    "say \"hi\" 'there'",
    "back\\slash\\",
    "{{ log('jinja', info=True) }}",
    "{% if true %}x{% endif %}",
    "=cmd|' /C calc'!A0",
    "+SUM(1,1)",
    "@SUM(1)",
    "line\u2028separator",
    "\u202eRTL\u200f mark",
    "zero\u200bwidth",
    "emoji \U0001f600",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "\\N",
    "NULL",
    "null",
    "None",
    "a,b;c|d",
    "%s%n%x",
    "x" * 100_000,
]
# Values the scanner itself may stumble on: each in a file of its own, like every value.
SCANNER_VALUES = ["NUL\x00byte", "new\nline", "carriage\rreturn", "tab\tinside", "\x1b[31mansi"]
# Variants of a vocabulary's valid values, and values outside it.
VOCABULARY_VARIANTS = {
    "currency": [
        "usd",
        "Usd",
        "US$",
        "EURO",
        "XXX",
        "x",
        "\u20ac",
        "USD\u200b",
        "U S",
        "EUR",
        "123",
    ],
    "channel": ["WEBSHOP", "Webshop", "amazon", "web shop", "pos\u200b"],
    "shipping_channel": ["WEBSHOP", "amazon", "pos", "store"],
    "webshop_financial_status": ["PAID", "Paid", "authorized", "paid\u200b"],
    "webshop_fulfillment_status": ["FULFILLED", "restocked", "unfulfilled"],
    "webshop_service_level": ["STANDARD", "overnight", "Express"],
    "marketplace_order_status": ["unshipped", "SHIPPED", "PartiallyShipped", "Cancelled"],
    "marketplace_service_level": ["standard", "NextDay", "SecondDay"],
    "carrier_status": ["LABEL_CREATED", "lost", "returned_to_sender", "Delivered"],
    "return_reason": ["DAMAGED", "other", "changed_mind"],
    "return_condition": ["NEW", "used", "destroyed"],
    "refund_status": ["REFUNDED", "partial", "failed"],
    "location_kind": ["Warehouse", "depot", "dark_store", "STORE"],
    "time_zone": [
        "UTC",
        "Mars/Olympus",
        "+05:00",
        "EST5EDT",
        "localtime",
        "posixrules",
        "Etc/GMT+14",
        "america/chicago",
        "US/Pacific-New",
    ],
}
# Text fields that name a vocabulary in the contract, whatever the engine declares today.
CONTRACT_VOCABULARIES = {
    ("products", "currency"): "currency",
    ("locations", "kind"): "location_kind",
    ("locations", "timezone"): "time_zone",
    ("webshop", "currency"): "currency",
    ("webshop", "financial_status"): "webshop_financial_status",
    ("webshop", "fulfillment_status"): "webshop_fulfillment_status",
    ("webshop", "shipping_lines.0.code"): "webshop_service_level",
    ("marketplace", "order-status"): "marketplace_order_status",
    ("marketplace", "ship-service-level"): "marketplace_service_level",
    ("marketplace", "currency"): "currency",
    ("pos", "currency"): "currency",
    ("carrier_events", "status"): "carrier_status",
    ("carrier_events", "shipment.channel"): "shipping_channel",
    ("carrier_events", "shipment.service_level"): "webshop_service_level",
    ("returns", "channel"): "channel",
    ("returns", "reason_code"): "return_reason",
    ("returns", "condition"): "return_condition",
    ("returns", "refund_status"): "refund_status",
    ("returns", "currency"): "currency",
    ("purchase_orders", "currency"): "currency",
}
EXTRA_TEXT = {
    ("locations", "ships_channels"): ["webshop|amazon", "|", "webshop||pos", "WEBSHOP", "*"],
    ("locations", "location_id"): ["-rf", "WH DAL", "wh-dal", "WH-DAL "],
    ("webshop", "shipping_address.country_code"): ["usa", "U", "ZZ", "\U0001f1fa\U0001f1f8"],
    ("marketplace", "ship-country"): ["usa", "ZZ"],
    ("wholesale", "80:2"): ["ZZ", "us", "1 "],
}

# JSON-only values: written as JSON tokens, not strings.
JSON_TOKENS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "-2147483648",
    "2147483648",
    "1.5",
    "true",
    "[]",
    "{}",
    '{"$numberLong": "5"}',
    "99999999999999999999999",
]


def values_for(source: Source, f: Field, path: str) -> list[tuple[str, str]]:
    """(kind, value) pairs to try in one field: kind `text` (as written), `token` (a JSON
    token), `scanner` (a value that may break the line scanner)."""
    fixed = source.format == "fixed"
    by_type: dict[str, list[str]] = {
        "int": FIXED_INT_VALUES if fixed else INT_VALUES,
        "bigint": BIGINT_VALUES,
        "double": DOUBLE_VALUES,
        "money": MONEY_VALUES,
        "cents": CENTS_VALUES,
        "timestamp": TIMESTAMP_VALUES,
        "date": DATE_VALUES,
        "yyyymmdd": YYYYMMDD_VALUES,
        "yn": YN_VALUES,
    }
    if f.type in by_type:
        values = list(by_type[f.type])
    else:
        values = list(TEXT_VALUES)
        vocab = CONTRACT_VOCABULARIES.get((source.name, path)) or getattr(f, "vocabulary", None)
        if vocab in VOCABULARY_VARIANTS:
            values += VOCABULARY_VARIANTS[vocab]
        values += EXTRA_TEXT.get((source.name, path), [])
    if fixed:
        width = int(f.path.split(":")[1])
        values = [v[:width] for v in values]
    pairs = [("text", v) for v in dict.fromkeys(values)]
    if source.format == "jsonl" and f.type != "text":
        pairs += [("token", t) for t in JSON_TOKENS]
    if f.type == "text" and not fixed:
        pairs += [("scanner", v) for v in SCANNER_VALUES]
    return pairs


# -- writing records -------------------------------------------------------------------------


def _settle(path: Path, ago: float = SETTLED_AGO_SECONDS) -> None:
    t = time.time() - ago
    os.utime(path, (t, t), follow_symlinks=False)


def _csv_line(values: list[str], sep: str) -> str:
    if sep == "\t":  # marketplace reports are not quoted
        return sep.join(values) + "\n"
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _header(source: Source, sep: str | None = None) -> str:
    sep = sep or ("\t" if source.format == "tsv" else ",")
    return sep.join(f.path for f in source.fields) + "\n"


def _fixed_line(values: dict[str, str]) -> str:
    line = ["D"] + [" "] * 80
    for path, v in values.items():
        start, width = (int(x) for x in path.split(":"))
        padded = v[:width].ljust(width)
        line[start - 1 : start - 1 + width] = list(padded)
    return "".join(line) + "\n"


def _set_path(doc: dict[str, object], path: str, value: object) -> None:
    node: object = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})  # type: ignore[index,union-attr]
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value  # type: ignore[index]
    else:
        node[last] = value  # type: ignore[index]


def _unique(source: Source, n: int) -> dict[str, object]:
    """Key values of record `n` that no other record has (native path -> value)."""
    tag = f"{n:05d}"
    base = datetime(2025, 1, 1)
    return {
        "products": {"sku": f"HXSKU{tag}"},
        "locations": {"location_id": f"HX-L{tag}"},
        "suppliers": {"supplier_id": f"HX-S{tag}"},
        "postcodes": {"postcode": f"HX{tag}"},
        "webshop": {"id": 9_100_000_000 + n, "line_items.0.id": 9_200_000_000 + n},
        "marketplace": {"order-id": f"HX-MP-{tag}", "order-item-id": f"HX{tag}"},
        "pos": {"receipt_no": f"HX{tag}"},
        "wholesale": {"10:12": f"HX{tag}"},
        "stock_snapshots": {"snapshot_date": (date(2025, 1, 1) + timedelta(days=n)).isoformat()},
        "cycle_counts": {"counted_at": (base + timedelta(minutes=n)).isoformat() + "Z"},
        "carrier_events": {"event_id": f"HX-EV-{tag}", "tracking_number": f"HXTRK{tag}"},
        "returns": {"rma_id": f"HX-RMA-{tag}"},
        "purchase_orders": {"po_id": f"HX-PO-{tag}"},
        "receipts": {"receipt_id": f"HX-RC-{tag}"},
        "olist_products": {"product_id": f"hxolistproduct{tag}"},
        "olist_categories": {"product_category_name": f"hx_category_{tag}"},
        "olist_customers": {"customer_id": f"hxolistcustomer{tag}"},
        "olist_orders": {"order_id": f"hxolistorder{tag}"},
        "olist_order_items": {"order_id": f"hxolistorder{tag}"},
    }[source.name]


_TOKEN = "\x00__hx_token__\x00"


def record(source: Source, n: int, overrides: dict[str, tuple[str, str]] | None = None) -> str:
    """The text of one valid record of `source` with a key of its own, with `overrides`
    (native path -> (kind, value)) applied, ending with a line break."""
    overrides = overrides or {}
    unique = _unique(source, n)
    if source.format == "jsonl":
        doc = json.loads(json.dumps(JSON_TEMPLATES[source.name]))
        for path, value in unique.items():
            _set_path(doc, path, value)
        tokens = []
        for path, (kind, value) in overrides.items():
            if kind == "token":
                tokens.append(value)
                _set_path(doc, path, _TOKEN)
            else:
                _set_path(doc, path, value)
        text = json.dumps(doc, ensure_ascii=False)
        for token in tokens:
            text = text.replace(json.dumps(_TOKEN), token, 1)
        return text + "\n"
    values = dict(TEMPLATES[source.name])
    values.update({k: str(v) for k, v in unique.items()})
    values.update({k: v for k, (_, v) in overrides.items()})
    if source.format == "fixed":
        return _fixed_line(values)
    sep = "\t" if source.format == "tsv" else ","
    return _csv_line([values[f.path] for f in source.fields], sep)


def _opening(source: Source) -> str:
    if source.format in ("csv", "tsv"):
        return _header(source)
    if source.format == "fixed":
        return "HCUST01  20260801\n"
    return ""


def _closing(source: Source, count: int) -> str:
    return f"T{count:07d}\n" if source.format == "fixed" else ""


def file_text(source: Source, records: list[str]) -> str:
    return _opening(source) + "".join(records) + _closing(source, len(records))


# -- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostileFile:
    """One hostile file (or link) and what it is."""

    rel: str
    source: str
    case: str  # file case name, or `value`
    field: str = ""  # value cases: the native path of the field
    kind: str = ""  # value cases: text, token, scanner
    value: str = ""  # value cases: the hostile value
    valid_records: int = 0  # records in it that break nothing (odd names, CRLF, ...)


@dataclass
class Corpus:
    landing: Path
    files: list[HostileFile] = field(default_factory=list)
    secret: str = ""
    skip: frozenset[str] = frozenset()
    # (relative path, final bytes): a file written in two goes, completed between the runs
    growing: tuple[str, bytes] | None = None

    def by_rel(self) -> dict[str, HostileFile]:
        return {f.rel: f for f in self.files}


class _Namer:
    """Names matching a source's glob, in the source's own folder."""

    def __init__(self, landing: Path, source: Source) -> None:
        self.landing = landing
        self.glob = source.globs[0]
        folder, _, name = self.glob.rpartition("/")
        self.prefix, _, self.suffix = name.partition("*")
        # a `*` folder (a store, a location) is an existing one
        self.folder = folder.replace("*", "ST-NYC")
        self.odd_folder = folder.replace("*", "-rf [x] *")

    def rel(self, tag: str, folder: str | None = None) -> str:
        return f"{folder or self.folder}/{self.prefix}{tag}{self.suffix}"


def _write(corpus: Corpus, hf: HostileFile, data: bytes, settle: bool = True) -> None:
    if hf.case in corpus.skip:
        return
    path = corpus.landing / hf.rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if settle:
        _settle(path)
    corpus.files.append(hf)


def _enc(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


def _value_cases(corpus: Corpus, source: Source, counter: Iterator[int]) -> None:
    namer = _Namer(corpus.landing, source)
    fields: list[tuple[Field, str]] = [(f, f.path) for f in source.fields]
    if source.child is not None:
        arr = source.child.array_path
        fields += [(f, f"{arr}.0.{f.path}") for f in source.child.fields]
    for f, path in fields:
        for i, (kind, value) in enumerate(values_for(source, f, path)):
            n = next(counter)
            slug = path.replace(".", "-").replace(":", "_")
            hf = HostileFile(
                rel=namer.rel(f"hx-v-{slug}-{kind}-{i:02d}"),
                source=source.name,
                case="value",
                field=path,
                kind=kind,
                value=value,
            )
            text = file_text(source, [record(source, n, {path: (kind, value)})])
            _write(corpus, hf, _enc(text))


def _file_cases(corpus: Corpus, source: Source, counter: Iterator[int], outside: Path) -> None:
    namer = _Namer(corpus.landing, source)
    fmt = source.format
    rnd = random.Random(source.name)

    def add(case: str, data: bytes, valid: int = 0, tag: str | None = None) -> None:
        _write(
            corpus,
            HostileFile(namer.rel(tag or f"hx-{case}"), source.name, case, valid_records=valid),
            data,
        )

    def ok() -> str:
        return record(source, next(counter))

    add("empty", b"")
    add("binary", rnd.randbytes(4096) + b"\x00\xff\xfe\n" + rnd.randbytes(1024))
    latin = record(source, next(counter)).replace("Cap", "Caf\xe9").replace("Dallas", "M\xfcnchen")
    latin = (
        latin.replace("Parcelway", "Parcelw\xe4y").replace("R2", "R\xe9").replace("MFN", "M\xc9N")
    )
    latin = (
        latin.replace("CUST01  ", "CUST\xc901 ")
        .replace("NY", "N\xdd")
        .replace("Harbor", "H\xe4rbor")
    )
    latin = (
        latin.replace("CNT-NYC-3", "CNT-N\xddC")
        .replace("webshop", "webs\xf6p")
        .replace("IPO", "\xcdPO")
    )
    latin = latin.replace("ST-NYC", "ST-N\xddC").replace("RCV", "R\xc7V")
    add("latin1", (_opening(source) + latin + _closing(source, 1)).encode("latin-1"))
    if fmt == "csv":
        add("wrong-delimiter", (_header(source, ";") + ok().replace(",", ";")).encode())
    elif fmt == "tsv":
        add("wrong-delimiter", (_header(source, ",") + ok().replace("\t", ",")).encode())
    elif fmt == "fixed":
        add("wrong-delimiter", ("H\tCUST01\n" + ok().replace(" ", "\t") + "T\t1\n").encode())
    else:
        add("wrong-delimiter", (",".join(["a", "b"]) + "\n" + ok().replace(",", ";")).encode())
    if fmt in ("csv", "tsv"):
        add("header-only", _header(source).encode())
        add("header-only-no-newline", _header(source).rstrip("\n").encode())
        add("bom", ("\ufeff" + file_text(source, [ok()])).encode())
        add(
            "reordered-header",
            (",".join(reversed([f.path for f in source.fields])) + "\n" + ok()).encode(),
        )
        add(
            "mixed-line-endings",
            (file_text(source, [ok(), ok()]).replace("\n", "\r\n", 1)).encode(),
        )
    elif fmt == "fixed":
        add("header-only", b"HCUST01  20260801\nT0000000\n")
        add(
            "unknown-record-type", ("HCUST01\n" + ok().replace("D", "X", 1) + "T0000001\n").encode()
        )
    else:
        add("blank-lines-only", b"\n   \n\t\n\r\n")
        doc = json.loads(ok())
        add("json-array", (json.dumps([doc, json.loads(ok())]) + "\n").encode())
        add("pretty-json", (json.dumps(json.loads(ok()), indent=2) + "\n").encode())
        add("bare-nan", ok().replace('"#', 'NaN, "#', 1).encode())
        add("not-object-lines", b'"a string"\n42\nnull\n[1,2]\ntrue\n')
        add("deep-nesting", ("[" * 100_000 + "]" * 100_000 + "\n").encode())
        add("duplicate-members", ok().replace("{", '{"currency": "x", "status": "x", ', 1).encode())
    add("json-array-in-any", (json.dumps([{"a": 1}]) + "\n").encode())
    add("crlf", file_text(source, [ok(), ok()]).replace("\n", "\r\n").encode(), valid=2)
    add("no-trailing-newline", file_text(source, [ok(), ok()]).rstrip("\n").encode(), valid=2)
    add(
        "injection-name-'; drop table raw._batches; --", file_text(source, [ok()]).encode(), valid=1
    )
    # odd names that still match the glob
    long_tag = "hx-long-" + "L" * (250 - len(namer.prefix) - len(namer.suffix) - 8)
    for tag in (
        "hx odd with spaces",
        "hx-ünïcødé-日本-\u202etxt",
        "hx-[0]1",
        "hx-*",
        "hx-?",
        "hx-[!a]",
        "-hx-leading-dash",
        long_tag,
        "hx-$(touch pwned)",
        "hx-back\\slash",
        "hx-%s%n",
        "hx-new\nline",
        "hx-{{ jinja }}",
    ):
        add("odd-name", file_text(source, [ok()]).encode(), valid=1, tag=tag)
    # a non-UTF-8 file name (bytes the file system takes, Python gives as surrogate escapes)
    raw_name = os.fsencode(str(corpus.landing / namer.rel("hx-badname-"))).replace(
        b"-" + os.fsencode(namer.suffix), b"-\xff" + os.fsencode(namer.suffix)
    )
    if os.fsencode(namer.suffix) in raw_name and "non-utf8-name" not in corpus.skip:
        with open(raw_name, "wb") as fh:
            fh.write(file_text(source, [ok()]).encode())
        rel = os.fsdecode(raw_name)[len(str(corpus.landing)) + 1 :]
        _settle(Path(os.fsdecode(raw_name)))
        corpus.files.append(HostileFile(rel, source.name, "non-utf8-name", valid_records=1))
    if "*" in source.globs[0].rpartition("/")[0]:
        # a folder with an odd name where the glob has a `*` folder
        rel = namer.rel("hx-in-odd-folder", folder=namer.odd_folder)
        hf = HostileFile(rel, source.name, "odd-folder", valid_records=1)
        _write(corpus, hf, file_text(source, [ok()]).encode())
    # a byte-identical copy of a valid file under another name
    original = file_text(source, [ok()]).encode()
    add("copy-original", original, valid=1)
    add("identical-copy", original)
    # links: outside the landing folder (a secret), to /etc/passwd, broken, inside
    secret_file = outside / f"{source.name}_secret.txt"
    secret_records = [record(source, next(counter), _secret_overrides(source, corpus.secret))]
    secret_file.write_text(file_text(source, secret_records) + corpus.secret + "\n")
    _link(corpus, namer.rel("hx-link-outside"), secret_file, source.name, "link-outside")
    _link(corpus, namer.rel("hx-link-passwd"), Path("/etc/passwd"), source.name, "link-passwd")
    _link(corpus, namer.rel("hx-link-broken"), outside / "missing", source.name, "link-broken")
    _link(
        corpus,
        namer.rel("hx-link-relative-escape"),
        Path(os.path.relpath(secret_file, (corpus.landing / namer.rel("x")).parent)),
        source.name,
        "link-outside",
    )
    # a directory named like a file
    (corpus.landing / namer.rel("hx-directory")).mkdir(parents=True, exist_ok=True)


def _secret_overrides(source: Source, secret: str) -> dict[str, tuple[str, str]]:
    """Put the secret into every text field of a record (so it shows wherever it lands)."""
    if source.format == "fixed":
        return {"10:12": ("text", secret[:12])}
    out = {}
    for f in source.fields:
        if f.type == "text" and f.reference is None:
            out[f.path] = ("text", secret)
    return out


def _link(corpus: Corpus, rel: str, target: Path, source: str, case: str) -> None:
    if case in corpus.skip:
        return
    path = corpus.landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    _settle(path)
    corpus.files.append(HostileFile(rel, source, case))


def _huge_lines(corpus: Corpus, counter: Iterator[int]) -> None:
    """One line over every scanner's limit per format, between two valid records."""
    for name in ("pos", "marketplace", "webshop", "wholesale"):
        source = SOURCES_BY_NAME[name]
        namer = _Namer(corpus.landing, source)
        huge_value = "H" * HUGE_LINE_BYTES
        field = {"pos": "register_id", "marketplace": "fulfillment-channel", "webshop": "name"}
        if name == "wholesale":
            huge = "D" + "9" * HUGE_LINE_BYTES + "\n"
        else:
            huge = record(source, next(counter), {field[name]: ("text", huge_value)})
        text = file_text(
            source, [record(source, next(counter)), huge, record(source, next(counter))]
        )
        _write(
            corpus,
            HostileFile(namer.rel("hx-huge-line"), name, "huge-line", valid_records=2),
            text.encode(),
        )


def _outside_folder_links(corpus: Corpus, outside: Path, counter: Iterator[int]) -> None:
    """A store / location folder that is a link to a folder outside the landing folder."""
    for name, folder in (("pos", "pos/ST-HXLINK"), ("stock_snapshots", "stock/HX-LINK")):
        source = SOURCES_BY_NAME[name]
        target = outside / f"folder_{name}"
        target.mkdir()
        file_name = source.globs[0].rpartition("/")[2].replace("*", "hx-secret")
        rec = record(source, next(counter), _secret_overrides(source, corpus.secret))
        (target / file_name).write_text(file_text(source, [rec]))
        link = corpus.landing / folder
        link.symlink_to(target, target_is_directory=True)
        corpus.files.append(HostileFile(f"{folder}/{file_name}", name, "link-outside-folder"))


def _growing_file(corpus: Corpus, counter: Iterator[int]) -> None:
    """A POS file caught mid-write: the last value is cut short (`13.` of `13.99`) and the line
    has no break yet. Completed between the two runs."""
    source = SOURCES_BY_NAME["pos"]
    namer = _Namer(corpus.landing, source)
    full = file_text(source, [record(source, next(counter), {"unit_price": ("text", "13.99")})])
    rel = namer.rel("hx-growing")
    cut = full.encode()[: -len("99,USD\n")]
    path = corpus.landing / rel
    path.write_bytes(cut)  # just written: its modification time is now
    corpus.files.append(HostileFile(rel, "pos", "growing", valid_records=1))
    corpus.growing = (rel, full.encode())


def build_corpus(
    landing: Path, outside: Path, secret: str, skip: frozenset[str] = frozenset()
) -> Corpus:
    """Write the whole hostile corpus into `landing` (which already holds valid data); files
    outside the landing folder (link targets holding `secret`) go to `outside`. `skip` leaves
    out cases by name (to see past one that stops everything while it is being fixed)."""
    outside.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(landing=landing, secret=secret, skip=skip)
    counter = iter(range(1, 1_000_000))
    for source in SOURCES:
        _file_cases(corpus, source, counter, outside)
        _value_cases(corpus, source, counter)
    _huge_lines(corpus, counter)
    _outside_folder_links(corpus, outside, counter)
    _growing_file(corpus, counter)
    return corpus


def complete_growing_file(corpus: Corpus) -> None:
    """The writer of the growing file finishes it (and a while passes)."""
    assert corpus.growing is not None
    rel, data = corpus.growing
    path = corpus.landing / rel
    path.write_bytes(data)
    _settle(path)
