"""Status write-back, decide and enqueue: keys, grain per channel, idempotent reruns, the
router's cancellations, the outbox's order per order and its migration."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.delivery.outbox import claim_due, enqueue, record_results
from ops_actions.routing.rules import DEFAULT_RULES_PATH
from ops_actions.run_routing import run_routing
from ops_actions.schema import ensure_schema
from ops_actions.status.changes import status_updates
from ops_actions.status.keys import STATUS_KIND, status_action_id, status_key_text
from ops_actions.status.run import produce_status_updates
from tests.doubles.status_transitions import make_transitions
from tests.doubles.synthetic import make_inputs
from tests.doubles.warehouse import open_ops_warehouse

T0 = dt.datetime(2026, 4, 1, 9, 0)
SPEAKING = ("webshop", "marketplace", "wholesale")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_ops_warehouse(tmp_path / "wh.duckdb")
    yield con
    con.close()


def expected_updates(transitions: pl.DataFrame) -> set[tuple[str, str, str]]:
    """The grain, computed row by row in plain Python: (order, change, tracking or time)."""
    change_of = {
        "validated": "accepted",
        "shipped": "shipped",
        "delivered": "delivered",
        "cancelled": "cancelled",
        "returned": "returned",
        "refunded": "refunded",
    }
    out = set()
    for r in transitions.iter_rows(named=True):
        change = change_of.get(r["to_state"])
        if change is None or r["channel"] not in SPEAKING or r["source"] == r["channel"]:
            continue
        if change == "accepted":
            part = ""
        elif change in ("shipped", "delivered"):
            part = r["tracking_number"] or ""
        else:
            part = r["occurred_at"].isoformat()
        out.add((r["channel_order_id"], change, part))
    return out


def test_the_key_depends_on_the_lines_units_not_only_their_total() -> None:
    a = status_action_id("webshop:1", "cancelled", None, {"L1": 1})
    b = status_action_id("webshop:1", "cancelled", None, {"L2": 1})
    assert a != b and a.startswith("status:")
    assert status_action_id("webshop:1", "cancelled", None, {"L2": 1, "L1": 2}) == (
        status_action_id("webshop:1", "cancelled", None, {"L1": 2, "L2": 1})
    )
    assert status_key_text("o", "accepted", "T", {"L1": 3}) == "o|accepted|T|"  # once per order
    with pytest.raises(ValueError, match="unknown status change"):
        status_action_id("webshop:1", "in_transit", None, {})


def test_one_update_per_order_and_change_a_channel_cares_about() -> None:
    t = make_transitions(3000, seed=3)
    updates = status_updates(t, run_id="r1")
    got = set()
    for row in updates.iter_rows(named=True):
        p = json.loads(row["payload"])
        order = row["ordering_key"]
        if row["change"] in ("shipped", "delivered"):
            part = _tracking(row["channel"], p)
        elif row["change"] == "accepted":
            part = ""
        else:
            part = _time(row["channel"], p)
        got.add((order, row["change"], part))
    assert len(got) == updates.height  # no two updates of one grain
    assert got == expected_updates(t)
    assert "pos" not in set(updates["channel"])  # a till sale is complete at the till
    assert updates["action_id"].n_unique() == updates.height


def _tracking(channel: str, p: dict) -> str:
    if channel == "webshop":
        body = p["body"]
        return (body.get("fulfillment") or {}).get("tracking_info", {}).get("number") or body.get(
            "event", {}
        ).get("tracking_number")
    key = "tracking-number" if channel == "marketplace" else "tracking_number"
    return p["rows"][0][key]


def _time(channel: str, p: dict) -> str:
    if channel == "webshop":
        (inner,) = p["body"].values()
        at = next(v for k, v in inner.items() if k.endswith("_at"))
    else:
        at = p["rows"][0]["status-date" if channel == "marketplace" else "status_at"]
    return dt.datetime.fromisoformat(at.rstrip("Z")).isoformat()


def test_changes_the_channel_reported_itself_are_not_echoed() -> None:
    t = make_transitions(400, seed=5)
    own = t.with_columns(
        pl.when(pl.col("to_state") == "cancelled")
        .then(pl.col("channel"))
        .otherwise(pl.col("source"))
        .alias("source")
    )
    assert status_updates(own, run_id="r").filter(pl.col("change") == "cancelled").height == 0


def test_channel_shapes() -> None:
    t = make_transitions(600, seed=9)
    u = status_updates(t, run_id="r", customers={})
    shop = u.filter((pl.col("channel") == "webshop") & (pl.col("change") == "shipped")).row(
        0, named=True
    )
    p = json.loads(shop["payload"])
    assert p["method"] == "POST" and p["path"].endswith("/fulfillments.json")
    info = p["body"]["fulfillment"]["tracking_info"]
    assert info["company"] == "DHL" and info["number"].startswith("TRK")
    assert all(item["quantity"] >= 1 for item in p["body"]["fulfillment"]["line_items"])
    feed = json.loads(u.filter(pl.col("channel") == "marketplace")["payload"][0])
    assert set(feed["rows"][0]) == {
        "order-id", "order-item-id", "status", "quantity", "status-date", "carrier-code",
        "tracking-number", "reason",
    }  # fmt: skip


def test_rerun_enqueues_nothing_and_accepted_never_follows_a_later_change(db) -> None:
    t = make_transitions(800, seed=1)
    first = produce_status_updates(db, transitions=t, now=T0)
    assert first.created == len(expected_updates(t)) > 0
    again = produce_status_updates(db, transitions=t, now=T0)
    assert again.created == 0
    # Per order, ordering_seq runs 1..n, and accepted (when there) is the first.
    rows = db.execute(
        """select ordering_key, list(ordering_seq order by ordering_seq),
                  list(json_extract_string(payload, '$.path') order by ordering_seq)
           from ops.outbox where kind = ? group by 1""",
        [STATUS_KIND],
    ).fetchall()
    for _, seqs, _paths in rows:
        assert seqs == list(range(1, len(seqs) + 1))


def test_a_late_change_is_ordered_after_what_the_order_already_has(db) -> None:
    t = make_transitions(300, seed=2)
    late = t.filter(pl.col("to_state") == "refunded")
    produce_status_updates(db, transitions=t.filter(pl.col("to_state") != "refunded"), now=T0)
    produce_status_updates(db, transitions=t, now=T0)
    for order in late["channel_order_id"].unique().to_list():
        seqs = db.execute(
            "select ordering_seq, payload from ops.outbox where ordering_key = ? "
            "order by ordering_seq",
            [order],
        ).fetchall()
        if not seqs:
            continue  # a pos sale
        assert "refund" in seqs[-1][1]


def test_claim_gives_only_the_head_of_each_order_and_a_dead_letter_blocks_its_order(db) -> None:
    rows = [
        {"action_id": f"status:{o}{i}", "kind": STATUS_KIND, "destination": "channel:webshop",
         "payload": "{}", "batch_key": None, "source_run_id": "r", "ordering_key": o,
         "ordering_rank": i}
        for o in ("A", "B") for i in (1, 2, 3)
    ]  # fmt: skip
    assert enqueue(db, pl.DataFrame(rows), T0) == 6
    claimed = claim_due(db, T0, 60, 100)
    assert sorted(c.action_id for c in claimed) == ["status:A1", "status:B1"]

    def finish(action_id: str, state: str) -> None:
        record_results(
            db,
            pl.DataFrame(
                [
                    {
                        "action_id": action_id,
                        "attempt_no": 1,
                        "new_state": state,
                        "next_attempt_at": None,
                        "finished_at": T0,
                        "outcome": state,
                        "http_status": None,
                        "error": None,
                        "response": None,
                        "ack": None,
                        "counts": True,
                    }
                ]
            ),
        )

    finish("status:A1", "delivered")
    finish("status:B1", "dead_letter")
    assert [c.action_id for c in claim_due(db, T0, 60, 100)] == ["status:A2"]
    assert claim_due(db, T0 + dt.timedelta(seconds=30), 60, 100) == []  # A2 leased, B held


def test_an_old_outbox_gains_the_ordering_columns_and_keeps_its_rows(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create schema ops")
    con.execute(
        """create table ops.outbox (action_id varchar primary key, kind varchar not null,
           destination varchar not null, payload varchar not null, batch_key varchar,
           state varchar not null, attempts integer not null default 0,
           total_attempts integer not null default 0, next_attempt_at timestamp not null,
           last_error varchar, created_at timestamp not null, delivered_at timestamp,
           ack varchar, source_run_id varchar)"""
    )
    con.execute(
        "insert into ops.outbox (action_id, kind, destination, payload, state, "
        "next_attempt_at, created_at) values ('k1', 'fulfillment_request', 'WH1', '{}', "
        "'pending', ?, ?)",
        [T0, T0],
    )
    ensure_schema(con)
    cols = {r[0] for r in con.execute("describe ops.outbox").fetchall()}
    assert {"ordering_key", "ordering_seq"} <= cols
    assert [c.action_id for c in claim_due(con, T0, 60, 10)] == ["k1"]
    ensure_schema(con)  # idempotent


def test_router_cancellations_are_enqueued_with_the_decision_and_match_the_mart_path(db) -> None:
    data = make_inputs(n_lines=200, n_locations=3, n_skus=60, seed=4)
    # Long after every promised date: what cannot be filled is cancelled, not backordered.
    report = run_routing(
        db, DEFAULT_RULES_PATH, data.lines, data.atp, data.locations,
        today=data.today + dt.timedelta(days=90), now=T0,
    )  # fmt: skip
    cancelled = db.execute(
        "select order_id, channel, order_line_id, units from ops.routing_decisions "
        "where outcome = 'cancelled' order by order_id, order_line_id"
    ).fetchall()
    assert cancelled, "the synthetic inputs should run some SKUs short"
    orders = {r[0] for r in cancelled}
    assert report.status_updates_created == 2 * len(orders)  # accepted + cancelled each
    for order in orders:
        units = {r[2]: r[3] for r in cancelled if r[0] == order}
        key = status_action_id(order, "cancelled", None, units)
        seqs = db.execute(
            "select action_id, ordering_seq from ops.outbox where ordering_key = ? "
            "order by ordering_seq",
            [order],
        ).fetchall()
        assert [s for _, s in seqs] == [1, 2] and seqs[1][0] == key
    # The transitions the lifecycle mart makes of these decisions give the same keys.
    t = pl.DataFrame(
        [
            {
                "transition_id": f"{line}:cancelled:",
                "order_line_id": line,
                "channel_order_id": order,
                "channel": channel,
                "order_id": order,
                "line_ref": line,
                "transition_seq": 2,
                "from_state": "validated",
                "to_state": "cancelled",
                "occurred_at": T0,
                "recorded_at": T0,
                "source": "ops_routing",
                "source_event_id": f"ops_routing:{line}",
                "carrier": None,
                "tracking_number": None,
                "location_id": None,
                "units": units,
                "detail": None,
            }
            for order, channel, line, units in cancelled
        ]
    )
    validated = t.with_columns(
        pl.lit("validated").alias("to_state"), pl.lit(T0 - dt.timedelta(hours=1)).alias(
            "occurred_at")
    )  # fmt: skip
    again = produce_status_updates(db, transitions=pl.concat([validated, t]), now=T0)
    assert again.created == 0


def test_status_destinations_from_settings(monkeypatch, tmp_path) -> None:
    from ops_actions.delivery.adapters.parallel import ParallelAdapter
    from ops_actions.delivery.adapters.shop_api import ShopApiAdapter
    from ops_actions.delivery.adapters.status_files import (
        AcknowledgementDropAdapter,
        StatusFeedAdapter,
    )
    from pipelines.actions.status_destinations import status_adapters
    from pipelines.settings import get_settings

    monkeypatch.setenv("OMS_OUTBOX_DIR", str(tmp_path))
    monkeypatch.setenv("OMS_STATUS_DESTINATIONS", '{"webshop": "http://127.0.0.1:9/api#no-dedupe"}')
    monkeypatch.setenv("OMS_STATUS_RATE_LIMITS", '{"webshop": 2.5}')
    monkeypatch.setenv("OMS_STATUS_HTTP_CONNECTIONS", "3")
    adapters = status_adapters(get_settings())
    assert set(adapters) == {"channel:webshop", "channel:marketplace", "channel:wholesale"}
    shop = adapters["channel:webshop"]
    assert shop.rate_per_s == 2.5 and isinstance(shop.inner, ParallelAdapter)  # type: ignore[attr-defined]
    conns = shop.inner.adapters  # type: ignore[attr-defined]
    assert len(conns) == 3 and all(
        isinstance(a, ShopApiAdapter) and not a.dedupes_by_key for a in conns
    )
    assert isinstance(adapters["channel:marketplace"].inner, StatusFeedAdapter)  # type: ignore[attr-defined]
    ack = adapters["channel:wholesale"].inner  # type: ignore[attr-defined]
    assert (
        isinstance(ack, AcknowledgementDropAdapter)
        and ack.directory == tmp_path / "status" / "wholesale"
    )
    monkeypatch.setenv("OMS_STATUS_RATE_LIMITS", '{"olist": 1}')
    with pytest.raises(ValueError, match="without a status shape"):
        status_adapters(get_settings())
    monkeypatch.setenv("OMS_STATUS_RATE_LIMITS", '{"webshop": 0}')
    with pytest.raises(ValueError, match="updates per second"):
        get_settings()


def test_the_flow_produces_status_updates_after_routing_and_delivers_them_before_publish() -> None:
    from pipelines.definitions import defs
    from pipelines.keys import (
        DELIVERY_KEY,
        PUBLISH_KEY,
        ROUTING_KEY,
        STATUS_DELIVERY_KEY,
        STATUS_KEY,
        model_key,
    )

    graph = defs().resolve_asset_graph()
    assert {ROUTING_KEY, model_key("fct_order_line_transitions")} <= graph.get(
        STATUS_KEY
    ).parent_keys
    assert STATUS_KEY in graph.get(STATUS_DELIVERY_KEY).parent_keys
    assert STATUS_KEY in graph.get(DELIVERY_KEY).parent_keys
    assert STATUS_DELIVERY_KEY in graph.get(PUBLISH_KEY).parent_keys
