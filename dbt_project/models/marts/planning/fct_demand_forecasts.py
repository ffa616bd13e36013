"""fct_demand_forecasts: one row per (series_id, forecast_date) over the planning horizon.

Reads fct_demand_daily (one row per series and calendar day, zero days included, stockout
days flagged) and runs the planning engine (pipelines.planning.forecast.forecast_series): the
method of each series is picked by a rolling-origin backtest, and its backtest accuracy (MASE,
bias) and one-day error sigma travel with every forecast row, and so do the series' class
figures (adi, cv2, n_days, mean_daily, method_params) that fct_forecast_selection picks up.
Horizon: config planning_horizon_days (from var planning_horizon_days, default 56; see
_forecast__models.yml).
"""

import polars as pl

_TEXT = ("series_id", "sku", "location_id", "method", "demand_class", "method_params")
_FIGURES = ("units_forecast", "units_point_forecast", "units_lo_80", "units_hi_80",
            "units_lo_95", "units_hi_95", "mase", "bias", "sigma_daily", "adi", "cv2",
            "mean_daily", "point_factor")  # fmt: skip
EMPTY_SCHEMA = {
    **dict.fromkeys(_TEXT, pl.String),
    "forecast_date": pl.Date,
    "step": pl.Int32,
    **dict.fromkeys(_FIGURES, pl.Float64),
    "n_days": pl.Int32,
}


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.planning.forecast import forecast_series

    horizon = int(dbt.config.get("planning_horizon_days") or 56)
    daily = dbt.ref("fct_demand_daily").pl()
    keys = daily.select("series_id", "sku", "location_id").unique("series_id")
    demand = daily.select(
        "series_id",
        pl.col("demand_date").alias("date"),
        pl.col("units").cast(pl.Float64),
        pl.col("is_stockout").fill_null(False),
    )
    if demand.height == 0:  # nothing to forecast (e.g. a warehouse of marketplace sellers only)
        return pl.DataFrame(schema=EMPTY_SCHEMA)
    result = forecast_series(demand, horizon=horizon, season_length=7, backtest_windows=3)
    sel = result.selection.rename({"sigma": "sigma_daily"})
    return (
        result.forecasts.join(sel, on="series_id")
        .join(keys, on="series_id")
        .select(
            "series_id",
            "sku",
            "location_id",
            pl.col("date").alias("forecast_date"),
            "step",
            pl.col("forecast").alias("units_forecast"),
            pl.col("point_forecast").alias("units_point_forecast"),
            pl.col("lo_80").alias("units_lo_80"),
            pl.col("hi_80").alias("units_hi_80"),
            pl.col("lo_95").alias("units_lo_95"),
            pl.col("hi_95").alias("units_hi_95"),
            "method",
            "demand_class",
            "mase",
            "bias",
            "sigma_daily",
            # figures of the series (not of the day), carried for fct_forecast_selection
            "method_params",
            "adi",
            "cv2",
            "mean_daily",
            "point_factor",
            "n_days",
        )
        .sort("series_id", "forecast_date")
    )
