"""Deliberately bad records, so the ingest quarantine has something to catch on every run.

A fault is a corrupted copy of a real record under a fresh key (the real record stays, so the
clean data is unchanged), except for stock rows, which have no spare key: there the real row is
replaced and is simply missing from the clean data. Duplicates are byte-identical copies of the
real record, in the same file or, for daily single-file sources, in the next day's file.

Every kind that applies to a source is injected at least once, on the first day the source has
a record that can carry it; after that each record is corrupted with probability `fault_rate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from demo_generator.landing import SOURCES, LandingSource

DUPLICATE = "duplicate"
UNKNOWN_SKU = "unknown_sku"
INVALID_QUANTITY = "invalid_quantity"
MALFORMED = "malformed_record"
INVALID_TIMESTAMP = "invalid_timestamp"
MISSING_REQUIRED = "missing_required"
EVENT_BEFORE_LABEL = "event_before_label"

FAULT_KINDS = (
    DUPLICATE,
    UNKNOWN_SKU,
    INVALID_QUANTITY,
    MALFORMED,
    INVALID_TIMESTAMP,
    MISSING_REQUIRED,
    EVENT_BEFORE_LABEL,
)

TRUTH_COLUMNS = ("source", "file", "fault_kind", "expected_reason", "record_key")


def applicable_kinds(source: LandingSource) -> tuple[str, ...]:
    """The fault kinds that make sense for a source."""
    kinds = [DUPLICATE, UNKNOWN_SKU, INVALID_QUANTITY, MALFORMED, INVALID_TIMESTAMP]
    if source.missing_required:
        kinds.append(MISSING_REQUIRED)
    if source.name == "carrier_events":
        kinds.append(EVENT_BEFORE_LABEL)
    return tuple(kinds)


# Fresh keys for corrupted copies come from their own number ranges (a leading 9), so the clean
# data does not depend on the fault rate. `k` numbers records, `j` numbers rows.
Updates = dict[str, pl.Expr | pl.Series]


def _rekey_webshop(k: pl.Series, j: pl.Series) -> Updates:
    n = 900_000_000 + k
    return {"id": 5_000_000_000 + n, "name": "#" + n.cast(pl.String), "li_id": 9_900_000_000 + j}


def _rekey_marketplace(k: pl.Series, j: pl.Series) -> Updates:
    number = k.cast(pl.String).str.zfill(6)
    return {
        "order-id": "114-9" + number + "-9" + number,
        "order-item-id": (39_000_000_000_000 + j).cast(pl.String),
    }


def _rekey_carrier(k: pl.Series, j: pl.Series) -> Updates:
    # A corrupted label describes a phantom parcel; a corrupted scan belongs to a real one.
    number = k.cast(pl.String).str.zfill(8)
    return {
        "event_id": "ev-9" + number,
        "tracking_number": pl.when(pl.col("status") == "label_created")
        .then(pl.lit("PW9" + number))
        .otherwise(pl.col("tracking_number")),
    }


def _prefixed(column: str, prefix: str, width: int) -> Callable[[pl.Series, pl.Series], Updates]:
    def rekey(k: pl.Series, j: pl.Series) -> Updates:
        return {column: prefix + k.cast(pl.String).str.zfill(width)}

    return rekey


REKEY: dict[str, Callable[[pl.Series, pl.Series], Updates]] = {
    "webshop": _rekey_webshop,
    "marketplace": _rekey_marketplace,
    "pos": _prefixed("receipt_no", "9", 5),
    "wholesale": _prefixed("po_number", "PO9", 7),
    "carrier_events": _rekey_carrier,
    "returns": _prefixed("rma_id", "RMA-9", 6),
    "purchase_orders": _prefixed("po_id", "IPO-9", 5),
    "receipts": _prefixed("receipt_id", "RCV-9", 6),
}

# Carrier line-content faults need a label event; a scan before its label needs a scan.
_LABEL_KINDS = {UNKNOWN_SKU, INVALID_QUANTITY, MISSING_REQUIRED}


def _pool_name(source: LandingSource, kind: str) -> str:
    """Which records can carry `kind`: all, carrier labels only, or carrier scans only."""
    if source.name == "carrier_events" and kind in _LABEL_KINDS:
        return "label"
    if kind == EVENT_BEFORE_LABEL:
        return "scan"
    return "all"


def _record_pools(source: LandingSource, frame: pl.DataFrame, rec: np.ndarray):
    """Record ids per pool name (ids are a row index or a dense rank starting at 1)."""
    if source.record_columns is None:
        pools = {"all": np.arange(len(rec))}
    else:
        pools = {"all": np.arange(1, int(rec.max()) + 1)}
    if source.name == "carrier_events":
        is_label = (frame["status"] == "label_created").to_numpy()
        pools["label"] = np.unique(rec[is_label])
        pools["scan"] = rec[~is_label]  # scans are single-row records
    return pools


def record_keys(source: LandingSource, frame: pl.DataFrame) -> pl.Series:
    """The contract's unique key, as written, joined with `|` (one value per row)."""
    parts = [pl.col(c).cast(pl.String).fill_null("").str.strip_chars(" ") for c in source.key]
    return frame.select(pl.concat_str(parts, separator="|")).to_series()


@dataclass
class FaultInjector:
    """Corrupts a share of each day's records and remembers what it did (the truth)."""

    seed: int
    fault_rate: float
    # (source, day index, frame rows) -> the same rows stamped before their label
    before_label: Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame]
    pending_kinds: dict[str, set[str]] = field(default_factory=dict)
    counters: dict[str, list[int]] = field(default_factory=dict)
    # Duplicates deferred to the next day's file: (source, day) -> frames
    deferred: dict[tuple[str, int], list[pl.DataFrame]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, source in SOURCES.items():
            self.pending_kinds[name] = set(applicable_kinds(source))
            self.counters[name] = [0, 0]

    def inject(
        self, source: LandingSource, day: int, ymd_next: str, frame: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The day's records with faults added, and one truth row per fault.

        `frame` holds the clean records of one source whose files carry this day's date.
        """
        idx = list(SOURCES).index(source.name)
        rng = np.random.default_rng([self.seed, day, 1000 + idx])
        extras: list[pl.DataFrame] = []
        used: list[int] = []  # records already carrying a fault (stock sources only)
        replaced: list[int] = []
        if frame.height:
            frame = self._with_record_ids(source, frame)
            rec = frame["_rec"].to_numpy()
            pools = _record_pools(source, frame, rec)
            for kind in applicable_kinds(source):
                recs = pools[_pool_name(source, kind)]
                if not source.extra_copies:
                    # A replaced row must be neither duplicated nor corrupted twice.
                    recs = np.setdiff1d(recs, used)
                count = int(rng.binomial(len(recs), self.fault_rate / 6))
                forced = len(recs) > 0 and kind in self.pending_kinds[source.name]
                if forced:
                    count = max(count, 1)
                    self.pending_kinds[source.name].discard(kind)
                if count == 0:
                    continue
                chosen = rng.choice(recs, size=min(count, len(recs)), replace=False)
                if not source.extra_copies:
                    used.extend(chosen.tolist())
                    if kind != DUPLICATE:
                        replaced.extend(chosen.tolist())
                rows = frame.filter(pl.Series(np.isin(rec, chosen)))
                # A guaranteed fault stays in today's file, whatever the span.
                extras.append(self._corrupt(source, kind, rows, rng, forced))
            if replaced:
                frame = frame.filter(pl.Series(~np.isin(rec, replaced)))
            frame = frame.with_columns(_malformed=pl.lit(False), _kind=pl.lit(None, pl.String))
        faulty = pl.concat(extras, how="diagonal_relaxed") if extras else None

        # Some duplicates move to tomorrow's file; yesterday's deferred ones land today.
        if faulty is not None and source.next_day_file is not None:
            move = (pl.col("_kind") == DUPLICATE) & (pl.col("_rec") % 2 == 0) & ~pl.col("_forced")
            later = faulty.filter(move).with_columns(_file=pl.lit(source.next_day_file(ymd_next)))
            if later.height:
                self.deferred.setdefault((source.name, day + 1), []).append(later)
            faulty = faulty.filter(~move)
        arriving = self.deferred.pop((source.name, day), [])
        parts = [p for p in (faulty, *arriving) if p is not None and p.height]
        if not parts:
            return frame, pl.DataFrame(schema=dict.fromkeys(TRUTH_COLUMNS, pl.String))
        faults = pl.concat(parts, how="diagonal_relaxed")
        truth = self._truth(source, faults)
        # Faults follow the clean records; the writer orders each file by `_t`.
        combined = pl.concat([p for p in (frame, faults) if p.height], how="diagonal_relaxed")
        return combined, truth

    def _with_record_ids(self, source: LandingSource, frame: pl.DataFrame) -> pl.DataFrame:
        if source.record_columns is None:
            return frame.with_row_index("_rec").with_columns(pl.col("_rec").cast(pl.Int64))
        columns = source.record_columns
        key = pl.col(columns[0]) if len(columns) == 1 else pl.struct(columns)
        return frame.with_columns(_rec=key.rank("dense").cast(pl.Int64))

    def _corrupt(
        self,
        source: LandingSource,
        kind: str,
        rows: pl.DataFrame,
        rng: np.random.Generator,
        forced: bool,
    ) -> pl.DataFrame:
        """Corrupted variants of `rows` (whole records) for one fault kind."""
        counter = self.counters[source.name]
        _, rec_ids = np.unique(rows["_rec"].to_numpy(), return_inverse=True)
        n_recs = int(rec_ids.max()) + 1
        k = pl.Series(rec_ids + counter[0] + 1)
        j = pl.Series(np.arange(rows.height, dtype=np.int64) + counter[1] + 1)
        counter[0] += n_recs
        counter[1] += rows.height
        # Fault records get negative ids so they never merge with a clean record when rendered.
        updates: Updates = {
            "_rec": -k,
            "_malformed": pl.lit(kind == MALFORMED),
            "_kind": pl.lit(kind),
            "_forced": pl.lit(forced),
        }
        if kind != DUPLICATE and source.extra_copies:
            updates.update(REKEY[source.name](k, j))
        first_row = pl.col("_rec").is_first_distinct()
        pick = rng.integers(0, 1_000, n_recs)[rec_ids]
        if kind == UNKNOWN_SKU:
            col = source.sku_column
            options = pl.Series(["SKU-99999", f"SKU-9{pick[0] % 1000:04d}", None])
            chosen = options.gather(pl.Series(pick % 3))
            bad = pl.when(chosen.is_null()).then(pl.col(col).str.to_lowercase() + "-x")
            updates[col] = pl.when(first_row).then(bad.otherwise(chosen)).otherwise(pl.col(col))
        elif kind == MISSING_REQUIRED:
            col = source.sku_column
            updates[col] = pl.when(first_row).then(pl.lit("")).otherwise(pl.col(col))
        elif kind == INVALID_QUANTITY:
            col = source.quantity_column
            values = pl.Series(source.bad_quantities).gather(
                pl.Series(pick % len(source.bad_quantities))
            )
            updates[col] = pl.when(first_row).then(values).otherwise(pl.col(col))
        elif kind == INVALID_TIMESTAMP:
            col = source.timestamp_column
            updates[col] = pl.Series(source.bad_timestamps).gather(
                pl.Series(pick % len(source.bad_timestamps))
            )
        out = rows.with_columns(**updates)
        if kind == EVENT_BEFORE_LABEL:
            out = self.before_label(out, rng)
        return out

    def _truth(self, source: LandingSource, faults: pl.DataFrame) -> pl.DataFrame:
        keyed = faults.with_columns(_key=record_keys(source, faults)).unique(
            "_rec", keep="first", maintain_order=True
        )
        return keyed.select(
            source=pl.lit(source.name),
            file=pl.col("_file"),
            fault_kind=pl.col("_kind"),
            expected_reason=pl.col("_kind"),
            record_key=pl.when(pl.col("_malformed"))
            .then(pl.lit(None, pl.String))
            .otherwise(pl.col("_key")),
        )
