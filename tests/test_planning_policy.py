"""pipelines/planning/policy.py gives the figures of the dbt model fct_safety_stock.

Two checks, so the SQL and the Python cannot drift apart:
- the hand-computed cases the dbt unit tests pin (read from the model's yml, not copied here)
  come out of the Python module with the same figures;
- the model's compiled SQL, run by DuckDB on a few hundred random inputs, gives the same
  figures as the Python module on each of them.
"""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml  # type: ignore[import-untyped]

from pipelines.planning.policy import POLICIES, PolicyInputs, plan, round_order

ROOT = Path(__file__).resolve().parents[1]
DBT_DIR = ROOT / "dbt_project"
MODELS_YML = DBT_DIR / "models" / "marts" / "planning" / "_replenishment__models.yml"
INPUT_FIELDS = {f.name for f in fields(PolicyInputs)}
FIGURES = (
    "protection_days",
    "demand_daily",
    "forecast_lt_sigma",
    "safety_stock",
    "reorder_point",
    "eoq",
    "order_up_to",
    "position",
    "raw_qty",
    "purchase_qty",
    "transfer_qty",
)


def _inputs(row: dict[str, Any]) -> PolicyInputs:
    return PolicyInputs(**{k: v for k, v in row.items() if k in INPUT_FIELDS})


def _figures(inputs: PolicyInputs) -> dict[str, Any]:
    result = plan(inputs)
    out: dict[str, Any] = {name: getattr(result, name) for name in FIGURES}
    out["is_order_due"] = result.is_order_due
    return out


def _safety_stock_unit_tests() -> list[dict[str, Any]]:
    spec = yaml.safe_load(MODELS_YML.read_text())
    return [t for t in spec["unit_tests"] if t["model"] == "fct_safety_stock"]


def test_the_dbt_unit_test_cases_cover_every_formula() -> None:
    names = {t["name"] for t in _safety_stock_unit_tests()}
    assert {
        "safety_stock_and_reorder_point",
        "pack_and_minimum_order_rounding",
        "economic_order_quantity",
        "empty_demand_orders_only_what_is_owed",
    } <= names


@pytest.mark.parametrize("case", _safety_stock_unit_tests(), ids=lambda t: t["name"])
def test_python_gives_the_figures_the_dbt_unit_tests_pin(case: dict[str, Any]) -> None:
    given = {row["sku"]: row for row in case["given"][0]["rows"]}
    for expected in case["expect"]["rows"]:
        row = given[expected["sku"]]
        figures = _figures(_inputs(row))
        assert figures["protection_days"] == pytest.approx(row["protection_days"])
        for column, value in expected.items():
            if column in figures:
                assert figures[column] == pytest.approx(value, abs=1e-9), (
                    f"{case['name']} {expected['sku']} {column}"
                )


def test_bad_inputs_are_refused_with_a_clear_error() -> None:
    base: dict[str, Any] = dict(
        policy="order_up_to",
        z=1.0,
        lead_time_mean_days=5,
        lead_time_sd_days=1,
        review_period_days=1,
        order_cycle_days=7,
        forecast_lt_units=6,
        sigma_daily=1,
    )
    with pytest.raises(ValueError, match="unknown policy"):
        PolicyInputs(**{**base, "policy": "kanban"})
    with pytest.raises(ValueError, match="pack_size"):
        PolicyInputs(**base, pack_size=0)
    with pytest.raises(ValueError, match="lead_time_sd_days"):
        PolicyInputs(**{**base, "lead_time_sd_days": -1})
    assert round_order(0, 6, 24) == 0
    assert round_order(25, 6, 24) == 30


def _random_inputs(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        lead_time = rng.choice([0.0, rng.uniform(1, 35)])
        review = rng.choice([0.0, 1.0, 7.0])
        rows.append(
            {
                "sku": f"S{i}",
                "location_id": "WH-A",
                "policy": rng.choice(POLICIES),
                "z": rng.choice([0.0, 1.281552, 1.644854, 2.053749]),
                "lead_time_mean_days": lead_time,
                "lead_time_sd_days": rng.choice([0.0, rng.uniform(0, 8)]),
                "review_period_days": review,
                "protection_days": lead_time + review,
                "order_cycle_days": rng.choice([7.0, 14.0, 28.0]),
                "forecast_lt_units": rng.choice([0.0, rng.uniform(0, 400)]),
                "sigma_daily": rng.choice([0.0, rng.uniform(0, 12)]),
                "on_hand": float(rng.randint(0, 300)),
                "inbound": float(rng.choice([0, rng.randint(0, 200)])),
                "allocated": float(rng.randint(0, 20)),
                "backorders": float(rng.choice([0, rng.randint(0, 80)])),
                "pack_size": float(rng.choice([1, 4, 6, 12])),
                "min_order_qty": float(rng.choice([0, 6, 12, 24])),
                "unit_cost": rng.choice([None, 0.0, round(rng.uniform(1, 90), 2)]),
                "order_cost": rng.choice([25.0, 50.0]),
                "holding_rate_per_year": rng.choice([0.0, 0.25]),
            }
        )
    return rows


def _compiled_model_sql(tmp_path: Path) -> str:
    """Compile fct_safety_stock with the project's own dbt (no warehouse data needed)."""
    env = dict(os.environ)
    env["OMS_WAREHOUSE_PATH"] = str(tmp_path / "compile.duckdb")
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    dbt = Path(sys.executable).with_name("dbt")
    target = tmp_path / "target"
    subprocess.run(
        [
            str(dbt),
            "compile",
            "--select",
            "fct_safety_stock",
            "--profiles-dir",
            str(DBT_DIR),
            "--project-dir",
            str(DBT_DIR),
            "--target-path",
            str(target),
            "--quiet",
        ],
        check=True,
        env=env,
        cwd=DBT_DIR,
        capture_output=True,
        text=True,
    )
    compiled = next(target.rglob("fct_safety_stock.sql"))
    return compiled.read_text()


def test_compiled_sql_gives_the_python_figures_on_random_inputs(tmp_path: Path) -> None:
    rows = _random_inputs(random.Random(12), 400)
    sql = _compiled_model_sql(tmp_path)
    sql, replaced = re.subn(
        r'("[^"]+"\.)?"intermediate"\."int_planning_replenishment_inputs"', "inputs", sql
    )
    assert replaced == 1, "the model should read its inputs relation exactly once"
    con = duckdb.connect()
    columns = [c for c in rows[0] if c not in ("sku", "location_id", "policy")]
    con.execute(
        "create table inputs (sku varchar, location_id varchar, policy varchar, "
        + ", ".join(f"{c} double" for c in columns)
        + ", as_of_date date, series_id varchar, supplier_id varchar, abc_class varchar, "
        "service_level double, currency varchar)"
    )
    con.executemany(
        "insert into inputs (sku, location_id, policy, "
        + ", ".join(columns)
        + ") values ("
        + ", ".join("?" for _ in range(len(columns) + 3))
        + ")",
        [[r["sku"], r["location_id"], r["policy"], *[r[c] for c in columns]] for r in rows],
    )
    result = con.execute(f"select * from ({sql}) order by sku").fetchall()
    names = [d[0] for d in con.description]
    by_sku = {rec[names.index("sku")]: dict(zip(names, rec, strict=True)) for rec in result}
    assert len(by_sku) == len(rows)
    due = 0
    for row in rows:
        expected = _figures(_inputs(row))
        got = by_sku[row["sku"]]
        for column, value in expected.items():
            if isinstance(value, bool):
                assert got[column] is value, (row, column)
            else:
                assert math.isclose(got[column], value, rel_tol=1e-9, abs_tol=1e-9), (
                    row["sku"],
                    column,
                    got[column],
                    value,
                )
        due += expected["is_order_due"]
    # the random cases exercise both sides of the trigger
    assert 0 < due < len(rows)
