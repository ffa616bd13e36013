"""The day-by-day simulation of the business, producing each day's landing records.

Everything random is drawn from generators seeded by (seed, day, purpose), and nothing but the
daily volume (`demand.derive_scale`) depends on how many days the run has, so day N is the same
in every run with the same seed and volume that reaches it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from demo_generator.agenda import Agenda
from demo_generator.catalog import (
    SUPPLIERS,
    Catalog,
    build_catalog,
    build_promotions,
    disruption_days,
)
from demo_generator.channel_files import (
    ChannelDay,
    marketplace_rows,
    webshop_documents,
    wholesale_details,
)
from demo_generator.clock import DAY, HOUR, Clock
from demo_generator.demand import (
    CHANNEL_MODELS,
    DayOrders,
    derive_scale,
    draw_orders,
    sku_weights,
    weekly_factor,
)
from demo_generator.geography import (
    CHANNELS,
    LOCATIONS,
    SHIP_FROM_STORE_PENALTY_KM,
    SHOP_TIMEZONE,
    build_postcodes,
    haversine_km,
)
from demo_generator.inventory import Inventory
from demo_generator.landing import (
    const,
    money,
    pick,
    text,
)
from demo_generator.returns import plan_returns
from demo_generator.shipping import carrier_events, draw_delay, plan_shipments

RECORD_STREAMS = (
    "webshop",
    "marketplace",
    "pos",
    "wholesale",
    "stock_snapshots",
    "cycle_counts",
    "carrier_events",
    "returns",
    "purchase_orders",
    "receipts",
)
# Whole days from order to label, by express flag (index = days).
_SHIP_DELAY = {
    "webshop": {False: (0.55, 0.33, 0.07, 0.04, 0.01), True: (0.78, 0.17, 0.04, 0.01)},
    "marketplace": {False: (0.5, 0.36, 0.09, 0.04, 0.01), True: (0.72, 0.23, 0.05)},
}
# Promised days from order to delivery (web shop: seed channel_service_levels).
_PROMISE_DAYS = {"webshop": (5, 2), "marketplace": (6, 3)}
_STORE_WEIGHT = {
    "ST-NYC": 0.25,
    "ST-CHI": 0.18,
    "ST-LAX": 0.2,
    "ST-SEA": 0.12,
    "ST-MIA": 0.13,
    "ST-DEN": 0.12,
}
_WHOLESALE_PRICE_FACTOR = 0.6
_EXPRESS_SHARE = {"webshop": 0.15, "marketplace": 0.12}
_CUSTOMER_CANCEL = {"webshop": 0.012, "marketplace": 0.006}


@dataclass
class Counters:
    """Running numbers behind every id, carried from day to day."""

    web_order: int = 0
    web_line: int = 0
    mkt_order: int = 0
    mkt_item: int = 0
    wholesale_po: int = 0
    pos_receipt: dict[int, int] = field(default_factory=dict)
    tracking: int = 0
    event: int = 0
    rma: int = 0
    purchase_order: int = 0
    receipt: int = 0


@dataclass
class Metrics:
    """Running totals behind the report's plausibility figures."""

    units_ordered: int = 0
    units_shipped: int = 0
    units_returned: int = 0
    lines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    deliveries: int = 0
    late_deliveries: int = 0
    shipments: int = 0
    late_shipments: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "order_lines": float(sum(self.lines.values())),
            **{f"order_lines_{k}": float(v) for k, v in self.lines.items()},
            "unit_fill_rate": self.units_shipped / max(self.units_ordered, 1),
            "return_unit_share": self.units_returned / max(self.units_shipped, 1),
            "late_delivery_share": self.late_deliveries / max(self.deliveries, 1),
            "late_ship_share": self.late_shipments / max(self.shipments, 1),
        }


class Simulation:
    """The business: its reference data, stock and open work, advanced one day at a time."""

    def __init__(self, start: date, days: int, order_lines: int, seed: int) -> None:
        self.seed = seed
        self.scale = derive_scale(order_lines, days)
        world = np.random.default_rng([seed, 0])
        self.postcodes = build_postcodes(world)
        self.catalog: Catalog = build_catalog(world, self.scale.n_skus, len(CHANNELS))
        self.promos = build_promotions(world, self.scale.n_skus)
        zones = sorted(
            {loc.timezone for loc in LOCATIONS} | set(self.postcodes.timezone) | {SHOP_TIMEZONE}
        )
        self.clock = Clock(start, days, zones)
        self.location_ids = np.array([loc.location_id for loc in LOCATIONS])
        self.sku_ids = pl.Series(self.catalog.sku, dtype=pl.String)
        self.loc_zone = np.array([self.clock.zone_index[loc.timezone] for loc in LOCATIONS])
        self.pc_zone = np.array([self.clock.zone_index[tz] for tz in self.postcodes.timezone])
        self.shop_zone = self.clock.zone_index[SHOP_TIMEZONE]
        self.stores = np.array([i for i, loc in enumerate(LOCATIONS) if loc.kind == "store"])
        lat = np.array([loc.latitude for loc in LOCATIONS])
        lon = np.array([loc.longitude for loc in LOCATIONS])
        pc = self.postcodes
        self.distance = haversine_km(
            pc.latitude[:, None], pc.longitude[:, None], lat[None, :], lon[None, :]
        )
        self.candidates = {
            ch: self._rank_locations(ch) for ch in ("webshop", "marketplace", "wholesale")
        }
        self.width = max(c.shape[1] for c in self.candidates.values())
        wholesale_orders = self._channel_lines("wholesale") / CHANNEL_MODELS["wholesale"].mean_lines
        n_customers = max(8, round(wholesale_orders * 1.5))
        self.customer_ids = np.array([f"WC{i + 1:04d}" for i in range(n_customers)])
        self.customer_postcode = world.choice(len(pc.postcode), n_customers, p=pc.weight)
        w = world.lognormal(0, 0.6, n_customers)
        self.customer_weight = w / w.sum()
        self.lead_days = np.array([s[2] for s in SUPPLIERS])[self.catalog.supplier]
        # Big networks pool their variability better; plan them a little leaner so the fill
        # rate stays in the same 93-98 % band at every size.
        z_shift = float(np.clip(-0.3 * np.log10(self.scale.daily_lines / 1_333), -0.6, 0.3))
        self.inventory = Inventory.plan(
            world, *self._expected_demand(), self.lead_days, z_shift=z_shift
        )
        self.fits_sizes = np.isin(self.catalog.category, [3, 4])  # Bedding, Apparel

        web_orders = self._channel_lines("webshop") / CHANNEL_MODELS["webshop"].mean_lines
        self.web_customers = max(2_000, round(web_orders * 30))

        self.agenda = Agenda()
        self.counters = Counters()
        self.metrics = Metrics()

    # -- set-up -------------------------------------------------------------------------------

    def _channel_lines(self, channel: str) -> float:
        return self.scale.daily_lines * CHANNEL_MODELS[channel].share

    def _rank_locations(self, channel: str) -> np.ndarray:
        """Per postcode, the locations that ship for `channel`, nearest first.

        A ship-from-store location counts as a few hundred km further away than it is, so it
        takes web orders in its own metro only when the nearest warehouse is out of the item.
        """
        eligible = np.array([i for i, loc in enumerate(LOCATIONS) if channel in loc.ships_channels])
        penalty = np.array(
            [SHIP_FROM_STORE_PENALTY_KM if LOCATIONS[i].kind == "store" else 0.0 for i in eligible]
        )
        effective = self.distance[:, eligible] + penalty[None, :]
        return eligible[np.argsort(effective, axis=1, kind="stable")]

    def _expected_demand(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of units per day at each (location, SKU), for the policy.

        Lines arrive as a Poisson stream, so the variance of units is rate x E[units^2].
        """
        cat = self.catalog
        mean = np.zeros((len(LOCATIONS), cat.size))
        var = np.zeros_like(mean)
        for ch, name in enumerate(CHANNELS):
            model = CHANNEL_MODELS[name]
            values, probs = (np.asarray(x, dtype=float) for x in model.units_per_line)
            probs = probs / probs.sum()
            m1, m2 = float(values @ probs), float(values**2 @ probs)
            rate = self._channel_lines(name) * cat.popularity[ch]
            pack = cat.pack_size if name == "wholesale" else np.ones(cat.size)
            share = np.zeros(len(LOCATIONS))
            if name == "pos":
                for s in self.stores:
                    share[s] = _STORE_WEIGHT[LOCATIONS[s].location_id]
            else:
                first = self.candidates[name][:, 0]
                if name == "wholesale":
                    # Wholesale ships to a few known customers, not to the population.
                    weight = np.bincount(
                        self.customer_postcode,
                        weights=self.customer_weight,
                        minlength=len(self.postcodes.postcode),
                    )
                else:
                    weight = self.postcodes.weight
                share += np.bincount(first, weights=weight, minlength=len(LOCATIONS))
            mean += share[:, None] * (rate * m1 * pack)[None, :]
            var += share[:, None] * (rate * m2 * pack**2)[None, :]
        return mean, var

    # -- one day ------------------------------------------------------------------------------

    def step(self, day: int) -> dict[str, pl.DataFrame]:
        """Simulate `day` and return the records of every stream whose file carries its date."""

        def rng(purpose: int) -> np.random.Generator:
            return np.random.default_rng([self.seed, day, purpose])

        self._arrivals(day)
        self._cycle_counts(day, rng(1))
        self._store_sales(day, rng(2))
        self._ship_channels(day, rng(3))
        self._replenish(day, rng(4))
        self._snapshots(day)
        out: dict[str, pl.DataFrame] = {}
        for stream in RECORD_STREAMS:
            frame = self.agenda.pop(stream, day)
            if frame is not None:
                out[stream] = frame.drop("_day")
        return out

    def _noise(self, rng: np.random.Generator) -> float:
        return float(rng.gamma(40.0, 1 / 40.0))

    def _arrivals(self, day: int) -> None:
        """Purchase-order receipts and restockable returns reach the shelf."""
        for stream, on_order in (("receipt_stock", True), ("return_stock", False)):
            due = self.agenda.pop(stream, day)
            if due is None:
                continue
            loc, sku, qty = (due[c].to_numpy() for c in ("location", "sku", "qty"))
            if on_order:
                self.inventory.receive(loc, sku, qty)
            else:
                self.inventory.add(loc, sku, qty)

    def _cycle_counts(self, day: int, rng: np.random.Generator) -> None:
        """Morning counts of a sample of SKUs; the count becomes the system quantity."""
        cat, inv = self.catalog, self.inventory
        frames = []
        for loc in range(len(LOCATIONS)):
            k = max(1, round(cat.size * rng.uniform(0.02, 0.05)))
            skus = np.sort(rng.choice(cat.size, k, replace=False))
            system = inv.on_hand[loc, skus]
            off = rng.choice([-3, -2, -1, 1, 2], k)
            counted = np.where(rng.random(k) < 0.05, np.maximum(system + off, 0), system)
            inv.on_hand[loc, skus] = counted
            t = np.sort(
                self.clock.local_to_utc(
                    self.loc_zone[loc], day, rng.integers(6 * HOUR, 9 * HOUR, k)
                )
            )
            lid = self.location_ids[loc]
            frames.append(
                pl.DataFrame(
                    {
                        "location_id": np.full(k, lid),
                        "sku": cat.sku[skus],
                        "counted_at": self.clock.stamp(t, self.loc_zone[loc]),
                        "system_qty": system.astype(str),
                        "counted_qty": counted.astype(str),
                        "counter_id": np.char.add(
                            f"CNT-{lid[3:]}-", rng.integers(1, 4, k).astype(str)
                        ),
                        "_day": np.full(k, day),
                        "_file": np.full(k, f"stock/{lid}/cycle_count_{self.clock.ymd(day)}.csv"),
                        "_t": t,
                    }
                )
            )
        self.agenda.add("cycle_counts", pl.concat(frames))

    def _snapshots(self, day: int) -> None:
        """End-of-day on-hand of every SKU at every location."""
        cat, n_loc = self.catalog, len(LOCATIONS)
        loc = np.repeat(np.arange(n_loc), cat.size)
        ymd = self.clock.ymd(day)
        frame = pl.DataFrame(
            {
                "location_id": pick(self.location_ids, loc),
                "sku": self.sku_ids.gather(np.tile(np.arange(cat.size), n_loc)),
                "snapshot_date": const(self.clock.date(day).isoformat(), len(loc)),
                "on_hand": text(self.inventory.on_hand.reshape(-1)),
                "_day": np.full(len(loc), day),
                "_file": pick(
                    [f"stock/{lid}/snapshot_{ymd}.csv" for lid in self.location_ids], loc
                ),
                "_t": np.tile(np.arange(cat.size), n_loc),
            }
        )
        self.agenda.add("stock_snapshots", frame)

    # -- store tills --------------------------------------------------------------------------

    def _store_sales(self, day: int, rng: np.random.Generator) -> None:
        """Till receipts per store: sales while the shelf has stock, plus a few returns."""
        model = CHANNEL_MODELS["pos"]
        ch = CHANNELS.index("pos")
        sku_p, uplift, price = sku_weights(self.catalog, ch, "pos", day, self.promos)
        weekday = int(self.clock.weekday(day))
        frames = []
        for store in self.stores:
            lid = self.location_ids[store]
            expected = (
                self._channel_lines("pos")
                * _STORE_WEIGHT[lid]
                * uplift
                * weekly_factor(model, weekday)
                * self._noise(rng)
            )
            o = draw_orders(rng, model, expected, sku_p, price)
            sold = self.inventory.sell(np.full(len(o.sku), store), o.sku, o.qty)
            self.metrics.lines["pos"] += int(sold.sum())
            # Returns at the till: one line each, back on the shelf.
            n_ret = int(rng.binomial(max(o.n_orders, 1), 0.03))
            ret_sku = rng.choice(self.catalog.size, n_ret, p=sku_p)
            ret_qty = -rng.choice([1, 1, 1, 2], n_ret)
            self.inventory.add(np.full(n_ret, store), ret_sku, -ret_qty)
            ret_seconds = rng.integers(10 * HOUR, 21 * HOUR, n_ret)

            seconds = np.r_[o.order_seconds[o.order_of_line[sold]], ret_seconds]
            receipt = np.r_[o.order_of_line[sold], o.n_orders + np.arange(n_ret)]
            sku = np.r_[o.sku[sold], ret_sku]
            qty = np.r_[o.qty[sold], ret_qty]
            cents = np.r_[
                np.round(o.unit_price[sold] * 100), np.round(self.catalog.list_price[ret_sku] * 100)
            ].astype(np.int64)
            order = np.lexsort((receipt, seconds))
            seconds, receipt, sku, qty, cents = (
                a[order] for a in (seconds, receipt, sku, qty, cents)
            )
            # Receipts are numbered per store in till order; lines renumbered after lost sales.
            uniq, first_idx, rec = np.unique(receipt, return_index=True, return_inverse=True)
            rank = np.argsort(np.argsort(first_idx))
            rec = rank[rec]
            start = self.counters.pos_receipt.get(int(store), 100_000)
            self.counters.pos_receipt[int(store)] = start + len(uniq)
            order = np.argsort(rec, kind="stable")
            seconds, rec, sku, qty, cents = (a[order] for a in (seconds, rec, sku, qty, cents))
            new = np.r_[True, rec[1:] != rec[:-1]]
            line_no = (
                np.arange(len(rec))
                - np.maximum.accumulate(np.where(new, np.arange(len(rec)), 0))
                + 1
            )
            n_reg = 2 + int(store) % 4
            register = rng.integers(1, n_reg + 1, len(uniq))[rec]
            t = self.clock.local_to_utc(self.loc_zone[store], day, seconds)
            frames.append(
                pl.DataFrame(
                    {
                        "store_id": np.full(len(rec), lid),
                        "register_id": "R" + text(register),
                        "receipt_no": text(start + 1 + rec),
                        "line_no": text(line_no),
                        "sold_at": self.clock.stamp(t, self.loc_zone[store], sep=" "),
                        "sku": self.sku_ids.gather(sku),
                        "qty": text(qty),
                        "unit_price": money(cents),
                        "currency": const("USD", len(rec)),
                        "_day": np.full(len(rec), day),
                        "_file": const(f"pos/{lid}/sales_{self.clock.ymd(day)}.csv", len(rec)),
                        "_t": t,
                    }
                )
            )
        self.agenda.add("pos", pl.concat(frames))

    # -- shipped channels ---------------------------------------------------------------------

    def _draw_channel(self, day: int, channel: str, rng: np.random.Generator) -> DayOrders:
        ch = CHANNELS.index(channel)
        model = CHANNEL_MODELS[channel]
        sku_p, uplift, price = sku_weights(self.catalog, ch, channel, day, self.promos)
        expected = (
            self._channel_lines(channel)
            * uplift
            * weekly_factor(model, int(self.clock.weekday(day)))
            * self._noise(rng)
        )
        if channel == "marketplace":
            # The report is cut at midnight UTC: shift the US evening peak accordingly.
            model = dataclasses.replace(model, hourly=tuple(np.roll(model.hourly, 4)))
        if channel == "wholesale":
            price = np.round(self.catalog.list_price * _WHOLESALE_PRICE_FACTOR, 2)
            return draw_orders(rng, model, expected, sku_p, price, self.catalog.pack_size)
        return draw_orders(rng, model, expected, sku_p, price)

    def _webshop_day(self, day: int, rng: np.random.Generator) -> ChannelDay:
        o = self._draw_channel(day, "webshop", rng)
        n = o.n_orders
        c = self.counters
        number = c.web_order + 1 + np.arange(n)
        c.web_order += n
        t = self.clock.local_to_utc(self.shop_zone, day, o.order_seconds)
        express = rng.random(n) < _EXPRESS_SHARE["webshop"]
        line_ids = 9_000_000_000 + c.web_line + 1 + np.arange(len(o.sku))
        c.web_line += len(o.sku)
        return ChannelDay(
            channel="webshop",
            orders=o,
            t=t,
            postcode=rng.choice(len(self.postcodes.postcode), n, p=self.postcodes.weight),
            express=express,
            cancelled=rng.random(n) < _CUSTOMER_CANCEL["webshop"],
            order_id=pl.Series(5_000_000_000 + number).cast(pl.String),
            line_ref=pl.Series(line_ids).cast(pl.String),
            ship_delay=draw_delay(rng, express, _SHIP_DELAY["webshop"]),
            promise_day=day + np.where(express, *_PROMISE_DAYS["webshop"][::-1]),
        )

    def _marketplace_day(self, day: int, rng: np.random.Generator) -> ChannelDay:
        o = self._draw_channel(day, "marketplace", rng)
        n = o.n_orders
        c = self.counters
        number = c.mkt_order + 1 + np.arange(n)
        c.mkt_order += n
        # 111-1234567-0000042: a marketplace-looking prefix, random middle, running number.
        ids = (
            text(rng.integers(111, 115, n))
            + "-"
            + text(rng.integers(1_000_000, 10_000_000, n))
            + "-"
            + text(number % 10_000_000).str.zfill(7)
        )
        items = 30_000_000_000_000 + (c.mkt_item + 1 + np.arange(len(o.sku))) * 100
        items += rng.integers(0, 100, len(o.sku))
        c.mkt_item += len(o.sku)
        express = rng.random(n) < _EXPRESS_SHARE["marketplace"]
        return ChannelDay(
            channel="marketplace",
            orders=o,
            t=day * DAY + o.order_seconds,
            postcode=rng.choice(len(self.postcodes.postcode), n, p=self.postcodes.weight),
            express=express,
            cancelled=rng.random(n) < _CUSTOMER_CANCEL["marketplace"],
            order_id=ids,
            line_ref=pl.Series(items).cast(pl.String),
            ship_delay=draw_delay(rng, express, _SHIP_DELAY["marketplace"]),
            promise_day=day + np.where(express, *_PROMISE_DAYS["marketplace"][::-1]),
        )

    def _wholesale_day(self, day: int, rng: np.random.Generator) -> tuple[ChannelDay, np.ndarray]:
        o = self._draw_channel(day, "wholesale", rng)
        n = o.n_orders
        c = self.counters
        number = c.wholesale_po + 1 + np.arange(n)
        c.wholesale_po += n
        po = "PO" + text(number).str.zfill(8)
        customer = rng.choice(len(self.customer_ids), n, p=self.customer_weight)
        requested = rng.integers(3, 8, n)
        late = rng.random(n) < 0.06
        delay = np.where(
            late,
            requested + rng.integers(1, 4, n),
            np.maximum(requested - rng.integers(1, 4, n), 0),
        )
        line_ref = po.gather(o.order_of_line) + "-" + pl.Series(o.line_no).cast(pl.String)
        chday = ChannelDay(
            channel="wholesale",
            orders=o,
            t=self.clock.local_to_utc(self.shop_zone, day, o.order_seconds),
            postcode=self.customer_postcode[customer],
            express=np.zeros(n, dtype=bool),
            cancelled=np.zeros(n, dtype=bool),
            order_id=po,
            line_ref=line_ref,
            ship_delay=delay,
            promise_day=day + requested,  # wholesale promises a ship date, not a delivery
        )
        return chday, customer

    def _ship_channels(self, day: int, rng: np.random.Generator) -> None:
        web = self._webshop_day(day, rng)
        mkt = self._marketplace_day(day, rng)
        wholesale, customer = self._wholesale_day(day, rng)
        batches = (web, mkt, wholesale)
        self._allocate(batches)
        refunds, ship_t = self._ship(day, batches, rng)
        self.agenda.add("webshop", webshop_documents(self, day, web, refunds, rng))
        self.agenda.add("marketplace", marketplace_rows(self, day, mkt, ship_t[1], rng))
        self.agenda.add("wholesale", wholesale_details(self, day, wholesale, customer))

    def _allocate(self, batches: tuple[ChannelDay, ...]) -> None:
        """Allocate every line of the day to a location, in order-time order."""
        parts = []
        for b in batches:
            o = b.orders
            line_pc = b.postcode[o.order_of_line]
            cand = np.full((len(o.sku), self.width), -1, dtype=np.int64)
            ranked = self.candidates[b.channel][line_pc]
            cand[:, : ranked.shape[1]] = ranked
            cand[b.cancelled[o.order_of_line]] = -1
            parts.append((b.t[o.order_of_line], o.sku, o.qty, cand))
            self.metrics.lines[b.channel] += len(o.sku)
            self.metrics.units_ordered += int(o.qty[~b.cancelled[o.order_of_line]].sum())
        t = np.concatenate([p[0] for p in parts])
        order = np.argsort(t, kind="stable")
        sku = np.concatenate([p[1] for p in parts])[order]
        qty = np.concatenate([p[2] for p in parts])[order]
        cand = np.concatenate([p[3] for p in parts])[order]
        chosen = np.empty(len(t), dtype=np.int64)
        chosen[order] = self.inventory.allocate(sku, qty, cand)
        offset = 0
        for b in batches:
            n = len(b.orders.sku)
            b.location = chosen[offset : offset + n]
            offset += n

    def _ship(
        self, day: int, batches: tuple[ChannelDay, ...], rng: np.random.Generator
    ) -> tuple[pl.DataFrame, list[np.ndarray]]:
        """Parcels, carrier events and returns for every allocated line of the day.

        Returns the web shop refunds (by order index of the first batch) and, per batch, each
        line's label time (0 when the line does not ship).
        """
        cols: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "channel",
                "batch",
                "order",
                "line",
                "loc",
                "sku",
                "qty",
                "cents",
                "t",
                "delay",
                "express",
                "postcode",
                "promise",
            )
        }
        order_offset = np.cumsum([0] + [b.orders.n_orders for b in batches])
        line_refs = []
        for i, b in enumerate(batches):
            o, ok = b.orders, b.location >= 0
            line_order = o.order_of_line[ok]
            cols["channel"].append(np.full(int(ok.sum()), CHANNELS.index(b.channel)))
            cols["batch"].append(np.full(int(ok.sum()), i))
            cols["order"].append(order_offset[i] + line_order)
            cols["line"].append(np.nonzero(ok)[0])
            cols["loc"].append(b.location[ok])
            cols["sku"].append(o.sku[ok])
            cols["qty"].append(o.qty[ok])
            cols["cents"].append(b.price_cents[ok])
            cols["t"].append(b.t[line_order])
            cols["delay"].append(b.ship_delay[line_order])
            cols["express"].append(b.express[line_order])
            cols["postcode"].append(b.postcode[line_order])
            cols["promise"].append(b.promise_day[line_order])
            line_refs.append(b.line_ref.filter(pl.Series(ok)))
        a = {k: np.concatenate(v) for k, v in cols.items()}
        order_ids = pl.concat([b.order_id for b in batches])
        line_ref = pl.concat(line_refs)
        # A parcel per (order, ship-from location): orders split when lines ship from two.
        key = a["order"] * 100 + a["loc"]
        uniq, first, line_ship = np.unique(key, return_index=True, return_inverse=True)
        line_ship = line_ship.reshape(-1)
        n_ship = len(uniq)
        dest_zone = self.pc_zone[a["postcode"][first]]
        origin_zone = self.loc_zone[a["loc"][first]]
        s = plan_shipments(
            rng,
            self.clock,
            channel=a["channel"][first],
            order_id=order_ids.gather(a["order"][first]),
            order_t=a["t"][first],
            ship_delay=a["delay"][first],
            express=a["express"][first],
            location=a["loc"][first],
            origin_zone=origin_zone,
            dest_zone=dest_zone,
            distance_km=self.distance[a["postcode"][first], a["loc"][first]],
            first_tracking=self.counters.tracking,
        )
        self.counters.tracking += n_ship
        events = carrier_events(
            rng,
            self.clock,
            s,
            line_shipment=line_ship,
            line_ref=line_ref,
            line_sku=self.sku_ids.gather(a["sku"]),
            line_qty=a["qty"],
            location_ids=self.location_ids,
            first_event=self.counters.event,
        )
        self.counters.event += n_ship + int((events["status"] != "label_created").sum())
        self.agenda.add("carrier_events", events)

        # Promises: delivery day (destination clock) for parcels, ship day for wholesale.
        freight = s.channel == CHANNELS.index("wholesale")
        delivered_day = self.clock.local_day(dest_zone, s.delivered_t)
        label_day = self.clock.local_day(origin_zone, s.label_t)
        promise = a["promise"][first]
        late = np.where(freight, label_day > promise, delivered_day > promise)
        ship_limit = np.where(s.express, 1, 2) + (promise - np.where(s.express, 2, 5))
        ship_late = np.where(freight, late, label_day > ship_limit)
        m = self.metrics
        m.units_shipped += int(a["qty"].sum())
        m.shipments += n_ship
        m.late_shipments += int(ship_late.sum())
        m.deliveries += int((~freight).sum())
        m.late_deliveries += int((late & ~freight).sum())

        ret = plan_returns(
            rng,
            self.clock,
            channel=a["channel"],
            order=a["order"],
            order_ids=order_ids,
            line_ref=line_ref,
            sku=a["sku"],
            qty=a["qty"],
            price_cents=a["cents"],
            shipment=line_ship,
            location=a["loc"],
            delivered_t=s.delivered_t[line_ship],
            late=late[line_ship],
            return_rate=self.catalog.return_rate,
            fits_sizes=self.fits_sizes,
            sku_ids=self.sku_ids,
            location_ids=self.location_ids,
            first_rma=self.counters.rma + 1,
        )
        self.counters.rma += ret.rma_count
        m.units_returned += ret.units
        self.agenda.add("returns", ret.rma_lines)
        self.agenda.add("return_stock", ret.restock)

        label_t = [np.zeros(len(b.orders.sku), dtype=np.int64) for b in batches]
        line_label = s.label_t[line_ship]
        for i, lt in enumerate(label_t):
            mine = a["batch"] == i
            lt[a["line"][mine]] = line_label[mine]
        return ret.refunds, label_t

    # -- replenishment ------------------------------------------------------------------------

    def _replenish(self, day: int, rng: np.random.Generator) -> None:
        """Purchase orders for positions under their reorder point, and their receipts."""
        cat, clock, c = self.catalog, self.clock, self.counters
        loc, sku, units = self.inventory.reorder(
            np.arange(len(LOCATIONS)), cat.pack_size, cat.supplier
        )
        if len(loc) == 0:
            return
        supplier = cat.supplier[sku]
        group = loc * len(SUPPLIERS) + supplier
        order = np.lexsort((sku, group))
        loc, sku, units, supplier, group = (a[order] for a in (loc, sku, units, supplier, group))
        uniq, po_idx = np.unique(group, return_inverse=True)
        new = np.r_[True, group[1:] != group[:-1]]
        n = len(loc)
        po_line = np.arange(n) - np.maximum.accumulate(np.where(new, np.arange(n), 0)) + 1
        po_ids = "IPO-" + text(c.purchase_order + 1 + po_idx).str.zfill(6)
        c.purchase_order += len(uniq)
        lead = np.array([s[2] for s in SUPPLIERS])[supplier]
        sd = np.array([s[3] for s in SUPPLIERS])[supplier]
        self.agenda.add(
            "purchase_orders",
            pl.DataFrame(
                {
                    "po_id": po_ids,
                    "po_line": po_line.astype(str),
                    "supplier_id": np.array([s[0] for s in SUPPLIERS])[supplier],
                    "location_id": self.location_ids[loc],
                    "sku": cat.sku[sku],
                    "ordered_qty": units.astype(str),
                    "unit_cost": money(np.round(cat.unit_cost[sku] * 100)),
                    "currency": np.full(n, "USD"),
                    "ordered_date": np.full(n, clock.date(day).isoformat()),
                    "expected_date": clock.iso_date(day + lead),
                    "_day": np.full(n, day),
                    "_file": np.full(n, f"inbound/purchase_orders_{clock.ymd(day)}.csv"),
                    "_t": np.arange(n),
                }
            ),
        )
        # Suppliers deliver after their lead time give or take; a fifth comes in two drops.
        arrive = day + np.maximum(1, np.round(rng.normal(lead, sd))).astype(np.int64)
        arrive += disruption_days(supplier, day)
        split = (rng.random(n) < 0.2) & (units > 1)
        first_qty = np.where(split, np.ceil(units * rng.uniform(0.4, 0.8, n)), units)
        first_qty = np.minimum(first_qty, units - split).astype(np.int64)
        second = np.nonzero(split)[0]
        r_idx = np.r_[np.arange(n), second]
        r_day = np.r_[arrive, arrive[second] + rng.integers(2, 7, len(second))]
        r_qty = np.r_[first_qty, units[second] - first_qty[second]]
        # One receipt per purchase order and arrival day.
        r_key = po_idx[r_idx] * 100_000 + (r_day - day)
        r_uniq, r_of = np.unique(r_key, return_inverse=True)
        receipt_ids = "RCV-" + text(c.receipt + 1 + r_of).str.zfill(7)
        c.receipt += len(r_uniq)
        self.agenda.add(
            "receipts",
            pl.DataFrame(
                {
                    "receipt_id": receipt_ids,
                    "po_id": po_ids.gather(r_idx),
                    "po_line": po_line[r_idx].astype(str),
                    "location_id": self.location_ids[loc[r_idx]],
                    "sku": cat.sku[sku[r_idx]],
                    "received_qty": r_qty.astype(str),
                    "received_date": clock.iso_date(r_day),
                    "_day": r_day,
                    "_file": "inbound/receipts_" + clock.iso_date(r_day, "%Y%m%d") + ".csv",
                    "_t": r_key,
                }
            ),
        )
        self.agenda.add(
            "receipt_stock",
            pl.DataFrame({"_day": r_day, "location": loc[r_idx], "sku": sku[r_idx], "qty": r_qty}),
        )
