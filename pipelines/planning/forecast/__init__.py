"""The planning domain's forecasting engine: pure functions, polars in and out, no I/O.

    from pipelines.planning.forecast import forecast_series, ForecastResult

See docs/forecasting.md for the methods, the selection, the intervals and the definitions.
"""

from pipelines.planning.forecast.engine import ForecastResult, forecast_series
from pipelines.planning.forecast.matrix import DemandInputError

__all__ = ["DemandInputError", "ForecastResult", "forecast_series"]
