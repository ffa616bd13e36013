"""Child process for crash-safety tests: route synthetic inputs, then deliver everything.

    python -m tests.doubles.crash_child <warehouse> <server_url> [--no-dispatch]

Set `OMS_OPS_CRASH_AT` to a crash point to be killed there (see `ops_actions.crashpoints`).
"""

from __future__ import annotations

import sys
import time

from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.routing.rules import DEFAULT_RULES_PATH
from ops_actions.run_routing import run_routing
from tests.doubles.synthetic import make_inputs
from tests.doubles.warehouse import open_ops_warehouse

CHILD_INPUTS = {"n_lines": 240, "n_locations": 6, "n_skus": 40, "seed": 11}
CHILD_POLICY = RetryPolicy(max_attempts=50, base_delay_s=0.01, max_delay_s=0.05, lease_s=0.3)


def main(argv: list[str]) -> int:
    warehouse, url = argv[0], argv[1]
    data = make_inputs(**CHILD_INPUTS)  # type: ignore[arg-type]
    con = open_ops_warehouse(warehouse)
    run_routing(con, DEFAULT_RULES_PATH, data.lines, data.atp, data.locations, today=data.today)
    if "--no-dispatch" in argv:
        return 0
    adapter = HttpJsonAdapter(url, dedupes_by_key=False, timeout_s=2.0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dispatch_due(con, {"*": adapter}, policy=CHILD_POLICY, batch_size=7)
        left = con.execute(
            "select count(*) from ops.outbox where state in ('pending', 'in_flight')"
        ).fetchall()[0][0]
        if left == 0:
            return 0
        time.sleep(0.1)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
