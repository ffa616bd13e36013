"""`python -m pipelines.ingest`: load new landing batches into the warehouse's raw schema."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.ingest.engine import ingest_all
from pipelines.ingest.sources import SOURCES_BY_NAME
from pipelines.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m pipelines.ingest", description=__doc__)
    parser.add_argument("--landing", type=Path, default=settings.landing_dir)
    parser.add_argument("--warehouse", type=Path, default=settings.warehouse_path)
    parser.add_argument("--source", action="append", choices=sorted(SOURCES_BY_NAME))
    args = parser.parse_args(argv)
    results = ingest_all(args.warehouse, args.landing, args.source)
    print(
        f"{'source':<16}{'batches':>8}{'seen':>10}{'loaded':>10}{'rejected':>10}"
        f"{'dupes':>8}{'seconds':>9}"
    )
    for r in results:
        print(
            f"{r.source:<16}{len(r.batches):>8}{r.total('records_seen'):>10}"
            f"{r.total('loaded'):>10}{r.total('rejected'):>10}{r.total('duplicates'):>8}"
            f"{r.seconds:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
