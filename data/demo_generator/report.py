"""What a generator run did: the report it returns and the fault truth it can leave behind."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from demo_generator.faults import TRUTH_COLUMNS


@dataclass
class GenerationReport:
    """Counts of one run. `records` and `faults` cover the files written by this run."""

    files_written: int
    records: dict[str, int]  # records written per source (reference sources: rows)
    faults: dict[str, dict[str, int]]  # source -> fault kind -> injected records written
    elapsed_seconds: float
    days_written: list[str] = field(default_factory=list)  # YYYY-MM-DD of written days
    # Plausibility of the whole simulated span (fill rate, return share, lateness, lines).
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def total_faults(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.faults.values())

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        days = (
            f"{self.days_written[0]}..{self.days_written[-1]} ({len(self.days_written)} days)"
            if self.days_written
            else "none"
        )
        out = [
            f"days written:   {days}",
            f"files written:  {self.files_written}",
            f"elapsed:        {self.elapsed_seconds:.1f} s",
            "records per source:",
            *[f"  {k:<16} {v:>12,}" for k, v in sorted(self.records.items())],
            f"faults injected: {self.total_faults}",
            *[
                f"  {src:<16} " + ", ".join(f"{k}={n}" for k, n in sorted(kinds.items()))
                for src, kinds in sorted(self.faults.items())
            ],
            "simulated span:",
            *[
                f"  {k:<22} {v:>12.3f}" if v < 10 else f"  {k:<22} {v:>12,.0f}"
                for k, v in self.metrics.items()
            ],
        ]
        return "\n".join(out)


def fault_counts(truth: pl.DataFrame) -> dict[str, dict[str, int]]:
    """source -> fault kind -> count."""
    out: dict[str, dict[str, int]] = {}
    for row in truth.group_by("source", "fault_kind").len().iter_rows(named=True):
        out.setdefault(row["source"], {})[row["fault_kind"]] = int(row["len"])
    return out


def write_truth(truth_dir: Path, truth: pl.DataFrame, report: GenerationReport) -> None:
    """`faults.csv` (one row per injected fault) and `summary.json` with the counts."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth.select(TRUTH_COLUMNS).write_csv(truth_dir / "faults.csv")
    summary = {
        "faults_total": truth.height,
        "faults_by_source": fault_counts(truth),
        "faults_by_kind": {
            r["fault_kind"]: int(r["len"])
            for r in truth.group_by("fault_kind").len().sort("fault_kind").iter_rows(named=True)
        },
        "records_written": report.records,
        "files_written": report.files_written,
        "days_written": report.days_written,
        "metrics": report.metrics,
    }
    (truth_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
