"""Long demand table <-> day-by-series matrix, the shape every method of the engine works on.

Grain of the matrix: one row per calendar day of a common grid (first demand day of any series
.. last day of any series), one column per series. A cell is NaN before the series' first day
and on stockout days (lost sales are missing demand, not zero demand); every other day without
a row is a zero-demand day. Days are the rows so that one day of all series is contiguous in
memory: the smoothing recursions walk the days and update all series at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

REQUIRED_COLUMNS = ("series_id", "date", "units")


class DemandInputError(ValueError):
    """The demand table cannot be forecast as given (the message says why)."""


@dataclass(frozen=True)
class DemandMatrix:
    series_ids: list[str]
    first_day: date  # the grid's day 0
    values: np.ndarray  # float64 (n_days, n_series); NaN = not observed
    start: np.ndarray  # int64 (n_series,): grid index of each series' first day

    @property
    def n_days(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_series(self) -> int:
        return int(self.values.shape[1])


def validate_demand(demand: pl.DataFrame) -> pl.DataFrame:
    """Check columns, types and values; return series_id, date, units (f64), is_stockout."""
    missing = [c for c in REQUIRED_COLUMNS if c not in demand.columns]
    if missing:
        raise DemandInputError(
            f"the demand table lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(REQUIRED_COLUMNS)} (optional is_stockout)"
        )
    dtype = demand.schema["date"]
    if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
        demand = demand.with_columns(pl.col("date").dt.date())
    elif dtype != pl.Date:
        raise DemandInputError(f"column 'date' must hold dates, not {dtype}")
    if not demand.schema["units"].is_numeric():
        raise DemandInputError(f"column 'units' must be numeric, not {demand.schema['units']}")
    cols = [
        pl.col("series_id").cast(pl.String),
        pl.col("date"),
        pl.col("units").cast(pl.Float64),
    ]
    if "is_stockout" in demand.columns:
        cols.append(pl.col("is_stockout").cast(pl.Boolean).fill_null(False))
    else:
        cols.append(pl.lit(False).alias("is_stockout"))
    out = demand.select(cols)
    problems = out.select(
        null_id=pl.col("series_id").is_null().sum(),
        null_date=pl.col("date").is_null().sum(),
        bad_units=(pl.col("units").is_null() | pl.col("units").is_nan()).sum(),
        negative=(pl.col("units") < 0).sum(),
        duplicated=pl.struct("series_id", "date").is_duplicated().sum(),
    ).row(0, named=True)
    if problems["null_id"] or problems["null_date"]:
        raise DemandInputError(
            f"{problems['null_id']} row(s) without series_id and "
            f"{problems['null_date']} without date"
        )
    if problems["bad_units"]:
        raise DemandInputError(f"{problems['bad_units']} row(s) with empty or NaN units")
    if problems["negative"]:
        raise DemandInputError(
            f"{problems['negative']} row(s) with negative units; demand is never negative "
            "(returns are not negative demand)"
        )
    if problems["duplicated"]:
        raise DemandInputError(
            f"{problems['duplicated']} row(s) share a (series_id, date) with another row; "
            "give one row per series and day"
        )
    return out


def to_matrix(demand: pl.DataFrame) -> DemandMatrix:
    """Validated long table -> DemandMatrix (missing days between a series' first day and the
    grid's last day are zero demand; stockout days are NaN)."""
    demand = validate_demand(demand)
    if demand.height == 0:
        raise DemandInputError("the demand table is empty")
    first_day: date = demand["date"].min()  # type: ignore[assignment]
    last_day: date = demand["date"].max()  # type: ignore[assignment]
    n_days = (last_day - first_day).days + 1
    ids = demand["series_id"].unique().sort()
    index = pl.DataFrame({"series_id": ids, "col": np.arange(ids.len(), dtype=np.int64)})
    rows = demand.join(index, on="series_id").with_columns(
        day=(pl.col("date") - pl.lit(first_day)).dt.total_days()
    )
    day = rows["day"].to_numpy()
    col = rows["col"].to_numpy()
    start = np.full(ids.len(), n_days, dtype=np.int64)
    np.minimum.at(start, col, day)
    values = np.zeros((n_days, ids.len()), dtype=np.float64)
    values[np.arange(n_days)[:, None] < start[None, :]] = np.nan
    units = rows["units"].to_numpy().astype(np.float64)
    units[rows["is_stockout"].to_numpy()] = np.nan
    values[day, col] = units
    return DemandMatrix(ids.to_list(), first_day, values, start)


def fill_calendar(demand: pl.DataFrame) -> pl.DataFrame:
    """The long table with every calendar day from each series' first day to the last day of
    the table, missing days as zero units (what forecast-eval and the matrix assume)."""
    m = to_matrix(demand.select(REQUIRED_COLUMNS))
    days = pl.date_range(
        m.first_day, m.first_day + _days(m.n_days - 1), "1d", eager=True
    ).to_numpy()
    t, n = np.nonzero(~np.isnan(m.values))
    return pl.DataFrame(
        {
            "series_id": np.asarray(m.series_ids, dtype=object)[n],
            "date": days[t],
            "units": m.values[t, n],
        },
        schema={"series_id": pl.String, "date": pl.Date, "units": pl.Float64},
    ).sort("series_id", "date")


def _days(n: int):
    from datetime import timedelta

    return timedelta(days=n)
