"""Stock by location and SKU: allocation of order lines, store sales, replenishment policy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo_generator.catalog import SUPPLIERS


@dataclass
class Inventory:
    """On-hand and on-order units per (location, SKU), with a reorder point policy.

    Arrays have shape (n_locations, n_skus). A location reorders a SKU when on hand plus on
    order falls below `reorder_point`, up to `order_up_to`.
    """

    on_hand: np.ndarray
    on_order: np.ndarray
    reorder_point: np.ndarray
    order_up_to: np.ndarray

    @classmethod
    def plan(
        cls,
        rng: np.random.Generator,
        daily_demand: np.ndarray,
        daily_variance: np.ndarray,
        lead_days: np.ndarray,
        z_shift: float = 0.0,
    ) -> Inventory:
        """A policy from expected daily units (and their variance) per (location, SKU) and each
        SKU's lead time. `z_shift` moves every SKU's safety factor.

        Safety stock varies by SKU on purpose: some items are planned tight and run out when
        a promotion or a late supplier hits, which is what keeps the fill rate below 100 %.
        """
        n_loc, n_sku = daily_demand.shape
        cover = lead_days[None, :] + 1.0
        z = np.asarray(rng.uniform(-0.3, 1.6, n_sku))[None, :] + z_shift
        # Lumpy demand (wholesale packs) needs more buffer than its mean suggests.
        safety = np.maximum(z * np.sqrt(daily_variance * cover), -0.4 * daily_demand * cover)
        rop = np.ceil(daily_demand * cover + safety)
        cycle_days = np.asarray(rng.uniform(7, 21, n_sku))[None, :]
        up_to = rop + np.ceil(daily_demand * cycle_days) + 1
        start = rop + np.floor(rng.uniform(0.2, 1.0, (n_loc, n_sku)) * (up_to - rop + 1))
        # Locations that never see demand for a SKU still keep a token quantity on the shelf.
        rop = np.where(daily_demand > 0, rop, 0)
        return cls(
            on_hand=start.astype(np.int64),
            on_order=np.zeros((n_loc, n_sku), dtype=np.int64),
            reorder_point=rop.astype(np.int64),
            order_up_to=up_to.astype(np.int64),
        )

    def allocate(self, sku: np.ndarray, qty: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The location each line ships from, or -1 when no candidate has the units.

        Lines are served in the given (time) order. `candidates` has one row per line: the
        eligible locations nearest first, padded with -1. A line ships whole from one location;
        within one round each (location, SKU) serves lines while its running total fits.
        """
        n_sku = self.on_hand.shape[1]
        flat = self.on_hand.reshape(-1)
        chosen = np.full(len(sku), -1, dtype=np.int64)
        open_ = np.arange(len(sku))
        for r in range(candidates.shape[1]):
            loc = candidates[open_, r]
            has = loc >= 0
            idx, loc = open_[has], loc[has]
            if len(idx) == 0:
                break
            key = loc * n_sku + sku[idx]
            order = np.argsort(key, kind="stable")
            k_sorted, q_sorted = key[order], qty[idx][order]
            running = np.cumsum(q_sorted)
            first = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
            group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
            before = np.r_[0, running][group_start]
            fits = running - before <= flat[k_sorted]
            won = order[fits]
            chosen[idx[won]] = loc[won]
            np.subtract.at(flat, key[won], qty[idx][won])
            open_ = np.setdiff1d(open_, idx[won], assume_unique=True)
        return chosen

    def sell(self, loc: np.ndarray, sku: np.ndarray, qty: np.ndarray) -> np.ndarray:
        """Take store sales off the shelf in order; returns which lines could be sold."""
        loc = np.asarray(loc)
        candidates = loc.reshape(-1, 1)
        return self.allocate(sku, qty, candidates) >= 0

    def add(self, loc: np.ndarray, sku: np.ndarray, qty: np.ndarray) -> None:
        np.add.at(self.on_hand, (loc, sku), qty)

    def receive(self, loc: np.ndarray, sku: np.ndarray, qty: np.ndarray) -> None:
        """Units arriving on a purchase order: on hand up, on order down."""
        np.add.at(self.on_hand, (loc, sku), qty)
        np.subtract.at(self.on_order, (loc, sku), qty)

    def reorder(
        self, locations: np.ndarray, pack_size: np.ndarray, supplier: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lines to order today at `locations`: (location, SKU, units), placed on order."""
        position = self.on_hand + self.on_order
        need = position < self.reorder_point
        need[np.setdiff1d(np.arange(need.shape[0]), locations)] = False
        loc, sku = np.nonzero(need)
        raw = self.order_up_to[loc, sku] - position[loc, sku]
        moq = np.array([s[4] for s in SUPPLIERS])[supplier[sku]]
        packs = pack_size[sku]
        units = np.maximum(raw, moq)
        units = np.ceil(units / packs).astype(np.int64) * packs
        np.add.at(self.on_order, (loc, sku), units)
        return loc, sku, units
