"""KPI targets and alerts: bad targets refused, targets versioned with who set them, breaches
equal to an independent computation over the order lines of the real demo run, and every
breach delivered exactly once per day to a real loopback webhook that fails on purpose."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ops_actions.alerts.breaches import find_breaches, judged_days
from ops_actions.alerts.metrics import METRICS
from ops_actions.alerts.run import ALERT_KIND, alert_key, raise_alerts
from ops_actions.alerts.targets import (
    DEFAULT_TARGETS,
    TargetError,
    TargetInput,
    TargetScope,
    in_force,
)
from ops_actions.alerts.webhook import alert_adapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.outbox import requeue_dead_letters
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.store import (
    TargetConflict,
    remove_target,
    set_target,
    target_history,
    targets_in_force,
)
from tests.doubles.warehouse import ops_warehouse

OTD = "on_time_delivery_rate"


def _input(**changes: object) -> TargetInput:
    scope = TargetScope(
        str(changes.pop("metric", OTD)),
        str(changes.pop("weighting", "units")),
        str(changes.pop("dimension", "channel")),
        str(changes.pop("member", "webshop")),
    )
    values: dict[str, object] = {"direction": "at_least", "threshold": 0.95, "min_volume": 20.0}
    values.update(changes)
    return TargetInput(scope, **values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Targets: validation and versions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (_input(threshold=1.2), "between 0 % and 100 %"),
        (_input(threshold=-0.1), "between 0 % and 100 %"),
        (_input(threshold=float("nan")), "must be a number"),
        (_input(metric="happiness"), "unknown KPI 'happiness'"),
        (_input(weighting="euros"), "weighted by units or lines or orders"),
        (_input(dimension="country"), "unknown dimension 'country'"),
        (_input(member="  "), "name the channel"),
        (_input(direction="about"), "direction must be at_least or at_most"),
        (_input(metric="fulfillment_hours_p90", weighting="lines", threshold=0), "positive"),
        (_input(min_volume=-1), "minimum volume"),
    ],
)
def test_bad_target_input_is_refused_with_a_clear_message_and_nothing_is_stored(
    tmp_path: Path, item: TargetInput, message: str
) -> None:
    store = tmp_path / "ops_store.sqlite"
    with pytest.raises(TargetError, match=message):
        set_target(store, item, "ann", "manager")
    assert target_history(store) == []


def test_a_target_change_needs_a_user(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="name the user"):
        set_target(tmp_path / "s.sqlite", _input(), " ", "manager")


def test_targets_are_versioned_with_who_set_them_and_override_the_default(tmp_path: Path) -> None:
    store = tmp_path / "ops_store.sqlite"
    first = set_target(store, _input(threshold=0.9), "ann", "manager", expected_version=0)
    second = set_target(store, _input(threshold=0.93), "bob", "admin", expected_version=1)
    assert (first.version, second.version) == (1, 2)
    assert second.set_by == "bob" and second.set_role == "admin" and second.set_at
    webshop = [t for t in targets_in_force(store) if t.scope.member == "webshop"]
    assert [(t.threshold, t.version, t.set_by) for t in webshop] == [(0.93, 2, "bob")]
    # ann still looks at version 1: her change is refused, not written over bob's
    with pytest.raises(TargetConflict, match="changed by bob"):
        set_target(store, _input(threshold=0.99), "ann", "manager", expected_version=1)
    assert [h.version for h in target_history(store)] == [2, 1]


def test_retiring_a_default_target_takes_it_out_of_force(tmp_path: Path) -> None:
    store = tmp_path / "ops_store.sqlite"
    assert (
        targets_in_force(store)
        == in_force([])
        == sorted(
            DEFAULT_TARGETS,
            key=lambda t: (t.scope.metric, t.scope.weighting, t.scope.dimension, t.scope.member),
        )
    )
    default = next(t for t in DEFAULT_TARGETS if t.scope.dimension == "channel")
    removed = remove_target(store, default.scope, "ann", "manager", expected_version=0)
    assert removed.version == 1 and not removed.active
    assert default.scope not in {t.scope for t in targets_in_force(store)}


# --------------------------------------------------------------------------------------------
# Breaches against an independent computation over the demo run's order lines
# --------------------------------------------------------------------------------------------


def _independent_day_rates(lines: pl.DataFrame, day: dt.date, by: str) -> dict[str, tuple]:
    """Per member, (on-time delivery units / due units, fill units / due units) of the orders
    placed on `day`, from the order-line mart's flags (docs/kpis.md), in polars."""
    cohort = lines.filter(pl.col("kpi_date") == day)
    out = cohort.group_by(by).agg(
        delivery_due=pl.col("units_required").filter(pl.col("is_due_to_deliver")).sum(),
        delivery_on_time=pl.min_horizontal("units_delivered_by_promise", "units_required")
        .filter(pl.col("is_due_to_deliver"))
        .sum(),
        fill_due=pl.col("units_required").filter(pl.col("is_due_to_ship")).sum(),
        filled=pl.col("units_filled").filter(pl.col("is_due_to_ship")).sum(),
    )
    return {
        r[by]: (
            r["delivery_on_time"] / r["delivery_due"] if r["delivery_due"] else None,
            r["delivery_due"],
            r["filled"] / r["fill_due"] if r["fill_due"] else None,
            r["fill_due"],
        )
        for r in out.iter_rows(named=True)
    }


def test_breaches_equal_an_independent_computation_over_the_order_lines(demo_run) -> None:
    assert demo_run.success
    con = duckdb.connect(str(demo_run.warehouse_path), read_only=True)
    try:
        cut_off = con.execute("select max(as_of_at) from marts.fct_kpis").fetchall()[0][0].date()
        lines = con.sql("select * from marts.fct_kpi_order_lines").pl()
        targets = [
            t
            for t in in_force(
                [
                    _stored(OTD, "channel", "*", 0.99),
                    _stored("fill_rate", "channel", "*", 0.999),
                    _stored(OTD, "all", "all", 0.999),
                ]
            )
            if t.scope.metric in (OTD, "fill_rate") and not t.is_default
        ]
        days = {m: judged_days(m, cut_off, 3) for m in (OTD, "fill_rate")}
        rows = con.sql(
            "select * from marts.fct_kpis where period_grain = 'day' "
            "and dimension in ('all', 'channel')"
        ).pl()
    finally:
        con.close()
    found = {(b.metric, b.member, b.day): b.value for b in find_breaches(targets, rows, cut_off, 3)}
    expected: dict[tuple, float] = {}
    # the `all` dimension: one member, every line
    lines = lines.with_columns(all=pl.lit("all"))
    cases = ((OTD, "channel", 0.99), ("fill_rate", "channel", 0.999), (OTD, "all", 0.999))
    for metric_name, dimension, threshold in cases:
        for day in days[metric_name]:
            by_member = _independent_day_rates(lines, day, dimension)
            for member, (otd, otd_due, fill, fill_due) in by_member.items():
                value, volume = (otd, otd_due) if metric_name == OTD else (fill, fill_due)
                if value is not None and volume >= 5 and value < threshold:
                    expected[(metric_name, member, day)] = value
    assert found.keys() == expected.keys()
    assert expected, "the tight targets should be broken somewhere on the demo"
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, abs=1e-12)


def _stored(metric_name: str, dimension: str, member: str, threshold: float):
    from ops_actions.alerts.targets import Target

    return Target(
        TargetScope(metric_name, "units", dimension, member),
        "at_least",
        threshold,
        5.0,
        version=1,
        set_by="test",
        set_role="manager",
        set_at="2026-12-07T00:00:00",
    )


# --------------------------------------------------------------------------------------------
# Exactly once per breach and day, through a webhook that fails on purpose
# --------------------------------------------------------------------------------------------


class FlakyWebhook:
    """A loopback webhook receiver that deduplicates by Idempotency-Key (applies each key
    once) and fails on purpose: the first POST of a key in `fail_500` gets a 500 before
    applying; the first POST of a key in `slow_after_apply` is applied and then answered only
    after the client's timeout."""

    def __init__(self, delay_s: float) -> None:
        self.applied: Counter[str] = Counter()
        self.posts: Counter[str] = Counter()
        self.bodies: dict[str, dict] = {}
        self.fail_500: set[str] = set()
        self.always_500: set[str] = set()
        self.slow_after_apply: set[str] = set()
        self.delay_s = delay_s
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                key = self.headers["Idempotency-Key"]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.posts[key] += 1
                    first = owner.posts[key] == 1
                    if key in owner.always_500 or (first and key in owner.fail_500):
                        status = 500
                    else:
                        if not owner.applied[key]:
                            owner.bodies[key] = body
                        owner.applied[key] += 0 if owner.applied[key] else 1
                        status = 200
                if first and key in owner.slow_after_apply:
                    time.sleep(owner.delay_s)
                answer = json.dumps({"ok": status == 200}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/oms"

    def __enter__(self) -> FlakyWebhook:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


KPI_COLUMNS = sorted({c for m in METRICS.values() for pair in m.columns.values() for c in pair})


def _write_day_rows(con: duckdb.DuckDBPyConnection, cut_off: dt.date, otd: dict) -> None:
    """A KPI mart holding, per channel, on-time delivery units on the day judged for it."""
    con.execute("create schema if not exists marts")
    con.execute(
        "create table if not exists marts.fct_kpis (period_grain varchar, period_start date, "
        "dimension varchar, member varchar, as_of_at timestamp, "
        + ", ".join(f"{c} double" for c in KPI_COLUMNS)
        + ")"
    )
    day = judged_days(OTD, cut_off)[0]
    for member, (on_time, due) in otd.items():
        values = dict.fromkeys(KPI_COLUMNS, 0.0)
        values.update(delivery_units_on_time=on_time, delivery_units_due=due)
        con.execute(
            f"insert into marts.fct_kpis values ('day', ?, 'channel', ?, ?, "
            f"{', '.join('?' for _ in KPI_COLUMNS)})",
            [day, member, dt.datetime.combine(cut_off, dt.time(4)), *values.values()],
        )


@pytest.fixture
def webhook() -> Iterator[FlakyWebhook]:
    with FlakyWebhook(delay_s=1.5) as server:
        yield server


def _deliver_everything(con, adapter, policy, clock) -> None:
    """Dispatch until nothing is due, moving the clock past every backoff."""
    for _ in range(12):
        clock[0] += dt.timedelta(minutes=30)
        dispatch_due(con, {"*": adapter}, policy=policy, kinds=(ALERT_KIND,), now=lambda: clock[0])


def test_each_breach_reaches_the_webhook_once_per_day_across_failures_and_reruns(
    tmp_path: Path, webhook: FlakyWebhook
) -> None:
    targets = [t for t in in_force([]) if t.scope.metric == OTD and t.scope.dimension == "channel"]
    adapter = alert_adapter(webhook.url, tmp_path / "unused", timeout_s=0.5)
    policy = RetryPolicy(max_attempts=3, base_delay_s=1.0, lease_s=60.0)
    day1 = dt.date(2026, 10, 30)
    clock = [dt.datetime(2026, 10, 30, 6)]
    with ops_warehouse(tmp_path / "warehouse.duckdb") as con:
        # webshop 80 %, marketplace 90 %, wholesale 99 % (kept), pos below min volume
        _write_day_rows(
            con,
            day1,
            {"webshop": (80, 100), "marketplace": (90, 100), "wholesale": (99, 100), "pos": (1, 5)},
        )
        first = raise_alerts(con, targets, run_id="run-1", now=clock[0])
        assert (first.breaches, first.enqueued) == (2, 2)
        keys = dict(
            con.execute(
                "select json_extract_string(payload, '$.member'), action_id from ops.outbox"
            ).fetchall()
        )
        webhook.fail_500.add(keys["webshop"])
        webhook.slow_after_apply.add(keys["marketplace"])
        _deliver_everything(con, adapter, policy, clock)
        # a rerun the same day, and a run redone: nothing new is enqueued or sent
        again = raise_alerts(con, targets, run_id="run-2", now=clock[0])
        assert (again.breaches, again.enqueued) == (2, 0)
        _deliver_everything(con, adapter, policy, clock)
        assert dict(webhook.applied) == {keys["webshop"]: 1, keys["marketplace"]: 1}
        assert webhook.posts[keys["webshop"]] == 2  # the 500, then the retry
        assert webhook.posts[keys["marketplace"]] == 2  # applied, timed out, sent again
        states = dict(con.execute("select action_id, state from ops.outbox").fetchall())
        assert set(states.values()) == {"delivered"}
        body = webhook.bodies[keys["webshop"]]
        assert body["kind"] == ALERT_KIND and body["payload"]["value"] == 0.8
        assert "webshop" in body["payload"]["text"]

        # the next day the same breach is a new alert, sent once
        day2 = day1 + dt.timedelta(days=1)
        con.execute("delete from marts.fct_kpis")
        _write_day_rows(con, day2, {"webshop": (85, 100), "marketplace": (96, 100)})
        third = raise_alerts(con, targets, run_id="run-3", now=clock[0])
        assert (third.breaches, third.enqueued) == (1, 1)
        new_key = con.execute(
            "select action_id from ops.outbox where batch_key = ?",
            [judged_days(OTD, day2)[0].isoformat()],
        ).fetchall()[0][0]
        assert new_key not in keys.values()
        webhook.always_500.add(new_key)
        _deliver_everything(con, adapter, policy, clock)
        state, attempts = con.execute(
            "select state, total_attempts from ops.outbox where action_id = ?", [new_key]
        ).fetchall()[0]
        assert (state, attempts) == ("dead_letter", 3)
        assert webhook.applied[new_key] == 0
        # an operator asks for it again (the Action log's retry); the webhook has recovered
        webhook.always_500.discard(new_key)
        assert requeue_dead_letters(con, clock[0], [new_key]) == 1
        _deliver_everything(con, adapter, policy, clock)
        raise_alerts(con, targets, run_id="run-4", now=clock[0])
        _deliver_everything(con, adapter, policy, clock)
    assert webhook.applied[new_key] == 1
    assert sum(webhook.applied.values()) == 3


def test_alert_keys_name_the_breach_and_day_not_the_run_or_the_figure() -> None:
    rows = pl.DataFrame(
        {
            "period_start": [dt.date(2026, 10, 20)],
            "dimension": ["channel"],
            "member": ["webshop"],
            **{c: [0.0] for c in KPI_COLUMNS},
        }
    ).with_columns(delivery_units_on_time=pl.lit(80.0), delivery_units_due=pl.lit(100.0))
    targets = [t for t in in_force([]) if t.scope.metric == OTD]
    (breach,) = find_breaches(targets, rows, dt.date(2026, 10, 30))
    worse = find_breaches(
        targets,
        rows.with_columns(delivery_units_on_time=pl.lit(50.0)),
        dt.date(2026, 10, 30),
    )[0]
    assert alert_key(breach) == alert_key(worse)
    later = find_breaches(
        targets,
        rows.with_columns(period_start=pl.lit(dt.date(2026, 10, 21))),
        dt.date(2026, 10, 31),
    )[0]
    assert alert_key(later) != alert_key(breach)


def test_the_alert_steps_follow_the_kpi_marts_and_precede_publish_under_keys_of_their_own():
    from pipelines.definitions import defs
    from pipelines.keys import ALERT_DELIVERY_KEY, ALERTS_KEY, PUBLISH_KEY, model_key

    d = defs()
    graph = d.get_repository_def().asset_graph
    assert model_key("fct_kpis") in graph.get(ALERTS_KEY).parent_keys
    assert ALERTS_KEY in graph.get(ALERT_DELIVERY_KEY).parent_keys
    assert ALERT_DELIVERY_KEY in graph.get(PUBLISH_KEY).parent_keys
    outbox = graph.get(dg_key("ops", "outbox"))
    assert {ALERTS_KEY, ALERT_DELIVERY_KEY} <= outbox.parent_keys
    assert not outbox.is_materializable  # no step carries the key of a table dbt reads
    deliver = d.resolve_job_def("deliver_due")
    assert ALERT_DELIVERY_KEY in deliver.asset_layer.executable_asset_keys


def dg_key(*path: str):
    import dagster as dg

    return dg.AssetKey(list(path))
