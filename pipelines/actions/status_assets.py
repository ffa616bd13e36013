"""Status updates to the channels as Dagster assets: produced after routing, delivered before
publish (contract 5: ... -> routing -> status updates -> delivery of every kind -> publish)."""

import datetime as dt

import dagster as dg

from ops_actions.delivery.dispatcher import dispatch_due
from ops_actions.delivery.retry import RetryPolicy
from ops_actions.status.keys import STATUS_KIND
from ops_actions.status.run import produce_status_updates
from pipelines.actions.status_destinations import status_adapters
from pipelines.db import scalar
from pipelines.keys import ROUTING_KEY, STATUS_DELIVERY_KEY, STATUS_KEY, model_key
from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseResource

GROUP = "actions"
TRANSITIONS_MODEL = "fct_order_line_transitions"


def _transitions_deps() -> list[dg.AssetKey]:
    """The transitions mart, when the dbt project has it (contract 2)."""
    try:
        return [model_key(TRANSITIONS_MODEL)]
    except KeyError:
        return []


def status_since() -> dt.datetime | None:
    """`OMS_STATUS_SINCE` as a time (a date means its midnight, UTC); None when unset."""
    raw = get_settings().status_since
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        raise ValueError(
            f"OMS_STATUS_SINCE={raw!r} is not a date or time (YYYY-MM-DD[THH:MM:SS])"
        ) from None


def build_status_assets() -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=STATUS_KEY,
        group_name=GROUP,
        kinds={"python", "duckdb"},
        deps=[ROUTING_KEY, *_transitions_deps()],
        op_tags={"oms/writes": "warehouse"},
    )
    def status_updates(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """One status update per (order, change a channel cares about) of the order-line
        transitions, enqueued once in the channel's shape, in order per order."""
        settings = get_settings()
        with warehouse.connect() as con:
            report = produce_status_updates(
                con, shapes=dict(settings.status_shapes), since=status_since()
            )
        if report.source_missing:
            context.log.warning(
                f"marts.{TRANSITIONS_MODEL} is not built: no status updates produced"
            )
        context.log.info(f"status updates: {report.as_dict()}")
        return dg.MaterializeResult(
            metadata={
                "transitions": report.transitions,
                "created": report.created,
                "by_channel": dg.MetadataValue.json(report.by_channel),
                "by_change": dg.MetadataValue.json(report.by_change),
                "source_missing": report.source_missing,
            }
        )

    @dg.asset(
        key=STATUS_DELIVERY_KEY,
        group_name=GROUP,
        kinds={"python"},
        deps=[STATUS_KEY],
        op_tags={"oms/writes": "warehouse"},
    )
    def status_deliveries(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Deliver the due status updates to their channels: in order per order, retried with
        backoff, dead-lettered after `OMS_STATUS_MAX_ATTEMPTS`, rate-limited per channel.
        (Dead letters asked to be retried from the dashboard are requeued by the fulfillment
        deliveries, which serve every kind's retry requests.)"""
        settings = get_settings()
        policy = RetryPolicy(max_attempts=settings.status_max_attempts)
        with warehouse.connect() as con:
            report = dispatch_due(
                con, status_adapters(settings), policy=policy, kinds=(STATUS_KIND,)
            )
            pending = scalar(
                con,
                "select count(*) from ops.outbox where kind = ? and state <> 'delivered'",
                [STATUS_KIND],
            )
        context.log.info(f"status deliveries: {report.as_dict()}; {pending} not yet delivered")
        return dg.MaterializeResult(
            metadata={
                "attempted": report.attempted,
                "delivered": report.delivered,
                "retried": report.retried,
                "deferred": report.deferred,
                "dead_lettered": report.dead_lettered,
                "skipped_destinations": ", ".join(sorted(report.skipped_destinations)),
                "undelivered": pending,
            }
        )

    return [status_updates, status_deliveries]
