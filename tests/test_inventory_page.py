"""The Inventory page and the data-quality page's freshness, against independent computations.

Figures are recomputed with polars straight from the published Parquet files (the synthetic
folder of test_dashboard_pages and the real demo run's), the mart itself from the warehouse
tables it is built on, and the freshness from the landing files' modification times.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboards.lib import inventory, quality
from dashboards.lib.inventory import InventoryFilters
from dashboards.lib.tiles import fmt_int, fmt_money
from pipelines.settings import get_settings
from tests.conftest import DemoRun
from tests.test_dashboard_pages import (  # noqa: F401 - fixtures
    _synthetic_tables,
    app_env,
    metrics,
    publish,
    published_dir,
    run_app,
    synthetic_published,
    synthetic_tables,
    unexpected_warnings,
)

PAGE = "app_pages/inventory.py"
EPOCH = datetime(1970, 1, 1)
QUALITY_PAGE = "app_pages/data_quality.py"


def positions(published: Path, filters: InventoryFilters | None = None) -> pl.DataFrame:
    """The published fct_inventory_position rows a selection holds (no filter: all)."""
    filters = filters or InventoryFilters()
    folder = Path(os.path.realpath(published / "current"))
    frame = pl.read_parquet(folder / "fct_inventory_position.parquet").with_columns(
        pl.col("category").fill_null(inventory.NO_CATEGORY)
    )
    if filters.locations:
        frame = frame.filter(pl.col("location_id").is_in(filters.locations))
    if filters.categories:
        frame = frame.filter(pl.col("category").is_in(filters.categories))
    return frame


def expected_tiles(frame: pl.DataFrame) -> dict[str, str]:
    lost = (
        frame.filter(pl.col("lost_sales_value").is_not_null())
        .group_by("currency")
        .agg(pl.col("lost_sales_value").cast(pl.Float64).sum())
        .sort(["lost_sales_value", "currency"], descending=[True, False])
    )
    return {
        "Units on hand": fmt_int(int(frame["on_hand"].sum())),
        "Available to promise": fmt_int(int(frame["available_to_promise"].sum())),
        "SKU-locations out of stock": fmt_int(
            frame.filter(pl.col("is_active_sku") & pl.col("is_out_of_stock")).height
        ),
        "Estimated lost sales": fmt_money(dict(lost.iter_rows())),
    }


def expected_by_location(frame: pl.DataFrame) -> pl.DataFrame:
    def ratio(numerator: str, denominator: str) -> pl.Expr:
        return pl.when(pl.col(denominator).sum() > 0).then(
            pl.col(numerator).sum() / pl.col(denominator).sum()
        )

    return (
        frame.group_by("location_id")
        .agg(
            skus=pl.len(),
            units_on_hand=pl.col("on_hand").sum(),
            available_to_promise=pl.col("available_to_promise").sum(),
            out_of_stock=(pl.col("is_active_sku") & pl.col("is_out_of_stock")).sum(),
            cover_days=ratio("available_to_promise", "avg_daily_demand"),
            stockout_rate=ratio("stockout_days", "snapshot_days"),
            inventory_accuracy=ratio("counts_accurate", "cycle_counts"),
        )
        .sort("location_id")
    )


def shown_table(at: object, column: str) -> pl.DataFrame:
    """The page's table holding `column` (ratios back from the percent the table shows)."""
    tables = [pl.from_pandas(d.value) for d in at.dataframe if column in d.value.columns]  # type: ignore[attr-defined]
    assert len(tables) == 1, column
    return tables[0]


def assert_same(shown: pl.DataFrame, want: pl.DataFrame, percent: tuple[str, ...]) -> None:
    shown = shown.with_columns(pl.col(c) / 100 for c in percent)
    assert_frame_equal(
        shown.select(want.columns),
        want,
        check_dtypes=False,
        check_exact=False,
        rel_tol=1e-9,
        abs_tol=1e-9,
    )


# --------------------------------------------------------------------------------------------
# The page (AppTest from the entry point), on the synthetic folder and the demo run's
# --------------------------------------------------------------------------------------------


def test_inventory_page_figures_match_the_published_positions(
    published_dir,  # noqa: F811
    monkeypatch,
    app_env,  # noqa: F811
):
    at = run_app(published_dir, monkeypatch, PAGE)
    assert not at.exception
    assert not unexpected_warnings(at), unexpected_warnings(at)
    assert [t.value for t in at.title] == ["Inventory"]
    assert any("Data as of" in c.value for c in at.caption)
    every = positions(published_dir)
    assert every.height > 0
    shown = metrics(at)
    for label, value in expected_tiles(every).items():
        assert shown[label] == value, label

    by_location = shown_table(at, "skus")
    assert_same(by_location, expected_by_location(every), ("stockout_rate", "inventory_accuracy"))
    lowest = shown_table(at, "sku")
    want = (
        every.filter(pl.col("cover_days").is_not_null())
        .sort(
            ["cover_days", "lost_sales_value", "location_id", "sku"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .head(inventory.LOWEST_COVER_ROWS)
    )
    assert lowest["sku"].to_list() == want["sku"].to_list()
    assert lowest["location_id"].to_list() == want["location_id"].to_list()
    assert lowest["cover_days"].to_list() == pytest.approx(want["cover_days"].to_list())
    assert lowest["available_to_promise"].to_list() == want["available_to_promise"].to_list()

    downloads = at.get("download_button")
    assert [d.label for d in downloads] == ["Download CSV", "Download CSV"]


def test_location_and_category_filters_select_only_their_rows(
    published_dir,  # noqa: F811
    monkeypatch,
    app_env,  # noqa: F811
):
    every = positions(published_dir)
    location = sorted(every["location_id"].unique())[0]
    category = sorted(every["category"].unique())[-1]
    at = run_app(published_dir, monkeypatch, PAGE)
    at.multiselect(key="inventory_locations").select(location).run()
    assert not at.exception
    selected = positions(published_dir, InventoryFilters(locations=(location,)))
    for label, value in expected_tiles(selected).items():
        assert metrics(at)[label] == value, label
    assert shown_table(at, "skus")["location_id"].to_list() == [location]

    at.multiselect(key="inventory_categories").select(category).run()
    assert not at.exception
    both = positions(published_dir, InventoryFilters((location,), (category,)))
    assert 0 < both.height < selected.height
    for label, value in expected_tiles(both).items():
        assert metrics(at)[label] == value, label
    assert set(shown_table(at, "sku")["category"]) <= {category}


def test_csv_download_holds_the_table_as_shown_with_ratios_as_ratios(synthetic_published):  # noqa: F811
    table = inventory.lowest_cover(synthetic_published, InventoryFilters())
    assert table.height > 0
    back = pl.read_csv(inventory.to_csv(table), schema=table.schema)
    assert_frame_equal(back, table)


def test_lowest_cover_leaves_out_positions_without_demand(synthetic_published):  # noqa: F811
    table = inventory.lowest_cover(synthetic_published, InventoryFilters(), limit=500)
    every = positions(synthetic_published)
    assert table.height == every.filter(pl.col("avg_daily_demand") > 0).height
    assert table["cover_days"].to_list() == sorted(table["cover_days"].to_list())


def test_headline_sums_lost_sales_per_currency(synthetic_published, tmp_path):  # noqa: F811
    tables = _synthetic_tables(seed=7)
    frame = tables["fct_inventory_position"]
    tables["fct_inventory_position"] = frame.with_columns(
        currency=pl.when(pl.col("location_id") == "ST-001")
        .then(pl.lit("EUR"))
        .otherwise(pl.col("currency"))
    )
    two = tmp_path / "two-currencies"
    publish(two, "two-1", tables)
    got = inventory.headline(two, InventoryFilters())
    priced = tables["fct_inventory_position"].filter(pl.col("lost_sales_value").is_not_null())
    for currency in ("USD", "EUR"):
        want = priced.filter(pl.col("currency") == currency)["lost_sales_value"].cast(pl.Float64)
        assert got.lost_sales[currency] == pytest.approx(want.sum())
    by_location = inventory.by_location(two, InventoryFilters())
    assert by_location.filter(pl.col("location_id") == "ST-001")["currency"].to_list() == ["EUR"]


# --------------------------------------------------------------------------------------------
# The mart, recomputed from the warehouse tables it is built on (demo run)
# --------------------------------------------------------------------------------------------


def _warehouse_table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    return con.sql(f"select * from marts.{name}").pl()


def test_inventory_position_recomputed_from_snapshots_demand_and_counts(demo_run: DemoRun):
    assert demo_run.success
    con = duckdb.connect(str(demo_run.warehouse_path), read_only=True)
    try:
        mart = _warehouse_table(con, "fct_inventory_position")
        snapshots = _warehouse_table(con, "fct_inventory_snapshots")
        demand = _warehouse_table(con, "fct_demand_daily")
        counts = _warehouse_table(con, "fct_cycle_counts")
        atp = _warehouse_table(con, "fct_available_to_promise")
        products = _warehouse_table(con, "dim_products")
    finally:
        con.close()
    window = 28  # dbt_project.yml: inventory_window_days
    as_of = snapshots["snapshot_date"].max()
    first = snapshots["snapshot_date"].min()
    start = max(first, as_of - timedelta(days=window - 1))  # type: ignore[operator]
    days = (as_of - start).days + 1  # type: ignore[operator]
    key = ["location_id", "sku"]

    def in_window(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        return frame.filter(pl.col(column).is_between(start, as_of))

    daily = in_window(demand.filter(pl.col("location_id") != "ALL"), "demand_date").rename(
        {"demand_date": "snapshot_date"}
    )
    stock = (
        in_window(snapshots, "snapshot_date")
        .join(daily.select(*key, "snapshot_date", "units"), on=[*key, "snapshot_date"], how="left")
        .group_by(key)
        .agg(
            snapshot_days=pl.len(),
            stockout_days=(pl.col("on_hand") == 0).sum(),
            in_stock_days=(pl.col("on_hand") > 0).sum(),
            in_stock_units=pl.col("units").filter(pl.col("on_hand") > 0).fill_null(0).sum(),
        )
    )
    want = (
        atp.select(*key, "available_to_promise", "on_hand")
        .join(daily.group_by(key).agg(demand_units=pl.col("units").sum()), on=key, how="left")
        .join(stock, on=key, how="left")
        .join(
            in_window(counts, "count_date")
            .group_by(key)
            .agg(cycle_counts=pl.len(), counts_accurate=pl.col("is_accurate").sum()),
            on=key,
            how="left",
        )
        .join(products.select("sku", "list_price"), on="sku", how="left")
        .with_columns(pl.col("demand_units", "stockout_days", "cycle_counts").fill_null(0))
        .with_columns(
            avg_daily_demand=pl.col("demand_units") / days,
            in_stock_rate=pl.when(pl.col("in_stock_days") > 0).then(
                pl.col("in_stock_units") / pl.col("in_stock_days")
            ),
        )
        .with_columns(
            cover_days=pl.when(pl.col("avg_daily_demand") > 0).then(
                pl.col("available_to_promise") / pl.col("avg_daily_demand")
            ),
            lost_sales_value=pl.col("stockout_days")
            * pl.col("in_stock_rate")
            * pl.col("list_price").cast(pl.Float64),
            inventory_accuracy=pl.when(pl.col("cycle_counts") > 0).then(
                pl.col("counts_accurate") / pl.col("cycle_counts")
            ),
        )
        .select(
            *key,
            "on_hand",
            "available_to_promise",
            "avg_daily_demand",
            "cover_days",
            "stockout_days",
            "lost_sales_value",
            "inventory_accuracy",
        )
        .sort(key)
    )
    got = mart.select(want.columns).sort(key).with_columns(pl.col("lost_sales_value").cast(float))
    assert got.height == atp.height > 0
    assert mart["window_days"].unique().to_list() == [days]
    # lost sales are money rounded to the cent
    assert_frame_equal(
        got.drop("lost_sales_value"), want.drop("lost_sales_value"), check_dtypes=False
    )
    gap = (got["lost_sales_value"] - want["lost_sales_value"]).abs().max()
    assert gap is None or gap <= 0.005 + 1e-9  # type: ignore[operator]
    # the demo has stock-outs, demand and counts, so every figure is exercised
    assert (mart["stockout_days"] > 0).any() and mart["lost_sales_value"].drop_nulls().sum() > 0
    assert mart["cover_days"].drop_nulls().len() > 0
    assert mart["inventory_accuracy"].drop_nulls().len() > 0


# --------------------------------------------------------------------------------------------
# Freshness on the data-quality page
# --------------------------------------------------------------------------------------------


def _newest_landed(published: Path) -> dict[str, datetime]:
    folder = Path(os.path.realpath(published / "current"))
    batches = pl.read_parquet(folder / "ingest_batches.parquet")
    newest = batches.group_by("source").agg(pl.col("landed_at").max())
    return dict(newest.iter_rows())


def test_freshness_is_the_age_of_each_sources_newest_landed_batch(
    published_dir,  # noqa: F811
    monkeypatch,
    app_env,  # noqa: F811
):
    before = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    at = run_app(published_dir, monkeypatch, QUALITY_PAGE)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert not at.exception
    assert not unexpected_warnings(at), unexpected_warnings(at)
    fresh = shown_table(at, "age_hours")
    newest = _newest_landed(published_dir)
    assert sorted(fresh["source"]) == sorted(newest)
    threshold = dict(get_settings().freshness_max_age_hours)["*"]
    stale = []
    for row in fresh.iter_rows(named=True):
        landed = newest[row["source"]]
        assert row["last_landed_at"] == landed
        # the page measures at the minute it renders in
        assert (before - landed) / timedelta(hours=1) - 1 / 60 <= row["age_hours"]
        assert row["age_hours"] <= (after - landed) / timedelta(hours=1)
        assert row["max_age_hours"] == threshold
        if row["status"] == quality.STALE:
            stale.append(row["source"])
        assert row["status"] == (quality.STALE if row["age_hours"] > threshold else quality.FRESH)
    assert fresh["age_hours"].to_list() == sorted(fresh["age_hours"], reverse=True)
    warned = [w.value for w in at.warning if "delivered nothing new" in w.value]
    if stale:
        assert len(warned) == 1 and all(source in warned[0] for source in stale)
    else:
        assert not warned and any("within its threshold" in s.value for s in at.success)


def test_landed_at_is_the_landing_files_modification_time(demo_run: DemoRun):
    """Independently of the ledger: each source's newest batch landed when its newest landing
    file was last written."""
    assert demo_run.success
    folder = Path(os.path.realpath(demo_run.published_dir / "current"))
    batches = pl.read_parquet(folder / "ingest_batches.parquet")
    mtimes = batches.with_columns(
        mtime=pl.col("file").map_elements(
            lambda rel: (
                EPOCH
                + timedelta(microseconds=(demo_run.landing_dir / rel).stat().st_mtime_ns // 1000)
            ),
            return_dtype=pl.Datetime("us"),
        )
    )
    assert (mtimes["mtime"] == mtimes["landed_at"]).all()
    assert (mtimes["landed_at"] <= mtimes["loaded_at"]).all()


def test_a_source_threshold_of_its_own_changes_only_its_flag(
    synthetic_published,  # noqa: F811
    monkeypatch,
    app_env,  # noqa: F811
):
    # synthetic batches landed in 2024: all stale against one day, none against a century
    century = 24 * 365 * 100
    monkeypatch.setenv("OMS_FRESHNESS_MAX_AGE_HOURS", f'{{"*": 24, "pos": {century}}}')
    at = run_app(synthetic_published, monkeypatch, QUALITY_PAGE)
    assert not at.exception
    fresh = shown_table(at, "age_hours")
    status = dict(zip(fresh["source"], fresh["status"], strict=True))
    assert status.pop("pos") == quality.FRESH
    assert set(status.values()) == {quality.STALE}
    assert dict(zip(fresh["source"], fresh["max_age_hours"], strict=True))["pos"] == century
    warned = [w.value for w in at.warning if "delivered nothing new" in w.value]
    assert len(warned) == 1 and "pos" not in warned[0] and "webshop" in warned[0]


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("", (("*", 26.0),)),
        ("12", (("*", 12.0),)),
        ('{"pos": 48}', (("*", 26.0), ("pos", 48.0))),
        ('{"*": 6, "products": 170}', (("*", 6.0), ("products", 170.0))),
    ],
)
def test_freshness_thresholds_come_from_one_setting(value, want, monkeypatch):
    monkeypatch.setenv("OMS_FRESHNESS_MAX_AGE_HOURS", value)
    assert get_settings().freshness_max_age_hours == want


@pytest.mark.parametrize("value", ["-3", "0", "nan", '{"pos": 0}', '{"pos": "soon"}', "[1, 2]"])
def test_a_threshold_that_is_not_a_positive_number_is_refused_by_name(value, monkeypatch):
    monkeypatch.setenv("OMS_FRESHNESS_MAX_AGE_HOURS", value)
    with pytest.raises(ValueError, match="OMS_FRESHNESS_MAX_AGE_HOURS"):
        get_settings()
