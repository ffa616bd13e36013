"""Routing rules file: validated on load, errors name the line and the problem."""

from __future__ import annotations

import pytest

from ops_actions.routing.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules

VALID = """\
version: "t1"
costs:
  split_penalty: 4
routings:
  - name: all
    rules:
      - name: anywhere
        split: allowed
        unfillable: backorder
"""


def test_shipped_rules_file_is_valid_and_versioned() -> None:
    rules = load_rules(DEFAULT_RULES_PATH)
    assert rules.version
    assert len(rules.sha) == 64
    assert rules.routings[0].name == "express_orders"


def test_rules_sha_changes_with_content() -> None:
    assert parse_rules(VALID).sha != parse_rules(VALID.replace("4", "5")).sha


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (VALID.replace("unfillable: backorder", "unfillable: wait"), 9, "'wait' is not one of"),
        (VALID.replace("split: allowed", "split: sometimes"), 8, "split"),
        (VALID.replace("split_penalty: 4", "split_penalty: -1"), 3, "must be >= 0"),
        (VALID.replace("split_penalty: 4", "split_penalty: four"), 3, "expected a number"),
        (VALID.replace("costs:", "cost:"), 2, "unknown key"),
        (VALID.replace('version: "t1"\n', ""), 1, "missing required key 'version'"),
        (VALID.replace("      - name: anywhere\n", "      - nam: anywhere\n"), 7, "unknown key"),
        (VALID.replace("unfillable: backorder", "unfillable: next_rule"), 9, "last rule"),
        (VALID + "    priority: [colour]\n", 10, "not a sortable field"),
        (VALID.replace("  split_penalty: 4", "  split_penalty: [4"), 4, "invalid YAML"),
    ],
)
def test_rules_file_error_names_line_and_problem(text: str, line: int, fragment: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(text, source="rules.yaml")
    message = str(err.value)
    assert message.startswith(f"rules.yaml:{line}:"), message
    assert fragment in message


def test_cancel_after_days_requires_backorder() -> None:
    text = VALID.replace(
        "unfillable: backorder", "unfillable: cancel\n        cancel_after_days: 3"
    )
    with pytest.raises(RulesError, match=r"rules.yaml:10: .*cancel_after_days"):
        parse_rules(text, source="rules.yaml")
