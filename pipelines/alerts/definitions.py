"""The alerts domain: the KPI alert run (after the KPI marts) and its deliveries (before
publish). Both run in the main flow; the deliveries also in `deliver_due`."""

import dagster as dg


def defs() -> dg.Definitions:
    from pipelines.alerts.assets import kpi_alert_deliveries, kpi_alert_run

    return dg.Definitions(assets=[kpi_alert_run, kpi_alert_deliveries])
