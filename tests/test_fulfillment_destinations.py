"""Destination selection: `OMS_FULFILLMENT_DESTINATIONS` decides, per warehouse, where its
fulfillment requests go, and a setting that cannot be meant gives a clear error instead of a
silent folder somewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops_actions.delivery.adapters.file_drop import FileDropAdapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.routing.rules import DEFAULT_RULES_PATH
from ops_actions.run_routing import run_routing
from pipelines.actions.destinations import fulfillment_adapters
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.synthetic import make_inputs
from tests.doubles.warehouse import open_ops_warehouse


@pytest.fixture
def destinations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Set the destinations (a dict is written as JSON, a str as it is) and read them back."""
    monkeypatch.setenv("OMS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OMS_OUTBOX_DIR", raising=False)

    def configure(setting: dict[str, object] | str | None):  # type: ignore[no-untyped-def]
        if setting is None:
            monkeypatch.delenv("OMS_FULFILLMENT_DESTINATIONS", raising=False)
        else:
            text = setting if isinstance(setting, str) else json.dumps(setting)
            monkeypatch.setenv("OMS_FULFILLMENT_DESTINATIONS", text)
        return fulfillment_adapters()

    return configure


def test_without_a_setting_every_warehouse_gets_csv_files_in_the_data_outbox(
    destinations, tmp_path: Path
) -> None:
    adapters = destinations(None)
    assert list(adapters) == ["*"]
    fallback = adapters["*"]
    assert isinstance(fallback, FileDropAdapter)
    assert fallback.directory == (tmp_path / "data" / "outbox" / "fulfillment").resolve()
    assert fallback.file_format == "csv"


def test_a_warehouse_entry_gets_its_http_api_and_star_covers_every_other(
    destinations, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    adapters = destinations(
        {
            "WH-DAL": "https://wms-dal.example:8443/api",
            "WH-NJ": "http://wms-nj.example/api#no-dedupe",
            "*": f"file://{drop}?format=json",
        }
    )
    assert set(adapters) == {"WH-DAL", "WH-NJ", "*"}
    dal, nj, other = adapters["WH-DAL"], adapters["WH-NJ"], adapters["*"]
    assert isinstance(dal, HttpJsonAdapter) and isinstance(nj, HttpJsonAdapter)
    assert dal.base_url == "https://wms-dal.example:8443/api" and dal.dedupes_by_key
    assert nj.base_url == "http://wms-nj.example/api" and not nj.dedupes_by_key
    assert isinstance(other, FileDropAdapter)
    assert (other.directory, other.file_format) == (drop, "json")


def test_a_plain_folder_path_is_a_file_drop_and_format_defaults_to_csv(
    destinations, tmp_path: Path
) -> None:
    adapters = destinations({"ST-001": str(tmp_path / "store"), "*": f"file://{tmp_path}/x"})
    assert isinstance(adapters["ST-001"], FileDropAdapter)
    assert adapters["ST-001"].directory == tmp_path / "store"
    assert adapters["ST-001"].file_format == "csv"
    assert adapters["*"].directory == tmp_path / "x"  # type: ignore[attr-defined]


def test_an_entry_without_star_still_sends_every_other_warehouse_to_the_default_folder(
    destinations, tmp_path: Path
) -> None:
    adapters = destinations({"WH-DAL": "https://wms.example/api"})
    assert isinstance(adapters["WH-DAL"], HttpJsonAdapter)
    assert isinstance(adapters["*"], FileDropAdapter)
    assert adapters["*"].directory == (tmp_path / "data" / "outbox" / "fulfillment").resolve()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('{"WH-DAL": "https://wms.example/api"', "not valid JSON"),
        ("WH-DAL=https://wms.example/api", "not valid JSON"),
        ('["https://wms.example/api"]', "must be a JSON object"),
        ('{"WH-DAL": "ftp://wms.example/drop"}', "unknown scheme 'ftp'"),
        ('{"WH-DAL": "sftp://wms.example/drop"}', "unknown scheme 'sftp'"),
        ('{"*": "file://srv/drop"}', "names host 'srv'"),
        ('{"*": 42}', "must be a URL or a path"),
        ('{"*": ""}', "must be a URL or a path"),
        ('{"*": "file:///srv/drop?format=xml"}', "json or csv"),
    ],
)
def test_a_setting_that_cannot_be_meant_is_a_clear_error(destinations, setting, message) -> None:
    with pytest.raises(ValueError, match=message):
        destinations(setting)


def test_dispatch_sends_each_warehouses_requests_where_the_setting_says(
    destinations, tmp_path: Path
) -> None:
    """A real routing run, then a real dispatch with the adapters the setting selects: one
    warehouse's requests reach its HTTP API on loopback, all others land as JSON files."""
    data = make_inputs(n_lines=120, n_locations=4, n_skus=20, seed=3)
    con = open_ops_warehouse(tmp_path / "wh.duckdb")
    run_routing(con, DEFAULT_RULES_PATH, data.lines, data.atp, data.locations, today=data.today)
    by_destination: dict[str, set[str]] = {}
    for action_id, destination in con.execute(
        "select action_id, destination from ops.outbox"
    ).fetchall():
        by_destination.setdefault(destination, set()).add(action_id)
    assert len(by_destination) >= 2, "the synthetic run should ship from several locations"
    chosen = sorted(by_destination)[0]
    drop = tmp_path / "drop"
    with FakeWarehouse() as server:
        adapters = destinations({chosen: server.url, "*": f"file://{drop}?format=json"})
        report = dispatch_due(con, adapters)
        received = set(server.stored)
    con.close()
    assert report.delivered == sum(len(keys) for keys in by_destination.values())
    assert received == by_destination[chosen]
    dropped: dict[str, set[str]] = {}
    for path in drop.glob("*.json"):
        for action in json.loads(path.read_text())["actions"]:
            dropped.setdefault(action["payload"]["location_id"], set()).add(action["key"])
    assert dropped == {d: keys for d, keys in by_destination.items() if d != chosen}
    assert not list(drop.glob("*.csv"))
    assert not (tmp_path / "data" / "outbox").exists()  # the default folder got nothing
