"""The `ops` tables dbt reads, as Dagster assets written by the actions: they close the loop.

Routing reads available-to-promise (a dbt mart) and writes `ops.allocations`, `ops.outbox` and
`ops.routing_decisions`; the hold step writes `ops.order_holds` and `ops.order_validations`;
available-to-promise and the order lifecycle read those tables (dbt source `ops`,
models/staging/ops/). Mapping the dbt source straight onto the routing asset's key would make
routing its own ancestor, which Dagster refuses in a job (so no step may have the key of a
table dbt reads). As assets of their own that no step materialises (the routing run, the hold
step and the deliveries write them inside their transactions), they show the loop in the
lineage graph, routing -> allocations -> available-to-promise -> routing, while every job still
orders its steps: the dbt step reads what earlier runs wrote.
"""

import dagster as dg

from pipelines.keys import (
    ALERT_DELIVERY_KEY,
    ALERTS_KEY,
    DELIVERY_KEY,
    HOLDS_KEY,
    ROUTING_KEY,
    STATUS_DELIVERY_KEY,
    STATUS_KEY,
)

GROUP = "actions"

ALLOCATIONS_KEY = dg.AssetKey(["ops", "allocations"])
OUTBOX_KEY = dg.AssetKey(["ops", "outbox"])

OPS_TABLES = [
    dg.AssetSpec(
        ALLOCATIONS_KEY,
        deps=[ROUTING_KEY],
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per (routing run, order line, location): the units the run "
        "allocated there, committed with its decisions and outbox rows. Read by dbt "
        "(source ops.allocations) for available-to-promise.",
    ),
    dg.AssetSpec(
        OUTBOX_KEY,
        deps=[
            ROUTING_KEY,
            DELIVERY_KEY,
            STATUS_KEY,
            STATUS_DELIVERY_KEY,
            ALERTS_KEY,
            ALERT_DELIVERY_KEY,
        ],
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per outbound action: written by the routing run, the status "
        "updates and the KPI alerts, its delivery state and acknowledgement by the "
        "deliveries. Read by dbt (source ops.outbox).",
    ),
    dg.AssetSpec(
        dg.AssetKey(["ops", "routing_decisions"]),
        deps=[ROUTING_KEY],
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per (routing run, order line, outcome, location), with its "
        "explanation. Read by dbt (source ops.routing_decisions) for the order lifecycle.",
    ),
    dg.AssetSpec(
        dg.AssetKey(["ops", "order_holds"]),
        deps=[HOLDS_KEY],
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per hold put on an order, with its resolution. Written by the "
        "hold step; read by dbt (source ops.order_holds) for the order lifecycle.",
    ),
    dg.AssetSpec(
        dg.AssetKey(["ops", "order_validations"]),
        deps=[HOLDS_KEY],
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per order the hold step evaluated (validated or held). Read by "
        "dbt (source ops.order_validations) for the order lifecycle.",
    ),
]
