"""Records and stock movements decided today that happen on a later day."""

from __future__ import annotations

from collections import defaultdict

import polars as pl


class Agenda:
    """Frames filed by stream and due day (their `_day` column), taken out on that day."""

    def __init__(self) -> None:
        self._due: dict[str, dict[int, list[pl.DataFrame]]] = defaultdict(lambda: defaultdict(list))

    def add(self, stream: str, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        for key, part in frame.partition_by("_day", as_dict=True).items():
            self._due[stream][int(key[0])].append(part)

    def pop(self, stream: str, day: int) -> pl.DataFrame | None:
        parts = self._due[stream].pop(day, None)
        if not parts:
            return None
        return pl.concat(parts, how="diagonal_relaxed")
