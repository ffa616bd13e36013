"""Child process for the status crash tests: produce status updates from synthetic
transitions, then deliver them all to a loopback shop that does not deduplicate.

    python -m tests.doubles.status_child <warehouse> <server_url>

Set `OMS_OPS_CRASH_AT` to a crash point to be killed there (see `ops_actions.crashpoints`).
"""

from __future__ import annotations

import sys
import time

from ops_actions.delivery.adapters.base import Adapter
from ops_actions.delivery.adapters.http_json import HttpJsonAdapter
from ops_actions.delivery.adapters.parallel import ParallelAdapter
from ops_actions.delivery.adapters.rate_limit import RateLimitedAdapter
from ops_actions.delivery.adapters.shop_api import ShopApiAdapter
from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.status.keys import STATUS_KIND
from ops_actions.status.run import produce_status_updates
from tests.doubles.status_transitions import make_transitions
from tests.doubles.warehouse import open_ops_warehouse

CHILD_LINES = 150
CHILD_POLICY = RetryPolicy(max_attempts=50, base_delay_s=0.01, max_delay_s=0.05, lease_s=0.5)


def loopback_adapters(
    url: str, dedupes_by_key: bool = False, connections: int = 3, timeout_s: float = 0.3
) -> dict[str, Adapter]:
    """Every channel to the one loopback server over `connections` connections each: the web
    shop's admin API requests, the other channels' updates as the HTTP JSON envelope."""

    def parallel(cls: type[HttpJsonAdapter]) -> RateLimitedAdapter:
        return RateLimitedAdapter(
            ParallelAdapter(
                [cls(url, dedupes_by_key=dedupes_by_key, timeout_s=timeout_s)
                 for _ in range(connections)]
            )
        )  # fmt: skip

    return {
        "channel:webshop": parallel(ShopApiAdapter),
        "channel:marketplace": parallel(HttpJsonAdapter),
        "channel:wholesale": parallel(HttpJsonAdapter),
    }


def main(argv: list[str]) -> int:
    warehouse, url = argv[0], argv[1]
    con = open_ops_warehouse(warehouse)
    produce_status_updates(con, transitions=make_transitions(CHILD_LINES, seed=21))
    adapters = loopback_adapters(url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dispatch_due(con, adapters, policy=CHILD_POLICY, batch_size=9, kinds=(STATUS_KIND,))
        left = con.execute(
            "select count(*) from ops.outbox where state in ('pending', 'in_flight')"
        ).fetchall()[0][0]
        if left == 0:
            return 0
        time.sleep(0.05)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
