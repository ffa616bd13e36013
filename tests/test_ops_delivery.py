"""The deliver half: outbox, retries, dead letters, adapters against a real loopback server."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.delivery.adapters.file_drop import FileDropAdapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.keys import action_key
from ops_actions.delivery.outbox import enqueue, outbox_counts, requeue_dead_letters
from ops_actions.delivery.retry import RetryPolicy
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.warehouse import open_ops_warehouse

T0 = dt.datetime(2026, 1, 15, 8, 0)


class Clock:
    """A controllable `now` so backoff is tested without sleeping."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += dt.timedelta(seconds=seconds)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_ops_warehouse(tmp_path / "wh.duckdb")
    yield con
    con.close()


@pytest.fixture
def server() -> Iterator[FakeWarehouse]:
    with FakeWarehouse() as s:
        yield s


@pytest.fixture
def plain_server() -> Iterator[FakeWarehouse]:
    with FakeWarehouse(dedupes_by_key=False) as s:
        yield s


def add_actions(con: duckdb.DuckDBPyConnection, n: int, destination: str = "WH1") -> list[str]:
    rows = []
    for i in range(n):
        content = {
            "order_id": f"O{i}",
            "lines": [{"order_line_id": f"L{i}", "sku": "A", "units": 1}],
        }
        rows.append(
            {
                "action_id": action_key("fulfillment_request", destination, content),
                "kind": "fulfillment_request",
                "destination": destination,
                "payload": json.dumps(content),
                "batch_key": "b1",
                "source_run_id": "r1",
            }
        )
    enqueue(con, pl.DataFrame(rows), T0)
    return [r["action_id"] for r in rows]


def attempts(con: duckdb.DuckDBPyConnection, key: str) -> list[tuple]:
    return con.execute(
        "select attempt_no, outcome, http_status from ops.delivery_attempts "
        "where action_id = ? order by attempt_no",
        [key],
    ).fetchall()


def test_key_is_deterministic_and_run_independent() -> None:
    content = {"lines": [{"order_line_id": "L1", "units": 2}], "order_id": "O1"}
    same = {"order_id": "O1", "lines": [{"units": 2, "order_line_id": "L1"}]}
    assert action_key("k", "WH1", content) == action_key("k", "WH1", same)
    assert action_key("k", "WH1", content) != action_key("k", "WH2", content)


def test_enqueue_same_key_twice_is_a_no_op(db) -> None:
    add_actions(db, 3)
    add_actions(db, 3)
    assert outbox_counts(db)["pending"] == 3


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, jitter=0.5)
    rng = random.Random(1)
    for n, full in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
        d = policy.delay_s(n, rng)
        assert full * 0.5 <= d <= full


def test_delivered_once_with_ack_recorded(db, server) -> None:
    keys = add_actions(db, 5)
    report = dispatch_due(db, {"WH1": HttpJsonAdapter(server.url)})
    assert report.delivered == 5
    assert all(server.stored_count(k) == 1 for k in keys)
    ack = json.loads(
        db.execute("select ack from ops.outbox where action_id = ?", [keys[0]]).fetchall()[0][0]
    )
    assert ack["key"] == keys[0]
    assert dispatch_due(db, {"WH1": HttpJsonAdapter(server.url)}).attempted == 0


def test_500_is_retried_after_backoff(db, server) -> None:
    (key,) = add_actions(db, 1)
    clock = Clock()
    server.fail_next("500")
    policy = RetryPolicy(base_delay_s=10, jitter=0.0)
    adapter = HttpJsonAdapter(server.url)
    assert dispatch_due(db, {"WH1": adapter}, policy=policy, now=clock).retried == 1
    assert dispatch_due(db, {"WH1": adapter}, policy=policy, now=clock).attempted == 0  # not due
    clock.advance(10)
    assert dispatch_due(db, {"WH1": adapter}, policy=policy, now=clock).delivered == 1
    assert [a[1:] for a in attempts(db, key)] == [("retry", 500), ("delivered", 200)]


def test_dead_letter_after_max_attempts_and_retry_from_dead_letter(db, server) -> None:
    (key,) = add_actions(db, 1)
    clock = Clock()
    policy = RetryPolicy(max_attempts=3, base_delay_s=1, jitter=0.0)
    adapter = HttpJsonAdapter(server.url)
    server.fail_next("500", count=3)
    for _ in range(3):
        dispatch_due(db, {"WH1": adapter}, policy=policy, now=clock)
        clock.advance(100)
    assert outbox_counts(db)["dead_letter"] == 1
    assert dispatch_due(db, {"WH1": adapter}, policy=policy, now=clock).attempted == 0
    assert requeue_dead_letters(db, clock()) == 1
    assert dispatch_due(db, {"WH1": adapter}, policy=policy, now=clock).delivered == 1
    assert [a[0] for a in attempts(db, key)] == [1, 2, 3, 4]  # the audit trail keeps counting
    assert server.stored_count(key) == 1


def test_permanent_4xx_goes_straight_to_dead_letter(db) -> None:
    add_actions(db, 1)

    class Rejecting:
        def deliver(self, actions):
            from ops_actions.delivery.adapters.base import Outcome

            return [
                Outcome(a.action_id, "failed", http_status=422, error="HTTP 422") for a in actions
            ]

    assert dispatch_due(db, {"WH1": Rejecting()}).dead_lettered == 1


def test_non_deduplicating_destination_is_read_before_retry(db, plain_server) -> None:
    (key,) = add_actions(db, 1)
    clock = Clock()
    adapter = HttpJsonAdapter(plain_server.url, dedupes_by_key=False)
    plain_server.fail_next("accept_then_500")  # it landed, but the answer says otherwise
    assert dispatch_due(db, {"WH1": adapter}, now=clock).retried == 1
    clock.advance(3600)
    assert dispatch_due(db, {"WH1": adapter}, now=clock).delivered == 1
    assert plain_server.posts[key] == 1 and plain_server.gets[key] == 1
    assert plain_server.stored_count(key) == 1
    assert "found by lookup" in attempts(db, key)[-1][1]


def test_timeout_then_retry_is_deduplicated_by_key(db, server) -> None:
    (key,) = add_actions(db, 1)
    clock = Clock()
    adapter = HttpJsonAdapter(server.url, timeout_s=0.2)
    server.fail_next("timeout")
    assert dispatch_due(db, {"WH1": adapter}, now=clock).retried == 1
    clock.advance(3600)
    assert dispatch_due(db, {"WH1": adapter}, now=clock).delivered == 1
    assert server.posts[key] == 2 and server.stored_count(key) == 1
    ack = json.loads(db.execute("select ack from ops.outbox").fetchall()[0][0])
    assert ack["duplicate"] is True  # the second answer was a duplicate acknowledgement


def test_duplicate_acknowledgement_counts_as_delivered(db, server) -> None:
    add_actions(db, 2)
    server.fail_next("duplicate_ack")
    server.fail_next("slow")
    report = dispatch_due(db, {"WH1": HttpJsonAdapter(server.url)})
    assert report.delivered == 2 and len(server.stored) == 2


def test_crashed_dispatcher_lease_expires_and_action_is_resent_once(db, plain_server) -> None:
    (key,) = add_actions(db, 1)
    clock = Clock()
    # Simulate a dispatcher that claimed the action and died before sending.
    from ops_actions.delivery.outbox import claim_due

    claim_due(db, clock(), lease_s=60, limit=10)
    adapter = HttpJsonAdapter(plain_server.url, dedupes_by_key=False)
    assert dispatch_due(db, {"WH1": adapter}, now=clock).attempted == 0  # still leased
    clock.advance(61)
    assert dispatch_due(db, {"WH1": adapter}, now=clock).delivered == 1
    assert plain_server.stored_count(key) == 1
    assert [a[1] for a in attempts(db, key)] == ["started", "delivered"]


def test_destination_without_adapter_stays_pending(db) -> None:
    add_actions(db, 1, destination="WH9")
    report = dispatch_due(db, {"WH1": HttpJsonAdapter("http://127.0.0.1:9")})
    assert report.skipped_destinations == {"WH9"} and outbox_counts(db)["pending"] == 1


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_file_drop_writes_one_file_per_batch_and_skips_keys_already_dropped(
    db, tmp_path, fmt
) -> None:
    keys = add_actions(db, 4)
    drop = FileDropAdapter(tmp_path / "drop", file_format=fmt)
    assert dispatch_due(db, {"WH1": drop}).delivered == 4
    files = list((tmp_path / "drop").glob(f"*.{fmt}"))
    assert len(files) == 1
    assert drop.keys_present() == set(keys)
    # A retry of an action whose file already landed must not write it again.
    db.execute(
        "update ops.outbox set state = 'pending', total_attempts = 1, next_attempt_at = ?", [T0]
    )
    assert dispatch_due(db, {"WH1": drop}).delivered == 4
    assert len(list((tmp_path / "drop").glob(f"*.{fmt}"))) == 1
