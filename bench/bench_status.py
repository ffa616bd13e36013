"""Bench: status updates produced and delivered for N order lines' worth of transitions.

    .venv/bin/python bench/bench_status.py --lines 1000000 --runs 3

Per run: a fresh warehouse file; synthetic transitions (`tests/doubles/status_transitions.py`:
every line placed, validated, most shipped in one or two parcels and delivered, some cancelled,
returned and refunded) written to `marts.fct_order_line_transitions`; then
- production: `produce_status_updates` (read the mart, decide, enqueue in one transaction),
  timed, and a rerun that must enqueue nothing;
- delivery: every update of the first `--deliver` (default: all) dispatched through the outbox
  to a loopback HTTP server running in another process (the web shop's admin API requests,
  the other channels' updates as the HTTP JSON envelope), in order per order, timed; the
  server then counts what it applied, which must be each key exactly once.
Prints the median of the runs, and each run's figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.status.keys import STATUS_KIND
from ops_actions.status.run import produce_status_updates
from pipelines.warehouse import Warehouse, create_schemas
from tests.doubles.fake_warehouse import serve_forever
from tests.doubles.status_child import loopback_adapters
from tests.doubles.status_transitions import make_transitions


def _server(tmp: Path) -> tuple[mp.Process, str]:
    port_file = tmp / "server.url"
    proc = mp.get_context("spawn").Process(
        target=serve_forever, args=(True, str(port_file)), daemon=True
    )
    proc.start()
    for _ in range(600):
        if port_file.exists():
            return proc, port_file.read_text()
        time.sleep(0.05)
    raise RuntimeError("the loopback server did not start")


def one_run(
    lines: int, deliver: int | None, batch: int, seed: int, connections: int
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        transitions = make_transitions(lines, seed=seed)
        built_s = time.perf_counter() - t0
        con = Warehouse(tmp_path / "bench.duckdb").open()
        create_schemas(con)
        con.execute("create schema if not exists marts")
        con.execute("create table marts.fct_order_line_transitions as select * from transitions")
        del transitions
        t0 = time.perf_counter()
        report = produce_status_updates(con)
        produce_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rerun = produce_status_updates(con)
        rerun_s = time.perf_counter() - t0
        assert rerun.created == 0, "a rerun must enqueue nothing"
        if deliver is not None and deliver < report.created:
            # Deliver a prefix: whole orders, so in-order delivery is exercised as it is.
            con.execute(
                """update ops.outbox set next_attempt_at = '2999-01-01'
                   where ordering_key not in (
                       select ordering_key from ops.outbox group by 1 order by 1
                       limit (select ? * count(distinct ordering_key) / count(*)
                              from ops.outbox))""",
                [deliver],
            )
        due = con.execute(
            "select count(*) from ops.outbox where next_attempt_at < '2999-01-01'"
        ).fetchall()[0][0]
        proc, url = _server(tmp_path)
        try:
            adapters = loopback_adapters(
                url, dedupes_by_key=True, connections=connections, timeout_s=10.0
            )
            policy = RetryPolicy(max_attempts=10, base_delay_s=0.01, lease_s=600)
            t0 = time.perf_counter()
            delivered = 0
            while delivered < due:
                r = dispatch_due(
                    con, adapters, policy=policy, batch_size=batch, kinds=(STATUS_KIND,)
                )
                if r.attempted == 0:
                    break
                delivered += r.delivered
            deliver_s = time.perf_counter() - t0
            with urllib.request.urlopen(url + "/_stats") as resp:
                stats = json.loads(resp.read())
        finally:
            proc.kill()
        con.close()
        assert delivered == due == stats["stored_keys"], (delivered, due, stats)
        assert stats["max_copies"] == 1, stats
        return {
            "order_lines": lines,
            "transitions_build_s": round(built_s, 2),
            "updates_produced": report.created,
            "produce_s": round(produce_s, 2),
            "rerun_s": round(rerun_s, 2),
            "updates_delivered": delivered,
            "deliver_s": round(deliver_s, 2),
            "delivered_per_s": round(delivered / deliver_s, 1),
            "connections_per_channel": connections,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliver", type=int, default=None, help="deliver about this many")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--connections", type=int, default=4, help="per channel")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        run = one_run(args.lines, args.deliver, args.batch, args.seed + i, args.connections)
        print(json.dumps(run), flush=True)
        runs.append(run)
    keys = ("produce_s", "rerun_s", "deliver_s", "delivered_per_s", "updates_produced")
    medians = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(json.dumps({"median_of_runs": len(runs), **medians}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
