"""A sensor that starts the flow when new landing files appear."""

import hashlib
import os
import time
from typing import Any

import dagster as dg

from pipelines.ingest.sources import SOURCES
from pipelines.settings import get_settings


def landing_fingerprint() -> tuple[str, int]:
    """A hash over every settled landing file's path, size and modification time, and the
    file count.

    The sensor compares fingerprints instead of asking the warehouse which files are loaded:
    it must never open the warehouse, which a running job may hold for writing. A file still
    settling (modified within `OMS_LANDING_SETTLE_SECONDS`) is left out until it has settled,
    so the run the sensor requests finds it complete instead of leaving it waiting with no
    later change to request another run. Nothing in the folder may stop the sensor: a broken
    link is skipped, a name that is not UTF-8 is hashed by its bytes.
    """
    settings = get_settings()
    landing = settings.landing_dir
    settled_before = time.time_ns() - int(settings.landing_settle_seconds * 1e9)
    digest = hashlib.sha256()
    count = 0
    for source in SOURCES:
        for pattern in source.globs:
            for path in sorted(landing.glob(pattern)):
                try:
                    stat = path.stat()
                except OSError:  # a broken link, or gone since the listing
                    continue
                if stat.st_mtime_ns > settled_before:
                    continue
                digest.update(os.fsencode(path.relative_to(landing)))
                digest.update(f"|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
                count += 1
    return digest.hexdigest()[:24], count


def build_landing_sensor(job: Any) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
    def new_landing_batches(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Request a full-flow run when the landing folder changed since the last request."""
        fingerprint, count = landing_fingerprint()
        if count == 0 or fingerprint == context.cursor:
            return dg.SensorResult(skip_reason=f"no new landing files ({count} files known)")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=fingerprint, tags={"oms/trigger": "landing"})],
            cursor=fingerprint,
        )

    return new_landing_batches
