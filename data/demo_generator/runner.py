"""`generate`: simulate the span, inject faults, write the landing files (and the truth)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from demo_generator.clock import HOUR, Clock
from demo_generator.faults import TRUTH_COLUMNS, FaultInjector
from demo_generator.landing import SOURCES
from demo_generator.report import GenerationReport, fault_counts, write_truth
from demo_generator.simulation import RECORD_STREAMS, Simulation
from demo_generator.writer import LandingWriter


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
) -> GenerationReport:
    """Write `days` days of landing files from `start`, skipping days before `from_day`.

    The whole span is simulated every time (so day N is identical whichever run writes it);
    only files dated `from_day` or later are written, and reference files only when
    `from_day == 0`. `order_lines` is the approximate number of order lines over the span,
    all channels together. The fault truth, when asked for, covers the whole span, so it
    describes a landing folder filled by consecutive runs with the same seed.
    """
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
    for day in range(days):
        records = sim.step(day)
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
