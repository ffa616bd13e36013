"""`python3 -m pipelines repair`: move loaded records to the quarantine, rebuild what they
reached, and run the flow so routing and the dashboards see the repaired data.

    repair recheck [--source S ...]                 re-judge loaded rows by today's rules
    repair quarantine --source S --match COL=VALUE [--match ...] --reason TEXT

See docs/operations.md ("Repairing a record").
"""

from __future__ import annotations

import argparse

from pipelines.ingest.sources import SOURCES_BY_NAME


def _match(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise SystemExit(f"--match takes COLUMN=VALUE, not {item!r}")
        out[column.strip()] = value
    return out


def cmd_repair(args: argparse.Namespace) -> int:
    from pipelines.cli import rebuild_then_run
    from pipelines.ingest.repair import quarantine, rebuild_selection, recheck
    from pipelines.warehouse import Warehouse, create_schemas

    with Warehouse.from_settings().connect() as con:
        create_schemas(con)
        if args.action == "recheck":
            moved = recheck(con, args.source or None)
        else:
            if not args.source or len(args.source) != 1:
                raise SystemExit("quarantine needs exactly one --source")
            try:
                moved = quarantine(con, args.source[0], _match(args.match), args.reason or "")
            except ValueError as exc:
                raise SystemExit(str(exc)) from None
    if not moved:
        print("Nothing to move: no loaded record matched.")
        return 0
    for m in moved:
        print(f"moved {m.rows:,} rows of raw.{m.table} ({m.source}) to raw._rejects")
    selectors = rebuild_selection(moved)
    print("Rebuilding from scratch what they reached: dbt build --full-refresh --select",
          " ".join(selectors))  # fmt: skip
    return rebuild_then_run(selectors, run=not args.no_run)


def add_repair_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "repair",
        help="move loaded records to the quarantine and rebuild what they reached",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["recheck", "quarantine"])
    p.add_argument("--source", action="append", choices=sorted(SOURCES_BY_NAME))
    p.add_argument("--match", action="append", default=[], metavar="COLUMN=VALUE")
    p.add_argument("--reason", help="why (quarantine): kept with every record moved")
    p.add_argument("--no-run", action="store_true", help="do not run the flow afterwards")
    p.set_defaults(func=cmd_repair)
