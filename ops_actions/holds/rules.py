"""Hold rules: a versioned YAML file, validated on load, in the style of the routing rules.

The file says which built-in checks hold an order (unknown SKU, incomplete or undeliverable
address, payment not captured, duplicate order), with their settings, and lists the merchant's
risk rules (each a conjunction of conditions, e.g. a high-value first order to a new address).
See `docs/holds.md` and `ops_actions/rules/hold_rules.yaml`.

Every validation error names the file, the line and the problem, the way the routing rules do
(the same node reader, `ops_actions.routing.rules._Reader`), e.g.
``hold_rules.yaml:12: checks.duplicate_order.window_hours: must be >= 1, got 0``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped]
from yaml.nodes import Node  # type: ignore[import-untyped]

from ops_actions.routing.rules import RulesError, _Reader

DEFAULT_HOLD_RULES_PATH = Path(__file__).resolve().parent.parent / "rules" / "hold_rules.yaml"

UNKNOWN_SKU = "unknown_sku"
INCOMPLETE_ADDRESS = "incomplete_address"
UNDELIVERABLE_ADDRESS = "undeliverable_address"
PAYMENT_NOT_CAPTURED = "payment_not_captured"
DUPLICATE_ORDER = "duplicate_order"
BUILT_IN_REASONS = (
    UNKNOWN_SKU,
    INCOMPLETE_ADDRESS,
    UNDELIVERABLE_ADDRESS,
    PAYMENT_NOT_CAPTURED,
    DUPLICATE_ORDER,
)
RISK_PREFIX = "risk:"
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

__all__ = ["HoldRules", "RiskRule", "RulesError", "load_hold_rules", "parse_hold_rules"]


@dataclass(frozen=True)
class RiskRule:
    """Holds an order that meets every condition set (None = not a condition)."""

    name: str
    description: str = ""
    channels: tuple[str, ...] | None = None
    order_value_above: float | None = None
    first_order: bool | None = None
    new_ship_to: bool | None = None

    @property
    def reason_code(self) -> str:
        return f"{RISK_PREFIX}{self.name}"


@dataclass(frozen=True)
class HoldRules:
    """A validated hold rules file. `version` is the merchant's label, `sha` the file's SHA-256.
    `enabled` holds the built-in checks switched on."""

    version: str
    sha: str
    source: str
    enabled: frozenset[str]
    ship_to_countries: tuple[str, ...]
    payment_channels: tuple[str, ...]
    captured_statuses: tuple[str, ...]
    duplicate_window_hours: float
    risk_rules: tuple[RiskRule, ...]

    def is_on(self, check: str) -> bool:
        return check in self.enabled


_CHECK_KEYS: dict[str, tuple[str, ...]] = {
    UNKNOWN_SKU: ("enabled",),
    INCOMPLETE_ADDRESS: ("enabled",),
    UNDELIVERABLE_ADDRESS: ("enabled", "ship_to_countries"),
    PAYMENT_NOT_CAPTURED: ("enabled", "channels", "captured"),
    DUPLICATE_ORDER: ("enabled", "window_hours"),
}


def _boolean(r: _Reader, node: Node, path: str) -> bool:
    value = r.scalar(node, path)
    if not isinstance(value, bool):
        raise r.fail(node, path, f"expected true or false, got {value!r}")
    return value


def _non_empty(r: _Reader, node: Node, path: str) -> tuple[str, ...]:
    values = r.strings(node, path)
    if not values:
        raise r.fail(node, path, "must not be empty")
    return values


def _risk_rule(r: _Reader, node: Node, path: str) -> RiskRule:
    conditions = ("channels", "order_value_above", "first_order", "new_ship_to")
    m = r.mapping(node, path, ("name", "description", *conditions), required=("name",))
    name = r.string(m["name"][1], f"{path}.name")
    if not _RULE_NAME.match(name):
        raise r.fail(
            m["name"][1], f"{path}.name", f"{name!r}: use lower-case letters, digits and _"
        )
    if not any(c in m for c in conditions if c != "channels"):
        raise r.fail(
            node,
            path,
            "a risk rule needs at least one of order_value_above, first_order, new_ship_to "
            "(otherwise it would hold every order)",
        )
    return RiskRule(
        name=name,
        description=r.string(m["description"][1], f"{path}.description")
        if "description" in m
        else "",
        channels=_non_empty(r, m["channels"][1], f"{path}.channels") if "channels" in m else None,
        order_value_above=r.number(m["order_value_above"][1], f"{path}.order_value_above")
        if "order_value_above" in m
        else None,
        first_order=_boolean(r, m["first_order"][1], f"{path}.first_order")
        if "first_order" in m
        else None,
        new_ship_to=_boolean(r, m["new_ship_to"][1], f"{path}.new_ship_to")
        if "new_ship_to" in m
        else None,
    )


def parse_hold_rules(text: str, source: str = "<hold rules>") -> HoldRules:
    """Validate hold rules given as YAML text; raise `RulesError` naming the line and problem."""
    r = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise RulesError(f"{source}:{line}: invalid YAML: {exc.problem}") from exc
    if root is None:
        raise RulesError(f"{source}:1: the file is empty")
    m = r.mapping(root, "<root>", ("version", "checks", "risk_rules"), ("version", "checks"))
    checks = r.mapping(m["checks"][1], "checks", BUILT_IN_REASONS, required=BUILT_IN_REASONS)
    enabled: set[str] = set()
    settings: dict[str, dict[str, tuple[Node, Node]]] = {}
    for check, (_, node) in checks.items():
        path = f"checks.{check}"
        cm = r.mapping(node, path, _CHECK_KEYS[check], required=("enabled",))
        settings[check] = cm
        if _boolean(r, cm["enabled"][1], f"{path}.enabled"):
            enabled.add(check)

    def setting(check: str, key: str) -> Node | None:
        entry = settings[check].get(key)
        return None if entry is None else entry[1]

    countries_node = setting(UNDELIVERABLE_ADDRESS, "ship_to_countries")
    channels_node = setting(PAYMENT_NOT_CAPTURED, "channels")
    captured_node = setting(PAYMENT_NOT_CAPTURED, "captured")
    window_node = setting(DUPLICATE_ORDER, "window_hours")
    for check, node, key in (
        (UNDELIVERABLE_ADDRESS, countries_node, "ship_to_countries"),
        (PAYMENT_NOT_CAPTURED, channels_node, "channels"),
        (PAYMENT_NOT_CAPTURED, captured_node, "captured"),
        (DUPLICATE_ORDER, window_node, "window_hours"),
    ):
        if check in enabled and node is None:
            raise r.fail(checks[check][1], f"checks.{check}", f"missing required key '{key}'")

    risk_rules: tuple[RiskRule, ...] = ()
    if "risk_rules" in m:
        nodes = r.sequence(m["risk_rules"][1], "risk_rules")
        risk_rules = tuple(_risk_rule(r, n, f"risk_rules[{i}]") for i, n in enumerate(nodes))
        names = [rule.name for rule in risk_rules]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise r.fail(nodes[i], f"risk_rules[{i}].name", f"duplicate risk rule {name!r}")
    return HoldRules(
        version=r.string(m["version"][1], "version"),
        sha=hashlib.sha256(text.encode()).hexdigest(),
        source=source,
        enabled=frozenset(enabled),
        ship_to_countries=_non_empty(
            r, countries_node, "checks.undeliverable_address.ship_to_countries"
        )
        if countries_node is not None
        else (),
        payment_channels=_non_empty(r, channels_node, "checks.payment_not_captured.channels")
        if channels_node is not None
        else (),
        captured_statuses=_non_empty(r, captured_node, "checks.payment_not_captured.captured")
        if captured_node is not None
        else (),
        duplicate_window_hours=r.number(window_node, "checks.duplicate_order.window_hours", 1.0)
        if window_node is not None
        else 24.0,
        risk_rules=risk_rules,
    )


def load_hold_rules(path: str | Path = DEFAULT_HOLD_RULES_PATH) -> HoldRules:
    """Read and validate a hold rules file; the evaluation records `version` and `sha`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{p}: hold rules file not found") from None
    return parse_hold_rules(text, source=p.name)


def reason_codes(rules: HoldRules) -> tuple[str, ...]:
    """Every reason code these rules can give, built-in checks first."""
    return (
        *sorted(rules.enabled, key=BUILT_IN_REASONS.index),
        *(rule.reason_code for rule in rules.risk_rules),
    )
