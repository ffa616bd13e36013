"""The planning seeds: z is the inverse normal of the service level, classes and policies fit."""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import NormalDist

import pytest

from pipelines.planning.policy import POLICIES

SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


def _rows(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_z_is_the_inverse_normal_of_the_service_level() -> None:
    rows = _rows("planning_service_levels")
    assert rows, "planning_service_levels.csv has no rows"
    for row in rows:
        service_level = float(row["service_level"])
        assert 0.5 < service_level < 1, row
        expected = NormalDist().inv_cdf(service_level)
        assert float(row["z"]) == pytest.approx(expected, abs=5e-6), (
            f"class {row['abc_class']}: z {row['z']} but inverse normal of "
            f"{service_level} is {expected:.6f}"
        )


def test_class_shares_rise_to_one_and_service_falls_with_them() -> None:
    rows = sorted(
        _rows("planning_service_levels"), key=lambda r: float(r["max_cumulative_value_share"])
    )
    shares = [float(r["max_cumulative_value_share"]) for r in rows]
    assert shares == sorted(set(shares)), "shares must be distinct"
    assert shares[-1] == 1.0, "the last class must take every remaining SKU"
    levels = [float(r["service_level"]) for r in rows]
    assert levels == sorted(levels, reverse=True), "a more valuable class gets a higher target"


def test_every_class_has_a_known_policy() -> None:
    classes = {r["abc_class"] for r in _rows("planning_service_levels")}
    policies = {r["abc_class"]: r for r in _rows("planning_policies")}
    assert set(policies) == classes
    for row in policies.values():
        assert row["policy"] in POLICIES
        assert float(row["review_period_days"]) >= 0
        assert float(row["order_cycle_days"]) > 0
