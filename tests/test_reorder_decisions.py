"""Planner decisions in the operational store, and the pure decide step.

Suggestions here follow the planning contract's columns (§4) with figures computed by the
textbook formulas in `make_suggestions`, so the page tests can check the explanation against
them; the decide/deliver layers only need the keys, kind, destination, quantity and cost.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import sqlite3
import threading
from pathlib import Path
from statistics import NormalDist
from typing import Any

import polars as pl
import pytest

from ops_actions.reorders.decide import (
    PURCHASE_KIND,
    REJECTED,
    REQUESTED,
    STALE,
    TRANSFER_KIND,
    decide_reorders,
)
from ops_actions.reorders.inputs import SuggestionInputError, conform_suggestions
from ops_actions.store import (
    DecisionConflict,
    DecisionInput,
    list_decisions,
    record_decisions,
)

AS_OF = dt.date(2026, 10, 30)
SUPPLIERS = ("SUP-A", "SUP-B")
DC = "WH-DAL"


def suggestion_row(i: int, salt: str = "v1", as_of: dt.date = AS_OF) -> dict[str, Any]:
    """One suggestion with its figures from the formulas (independent of any model):
    z = Φ⁻¹(service level), forecast over LT = d·L, σ_LT = √(L·σd² + d²·σL²), SS = z·σ_LT,
    ROP = d·L + SS, order-up-to = ROP + d·R, position = on hand + inbound − allocated −
    backorders, raw = order-up-to − position, suggested = max(MOQ, ⌈raw / pack⌉ · pack)."""
    transfer = i % 5 == 4
    daily, sigma_d = 3.0 + i, 1.0 + 0.2 * i
    lt, lt_sd, review = 7.0 + i % 3, 1.5, 7.0
    service = 0.95 if i % 2 == 0 else 0.98
    z = NormalDist().inv_cdf(service)
    sigma_lt = math.sqrt(lt * sigma_d**2 + daily**2 * lt_sd**2)
    ss = z * sigma_lt
    rop = daily * lt + ss
    out = rop + daily * review
    on_hand, inbound, allocated, backorders = 10.0, 5.0 * (i % 2), 2.0, 1.0
    position = on_hand + inbound - allocated - backorders
    raw = out - position
    pack, moq = 6.0, 12.0
    suggested = max(moq, math.ceil(raw / pack) * pack)
    cost = 2.5 + i
    sku, location = f"SKU-{i:03d}", ("ST-001" if transfer else "WH-NJ")
    return {
        "suggestion_id": f"sg-{sku}-{location}-{as_of}",
        "suggestion_version": f"{salt}-{i}",
        "as_of_date": as_of,
        "sku": sku,
        "location_id": location,
        "supplier_id": SUPPLIERS[i % 2],
        "kind": "transfer" if transfer else "purchase",
        "source_location_id": DC if transfer else None,
        "policy": "order_up_to",
        "abc_class": "ABC"[i % 3],
        "service_level": service,
        "z": z,
        "forecast_lt_units": daily * lt,
        "forecast_lt_sigma": sigma_lt,
        "lead_time_mean_days": lt,
        "lead_time_sd_days": lt_sd,
        "review_period_days": review,
        "safety_stock": ss,
        "reorder_point": rop,
        "order_up_to": out,
        "on_hand": on_hand,
        "inbound": inbound,
        "allocated": allocated,
        "backorders": backorders,
        "position": position,
        "raw_qty": raw,
        "pack_size": pack,
        "min_order_qty": moq,
        "suggested_qty": suggested,
        "unit_cost": cost,
        "currency": "USD",
        "suggested_value": suggested * cost,
        "explanation": f"position {position:.1f} is below the reorder point {rop:.1f}",
    }


def make_suggestions(n: int = 10, salt: str = "v1", changed: dict[int, str] | None = None):
    """`n` suggestions; `changed` gives some of them another version salt (a newer run)."""
    changed = changed or {}
    return pl.DataFrame([suggestion_row(i, changed.get(i, salt)) for i in range(n)])


def approve(row: dict[str, Any], quantity: float | None = None, note: str | None = None):
    return DecisionInput(
        row["suggestion_id"],
        row["suggestion_version"],
        "approved",
        quantity if quantity is not None else row["suggested_qty"],
        note,
    )


def reject(row: dict[str, Any], note: str | None = None) -> DecisionInput:
    return DecisionInput(row["suggestion_id"], row["suggestion_version"], "rejected", None, note)


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------


def test_a_decision_records_who_when_quantity_and_note(tmp_path: Path) -> None:
    store = tmp_path / "ops.sqlite"
    row = suggestion_row(0)
    [decision_id] = record_decisions(
        store, [approve(row, 18, "  promo next week ")], "paula", "planner"
    )
    [d] = list_decisions(store)
    assert (d.decision_id, d.decision, d.quantity, d.note) == (
        decision_id,
        "approved",
        18,
        "promo next week",
    )
    assert (d.decided_by, d.decided_role, d.consumed_at) == ("paula", "planner", None)
    assert dt.datetime.fromisoformat(d.decided_at) <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = sqlite3.connect(store)
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_second_planner_on_the_same_version_gets_a_conflict_naming_the_first(tmp_path) -> None:
    store = tmp_path / "ops.sqlite"
    row = suggestion_row(1)
    record_decisions(store, [approve(row)], "paula", "planner")
    with pytest.raises(DecisionConflict) as caught:
        record_decisions(store, [reject(row, "too much")], "peter", "planner")
    assert [d.decided_by for d in caught.value.existing] == ["paula"]
    assert "already approved by paula" in str(caught.value)
    assert [d.decided_by for d in list_decisions(store)] == ["paula"]


def test_a_newer_version_of_the_same_suggestion_can_be_decided_again(tmp_path) -> None:
    store = tmp_path / "ops.sqlite"
    record_decisions(store, [approve(suggestion_row(2, "v1"))], "paula")
    record_decisions(store, [approve(suggestion_row(2, "v2"))], "paula")
    assert len(list_decisions(store)) == 2


def test_bulk_decision_with_one_conflict_writes_nothing(tmp_path) -> None:
    store = tmp_path / "ops.sqlite"
    rows = make_suggestions(8).to_dicts()
    record_decisions(store, [approve(r) for r in rows[:5]], "paula", "planner")
    with pytest.raises(DecisionConflict) as caught:
        record_decisions(store, [approve(r) for r in rows[3:]], "peter", "planner")
    assert sorted(d.suggestion_id for d in caught.value.existing) == sorted(
        r["suggestion_id"] for r in rows[3:5]
    )
    assert {d.decided_by for d in list_decisions(store)} == {"paula"}
    assert len(list_decisions(store)) == 5


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (DecisionInput("s", "v", "approved", 0), "positive quantity"),
        (DecisionInput("s", "v", "approved", None), "positive quantity"),
        (DecisionInput("s", "v", "approved", float("nan")), "positive quantity"),
        (DecisionInput("s", "v", "maybe", 3), "decision must be one of"),
        (DecisionInput("s", "", "approved", 3), "version"),
    ],
)
def test_bad_decisions_are_refused_before_anything_is_written(tmp_path, item, message) -> None:
    store = tmp_path / "ops.sqlite"
    with pytest.raises(ValueError, match=message):
        record_decisions(store, [DecisionInput("ok", "v", "approved", 1), item], "paula")
    assert list_decisions(store) == []
    with pytest.raises(ValueError, match="name the user"):
        record_decisions(store, [DecisionInput("ok", "v", "approved", 1)], " ")


RACES = 25


def _race(store: Path, barrier: Any, who: str, results: Any) -> None:
    """Approve each raced suggestion the moment the other contender is ready too."""
    for i in range(RACES):
        row = suggestion_row(i)
        barrier.wait()
        try:
            record_decisions(store, [approve(row, note=who)], who, "planner")
            results.put((i, who, "won"))
        except DecisionConflict as exc:
            assert exc.existing[0].decided_by != who
            results.put((i, who, "conflict"))


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_two_planners_at_once_one_wins_the_other_sees_the_conflict(tmp_path, mode) -> None:
    store = tmp_path / "ops.sqlite"
    list_decisions(store)  # create the store first, as the dashboard has by then
    if mode == "threads":
        import queue

        barrier: Any = threading.Barrier(2)
        results: Any = queue.Queue()
        workers: list[Any] = [
            threading.Thread(target=_race, args=(store, barrier, who, results))
            for who in ("paula", "peter")
        ]
    else:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(2)
        results = ctx.Queue()
        workers = [
            ctx.Process(target=_race, args=(store, barrier, who, results))
            for who in ("paula", "peter")
        ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * RACES)]
    for w in workers:
        w.join(timeout=60)
    per_race: dict[int, list[str]] = {}
    for i, _, outcome in outcomes:
        per_race.setdefault(i, []).append(outcome)
    assert all(sorted(v) == ["conflict", "won"] for v in per_race.values()), per_race
    decisions = list_decisions(store)
    assert len(decisions) == RACES
    winners = {(i, who) for i, who, o in outcomes if o == "won"}
    assert {(int(d.suggestion_version.split("-")[1]), d.decided_by) for d in decisions} == winners
    assert all(d.note == d.decided_by for d in decisions)  # the winner's whole decision


# --------------------------------------------------------------------------------------------
# Decide (pure)
# --------------------------------------------------------------------------------------------


def _decisions(store: Path, items: list[DecisionInput], who: str = "paula"):
    record_decisions(store, items, who, "planner")
    return list_decisions(store, open_only=True)


def test_one_request_per_supplier_and_per_transfer_source_with_edited_quantities(tmp_path):
    rows = make_suggestions(10).to_dicts()
    items = [approve(r) for r in rows[:9]] + [reject(rows[9])]
    items[0] = approve(rows[0], quantity=30)
    decisions = _decisions(tmp_path / "s.sqlite", items)
    plan = decide_reorders(pl.DataFrame(rows), decisions, run_id="r1")
    by_dest = {(r["kind"], r["destination"]): r for r in plan.requests.to_dicts()}
    purchases = [r for r in rows[:9] if r["kind"] == "purchase"]
    transfers = [r for r in rows[:9] if r["kind"] == "transfer"]
    expected = {(PURCHASE_KIND, s) for s in SUPPLIERS} | {(TRANSFER_KIND, DC)}
    assert set(by_dest) == expected
    for supplier in SUPPLIERS:
        import json

        payload = json.loads(by_dest[(PURCHASE_KIND, supplier)]["payload"])
        mine = [r for r in purchases if r["supplier_id"] == supplier]
        assert sorted(line["suggestion_id"] for line in payload["lines"]) == sorted(
            r["suggestion_id"] for r in mine
        )
        quantity = {line["sku"]: line["quantity"] for line in payload["lines"]}
        for r in mine:
            assert quantity[r["sku"]] == (30 if r is rows[0] else r["suggested_qty"])
        assert payload["total_value"] == pytest.approx(
            sum(quantity[r["sku"]] * r["unit_cost"] for r in mine)
        )
    assert by_dest[(TRANSFER_KIND, DC)]["lines"] == len(transfers)
    counts = {o: plan.count(o) for o in (REQUESTED, STALE, REJECTED)}
    assert counts == {REQUESTED: 9, STALE: 0, REJECTED: 1}


def test_keys_are_deterministic_and_depend_on_the_decided_lines(tmp_path):
    rows = make_suggestions(6).to_dicts()
    decisions = _decisions(tmp_path / "s.sqlite", [approve(r) for r in rows])
    a = decide_reorders(pl.DataFrame(rows), decisions, run_id="r1")
    b = decide_reorders(pl.DataFrame(rows), list(reversed(decisions)), run_id="r2")
    assert sorted(a.requests["action_id"]) == sorted(b.requests["action_id"])
    fewer = decide_reorders(pl.DataFrame(rows), decisions[1:], run_id="r1")
    assert set(fewer.requests["action_id"]) != set(a.requests["action_id"])


def test_an_approval_of_a_replaced_or_vanished_suggestion_is_stale_never_sent(tmp_path):
    old = make_suggestions(6).to_dicts()
    decisions = _decisions(tmp_path / "s.sqlite", [approve(r) for r in old])
    newer = make_suggestions(6, changed={1: "v2", 3: "v2"}).filter(
        pl.col("suggestion_id") != old[5]["suggestion_id"]
    )
    plan = decide_reorders(newer, decisions, run_id="r2")
    outcome = {o.decision_id: o for o in plan.outcomes}
    stale = {d.suggestion_id for d in decisions if outcome[d.decision_id].outcome == STALE}
    assert stale == {old[1]["suggestion_id"], old[3]["suggestion_id"], old[5]["suggestion_id"]}
    sent = {
        line["suggestion_id"]
        for p in plan.requests["payload"]
        for line in __import__("json").loads(p)["lines"]
    }
    assert sent.isdisjoint(stale) and len(sent) == 3
    reasons = {outcome[d.decision_id].reason for d in decisions if d.suggestion_id in stale}
    assert any("no longer suggests" in r for r in reasons)
    assert any("newer run replaced version" in r for r in reasons)


def test_suggestions_breaking_the_contract_are_refused_by_name() -> None:
    good = make_suggestions(3)
    with pytest.raises(SuggestionInputError, match="lack column"):
        conform_suggestions(good.drop("supplier_id"))
    with pytest.raises(SuggestionInputError, match="not unique"):
        conform_suggestions(pl.concat([good, good.head(1)]))
    with pytest.raises(SuggestionInputError, match="unknown kind"):
        conform_suggestions(good.with_columns(pl.lit("gift").alias("kind")))
    with pytest.raises(SuggestionInputError, match="without a destination"):
        conform_suggestions(good.with_columns(pl.lit(None, pl.String).alias("supplier_id")))
