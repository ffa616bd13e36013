"""Merchant routing rules: a versioned YAML file, validated on load.

The file says, without code, which orders are routed first (routings, in order, each with an
order filter and a priority sort), which locations may serve them (inventory rules tried in
sequence, each with location filters), whether an order may be split, what happens to a line
that cannot be filled, and the cost weights the solver minimises. See `docs/routing.md` and
`ops_actions/rules/routing_rules.yaml`.

Every validation error names the file, the line and the problem, e.g.
``routing_rules.yaml:14: routings[0].rules[1].unfillable: 'wait' is not one of backorder,
cancel, next_rule``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from yaml.nodes import (  # type: ignore[import-untyped]
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
)

SPLIT_POLICIES = ("allowed", "not_allowed")
UNFILLABLE_ACTIONS = ("backorder", "cancel", "next_rule")
PRIORITY_FIELDS = (
    "promised_ship_date",
    "promised_delivery_date",
    "ordered_at",
    "quantity",
    "channel",
    "service_level",
    "order_id",
)


class RulesError(ValueError):
    """The rules file is invalid; the message names the file, line and problem."""


@dataclass(frozen=True)
class CostWeights:
    """Weights of the objective, in the merchant's currency."""

    shipping_per_kg_km: float = 0.0005
    shipping_min_per_unit: float = 0.0
    split_penalty: float = 5.0
    late_penalty_per_unit_day: float = 2.0
    unfilled_penalty_per_unit: float = 50.0


@dataclass(frozen=True)
class ServiceLevel:
    km_per_day: float = 500.0
    cost_multiplier: float = 1.0


@dataclass(frozen=True)
class LocationFilter:
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    max_distance_km: float | None = None
    min_stock: int = 1


@dataclass(frozen=True)
class InventoryRule:
    name: str
    locations: LocationFilter = field(default_factory=LocationFilter)
    split: str = "allowed"
    unfillable: str = "backorder"
    cancel_after_days: int | None = None


@dataclass(frozen=True)
class Routing:
    name: str
    channels: tuple[str, ...] | None = None
    service_levels: tuple[str, ...] | None = None
    priority: tuple[str, ...] = ("promised_ship_date", "ordered_at")
    rules: tuple[InventoryRule, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file. `version` is the merchant's label, `sha` the file's SHA-256."""

    version: str
    sha: str
    source: str
    costs: CostWeights
    service_levels: dict[str, ServiceLevel]
    routings: tuple[Routing, ...]

    def service_level(self, name: str) -> ServiceLevel:
        return self.service_levels.get(name) or self.service_levels.get("default", ServiceLevel())


class _Reader:
    """Walks the YAML node tree so every error can point at a line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, path: str, problem: str) -> RulesError:
        line = node.start_mark.line + 1
        return RulesError(f"{self.source}:{line}: {path}: {problem}")

    def mapping(
        self, node: Node, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, path, "expected a mapping")
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key not in allowed:
                raise self.fail(
                    key_node, f"{path}.{key}", f"unknown key (allowed: {', '.join(allowed)})"
                )
            if key in out:
                raise self.fail(key_node, f"{path}.{key}", "duplicate key")
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                raise self.fail(node, path, f"missing required key '{key}'")
        return out

    def scalar(self, node: Node, path: str) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, path, "expected a single value")
        return yaml.safe_load(yaml.serialize(node))

    def string(self, node: Node, path: str) -> str:
        value = self.scalar(node, path)
        if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
            raise self.fail(node, path, "expected a non-empty text")
        return str(value)

    def number(self, node: Node, path: str, minimum: float = 0.0) -> float:
        value = self.scalar(node, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, path, f"expected a number, got {value!r}")
        if value < minimum:
            raise self.fail(node, path, f"must be >= {minimum:g}, got {value!r}")
        return float(value)

    def integer(self, node: Node, path: str, minimum: int = 0) -> int:
        value = self.scalar(node, path)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(node, path, f"expected a whole number, got {value!r}")
        if value < minimum:
            raise self.fail(node, path, f"must be >= {minimum}, got {value!r}")
        return value

    def choice(self, node: Node, path: str, options: tuple[str, ...]) -> str:
        value = self.scalar(node, path)
        if value not in options:
            raise self.fail(node, path, f"{value!r} is not one of {', '.join(sorted(options))}")
        return str(value)

    def strings(self, node: Node, path: str) -> tuple[str, ...]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, path, "expected a list")
        return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(node.value))

    def sequence(self, node: Node, path: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, path, "expected a list")
        if not node.value:
            raise self.fail(node, path, "must not be empty")
        return list(node.value)


def _costs(r: _Reader, node: Node) -> CostWeights:
    fields = tuple(CostWeights.__dataclass_fields__)
    m = r.mapping(node, "costs", fields)
    return CostWeights(**{k: r.number(v, f"costs.{k}") for k, (_, v) in m.items()})


def _service_levels(r: _Reader, node: Node) -> dict[str, ServiceLevel]:
    if not isinstance(node, MappingNode):
        raise r.fail(node, "service_levels", "expected a mapping of name -> settings")
    out: dict[str, ServiceLevel] = {}
    for key_node, value_node in node.value:
        name = str(key_node.value)
        path = f"service_levels.{name}"
        m = r.mapping(value_node, path, ("km_per_day", "cost_multiplier"))
        kwargs: dict[str, float] = {}
        if "km_per_day" in m:
            kwargs["km_per_day"] = r.number(m["km_per_day"][1], f"{path}.km_per_day", 1.0)
        if "cost_multiplier" in m:
            kwargs["cost_multiplier"] = r.number(m["cost_multiplier"][1], f"{path}.cost_multiplier")
        out[name] = ServiceLevel(**kwargs)
    return out


def _location_filter(r: _Reader, node: Node, path: str) -> LocationFilter:
    m = r.mapping(node, path, ("include", "exclude", "max_distance_km", "min_stock"))
    return LocationFilter(
        include=r.strings(m["include"][1], f"{path}.include") if "include" in m else None,
        exclude=r.strings(m["exclude"][1], f"{path}.exclude") if "exclude" in m else (),
        max_distance_km=(
            r.number(m["max_distance_km"][1], f"{path}.max_distance_km")
            if "max_distance_km" in m
            else None
        ),
        min_stock=r.integer(m["min_stock"][1], f"{path}.min_stock", 1) if "min_stock" in m else 1,
    )


def _inventory_rule(r: _Reader, node: Node, path: str, is_last: bool) -> InventoryRule:
    keys = ("name", "locations", "split", "unfillable", "cancel_after_days")
    m = r.mapping(node, path, keys, required=("name",))
    unfillable = (
        r.choice(m["unfillable"][1], f"{path}.unfillable", UNFILLABLE_ACTIONS)
        if "unfillable" in m
        else "backorder"
    )
    if unfillable == "next_rule" and is_last:
        raise r.fail(
            m["unfillable"][1], f"{path}.unfillable", "'next_rule' on the last rule of a routing"
        )
    cancel_after = None
    if "cancel_after_days" in m:
        if unfillable != "backorder":
            raise r.fail(
                m["cancel_after_days"][0],
                f"{path}.cancel_after_days",
                "only meaningful with unfillable: backorder",
            )
        cancel_after = r.integer(m["cancel_after_days"][1], f"{path}.cancel_after_days")
    return InventoryRule(
        name=r.string(m["name"][1], f"{path}.name"),
        locations=(
            _location_filter(r, m["locations"][1], f"{path}.locations")
            if "locations" in m
            else LocationFilter()
        ),
        split=r.choice(m["split"][1], f"{path}.split", SPLIT_POLICIES)
        if "split" in m
        else "allowed",
        unfillable=unfillable,
        cancel_after_days=cancel_after,
    )


def _routing(r: _Reader, node: Node, path: str) -> Routing:
    m = r.mapping(node, path, ("name", "match", "priority", "rules"), required=("name", "rules"))
    channels = service_levels = None
    if "match" in m:
        mm = r.mapping(m["match"][1], f"{path}.match", ("channels", "service_levels"))
        if "channels" in mm:
            channels = r.strings(mm["channels"][1], f"{path}.match.channels")
        if "service_levels" in mm:
            service_levels = r.strings(mm["service_levels"][1], f"{path}.match.service_levels")
    priority: tuple[str, ...] = ("promised_ship_date", "ordered_at")
    if "priority" in m:
        priority = r.strings(m["priority"][1], f"{path}.priority")
        for i, key in enumerate(priority):
            if key.lstrip("-") not in PRIORITY_FIELDS:
                raise r.fail(
                    m["priority"][1].value[i],
                    f"{path}.priority[{i}]",
                    f"{key!r} is not a sortable field ({', '.join(PRIORITY_FIELDS)}; "
                    "prefix '-' for descending)",
                )
    rule_nodes = r.sequence(m["rules"][1], f"{path}.rules")
    rules = tuple(
        _inventory_rule(r, n, f"{path}.rules[{i}]", i == len(rule_nodes) - 1)
        for i, n in enumerate(rule_nodes)
    )
    names = [rule.name for rule in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise r.fail(rule_nodes[i], f"{path}.rules[{i}].name", f"duplicate rule name {name!r}")
    return Routing(
        name=r.string(m["name"][1], f"{path}.name"),
        channels=channels,
        service_levels=service_levels,
        priority=priority,
        rules=rules,
    )


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Validate rules given as YAML text; raise `RulesError` naming the line and problem."""
    r = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise RulesError(f"{source}:{line}: invalid YAML: {exc.problem}") from exc
    if root is None:
        raise RulesError(f"{source}:1: the file is empty")
    m = r.mapping(
        root, "<root>", ("version", "costs", "service_levels", "routings"), ("version", "routings")
    )
    routing_nodes = r.sequence(m["routings"][1], "routings")
    routings = tuple(_routing(r, n, f"routings[{i}]") for i, n in enumerate(routing_nodes))
    names = [x.name for x in routings]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise r.fail(routing_nodes[i], f"routings[{i}].name", f"duplicate routing {name!r}")
    service_levels = (
        _service_levels(r, m["service_levels"][1])
        if "service_levels" in m
        else {"default": ServiceLevel()}
    )
    return RuleSet(
        version=r.string(m["version"][1], "version"),
        sha=hashlib.sha256(text.encode()).hexdigest(),
        source=source,
        costs=_costs(r, m["costs"][1]) if "costs" in m else CostWeights(),
        service_levels=service_levels,
        routings=routings,
    )


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file; the run records `version` and `sha`."""
    p = Path(path)
    return parse_rules(p.read_text(encoding="utf-8"), source=p.name)


DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "rules" / "routing_rules.yaml"


def dbt_parameters(rules: RuleSet) -> dict[str, Any]:
    """The rules' figures the dbt models price with (`ops_allocation_candidates`), as the JSON
    that `pipelines.transform.project.dbt_env` hands to every dbt invocation
    (`OMS_ROUTING_PARAMS`, read by the macro `routing_parameters`). The rules file stays their
    one source: the router prices with the same RuleSet. `default` is always present: the level
    a line with an unknown service level is priced at, as `RuleSet.service_level` does."""
    named = {"default": rules.service_level("default"), **rules.service_levels}
    levels = {
        name: {"km_per_day": level.km_per_day, "cost_multiplier": level.cost_multiplier}
        for name, level in named.items()
    }
    return {
        "rules_version": rules.version,
        "service_levels": levels,
        "shipping_per_kg_km": rules.costs.shipping_per_kg_km,
        "shipping_min_per_unit": rules.costs.shipping_min_per_unit,
    }
