"""Turning record frames into files under the landing folder."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from demo_generator.catalog import CATEGORIES, SUPPLIERS
from demo_generator.geography import LOCATIONS
from demo_generator.landing import LandingSource
from demo_generator.simulation import Simulation


class LandingWriter:
    """Writes one source-day at a time and counts what it wrote."""

    def __init__(self, landing_dir: Path) -> None:
        self.root = landing_dir
        self.files = 0
        self.records: Counter[str] = Counter()

    def write(self, source: LandingSource, frame: pl.DataFrame) -> None:
        """Write `frame` (records with `_file`, `_t`, `_malformed`) as the source's files."""
        lines = source.render(frame)
        bad = lines["_malformed"].to_numpy()
        if bad.any():
            text = lines["_line"].to_numpy().astype(object)
            for i in np.nonzero(bad)[0]:
                text[i] = source.malform(text[i], len(text[i]))
            lines = lines.with_columns(_line=pl.Series(text, dtype=pl.String))
        lines = lines.sort(["_file", "_t"], maintain_order=True).select("_file", "_line")
        header = source.header()
        for (name,), body in lines.partition_by("_file", as_dict=True, include_key=False).items():
            self.records[source.name] += body.height
            if source.format == "fixed":
                body = _wrap_fixed(str(name), body)
            self._write_lines(str(name), header, body)

    def write_reference(self, sim: Simulation) -> None:
        """The four reference snapshots, dated the first day."""
        ymd = sim.clock.ymd(0)
        for name, frame in reference_frames(sim).items():
            path = self.root / "reference" / f"{name}_{ymd}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_csv(path, float_precision=None)
            _delivered(path)
            self.files += 1
            self.records[name] += frame.height

    def _write_lines(self, name: str, header: str | None, lines: pl.DataFrame) -> None:
        """One text file: an optional header, then `lines` (a one-column frame) as written."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Joined in polars: one string per file, written in one call.
        body = lines.to_series().str.join("\n").item()
        text = f"{header}\n{body}\n" if header is not None else f"{body}\n"
        path.write_bytes(text.encode())
        _delivered(path)
        self.files += 1


# A source delivers a file whole (it writes elsewhere and moves it in). Files written here are
# dated this far back so that a run started right after generation does not take the newest
# for files still being written (`OMS_LANDING_SETTLE_SECONDS`).
DELIVERED_AGO_S = 60


def _delivered(path: Path) -> None:
    then = time.time() - DELIVERED_AGO_S
    os.utime(path, (then, then))


def _wrap_fixed(name: str, details: pl.DataFrame) -> pl.DataFrame:
    """Header and trailer around a wholesale file's detail lines."""
    stem = Path(name).stem  # PO_<customer_id>_<YYYYMMDD>, or ..._<po_number> (one PO a file)
    customer, ymd = stem[3:].split("_")[:2]
    head = pl.DataFrame({"_line": [f"H{customer:<8}{ymd}"]})
    tail = pl.DataFrame({"_line": [f"T{details.height:07d}"]})
    return pl.concat([head, details, tail])


def reference_frames(sim: Simulation) -> dict[str, pl.DataFrame]:
    """Products, locations, suppliers and postcodes as their reference files."""
    cat, pc = sim.catalog, sim.postcodes
    products = pl.DataFrame(
        {
            "sku": cat.sku,
            "name": cat.name,
            "category": np.array([c[0] for c in CATEGORIES])[cat.category],
            "weight_kg": cat.weight_kg,
            "pack_size": cat.pack_size,
            "unit_cost": [f"{v:.2f}" for v in cat.unit_cost],
            "list_price": [f"{v:.2f}" for v in cat.list_price],
            "currency": ["USD"] * cat.size,
            "supplier_id": np.array([s[0] for s in SUPPLIERS])[cat.supplier],
            "is_active": np.where(cat.is_active, "Y", "N"),
        }
    )
    locations = pl.DataFrame(
        {
            "location_id": [loc.location_id for loc in LOCATIONS],
            "name": [loc.name for loc in LOCATIONS],
            "kind": [loc.kind for loc in LOCATIONS],
            "latitude": [loc.latitude for loc in LOCATIONS],
            "longitude": [loc.longitude for loc in LOCATIONS],
            "timezone": [loc.timezone for loc in LOCATIONS],
            "postcode": [loc.postcode for loc in LOCATIONS],
            "can_ship": ["Y" if loc.can_ship else "N" for loc in LOCATIONS],
            "ships_channels": ["|".join(loc.ships_channels) for loc in LOCATIONS],
        }
    )
    suppliers = pl.DataFrame(
        {
            "supplier_id": [s[0] for s in SUPPLIERS],
            "name": [s[1] for s in SUPPLIERS],
            "lead_time_days": [s[2] for s in SUPPLIERS],
            "lead_time_sd_days": [s[3] for s in SUPPLIERS],
            "min_order_qty": [s[4] for s in SUPPLIERS],
        }
    )
    postcodes = pl.DataFrame(
        {
            "postcode": pc.postcode,
            "latitude": pc.latitude,
            "longitude": pc.longitude,
            "region": pc.region,
        }
    )
    return {
        "products": products,
        "locations": locations,
        "suppliers": suppliers,
        "postcodes": postcodes,
    }
