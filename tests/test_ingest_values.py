"""Values a later step cannot compute with are quarantined at ingest, never loaded.

Each case is a record that used to pass ingest and then broke a model on every run (a quantity
of -2147483648 cannot be negated as an INTEGER, a currency `x` failed a dbt test, a latitude of
NaN broke the distance model). The expected reasons are written here by hand; the loaded rows
are compared with the file's own values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.engine import ingest_all
from pipelines.ingest.sources import SOURCES
from pipelines.ingest.sql import MAX_QUANTITY
from pipelines.vocabularies import vocabulary

POS_HEADER = "store_id,register_id,receipt_no,line_no,sold_at,sku,qty,unit_price,currency"
SOLD_AT = "2026-08-01 11:00:00-04:00"

# receipt number -> (qty, unit_price, currency, the reason expected, or None when loaded)
POS_CASES: dict[str, tuple[str, str, str, str | None]] = {
    "r01": ("-2147483648", "13.99", "USD", "invalid_quantity"),
    "r02": ("2147483648", "13.99", "USD", "invalid_number"),
    "r03": (str(MAX_QUANTITY + 1), "1.00", "USD", "invalid_quantity"),
    "r04": ("1.5", "1.00", "USD", "invalid_number"),
    "r05": ("1e3", "1.00", "USD", "invalid_number"),
    "r06": ("0x10", "1.00", "USD", "invalid_number"),
    "r07": ("1_000", "1.00", "USD", "invalid_number"),
    "r08": ("2", "1.00", "x", "invalid_value"),
    "r09": ("2", "1.00", "EUR", "invalid_value"),
    "r10": ("2", "NaN", "USD", "invalid_number"),
    "r11": ("2", "-1.00", "USD", "out_of_range"),
    "r12": ("2", "1000000000000000", "USD", "out_of_range"),
    "r13": ("2", "inf", "USD", "invalid_number"),
    "r17": ("2", "1.00", "USD", "invalid_timestamp"),  # sold at `infinity`
    # loaded: a return at the till, the largest quantity allowed, a signed whole number
    "r14": ("-3", "4.50", "USD", None),
    "r15": (str(MAX_QUANTITY), "0.01", "USD", None),
    "r16": ("+7", "2.00", "USD", None),
}


def _pos_file(landing: Path) -> None:
    rows = [
        f"ST-NYC,R1,{receipt},1,{'infinity' if receipt == 'r17' else SOLD_AT},SKU-1,{qty},"
        f"{price},{currency}"
        for receipt, (qty, price, currency, _) in POS_CASES.items()
    ]
    (landing / "pos" / "ST-NYC" / "sales_20260802.csv").write_text(
        "\n".join([POS_HEADER, *rows]) + "\n"
    )


def _outcomes(warehouse: Path, source: str, file_part: str) -> dict[str, str]:
    """record text -> reason code of every reject of one file."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(
            con.execute(
                "select record, reason_code from raw._rejects where source = ? and file like ?",
                [source, f"%{file_part}%"],
            ).fetchall()
        )
    finally:
        con.close()


def test_values_no_model_can_compute_with_are_quarantined_with_their_reason(
    small_landing: Path, tmp_path: Path
) -> None:
    _pos_file(small_landing)
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "locations", "pos"])
    rejects = _outcomes(warehouse, "pos", "sales_20260802")
    by_receipt = {text.split(",")[2]: code for text, code in rejects.items()}
    expected = {r: case[3] for r, case in POS_CASES.items() if case[3] is not None}
    assert by_receipt == expected
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = dict(
        con.execute(
            "select receipt_no, qty from raw.pos__sales where _file like '%20260802%'"
        ).fetchall()
    )
    con.close()
    # loaded with exactly the file's value (never rounded, never wrapped)
    assert loaded == {r: int(c[0]) for r, c in POS_CASES.items() if c[3] is None}


def test_coordinates_must_be_finite_and_on_the_globe(small_landing: Path, tmp_path: Path) -> None:
    orders = []
    cases = {  # order id -> (latitude JSON, longitude JSON, loaded?)
        6000000101: ('"NaN"', "-73.99", False),
        6000000102: ("91", "-73.99", False),
        6000000103: ("40.75", '"-Infinity"', False),
        6000000104: ("40.75", "181", False),
        6000000105: ("1e400", "0", False),
        6000000106: ("-90", "180", True),
        6000000107: ("null", "null", True),
    }
    for order_id, (lat, lon, _) in cases.items():
        orders.append(
            json.dumps(
                {
                    "id": order_id,
                    "created_at": "2026-08-02T10:00:00Z",
                    "updated_at": "2026-08-02T10:00:00Z",
                    "currency": "USD",
                    "financial_status": "paid",
                    "total_price": "5",
                    "shipping_address": {"zip": "10001", "country_code": "US"},
                    "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "5"}],
                }
            ).replace(
                '"country_code": "US"',
                f'"country_code": "US", "latitude": {lat}, "longitude": {lon}',
            )
        )
    (small_landing / "webshop" / "orders_20260802_01.jsonl").write_text("\n".join(orders) + "\n")
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["products", "webshop"])
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = {
        i
        for (i,) in con.execute(
            "select id from raw.webshop__orders where _file like '%20260802%'"
        ).fetchall()
    }
    reasons = {
        code
        for (code,) in con.execute(
            "select reason_code from raw._rejects where file like '%20260802%'"
        ).fetchall()
    }
    con.close()
    assert loaded == {i for i, case in cases.items() if case[2]}
    assert reasons == {"invalid_number", "out_of_range"}


def test_reference_values_outside_their_vocabulary_or_range_are_quarantined(
    small_landing: Path, tmp_path: Path
) -> None:
    header = "location_id,name,kind,latitude,longitude,timezone,postcode,can_ship,ships_channels"
    rows = [
        "WH-A,A,warehouse,32.7,-96.8,Mars/Olympus_Mons,75201,Y,webshop",  # unknown time zone
        "WH-B,B,depot,32.7,-96.8,America/Chicago,75201,Y,webshop",  # kind not in vocabulary
        "WH-C,C,warehouse,nan,-96.8,America/Chicago,75201,Y,webshop",  # NaN latitude
        "WH-D,D,warehouse,32.7,-96.8,America/Chicago,75201,Y,webshop",  # fine
    ]
    (small_landing / "reference" / "locations_20260802.csv").write_text(
        "\n".join([header, *rows]) + "\n"
    )
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing, ["locations"])
    rejects = _outcomes(warehouse, "locations", "locations_20260802")
    assert {text.split(",")[0]: code for text, code in rejects.items()} == {
        "WH-A": "invalid_value",
        "WH-B": "invalid_value",
        "WH-C": "invalid_number",
    }


def test_every_vocabulary_a_source_names_exists_and_is_not_empty() -> None:
    named = {f.vocabulary for s in SOURCES for f in s.fields if f.vocabulary}
    for name in named - {"time_zone"}:
        assert vocabulary(name), name


def test_nothing_loaded_is_outside_what_the_models_compute_with(
    small_landing: Path, tmp_path: Path
) -> None:
    """An independent sweep of every numeric column of every raw table after a load of the
    hostile values above: finite, within bounds, quantities within the documented maximum."""
    _pos_file(small_landing)
    warehouse = tmp_path / "w.duckdb"
    ingest_all(warehouse, small_landing)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for source in SOURCES:
            for f in source.stored_fields:
                values = [
                    v
                    for (v,) in con.execute(
                        f'select "{f.name}" from raw."{source.table}" where "{f.name}" is not null'
                    ).fetchall()
                ]
                if f.type == "double":
                    assert all(math.isfinite(v) for v in values), (source.name, f.name)
                if f.quantity is not None:
                    assert all(abs(v) <= MAX_QUANTITY for v in values), (source.name, f.name)
    finally:
        con.close()


@pytest.mark.parametrize("name", ["currency", "channel", "carrier_status"])
def test_the_dbt_seed_is_the_one_place_vocabularies_live(name: str) -> None:
    """The engine and the dbt tests read the same seed: a value added there is accepted."""
    seed = Path(__file__).parent.parent / "dbt_project" / "seeds" / "vocabularies.csv"
    lines = [ln.split(",") for ln in seed.read_text().splitlines()[1:]]
    assert tuple(v for voc, v, *_ in lines if voc == name) == vocabulary(name)
