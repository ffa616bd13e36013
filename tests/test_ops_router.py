"""The decide half: pure routing over DataFrames."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from ops_actions.routing.inputs import InputContractError, conform_open_lines
from ops_actions.routing.router import route
from ops_actions.routing.rules import DEFAULT_RULES_PATH, load_rules, parse_rules
from tests.doubles.synthetic import make_inputs

TODAY = dt.date(2026, 1, 15)

ONE_RULE = """\
version: "t"
costs:
  shipping_per_kg_km: 0.001
  split_penalty: 5
  late_penalty_per_unit_day: 2
  unfilled_penalty_per_unit: 50
routings:
  - name: all
    rules:
      - name: r1
        split: {split}
        unfillable: {unfillable}
{extra}"""


def rules(split: str = "allowed", unfillable: str = "backorder", extra: str = ""):
    return parse_rules(ONE_RULE.format(split=split, unfillable=unfillable, extra=extra))


def line(i: int, order: str, sku: str, qty: int, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "order_line_id": f"L{i}",
        "order_id": order,
        "channel": "webshop",
        "sku": sku,
        "quantity": qty,
        "service_level": "standard",
        "promised_ship_date": TODAY,
        "promised_delivery_date": TODAY + dt.timedelta(days=5),
        "ordered_at": dt.datetime(2026, 1, 14, 10),
        "ship_to_latitude": 50.0,
        "ship_to_longitude": 4.0,
        "weight_kg": 1.0,
    }
    row.update(kw)
    return row


def locations(*rows: tuple[str, float, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "location_id": [r[0] for r in rows],
            "latitude": [r[1] for r in rows],
            "longitude": [r[2] for r in rows],
            "ships_channels": [["webshop", "wholesale"]] * len(rows),
            "shipment_base_cost": [2.0] * len(rows),
        }
    )


def atp(*rows: tuple[str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": [r[0] for r in rows],
            "location_id": [r[1] for r in rows],
            "available": [r[2] for r in rows],
        }
    )


NEAR, FAR = ("NEAR", 50.1, 4.0), ("FAR", 45.0, 10.0)


@pytest.fixture(scope="module")
def synthetic():
    return make_inputs(n_lines=3000, n_locations=12, n_skus=250, seed=3)


def test_router_never_allocates_more_than_available(synthetic) -> None:
    res = route(
        synthetic.lines, synthetic.atp, synthetic.locations, load_rules(DEFAULT_RULES_PATH), TODAY
    )
    used = res.allocations.join(synthetic.atp, on=["sku", "location_id"], how="left")
    assert used["available"].null_count() == 0
    assert (used["units"] <= used["available"]).all()
    per_line = res.decisions.group_by("order_line_id").agg(pl.col("units").sum())
    check = per_line.join(synthetic.lines, on="order_line_id")
    # every unit of every line is accounted for exactly once: allocated, backordered or cancelled
    assert (check["units"] == check["quantity"]).all()
    assert check.height == synthetic.lines.height


def test_solver_cost_not_worse_than_greedy(synthetic) -> None:
    r = load_rules(DEFAULT_RULES_PATH)
    solver = route(synthetic.lines, synthetic.atp, synthetic.locations, r, TODAY)
    greedy = route(synthetic.lines, synthetic.atp, synthetic.locations, r, TODAY, method="greedy")
    assert solver.cost.total <= greedy.cost.total
    assert solver.lower_bound <= solver.objective + 1e-6


def test_cheapest_location_wins_when_stock_allows() -> None:
    lines = pl.DataFrame([line(1, "O1", "A", 2)])
    res = route(lines, atp(("A", "NEAR", 5), ("A", "FAR", 5)), locations(NEAR, FAR), rules(), TODAY)
    (row,) = res.decisions.to_dicts()
    assert (row["outcome"], row["location_id"], row["units"]) == ("allocated", "NEAR", 2)


def test_stock_short_goes_to_higher_priority_line() -> None:
    lines = pl.DataFrame(
        [
            line(1, "O1", "A", 1, promised_ship_date=TODAY + dt.timedelta(days=2)),
            line(2, "O2", "A", 1, promised_ship_date=TODAY),
        ]
    )
    res = route(lines, atp(("A", "NEAR", 1)), locations(NEAR), rules(), TODAY)
    got = {r["order_line_id"]: r["outcome"] for r in res.decisions.to_dicts()}
    assert got == {"L2": "allocated", "L1": "backorder"}


def test_unfillable_line_is_backordered_or_cancelled_per_rule() -> None:
    lines = pl.DataFrame(
        [
            line(1, "O1", "A", 3, promised_ship_date=TODAY - dt.timedelta(days=10)),
            line(2, "O2", "A", 3, promised_ship_date=TODAY),
        ]
    )
    stock = atp(("A", "NEAR", 1))
    backorder = route(lines, stock, locations(NEAR), rules(), TODAY).decisions
    assert set(backorder.filter(pl.col("outcome") != "allocated")["outcome"]) == {"backorder"}
    cancel = route(lines, stock, locations(NEAR), rules(unfillable="cancel"), TODAY).decisions
    assert set(cancel.filter(pl.col("outcome") != "allocated")["outcome"]) == {"cancelled"}
    after = rules(extra="        cancel_after_days: 5\n")
    mixed = route(lines, stock, locations(NEAR), after, TODAY).decisions
    unfilled = {
        r["order_line_id"]: r["outcome"]
        for r in mixed.filter(pl.col("outcome") != "allocated").to_dicts()
    }
    assert unfilled["L1"] == "cancelled"  # promised 10 days ago: past the 5-day grace
    assert unfilled.get("L2", "backorder") == "backorder"


def test_next_rule_gets_what_the_first_rule_could_not_fill() -> None:
    text = """\
version: "t"
routings:
  - name: all
    rules:
      - name: near_only
        locations: {include: [NEAR]}
        unfillable: next_rule
      - name: far_too
        unfillable: backorder
"""
    lines = pl.DataFrame([line(1, "O1", "A", 3)])
    res = route(
        lines,
        atp(("A", "NEAR", 1), ("A", "FAR", 5)),
        locations(NEAR, FAR),
        parse_rules(text),
        TODAY,
    )
    rows = {(r["rule"], r["location_id"]): r["units"] for r in res.decisions.to_dicts()}
    assert rows == {("near_only", "NEAR"): 1, ("far_too", "FAR"): 2}
    far = res.decisions.filter(pl.col("location_id") == "FAR").to_dicts()[0]
    assert json.loads(far["explanation"])["rules_tried"] == ["near_only"]


def test_split_not_allowed_ships_order_complete_from_one_location() -> None:
    lines = pl.DataFrame([line(1, "O1", "A", 1), line(2, "O1", "B", 1)])
    stock = atp(("A", "NEAR", 1), ("B", "FAR", 1), ("A", "FAR", 1))
    split = route(lines, stock, locations(NEAR, FAR), rules(), TODAY).decisions
    whole = route(lines, stock, locations(NEAR, FAR), rules(split="not_allowed"), TODAY).decisions
    assert set(whole["location_id"]) == {"FAR"}
    assert (whole["outcome"] == "allocated").all()
    assert split["outcome"].to_list() == ["allocated", "allocated"]
    # nothing anywhere holds both: the whole order waits
    none = route(
        lines,
        atp(("A", "NEAR", 1), ("B", "FAR", 1)),
        locations(NEAR, FAR),
        rules(split="not_allowed"),
        TODAY,
    ).decisions
    assert set(none["outcome"]) == {"backorder"}


def test_min_stock_and_channel_filters_exclude_locations() -> None:
    text = """\
version: "t"
routings:
  - name: all
    rules:
      - name: r
        locations: {min_stock: 3}
"""
    lines = pl.DataFrame([line(1, "O1", "A", 1), line(2, "O2", "A", 1, channel="marketplace")])
    res = route(
        lines,
        atp(("A", "NEAR", 2), ("A", "FAR", 3)),
        locations(NEAR, FAR),
        parse_rules(text),
        TODAY,
    )
    got = {r["order_line_id"]: (r["outcome"], r["location_id"]) for r in res.decisions.to_dicts()}
    assert got["L1"] == ("allocated", "FAR")  # NEAR holds fewer than min_stock
    assert got["L2"] == ("backorder", None)  # no location ships marketplace orders


def test_every_decision_is_explained_with_alternatives_and_costs() -> None:
    lines = pl.DataFrame([line(1, "O1", "A", 2)])
    res = route(lines, atp(("A", "NEAR", 1), ("A", "FAR", 5)), locations(NEAR, FAR), rules(), TODAY)
    rows = res.decisions.to_dicts()
    assert all(r["explanation"] for r in rows)
    doc = json.loads(rows[0]["explanation"])
    assert doc["rule"] == "r1" and doc["rules_version"] == "t"
    assert {a["location_id"] for a in doc["alternatives"]} == {"NEAR", "FAR"}
    assert all("cost_per_unit" in a and "stock_at_start" in a for a in doc["alternatives"])
    assert sum(r["total_cost"] for r in rows) == pytest.approx(res.cost.total)


def test_lateness_is_priced_against_the_promise() -> None:
    late = line(1, "O1", "A", 1, promised_delivery_date=TODAY)
    res = route(pl.DataFrame([late]), atp(("A", "NEAR", 1)), locations(NEAR), rules(), TODAY)
    row = res.decisions.to_dicts()[0]
    assert row["late_days"] >= 1 and row["late_cost"] == pytest.approx(2.0 * row["late_days"])


def test_input_contract_rejects_missing_columns() -> None:
    with pytest.raises(InputContractError, match="missing required column"):
        conform_open_lines(pl.DataFrame([line(1, "O1", "A", 1)]).drop("sku"))
