"""Simulation time: seconds since the first day's midnight UTC, and how to print it locally.

Every event is an int64 count of seconds since `start` 00:00 UTC; a day index is
`seconds // 86400` in UTC or `(seconds + offset) // 86400` on a local clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from demo_generator.geography import format_offset, utc_offset_seconds

DAY = 86_400
HOUR = 3_600

# Events are planned up to this many days after the last simulated day (deliveries, returns).
HORIZON_DAYS = 120


# Every UTC offset in use is a multiple of 15 minutes between -14:00 and +14:00.
_OFFSET_STEP = 900
_MIN_OFFSET = -14 * HOUR
_OFFSET_LABELS = pl.Series(
    [format_offset(o) for o in range(_MIN_OFFSET, 14 * HOUR + 1, _OFFSET_STEP)], dtype=pl.String
)


class Clock:
    """UTC offsets of every time zone the business touches, per simulated day."""

    def __init__(self, start: date, days: int, timezones: list[str]) -> None:
        self.start = start
        self.epoch = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
        self.timezones = list(timezones)
        self.zone_index = {tz: i for i, tz in enumerate(self.timezones)}
        n = days + HORIZON_DAYS
        # Rows are zones, columns days; the value on a day never depends on the span length.
        self.offsets = np.array(
            [[utc_offset_seconds(tz, start + timedelta(d)) for d in range(n)] for tz in timezones],
            dtype=np.int64,
        )

    def date(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def ymd(self, day: int) -> str:
        """The `YYYYMMDD` used in file names."""
        return self.date(day).strftime("%Y%m%d")

    def weekday(self, day: int | np.ndarray) -> int | np.ndarray:
        """Monday is 0."""
        return (self.start.weekday() + day) % 7

    def offset(self, zone: int | np.ndarray, day: int | np.ndarray) -> np.ndarray:
        """UTC offset in seconds of `zone` on `day` (both may be arrays)."""
        day = np.clip(day, 0, self.offsets.shape[1] - 1)
        return self.offsets[zone, day]

    def local_to_utc(self, zone: int | np.ndarray, day: int | np.ndarray, seconds_of_day):
        """Simulation seconds of a local wall-clock time on a local day."""
        return np.asarray(day) * DAY + seconds_of_day - self.offset(zone, day)

    def local_day(self, zone: int | np.ndarray, t: np.ndarray) -> np.ndarray:
        """The local calendar day index of instant `t` (offset taken on its UTC day)."""
        return (t + self.offset(zone, t // DAY)) // DAY

    def stamp(self, t: np.ndarray, zone: int | np.ndarray | None = None, sep: str = "T"):
        """ISO 8601 text with offset, e.g. `2026-08-01T10:22:33-04:00`; UTC when zone is None."""
        t = np.asarray(t, dtype=np.int64)
        if zone is None:
            off = np.zeros_like(t)
        else:
            off = np.broadcast_to(self.offset(zone, t // DAY), t.shape).astype(np.int64)
        local = pl.from_epoch(pl.Series(t + off + self.epoch), time_unit="s")
        text = local.dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        return text + _OFFSET_LABELS.gather(pl.Series((off - _MIN_OFFSET) // _OFFSET_STEP))

    def iso_date(self, day: np.ndarray, fmt: str = "%Y-%m-%d") -> pl.Series:
        """Day indexes as dates, `YYYY-MM-DD` by default."""
        secs = np.asarray(day, dtype=np.int64) * DAY + self.epoch
        return pl.from_epoch(pl.Series(secs), time_unit="s").dt.strftime(fmt)
