"""Status updates delivered to real loopback servers that fail on purpose (500, accepted then
500, timeout after applying, 429 with Retry-After) and to crashing processes: every update
applied exactly once (the server counts applied updates by key) and in order per order."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.crashpoints import CRASH_ENV, CrashPoint, points_of
from ops_actions.delivery.adapters.rate_limit import RateLimitedAdapter
from ops_actions.delivery.adapters.shop_api import ShopApiAdapter
from ops_actions.delivery.adapters.status_files import (
    AcknowledgementDropAdapter,
    StatusFeedAdapter,
)
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.status.keys import STATUS_KIND
from ops_actions.status.run import produce_status_updates
from tests.doubles.fake_warehouse import FakeWarehouse
from tests.doubles.status_child import CHILD_LINES, loopback_adapters
from tests.doubles.status_transitions import make_transitions
from tests.doubles.warehouse import open_ops_warehouse

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(max_attempts=50, base_delay_s=0.01, max_delay_s=0.05, lease_s=1.0)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_ops_warehouse(tmp_path / "wh.duckdb")
    yield con
    con.close()


def deliver_all(con: duckdb.DuckDBPyConnection, adapters, policy=FAST, seconds=60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dispatch_due(con, adapters, policy=policy, batch_size=25, kinds=(STATUS_KIND,))
        left = con.execute(
            "select count(*) from ops.outbox where state in ('pending', 'in_flight')"
        ).fetchall()[0][0]
        if left == 0:
            return
        time.sleep(0.02)
    raise AssertionError("status updates still undelivered")


def queue_per_order(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "select ordering_key, action_id from ops.outbox where kind = ? "
        "order by ordering_key, ordering_seq",
        [STATUS_KIND],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for order, key in rows:
        out.setdefault(order, []).append(key)
    return out


def assert_applied_once_and_in_order(con: duckdb.DuckDBPyConnection, server: FakeWarehouse):
    queues = queue_per_order(con)
    keys = {k for q in queues.values() for k in q}
    assert set(server.stored) == keys
    assert all(len(records) == 1 for records in server.stored.values())  # exactly once
    order_of = {k: order for order, q in queues.items() for k in q}
    applied: dict[str, list[str]] = {}
    for key, _path, _body in server.applied:
        applied.setdefault(order_of[key], []).append(key)
    assert applied == queues  # the channel applied each order's updates in their order
    states = con.execute("select distinct state from ops.outbox").fetchall()
    assert states == [("delivered",)]


def test_every_update_applied_once_and_in_order_under_injected_faults(db) -> None:
    t = make_transitions(400, seed=11)
    made = produce_status_updates(db, transitions=t)
    assert made.created > 300
    with FakeWarehouse(dedupes_by_key=False, timeout_sleep_s=0.5, retry_after_s=0.05) as server:
        rng = random.Random(5)
        for _ in range(120):
            server.fail_next(rng.choice(["500", "accept_then_500", "timeout", "429", "slow"]))
        deliver_all(db, loopback_adapters(server.url))
        assert server.throttled and sum(server.posts.values()) > made.created  # faults did hit
        assert_applied_once_and_in_order(db, server)
    # Throttled attempts were deferred, never counted towards the dead letter.
    deferred = db.execute(
        "select count(*) from ops.delivery_attempts where outcome like 'deferred%'"
    ).fetchall()[0][0]
    assert deferred >= len(server.throttled)


def test_a_429_pauses_the_channel_for_its_retry_after(db) -> None:
    shop = make_transitions(120, seed=3).filter(pl.col("channel") == "webshop")
    produce_status_updates(db, transitions=shop)
    with FakeWarehouse(retry_after_s=0.4) as server:
        server.fail_next("429")
        adapter = RateLimitedAdapter(ShopApiAdapter(server.url), chunk=1)
        deliver_all(db, {"channel:webshop": adapter})
        (throttled_at,) = server.throttled
        after = [t for t in server.post_times if t > throttled_at]
        assert after and min(after) >= throttled_at + 0.4
        assert_applied_once_and_in_order(db, server)


def test_the_rate_limit_spaces_requests_and_defers_what_does_not_fit(db) -> None:
    produce_status_updates(db, transitions=make_transitions(120, seed=8))
    n = db.execute("select count(*) from ops.outbox").fetchall()[0][0]
    with FakeWarehouse() as server:
        adapters = {
            d: RateLimitedAdapter(
                ShopApiAdapter(server.url) if d == "channel:webshop" else a.inner,
                rate_per_s=100,
                burst=5,
                chunk=1,
                max_wait_s=0.05,
            )
            for d, a in loopback_adapters(server.url, dedupes_by_key=True).items()
        }
        started = time.monotonic()
        deliver_all(db, adapters)
        elapsed = time.monotonic() - started
        assert_applied_once_and_in_order(db, server)
    # Three channels at 100 a second each, five at once at most: no faster than that allows.
    per_channel = db.execute(
        "select max(c) from (select count(*) as c from ops.outbox group by destination)"
    ).fetchall()[0][0]
    assert elapsed >= (per_channel - 5) / 100
    assert n == sum(server.posts.values())  # a deferral sends nothing
    assert (
        db.execute(
            "select count(*) from ops.delivery_attempts where outcome like 'deferred%rate limit%'"
        ).fetchall()[0][0]
        > 0
    )


def test_status_files_feed_and_acknowledgements_per_customer(db, tmp_path) -> None:
    t = make_transitions(300, seed=4)
    wholesale = t.filter(pl.col("channel") == "wholesale")["channel_order_id"].unique()
    customers = {o: f"CUST-{i % 3}" for i, o in enumerate(sorted(wholesale.to_list()))}
    from ops_actions.status import run as status_run

    original = status_run.order_customers
    status_run.order_customers = lambda con, orders=None: customers  # type: ignore[assignment]
    try:
        produce_status_updates(db, transitions=t)
    finally:
        status_run.order_customers = original
    feed = StatusFeedAdapter(tmp_path / "feed")
    ack = AcknowledgementDropAdapter(tmp_path / "ack")
    deliver_all(db, {"channel:marketplace": feed, "channel:wholesale": ack, "*": feed})
    ack_files = sorted(p.name for p in (tmp_path / "ack").glob("*.csv"))
    assert {name.split("_ack_")[1].split("_")[0] for name in ack_files} == {
        "CUST-0",
        "CUST-1",
        "CUST-2",
    }
    tsv = next((tmp_path / "feed").glob("*.tsv")).read_text().splitlines()
    assert tsv[0].split("\t")[0] == "update-key"
    marketplace = db.execute(
        "select action_id from ops.outbox where destination = 'channel:marketplace'"
    ).fetchall()
    assert {k for (k,) in marketplace} <= feed.keys_present()
    # A retry of updates whose files already landed writes nothing again.
    files_before = len(list((tmp_path / "ack").iterdir()))
    db.execute(
        "update ops.outbox set state = 'pending', next_attempt_at = '2000-01-01' "
        "where destination = 'channel:wholesale'"
    )
    deliver_all(db, {"channel:wholesale": ack})
    assert len(list((tmp_path / "ack").iterdir())) == files_before


def _child(wh: Path, url: str, crash_at: CrashPoint | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.status_child", str(wh), url],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _run(p: subprocess.Popen) -> tuple[int, str]:
    _, err = p.communicate(timeout=180)
    return p.returncode, err.decode()[-2000:]


@pytest.fixture(scope="module")
def uninterrupted_keys(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    with FakeWarehouse(dedupes_by_key=False) as server:
        code, err = _run(_child(tmp_path_factory.mktemp("clean") / "clean.duckdb", server.url))
        assert code == 0, err
        return set(server.stored)


@pytest.mark.parametrize("point", points_of("status", "dispatch"), ids=str)
def test_a_crash_at_each_point_then_a_restart_applies_every_update_once_in_order(
    tmp_path: Path, uninterrupted_keys: set[str], point: CrashPoint
) -> None:
    with FakeWarehouse(dedupes_by_key=False) as server:
        wh = tmp_path / "crashy.duckdb"
        code, err = _run(_child(wh, server.url, crash_at=point))
        assert code == -9, (f"{point} was never reached", err)
        code, err = _run(_child(wh, server.url))
        assert code == 0, err
        con = duckdb.connect(str(wh))
        try:
            assert set(server.stored) == uninterrupted_keys
            assert_applied_once_and_in_order(con, server)
        finally:
            con.close()
    assert CHILD_LINES > 0
