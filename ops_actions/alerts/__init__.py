"""KPI targets and alerts: targets set by managers (operational store), breaches of them judged
on the KPI catalogue, and one alert per breach and day through the outbox (docs/alerts.md)."""
