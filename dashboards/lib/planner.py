"""The planner page's queries and its write action: plain functions of the published folder and
the operational store.

Read (published Parquet, never the warehouse): `ops_reorder_suggestions` (one row per sku ×
location that needs an order, current version, every figure it came from), `fct_demand_daily`
(history) and `fct_forecast_daily` (forecast and intervals, published from
`fct_demand_forecasts`) for the chart, and `ops_outbox` for the delivery state of the reorder
requests. Read live (never cached): the planners'
decisions in the operational store, so a decision shows at once, not after the next run.

Status of a suggestion (current version) for the planner:
- `undecided`: nobody decided this version yet;
- `approved` / `rejected`: decided (who, when, quantity, note), waiting for the next run;
- `requested`: consumed by a run; its reorder request's delivery state is shown next to it;
- and an older decision on a replaced version is listed as `stale`: decide the new version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.lib.auth import APPROVE_REPLENISHMENT, User, require
from dashboards.lib.published import MissingTableError, query
from ops_actions.reorders.decide import REORDER_KINDS
from ops_actions.store import Decision, DecisionInput, list_decisions, record_decisions

UNDECIDED = "undecided"
STATUSES = (UNDECIDED, "approved", "rejected", "requested")
# Who receives the request: the supplier of a purchase, the source location of a transfer.
PARTY_SQL = "case when kind = 'transfer' then source_location_id else supplier_id end"


@dataclass(frozen=True)
class SuggestionFilters:
    """Empty tuples select everything; `search` matches the SKU (case-insensitive)."""

    kinds: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    abc_classes: tuple[str, ...] = ()
    search: str = ""


@dataclass(frozen=True)
class SuggestionOptions:
    kinds: tuple[str, ...]
    suppliers: tuple[str, ...]
    locations: tuple[str, ...]
    abc_classes: tuple[str, ...]


def has_suggestions(published_dir: Path) -> bool | None:
    """True when suggestions are published, False when the table is there but empty, None when
    the published run carries no suggestions table (planning not built yet)."""
    try:
        n = query(
            published_dir, "select count(*) as n from reorder_suggestions", ["reorder_suggestions"]
        )
    except MissingTableError:
        return None
    return bool(n["n"][0])


def _distinct(published_dir: Path, column: str) -> tuple[str, ...]:
    frame = query(
        published_dir,
        f"select distinct {column} as v from reorder_suggestions where {column} is not null "
        "order by 1",
        ["reorder_suggestions"],
    )
    return tuple(str(v) for v in frame["v"])


def suggestion_options(published_dir: Path) -> SuggestionOptions:
    return SuggestionOptions(
        kinds=_distinct(published_dir, "kind"),
        suppliers=_distinct(published_dir, PARTY_SQL),
        locations=_distinct(published_dir, "location_id"),
        abc_classes=_distinct(published_dir, "abc_class"),
    )


def _in(column: str, values: Sequence[str], params: list[object]) -> str:
    if not values:
        return ""
    params.extend(values)
    return f" and {column} in ({', '.join('?' for _ in values)})"


def suggestions(published_dir: Path, filters: SuggestionFilters) -> pl.DataFrame:
    """The published suggestions in the selection, largest value first, with `party_id`
    (the supplier, or the source location of a transfer)."""
    params: list[object] = []
    where = "true"
    where += _in("kind", filters.kinds, params)
    where += _in(PARTY_SQL, filters.suppliers, params)
    where += _in("location_id", filters.locations, params)
    where += _in("abc_class", filters.abc_classes, params)
    if filters.search.strip():
        where += " and lower(sku) like ?"
        params.append(f"%{filters.search.strip().lower()}%")
    return query(
        published_dir,
        f"""select *, {PARTY_SQL} as party_id
            from reorder_suggestions where {where}
            order by suggested_value desc nulls last, suggestion_id""",
        ["reorder_suggestions"],
        params,
    )


def request_states(published_dir: Path) -> pl.DataFrame:
    """Delivery state of every reorder request: action_id, state, attempts, last_error,
    delivered_at (empty when no outbox is published yet)."""
    marks = ", ".join(f"'{k}'" for k in REORDER_KINDS)
    try:
        return query(
            published_dir,
            f"""select action_id, state, total_attempts, last_error, delivered_at, destination
                from outbox where kind in ({marks})""",
            ["outbox"],
        )
    except MissingTableError:
        return pl.DataFrame(
            schema={
                "action_id": pl.String,
                "state": pl.String,
                "total_attempts": pl.Int32,
                "last_error": pl.String,
                "delivered_at": pl.Datetime("us"),
                "destination": pl.String,
            }
        )


def series(published_dir: Path, sku: str, location_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(history, forecast) of one sku × location: history has demand_date, units,
    is_stockout, is_outlier; forecast has forecast_date, units_forecast and the 80/95 %
    intervals. A table that is not published gives an empty frame."""
    params = [sku, location_id]
    try:
        history = query(
            published_dir,
            """select demand_date, units, is_stockout, is_outlier from demand_daily
               where sku = ? and location_id = ? order by demand_date""",
            ["demand_daily"],
            params,
        )
    except MissingTableError:
        history = pl.DataFrame()
    try:
        forecast = query(
            published_dir,
            """select forecast_date, step, units_forecast, units_lo_80, units_hi_80, units_lo_95,
                      units_hi_95, method, demand_class, mase, bias, sigma_daily
               from demand_forecasts where sku = ? and location_id = ? order by forecast_date""",
            ["demand_forecasts"],
            params,
        )
    except MissingTableError:
        forecast = pl.DataFrame()
    return history, forecast


DECISION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "decision_id": pl.String,
    "suggestion_id": pl.String,
    "suggestion_version": pl.String,
    "decision": pl.String,
    "quantity": pl.Float64,
    "note": pl.String,
    "decided_by": pl.String,
    "decided_role": pl.String,
    "decided_at": pl.String,
    "consumed_at": pl.String,
    "outcome": pl.String,
    "action_id": pl.String,
}


def decisions_frame(decisions: Sequence[Decision]) -> pl.DataFrame:
    return pl.DataFrame([d.__dict__ for d in decisions], schema=DECISION_SCHEMA)


def read_decisions(store_path: Path) -> pl.DataFrame:
    """Every decision in the store (none when the store does not exist yet)."""
    if not Path(store_path).exists():
        return decisions_frame([])
    return decisions_frame(list_decisions(store_path))


def with_status(
    suggestions: pl.DataFrame, decisions: pl.DataFrame, requests: pl.DataFrame
) -> pl.DataFrame:
    """Suggestions with the decision on their current version (status, decided_by,
    decided_at, decided_qty, note, outcome) and its request's delivery state."""
    current = decisions.select(
        "suggestion_id",
        "suggestion_version",
        "decision",
        pl.col("quantity").alias("decided_qty"),
        "note",
        "decided_by",
        "decided_at",
        "outcome",
        "action_id",
    )
    out = suggestions.join(current, on=["suggestion_id", "suggestion_version"], how="left").join(
        requests.select("action_id", pl.col("state").alias("delivery_state")),
        on="action_id",
        how="left",
    )
    return out.with_columns(
        pl.when(pl.col("decision").is_null())
        .then(pl.lit(UNDECIDED))
        .when(pl.col("outcome") == "requested")
        .then(pl.lit("requested"))
        .otherwise(pl.col("decision"))
        .alias("status")
    )


def stale_decisions(suggestions: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Approvals that will not be sent because the suggestion changed: marked stale by a run,
    or (not consumed yet) on a version other than the published one of a suggestion id."""
    versions = suggestions.select("suggestion_id", pl.col("suggestion_version").alias("current"))
    joined = decisions.filter(pl.col("decision") == "approved").join(
        versions, on="suggestion_id", how="left"
    )
    return joined.filter(
        (pl.col("outcome") == "stale")
        | (
            pl.col("consumed_at").is_null()
            & (pl.col("current").is_null() | (pl.col("current") != pl.col("suggestion_version")))
        )
    ).sort("decided_at", descending=True)


@dataclass(frozen=True)
class Figure:
    label: str
    value: float | str | None
    meaning: str


def explanation_figures(row: dict) -> list[Figure]:
    """Every figure a suggestion came from, in the order the calculation uses them."""

    def f(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    return [
        Figure("Policy", row.get("policy"), "order-up-to, EOQ or min/max"),
        Figure("ABC class", row.get("abc_class"), "sets the target service level"),
        Figure("Service level", f("service_level"), "target probability of no stockout per cycle"),
        Figure("z", f("z"), "standard normal quantile of the service level"),
        Figure("Lead time mean (days)", f("lead_time_mean_days"), "measured ordered → received"),
        Figure("Lead time σ (days)", f("lead_time_sd_days"), "variability of the lead time"),
        Figure("Review period (days)", f("review_period_days"), "time until the next order"),
        Figure(
            "Forecast over lead time", f("forecast_lt_units"), "units expected over the lead time"
        ),
        Figure(
            "σ over lead time", f("forecast_lt_sigma"), "demand and lead-time variability combined"
        ),
        Figure("Safety stock", f("safety_stock"), "z × σ over lead time"),
        Figure("Reorder point", f("reorder_point"), "forecast over lead time + safety stock"),
        Figure(
            "Order-up-to level", f("order_up_to"), "reorder point + demand over the review period"
        ),
        Figure("On hand", f("on_hand"), ""),
        Figure("Inbound", f("inbound"), "open purchase orders and transfers"),
        Figure("Allocated", f("allocated"), "promised to open orders"),
        Figure("Backorders", f("backorders"), ""),
        Figure("Position", f("position"), "on hand + inbound − allocated − backorders"),
        Figure("Raw quantity", f("raw_qty"), "what the policy asks before rounding"),
        Figure("Pack size", f("pack_size"), "rounded up to whole packs"),
        Figure("Minimum order", f("min_order_qty"), "the supplier's minimum"),
        Figure("Suggested quantity", f("suggested_qty"), "after rounding and minimum"),
        Figure("Unit cost", f("unit_cost"), str(row.get("currency") or "")),
        Figure("Suggested value", f("suggested_value"), str(row.get("currency") or "")),
    ]


def payload_lines(payload: str) -> list[dict]:
    doc = json.loads(payload)
    lines = doc.get("lines", []) if isinstance(doc, dict) else []
    return [line for line in lines if isinstance(line, dict)]


def record_planner_decisions(
    user: User | None, store_path: Path, items: Sequence[DecisionInput]
) -> list[str]:
    """Record decisions (one, or a bulk decision in one transaction) as `user`.

    Raises PermissionDenied, writing nothing, unless the user may approve replenishment
    (planner, admin): the check sits here, where the write happens, so a disabled button or a
    forged widget value cannot get round it. DecisionConflict when someone decided first."""
    allowed = require(user, APPROVE_REPLENISHMENT)
    return record_decisions(store_path, items, allowed.username, allowed.role)
