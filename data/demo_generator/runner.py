"""`generate`: simulate the span, inject faults, write the landing files (and the truth)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from demo_generator.channel_files import edi_purchase_orders, one_file_per_po
from demo_generator.clock import HOUR, Clock
from demo_generator.faults import TRUTH_COLUMNS, FaultInjector
from demo_generator.landing import SOURCES
from demo_generator.report import GenerationReport, fault_counts, write_truth
from demo_generator.simulation import RECORD_STREAMS, Simulation
from demo_generator.writer import LandingWriter

WHOLESALE_FILES = ("per_customer_day", "per_po")


def _stamp_before_label(clock: Clock):
    """Re-date carrier scans to one to six hours before their parcel's label."""

    def restamp(rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        t = rows["_label_t"].to_numpy() - rng.integers(HOUR, 6 * HOUR, rows.height)
        return rows.with_columns(occurred_at=clock.stamp(t, rows["_zone"].to_numpy()))

    return restamp


def generate(
    landing_dir: Path,
    *,
    start: date = date(2026, 8, 1),
    days: int = 90,
    order_lines: int = 120_000,
    seed: int = 42,
    fault_rate: float = 0.01,
    truth_dir: Path | None = None,
    from_day: int = 0,
    wholesale_files: str = "per_customer_day",
    wholesale_pos: int = 0,
) -> GenerationReport:
    """Write `days` days of landing files from `start`, skipping days before `from_day`.

    The whole span is simulated every time (so day N is identical whichever run writes it);
    only files dated `from_day` or later are written, and reference files only when
    `from_day == 0`. `order_lines` is the approximate number of order lines over the span,
    all channels together. The fault truth, when asked for, covers the whole span, so it
    describes a landing folder filled by consecutive runs with the same seed.

    `wholesale_files`: `per_customer_day` (a customer's purchase orders of a day in one file)
    or `per_po` (one file per purchase order, as EDI delivers them). `wholesale_pos` > 0
    writes, instead of the simulated span, the reference files and that many wholesale
    purchase orders spread over the span's days, one file each (faults injected as usual):
    a landing folder of many small files.
    """
    if wholesale_files not in WHOLESALE_FILES:
        raise ValueError(
            f"wholesale_files={wholesale_files!r}: expected one of {', '.join(WHOLESALE_FILES)}"
        )
    if wholesale_pos < 0:
        raise ValueError(f"wholesale_pos={wholesale_pos}: a number of purchase orders, >= 0")
    started = time.perf_counter()
    landing_dir = Path(landing_dir)
    sim = Simulation(start, days, order_lines, seed)
    injector = FaultInjector(seed, fault_rate, before_label=_stamp_before_label(sim.clock))
    writer = LandingWriter(landing_dir)
    if from_day <= 0:
        writer.write_reference(sim)

    truth_parts: list[pl.DataFrame] = []
    written_truth: list[pl.DataFrame] = []
    days_written: list[str] = []
    pos_left, first_po = wholesale_pos, 1
    for day in range(days):
        if wholesale_pos:
            rng = np.random.default_rng([seed, day, 77])
            n_pos = pos_left // (days - day)
            records = {"wholesale": edi_purchase_orders(sim, day, n_pos, first_po, rng)}
            pos_left, first_po = pos_left - n_pos, first_po + n_pos
        else:
            records = sim.step(day)
            if wholesale_files == "per_po" and "wholesale" in records:
                records["wholesale"] = one_file_per_po(records["wholesale"])
        ymd_next = sim.clock.ymd(day + 1)
        for stream in RECORD_STREAMS:
            source = SOURCES[stream]
            frame = records.get(stream)
            if frame is None:
                frame = pl.DataFrame()
            frame, truth = injector.inject(source, day, ymd_next, frame)
            if truth.height:
                truth_parts.append(truth)
            if day >= from_day and frame.height:
                writer.write(source, frame)
                if truth.height:
                    written_truth.append(truth)
        if day >= from_day:
            days_written.append(sim.clock.date(day).isoformat())

    empty = pl.DataFrame(schema=dict.fromkeys(TRUTH_COLUMNS, pl.String))
    truth_all = pl.concat([empty, *truth_parts])
    truth_written = pl.concat([empty, *written_truth])
    report = GenerationReport(
        files_written=writer.files,
        records=dict(writer.records),
        faults=fault_counts(truth_written),
        elapsed_seconds=0.0,
        days_written=days_written,
        metrics=sim.metrics.as_dict(),
    )
    if truth_dir is not None:
        write_truth(Path(truth_dir), truth_all, report)
    report.elapsed_seconds = round(time.perf_counter() - started, 2)
    return report
