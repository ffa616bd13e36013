"""Replenishment simulation: the suggested policy replayed day by day on generated demand.

    .venv/bin/python bench/bench_replenishment.py                  # 400 SKUs, 365 days
    .venv/bin/python bench/bench_replenishment.py --skus 200 --days 730 --seed 3

What it does, per SKU (one location; suppliers and classes as the warehouse sets them up):
- demand: a Poisson-gamma (negative binomial) daily series, mean and dispersion drawn per SKU,
  some SKUs intermittent (a demand day with probability p < 1); stationary, so a flat forecast
  is the right one. The forecast stand-in at each review: the mean of the last 56 days, and as
  sigma_daily the std dev of those days (the one-day error of that flat forecast);
- lead times: each supplier has a receipts-like distribution (gamma, mean and std dev like the
  supplier reference: 5 +/- 1 ... 30 +/- 6 days, whole days, at least 1); the policy reads the
  mean and std dev measured from 200 history receipts of the supplier (fct_supplier_lead_times);
- ABC class by value, service level and z from dbt_project/seeds/planning_service_levels.csv,
  policy, review period and order cycle from planning_policies.csv - the seeds dbt reads;
- each day: receipts arrive, demand is served from stock (what cannot be is backordered and
  served first on the next receipt), then the review: position = on hand + inbound - backorders,
  and pipelines.planning.policy.plan (the figures of fct_safety_stock) decides the order, rounded
  to pack size and supplier minimum; it arrives after a lead time drawn from the supplier's
  distribution.

Measured after a burn-in: cycle service level (CSL, the share of replenishment cycles - from
one receipt to the next - in which no demand went unserved from stock; what z targets) per
class against its target, fill rate (share of units served from stock) for information, and
the average stock on hand (units and value at cost).

The baseline is a plain min/max: min = mean daily demand x (lead time + review + m) days of
cover, max = min + the same lot as the suggested policy, one m per class found by bisection as
the smallest cover meeting the class's CSL target. Target: our CSL within 2 points of the target
in each class, and less stock than the tuned min/max.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.planning.policy import PolicyFigures, PolicyInputs, plan, round_order  # noqa: E402

SEEDS = ROOT / "dbt_project" / "seeds"
WINDOW = 56  # days of history the forecast stand-in reads
HISTORY_RECEIPTS = 200
# (mean, std dev) lead time in days, minimum order quantity: like the demo supplier reference
SUPPLIERS = {
    "SUP-01": (5.0, 1.0, 6),
    "SUP-02": (9.0, 1.5, 12),
    "SUP-03": (14.0, 3.0, 24),
    "SUP-04": (21.0, 4.0, 12),
    "SUP-05": (30.0, 6.0, 24),
}
PACK_SIZES = (1, 1, 1, 2, 4, 6, 12)


@dataclass(frozen=True)
class ClassPolicy:
    abc_class: str
    max_share: float
    service_level: float
    z: float
    policy: str
    review_period_days: float
    order_cycle_days: float


@dataclass
class Sku:
    sku: str
    supplier_id: str
    mean: float
    dispersion: float
    occurrence: float
    pack_size: float
    unit_cost: float
    demand: list[int]
    abc: ClassPolicy | None = None


@dataclass
class Outcome:
    """What one policy achieved for one SKU over the measured days."""

    cycles: int = 0
    cycles_short: int = 0
    demand: float = 0.0
    served: float = 0.0
    stock_units: float = 0.0
    days: int = 0
    orders: int = 0


@dataclass
class Supplier:
    rng: random.Random
    mean: float
    sd: float
    min_order_qty: float
    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def draw(self) -> int:
        """A lead time in whole days (gamma with the supplier's mean and std dev)."""
        shape = (self.mean / self.sd) ** 2
        return max(1, round(self.rng.gammavariate(shape, self.sd**2 / self.mean)))

    def receive(self, lead_time: float) -> None:
        """Record a receipt's lead time (what fct_supplier_lead_times measures)."""
        self.n += 1
        self.total += lead_time
        self.squares += lead_time * lead_time

    def measured(self) -> tuple[float, float]:
        """Mean and sample std dev of the lead times received so far."""
        mean = self.total / self.n
        variance = max(self.squares - self.n * mean * mean, 0.0) / (self.n - 1)
        return mean, math.sqrt(variance)


def read_class_policies() -> list[ClassPolicy]:
    """The planning seeds, joined on the class, by share of value."""
    with (SEEDS / "planning_service_levels.csv").open(newline="") as f:
        levels = {r["abc_class"]: r for r in csv.DictReader(f)}
    with (SEEDS / "planning_policies.csv").open(newline="") as f:
        policies = {r["abc_class"]: r for r in csv.DictReader(f)}
    rows = [
        ClassPolicy(
            abc_class=c,
            max_share=float(levels[c]["max_cumulative_value_share"]),
            service_level=float(levels[c]["service_level"]),
            z=float(levels[c]["z"]),
            policy=policies[c]["policy"],
            review_period_days=float(policies[c]["review_period_days"]),
            order_cycle_days=float(policies[c]["order_cycle_days"]),
        )
        for c in levels
    ]
    return sorted(rows, key=lambda r: r.max_share)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth below 30, normal approximation above)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate_skus(n: int, days: int, rng: random.Random) -> list[Sku]:
    skus = []
    for i in range(n):
        occurrence = 1.0 if rng.random() < 0.7 else rng.uniform(0.2, 0.7)
        mean = min(60.0, math.exp(rng.gauss(math.log(3), 1.0)))
        dispersion = rng.choice((0.8, 2.0, 5.0, 20.0))  # gamma shape: lower = more erratic
        size_mean = mean / occurrence
        demand = [
            poisson(rng, rng.gammavariate(dispersion, size_mean / dispersion))
            if rng.random() < occurrence
            else 0
            for _ in range(days)
        ]
        skus.append(
            Sku(
                sku=f"SKU-{i:04d}",
                supplier_id=rng.choice(list(SUPPLIERS)),
                mean=mean,
                dispersion=dispersion,
                occurrence=occurrence,
                pack_size=float(rng.choice(PACK_SIZES)),
                unit_cost=round(math.exp(rng.gauss(math.log(12), 0.8)), 2),
                demand=demand,
            )
        )
    return skus


def assign_classes(skus: list[Sku], classes: list[ClassPolicy]) -> None:
    """ABC by value as int_planning_abc_classes: class of the cumulative share before a SKU."""
    values = sorted(
        ((sum(s.demand) * s.unit_cost, s.sku, s) for s in skus), key=lambda t: (-t[0], t[1])
    )
    total = sum(v for v, _, _ in values)
    before = 0.0
    for value, _, sku in values:
        share = before / total if total > 0 and value > 0 else None
        sku.abc = classes[-1] if share is None else next(c for c in classes if c.max_share > share)
        before += value


# A policy: (sku, its class, forecast over the window, sigma, lead time mean and sd, position)
# -> figures. The suggested policy is pipelines.planning.policy.plan.
Policy = Callable[[Sku, ClassPolicy, float, float, float, float, float, float], PolicyFigures]


def suggested_policy(
    sku: Sku,
    cls: ClassPolicy,
    mean_daily: float,
    sigma_daily: float,
    lt_mean: float,
    lt_sd: float,
    position: float,
    min_order_qty: float,
) -> PolicyFigures:
    protection = lt_mean + cls.review_period_days
    return plan(
        PolicyInputs(
            policy=cls.policy,
            z=cls.z,
            lead_time_mean_days=lt_mean,
            lead_time_sd_days=lt_sd,
            review_period_days=cls.review_period_days,
            order_cycle_days=cls.order_cycle_days,
            forecast_lt_units=mean_daily * protection,
            sigma_daily=sigma_daily,
            on_hand=position,
            pack_size=sku.pack_size,
            min_order_qty=min_order_qty,
            unit_cost=sku.unit_cost,
        )
    )


def min_max_policy(cover_days: dict[str, float]) -> Policy:
    """Plain min/max: min = mean demand x (lead time + review + m) days, max = min + our lot."""

    def decide(
        sku: Sku,
        cls: ClassPolicy,
        mean_daily: float,
        sigma_daily: float,
        lt_mean: float,
        lt_sd: float,
        position: float,
        min_order_qty: float,
    ) -> PolicyFigures:
        ours = suggested_policy(
            sku, cls, mean_daily, sigma_daily, lt_mean, lt_sd, position, min_order_qty
        )
        lot = ours.order_up_to - ours.reorder_point
        minimum = mean_daily * (lt_mean + cls.review_period_days + cover_days[cls.abc_class])
        maximum = minimum + lot
        raw = maximum - position if position <= minimum and maximum > position else 0.0
        qty = round_order(raw, sku.pack_size, min_order_qty)
        return PolicyFigures(
            protection_days=ours.protection_days,
            demand_daily=mean_daily,
            forecast_lt_sigma=0.0,
            safety_stock=minimum - mean_daily * ours.protection_days,
            reorder_point=minimum,
            eoq=ours.eoq,
            order_up_to=maximum,
            position=position,
            raw_qty=raw,
            purchase_qty=qty,
            transfer_qty=qty,
        )

    return decide


def simulate(
    skus: list[Sku], policy: Policy, days: int, burn_in: int, seed: int
) -> dict[str, Outcome]:
    """Replay every SKU's demand after the history window; outcomes of the measured days."""
    rng = random.Random(seed)
    # Each supplier's lead time as the policy sees it: measured once from its history of
    # receipts. Each SKU draws its own lead times from its own stream, so one SKU's orders do
    # not change another's draws (the tuning of one class then leaves the others alone).
    measured = {}
    for sid, (mean, sd, moq) in SUPPLIERS.items():
        history = Supplier(random.Random(rng.random()), mean, sd, moq)
        for _ in range(HISTORY_RECEIPTS):
            history.receive(history.draw())
        measured[sid] = history.measured()
    outcomes: dict[str, Outcome] = {}
    for index, sku in enumerate(skus):
        assert sku.abc is not None
        mean, sd, moq = SUPPLIERS[sku.supplier_id]
        supplier = Supplier(random.Random(seed * 100_003 + index), mean, sd, moq)
        lt_mean, lt_sd = measured[sku.supplier_id]
        out = Outcome()
        window: deque[float] = deque(map(float, sku.demand[:WINDOW]), maxlen=WINDOW)
        total, squares = float(sum(window)), float(sum(x * x for x in window))
        arrivals: dict[int, float] = {}
        on_hand = backorders = inbound = 0.0
        short_in_cycle = False
        for t in range(WINDOW, days):
            measuring = t >= WINDOW + burn_in
            arrived = arrivals.pop(t, 0.0)
            if arrived:
                inbound -= arrived
                on_hand += arrived
                filled = min(on_hand, backorders)
                on_hand -= filled
                backorders -= filled
                if measuring:
                    out.cycles += 1
                    out.cycles_short += short_in_cycle
                short_in_cycle = False
            d = float(sku.demand[t])
            served = min(on_hand, d)
            on_hand -= served
            backorders += d - served
            if d > served:
                short_in_cycle = True
            if measuring:
                out.demand += d
                out.served += served
                out.stock_units += on_hand
                out.days += 1
            # the history window slides; forecast stand-in and its one-day error
            oldest = window[0]
            window.append(d)
            total += d - oldest
            squares += d * d - oldest * oldest
            mean_daily = total / WINDOW
            sigma = math.sqrt(max(squares / WINDOW - mean_daily**2, 0.0) * WINDOW / (WINDOW - 1))
            figures = policy(
                sku,
                sku.abc,
                mean_daily,
                sigma,
                lt_mean,
                lt_sd,
                on_hand + inbound - backorders,
                supplier.min_order_qty,
            )
            if figures.purchase_qty > 0:
                lead_time = supplier.draw()
                # ordered at the end of day t, received on day t + lead time before that
                # day's demand (received_date - ordered_date = lead time, as measured)
                arrivals[t + lead_time] = arrivals.get(t + lead_time, 0.0) + figures.purchase_qty
                inbound += figures.purchase_qty
                out.orders += measuring
        outcomes[sku.sku] = out
    return outcomes


@dataclass(frozen=True)
class ClassResult:
    abc_class: str
    skus: int
    target: float
    csl: float
    fill_rate: float
    stock_units: float
    stock_value: float


def summarise(skus: list[Sku], outcomes: dict[str, Outcome]) -> dict[str, ClassResult]:
    """Per class: CSL pooled over cycles, fill rate over units, mean daily stock."""
    result = {}
    for cls in sorted({s.abc.abc_class for s in skus if s.abc}):
        members = [s for s in skus if s.abc and s.abc.abc_class == cls]
        outs = [outcomes[s.sku] for s in members]
        cycles = sum(o.cycles for o in outs)
        result[cls] = ClassResult(
            abc_class=cls,
            skus=len(members),
            target=members[0].abc.service_level if members[0].abc else float("nan"),
            csl=1 - sum(o.cycles_short for o in outs) / cycles if cycles else float("nan"),
            fill_rate=sum(o.served for o in outs) / max(sum(o.demand for o in outs), 1e-9),
            stock_units=sum(o.stock_units / max(o.days, 1) for o in outs),
            stock_value=sum(
                outcomes[s.sku].stock_units / max(outcomes[s.sku].days, 1) * s.unit_cost
                for s in members
            ),
        )
    return result


def tune_min_max(
    skus: list[Sku], days: int, burn_in: int, seed: int, iterations: int
) -> tuple[dict[str, float], dict[str, ClassResult]]:
    """Per class, the smallest extra cover m (days) whose min/max meets the class's CSL target."""
    classes = sorted({s.abc.abc_class for s in skus if s.abc})
    low = dict.fromkeys(classes, -10.0)
    high = dict.fromkeys(classes, 40.0)
    for _ in range(iterations):
        middle = {c: (low[c] + high[c]) / 2 for c in classes}
        summary = summarise(skus, simulate(skus, min_max_policy(middle), days, burn_in, seed))
        for c in classes:
            if summary[c].csl >= summary[c].target:
                high[c] = middle[c]
            else:
                low[c] = middle[c]
    summary = summarise(skus, simulate(skus, min_max_policy(high), days, burn_in, seed))
    return high, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=400)
    parser.add_argument("--days", type=int, default=365, help="simulated days after the history")
    parser.add_argument("--burn-in", type=int, default=60, help="first days not measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bisections", type=int, default=12)
    args = parser.parse_args()

    started = time.perf_counter()
    rng = random.Random(args.seed)
    total_days = WINDOW + args.days
    skus = generate_skus(args.skus, total_days, rng)
    assign_classes(skus, read_class_policies())
    ours = summarise(skus, simulate(skus, suggested_policy, total_days, args.burn_in, args.seed))
    cover, baseline = tune_min_max(skus, total_days, args.burn_in, args.seed, args.bisections)
    seconds = time.perf_counter() - started

    print(
        f"Replenishment simulation: {args.skus} SKUs, {args.days} days "
        f"(first {args.burn_in} not measured), seed {args.seed}, {seconds:.1f} s"
    )
    print(
        "Service level = cycle service level "
        "(share of receipt-to-receipt cycles without unserved demand)."
    )
    print(
        f"{'class':5} {'skus':>4} {'policy':>11} {'target':>7} {'CSL':>7} {'diff':>6} "
        f"{'fill':>6} | {'min/max m':>9} {'CSL':>7} {'fill':>6} | "
        f"{'stock ours':>10} {'min/max':>9} {'ours/mm':>7}"
    )
    policies = {c.abc_class: c.policy for c in read_class_policies()}
    worst_gap = 0.0
    for cls, r in ours.items():
        b = baseline[cls]
        gap = (r.csl - r.target) * 100
        worst_gap = max(worst_gap, abs(gap))
        print(
            f"{cls:5} {r.skus:>4} {policies[cls]:>11} {r.target:>7.1%} {r.csl:>7.1%} "
            f"{gap:>+6.1f} {r.fill_rate:>6.1%} | {cover[cls]:>8.2f}d {b.csl:>7.1%} "
            f"{b.fill_rate:>6.1%} | {r.stock_value:>10.0f} {b.stock_value:>9.0f} "
            f"{r.stock_value / b.stock_value:>7.2f}"
        )
    ours_value = sum(r.stock_value for r in ours.values())
    base_value = sum(r.stock_value for r in baseline.values())
    ours_units = sum(r.stock_units for r in ours.values())
    base_units = sum(r.stock_units for r in baseline.values())
    print(
        f"Average stock held, all classes: ours {ours_value:,.0f} at cost ({ours_units:,.0f} "
        f"units), tuned min/max {base_value:,.0f} ({base_units:,.0f} units): "
        f"{ours_value / base_value - 1:+.1%} value, {ours_units / base_units - 1:+.1%} units"
    )
    within = worst_gap <= 2.0
    less = ours_value < base_value
    print(
        f"Target service level within 2 points in every class: {'yes' if within else 'NO'} "
        f"(worst {worst_gap:.1f}); less stock than min/max: {'yes' if less else 'NO'}"
    )
    return 0 if within and less else 1


if __name__ == "__main__":
    raise SystemExit(main())
