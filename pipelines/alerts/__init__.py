"""The alerts domain: KPI target breaches judged after the KPI marts, sent as alerts."""
