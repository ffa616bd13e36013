-- One row per series: its demand class and the forecasting method the backtest picked, with
-- the pick's accuracy. The figures are per series in fct_demand_forecasts (repeated on each of
-- its forecast days), so one row of step 1 per series carries them all.
select
    series_id,
    sku,
    location_id,
    demand_class,
    adi,
    cv2,
    method,
    method_params,
    mase,
    bias,
    sigma_daily,
    mean_daily,
    point_factor,
    n_days
from {{ ref('fct_demand_forecasts') }}
where step = 1
