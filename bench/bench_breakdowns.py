"""Bench: the Breakdowns page's reads over a published folder (first render vs drill-down).

    .venv/bin/python bench/bench_breakdowns.py [--published data/published] [--runs 5]

For the busiest period of the published data (its last 28 days), times (median of `--runs`):
- first render: the KPI by each dimension (`by_dimension`, the catalogue's day rows only);
- drill-down into the group with most against the rate: by SKU and its order lines
  (`by_sku`, `lines`, predicates pushed into the Parquet scan of `fct_kpi_order_lines`);
- for comparison, a full scan of the lines file (what a drill-down without pushdown costs);
and the row groups the lines read scanned out of the file's (from `explain analyze`).
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards.lib import breakdowns
from dashboards.lib.kpis import Filters, filter_options
from dashboards.lib.published import _query_folder, query, resolve_current


def _median_ms(runs: int, call: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--published", type=Path, default=Path("data/published"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kpi", default="on_time_ship_rate")
    args = parser.parse_args()
    folder = resolve_current(args.published)
    if folder is None:
        raise SystemExit(f"nothing published in {args.published}")
    options = filter_options(args.published)
    assert options.max_date is not None
    filters = Filters(start=options.max_date - timedelta(days=27), end=options.max_date)
    figures: dict[str, Any] = {"published": str(folder), "kpi": args.kpi}
    for dimension in breakdowns.DIMENSIONS:
        figures[f"by_{dimension}_ms"] = _median_ms(
            args.runs,
            lambda d=dimension: breakdowns.by_dimension(args.published, filters, args.kpi, d),
        )
    table = breakdowns.by_dimension(args.published, filters, args.kpi, "carrier")
    group = str(table.sort("against", descending=True)["member"][0])
    figures["group"] = f"carrier {group}"
    figures["by_sku_ms"] = _median_ms(
        args.runs,
        lambda: breakdowns.by_sku(args.published, filters, args.kpi, "carrier", group),
    )
    lines = breakdowns.lines(args.published, filters, args.kpi, "carrier", group)
    figures["lines_against"] = len(lines)
    figures["lines_ms"] = _median_ms(
        args.runs, lambda: breakdowns.lines(args.published, filters, args.kpi, "carrier", group)
    )
    figures["full_scan_ms"] = _median_ms(
        args.runs,
        lambda: query(args.published, "select * from kpi_order_lines", ["kpi_order_lines"]),
    )
    plan = _query_folder(
        folder,
        "explain analyze select count(*) from kpi_order_lines "
        "where kpi_date between ? and ? and carrier = ?",
        ["kpi_order_lines"],
        [filters.start, filters.end, group],
    )
    text = "\n".join(str(v) for v in plan["explain_value"])
    scanned = next((x for x in text.splitlines() if "Row Groups Scanned" in x), "")
    figures["row_groups_scanned"] = scanned.split(":")[-1].strip(" │") if scanned else "n/a"
    figures["drill_down_vs_full_scan"] = round(figures["lines_ms"] / figures["full_scan_ms"], 3)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
