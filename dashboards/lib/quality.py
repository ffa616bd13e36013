"""Ingest data quality: batch reconciliation and rejected records, from the published run.

Every batch must reconcile: records seen = loaded + rejected + duplicates (the landing contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dashboards.lib.published import query

OK = "OK"
FAIL = "FAIL"

_RECONCILES = "records_seen = loaded + rejected + duplicates"


def batches(published_dir: Path) -> pl.DataFrame:
    """One row per ingested batch, newest first, with its reconciliation `status` (OK/FAIL)."""
    return query(
        published_dir,
        f"""
        select
            source, batch_id, file, records_seen, loaded, rejected, duplicates, loaded_at,
            case when {_RECONCILES} then '{OK}' else '{FAIL}' end as status
        from ingest_batches
        order by loaded_at desc, source, batch_id
        """,
        ["ingest_batches"],
    )


def source_summary(published_dir: Path) -> pl.DataFrame:
    """One row per source: batches and record counts, reject share, batches that do not
    reconcile, last load time and `status` (FAIL when any of its batches does not reconcile)."""
    return query(
        published_dir,
        f"""
        select
            source,
            count(*) as batches,
            cast(sum(records_seen) as bigint) as records_seen,
            cast(sum(loaded) as bigint) as loaded,
            cast(sum(rejected) as bigint) as rejected,
            cast(sum(duplicates) as bigint) as duplicates,
            cast(sum(rejected) as double) / nullif(sum(records_seen), 0) as reject_rate,
            count(*) filter (where not coalesce({_RECONCILES}, false)) as failed_batches,
            max(loaded_at) as last_loaded_at,
            case when count(*) filter (where not coalesce({_RECONCILES}, false)) = 0
                 then '{OK}' else '{FAIL}' end as status
        from ingest_batches
        group by source
        order by source
        """,
        ["ingest_batches"],
    )


FRESH = "fresh"
STALE = "stale"
ANY_SOURCE = "*"


def max_age_for(source: str, max_age_hours: Mapping[str, float]) -> float:
    """The source's own threshold, else the one for every source (`*`)."""
    return max_age_hours.get(source, max_age_hours[ANY_SOURCE])


def freshness(
    published_dir: Path, now: datetime, max_age_hours: Mapping[str, float]
) -> pl.DataFrame:
    """One row per source: when its newest batch landed (the landing file's modification
    time) and was loaded, the age of that batch at `now` in hours, the source's threshold and
    `status` (STALE when the age is over the threshold), stalest first."""
    frame = query(
        published_dir,
        """
        select source, max(landed_at) as last_landed_at, max(loaded_at) as last_loaded_at
        from ingest_batches
        group by source
        """,
        ["ingest_batches"],
    )
    at = now.astimezone(UTC).replace(tzinfo=None)  # the ledger's timestamps are naive UTC
    thresholds = pl.Series(
        [max_age_for(source, max_age_hours) for source in frame["source"]], dtype=pl.Float64
    )
    return (
        frame.with_columns(
            age_hours=(pl.lit(at) - pl.col("last_landed_at")).dt.total_seconds(fractional=True)
            / 3600,
            max_age_hours=thresholds,
        )
        .with_columns(
            status=pl.when(pl.col("age_hours") > pl.col("max_age_hours"))
            .then(pl.lit(STALE))
            .otherwise(pl.lit(FRESH))
        )
        .sort(["age_hours", "source"], descending=[True, False])
    )


def unmatched_lines(published_dir: Path) -> pl.DataFrame:
    """Shipment, RMA and receipt lines that refer to no known order or PO line, newest first."""
    return query(
        published_dir,
        """
        select line_kind, record_id, channel, order_id, line_ref, sku, quantity, reason, file,
               loaded_at
        from unmatched_lines
        order by loaded_at desc, line_kind, record_id
        """,
        ["unmatched_lines"],
    )


def rejects(published_dir: Path) -> pl.DataFrame:
    """One row per source, kind ('rejected' or 'duplicate') and reason, most records first."""
    return query(
        published_dir,
        """
        select source, kind, reason_code, records, example_record
        from ingest_rejects
        order by records desc, source, kind, reason_code
        """,
        ["ingest_rejects"],
    )
