"""The platform's vocabularies (currencies, channels, statuses, reasons, outbox states, routing
outcomes), defined once.

They live in the dbt seed `dbt_project/seeds/vocabularies.csv` (one row per allowed value), so
that the ingest engine (which quarantines a value outside its vocabulary), the Great
Expectations suites, the dbt tests (`in_vocabulary`) and the dashboards all read the same list.
Adding a value is one row in that file.
"""

from __future__ import annotations

import csv
from functools import cache

from pipelines.settings import get_settings


@cache
def _all() -> dict[str, tuple[str, ...]]:
    path = get_settings().dbt_project_dir / "seeds" / "vocabularies.csv"
    values: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            values.setdefault(row["vocabulary"], []).append(row["value"])
    return {name: tuple(v) for name, v in values.items()}


def vocabulary(name: str) -> tuple[str, ...]:
    """The allowed values of one vocabulary, in file order."""
    try:
        return _all()[name]
    except KeyError:
        raise KeyError(f"no vocabulary {name!r} in seeds/vocabularies.csv") from None


def vocabulary_names() -> tuple[str, ...]:
    return tuple(_all())
