"""The routing figures dbt prices candidates with are the rules file's, never a drifting copy."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from ops_actions.routing.rules import load_rules
from pipelines.settings import PROJECT_ROOT, get_settings
from pipelines.transform.project import dbt_env, dbt_executable

PROJECT = PROJECT_ROOT / "dbt_project"
MODEL = "ops_allocation_candidates"


def _compile(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dbt compile` of the candidates mart against an empty warehouse (compiling reads no
    data); its SQL lands under `tmp_path`."""
    env = {**env, "OMS_WAREHOUSE_PATH": str(tmp_path / "empty.duckdb")}
    return subprocess.run(
        [
            dbt_executable(),
            "compile",
            "--quiet",
            "--select",
            MODEL,
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )


def _compiled_sql(tmp_path: Path) -> str:
    found = list((tmp_path / "target").rglob(f"{MODEL}.sql"))
    assert found, "dbt compile wrote no SQL"
    return found[0].read_text()


def _case_figures(sql: str, alias: str) -> tuple[dict[str, float], float]:
    """The `case service_level when 'x' then n ... else d end as <alias>` of the compiled SQL."""
    case = r"case service_level(?P<body>(?:(?!\bend as\b).)*?)end as "
    found = re.search(case + alias + r"\b", sql, re.S)
    assert found, f"no service-level CASE for {alias}"
    whens = {k: float(v) for k, v in re.findall(r"when '(\w+)' then ([\d.]+)", found["body"])}
    default = re.search(r"else ([\d.]+)", found["body"])
    assert default
    return whens, float(default[1])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("compile")
    result = _compile(tmp, dbt_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return _compiled_sql(tmp)


def test_candidates_price_every_service_level_as_the_rules_file_does(compiled: str) -> None:
    rules = load_rules(get_settings().routing_rules_path)
    for alias, figure in (("km_per_day", "km_per_day"), ("cost_multiplier", "cost_multiplier")):
        whens, default = _case_figures(compiled, alias)
        assert set(whens) == set(rules.service_levels) - {"default"}
        for name, value in whens.items():
            assert value == getattr(rules.service_level(name), figure), (alias, name)
        assert default == getattr(rules.service_level("default"), figure)
    # next_day was once priced at the express speed in SQL (1,200 km/day) while rules said 2,000
    assert rules.service_level("next_day").km_per_day == 2000


def test_candidates_shipping_costs_are_the_rules_costs(compiled: str) -> None:
    costs = load_rules(get_settings().routing_rules_path).costs
    assert f"when {costs.shipping_per_kg_km} * weight_kg * distance_km" in compiled
    assert f"> {costs.shipping_min_per_unit}" in compiled


def test_a_changed_rules_file_reaches_the_models(tmp_path: Path) -> None:
    """Change the rules file the router reads and the mart's SQL follows: nothing else to edit."""
    text = get_settings().routing_rules_path.read_text(encoding="utf-8")
    changed = text.replace("next_day:  {km_per_day: 2000", "next_day:  {km_per_day: 3333")
    assert changed != text, "the rules file no longer has the line this test edits"
    rules_file = tmp_path / "routing_rules.yaml"
    rules_file.write_text(changed, encoding="utf-8")
    previous = os.environ.get("OMS_ROUTING_RULES")
    os.environ["OMS_ROUTING_RULES"] = str(rules_file)
    try:
        env = dbt_env()
    finally:
        if previous is None:
            os.environ.pop("OMS_ROUTING_RULES")
        else:
            os.environ["OMS_ROUTING_RULES"] = previous
    result = _compile(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    whens, _ = _case_figures(_compiled_sql(tmp_path), "km_per_day")
    assert whens["next_day"] == 3333


def test_dbt_without_the_rules_figures_stops_with_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in dbt_env().items() if k != "OMS_ROUTING_PARAMS"}
    result = _compile(tmp_path, env)
    assert result.returncode != 0
    assert "OMS_ROUTING_PARAMS is not set" in result.stdout + result.stderr


def test_no_model_keeps_its_own_copy_of_a_routing_figure() -> None:
    """Routing figures come only through the macro `routing_parameters`."""
    offenders = [
        str(path.relative_to(PROJECT))
        for path in (PROJECT / "models").rglob("*.sql")
        if re.search(r"var\(\s*'routing_", path.read_text())
    ]
    assert offenders == []
