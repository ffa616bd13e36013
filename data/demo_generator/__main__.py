"""Command line: `python -m demo_generator --landing data/landing --days 90 ...`."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from demo_generator.runner import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo_generator", description="Write demo landing files."
    )
    parser.add_argument("--landing", type=Path, default=Path("data/landing"))
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 8, 1))
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--order-lines", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    parser.add_argument("--truth", type=Path, default=None, help="folder for faults.csv")
    parser.add_argument("--from-day", type=int, default=0, help="write only days >= this index")
    parser.add_argument(
        "--wholesale-files", choices=("per_customer_day", "per_po"), default="per_customer_day"
    )
    parser.add_argument("--wholesale-pos", type=int, default=0, help="N one-PO files only")
    args = parser.parse_args(argv)
    report = generate(
        args.landing,
        start=args.start,
        days=args.days,
        order_lines=args.order_lines,
        seed=args.seed,
        fault_rate=args.fault_rate,
        truth_dir=args.truth,
        from_day=args.from_day,
        wholesale_files=args.wholesale_files,
        wholesale_pos=args.wholesale_pos,
    )
    print(report)


if __name__ == "__main__":
    main()
