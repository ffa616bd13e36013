"""The Breakdowns page on the real pipeline's published output (`demo_run`): its figures by
dimension, by SKU and the drilled-down order lines against the catalogue's own counts read
with polars from `fct_kpis.parquet` (dbt computed them, independently of the page's SQL over
the lines), and the filters that the URL and session state carry between pages."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.lib import breakdowns
from dashboards.lib.breakdowns import KPIS
from dashboards.lib.kpis import Filters
from tests.test_dashboard_pages import APP, APP_TIMEOUT, app_env, unexpected_warnings

__all__ = ["app_env"]  # the fixture, imported for the page tests

PAGE = "app_pages/breakdowns.py"


@pytest.fixture(scope="module")
def published(demo_run) -> Path:
    if not demo_run.success:
        pytest.fail("the demo run (tests/conftest.py) failed, so nothing was published")
    return Path(demo_run.published_dir)


def _folder(published_dir: Path) -> Path:
    return Path(os.path.realpath(published_dir / "current"))


def _whole_period(published_dir: Path) -> Filters:
    days = pl.read_parquet(_folder(published_dir) / "fct_kpis.parquet").filter(
        pl.col("period_grain") == "day"
    )["period_start"]
    return Filters(start=days.min(), end=days.max())  # type: ignore[arg-type]


def catalogue(published_dir: Path, filters: Filters, kpi: str, dimension: str) -> pl.DataFrame:
    """member, numerator, denominator of `kpi` per member of `dimension`, summed with polars
    from the catalogue's day rows that `filters` select (the dimension's own rows; under a
    location filter, or a channel filter of another dimension, the channel-location rows)."""
    num, den = KPIS[kpi].counts[KPIS[kpi].weighting(filters.weighting)]
    frame = pl.read_parquet(_folder(published_dir) / "fct_kpis.parquet").filter(
        pl.col("period_grain") == "day",
        pl.col("period_start").is_between(filters.start, filters.end),
    )
    if filters.locations or (filters.channels and dimension != "channel"):
        parts = pl.col("member").str.split_exact("|", 1)
        frame = frame.filter(pl.col("dimension") == "channel_location").with_columns(
            channel=parts.struct.field("field_0"), location=parts.struct.field("field_1")
        )
        if filters.channels:
            frame = frame.filter(pl.col("channel").is_in(filters.channels))
        if filters.locations:
            frame = frame.filter(pl.col("location").is_in(filters.locations))
        frame = frame.with_columns(member=pl.col(dimension))
    else:
        frame = frame.filter(pl.col("dimension") == dimension)
        if filters.channels:
            frame = frame.filter(pl.col("member").is_in(filters.channels))
    return (
        frame.group_by("member")
        .agg(numerator=pl.col(num).sum(), denominator=pl.col(den).sum())
        .filter(pl.col("denominator") > 0)
        .sort("member")
    )


def _counts(frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    return {
        row["member"]: (int(row["numerator"]), int(row["denominator"]))
        for row in frame.iter_rows(named=True)
    }


@pytest.mark.parametrize("weighting", ["units", "lines", "orders"])
@pytest.mark.parametrize("dimension", list(breakdowns.DIMENSIONS))
def test_figures_by_dimension_are_the_catalogue_counts_of_each_member(
    published, dimension, weighting
):
    whole = _whole_period(published)
    filters = Filters(start=whole.end - timedelta(days=6), end=whole.end, weighting=weighting)
    for kpi in KPIS:
        shown = breakdowns.by_dimension(published, filters, kpi, dimension)
        assert _counts(shown) == _counts(catalogue(published, filters, kpi, dimension)), kpi
        gap = (shown["rate"] - shown["numerator"] / shown["denominator"]).abs().max()
        assert gap is None or gap < 1e-12, kpi


def _group_with_most_against(frame: pl.DataFrame) -> str:
    return str(frame.sort("against", "member", descending=[True, False])["member"][0])


@pytest.mark.parametrize("weighting", ["units", "lines"])
@pytest.mark.parametrize("dimension", ["location", "carrier", "category", "channel"])
def test_skus_and_lines_of_a_group_add_up_to_its_catalogue_figure(published, dimension, weighting):
    filters = replace(_whole_period(published), weighting=weighting)
    checked = 0
    for kpi_name, kpi in KPIS.items():
        want = _counts(catalogue(published, filters, kpi_name, dimension))
        if not want:
            continue  # nothing due (the return rate before any cohort matured)
        shown = breakdowns.by_dimension(published, filters, kpi_name, dimension)
        member = _group_with_most_against(shown)
        numerator, denominator = want[member]
        skus = breakdowns.by_sku(published, filters, kpi_name, dimension, member)
        every_line = breakdowns.lines(
            published, filters, kpi_name, dimension, member, only_against=False
        )
        against = breakdowns.lines(published, filters, kpi_name, dimension, member)
        lines_figure = (int(every_line["numerator"].sum()), int(every_line["denominator"].sum()))
        sku_figure = (int(skus["numerator"].sum()), int(skus["denominator"].sum()))
        assert sku_figure == lines_figure, kpi_name
        if kpi_name == "return_rate":
            # till returns count at the store in the figure and have no order line
            assert lines_figure[1] == denominator and lines_figure[0] <= numerator
        else:
            assert lines_figure == (numerator, denominator), (kpi_name, member)
        # the lines counting against the rate: e.g. the late lines of on-time ship
        expected_against = denominator - numerator if kpi.higher_is_better else numerator
        if weighting == "lines" and kpi_name != "return_rate":
            assert len(against) == expected_against, (kpi_name, member)
            assert len(every_line) == denominator, (kpi_name, member)
        assert against["counts_against"].all()
        assert set(against["order_line_id"]) <= set(every_line["order_line_id"])
        checked += 1
    assert checked >= len(KPIS) - 1


def test_a_channel_and_location_filter_narrows_the_skus_and_lines_alike(published):
    folder = _folder(published)
    lines = pl.read_parquet(folder / "fct_kpi_order_lines.parquet")
    busiest = lines.filter(pl.col("channel") != "pos").group_by("channel", "location_id").len()
    channel, location = busiest.sort("len", descending=True).row(0)[:2]
    filters = replace(
        _whole_period(published), channels=(channel,), locations=(location,), weighting="lines"
    )
    assert not breakdowns.can_break_down(filters, "carrier")
    for dimension in breakdowns.FILTERABLE_DIMENSIONS:
        want = _counts(catalogue(published, filters, "on_time_ship_rate", dimension))
        shown = breakdowns.by_dimension(published, filters, "on_time_ship_rate", dimension)
        assert _counts(shown) == want
        member = channel if dimension == "channel" else location
        late = breakdowns.lines(published, filters, "on_time_ship_rate", dimension, member)
        assert len(late) == want[member][1] - want[member][0]
        assert set(late["channel"]) <= {channel} and set(late["location_id"]) <= {location}


# --------------------------------------------------------------------------------------------
# The page (AppTest from the entry point)
# --------------------------------------------------------------------------------------------


def open_page(published_dir: Path, monkeypatch, params: dict[str, object] | None = None):
    monkeypatch.setenv("OMS_PUBLISHED_DIR", str(published_dir))
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT)
    at.query_params.update(params or {})
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


TABLES = ("by dimension", "by SKU", "lines")
"""The page's tables, in the order it draws them."""


def _dataframe(at: AppTest, table: str) -> pl.DataFrame:
    return pl.from_pandas(at.dataframe[TABLES.index(table)].value)


def test_query_params_set_the_filters_and_the_drill_down_shows_the_late_lines(
    published, monkeypatch, app_env
):
    whole = _whole_period(published)
    start = whole.end - timedelta(days=9)
    at = open_page(
        published,
        monkeypatch,
        {
            "kpi": "on_time_ship_rate",
            "by": "location",
            "weighting": "lines",
            "dates": f"{start}..{whole.end}",
        },
    )
    assert not unexpected_warnings(at), unexpected_warnings(at)
    assert at.selectbox(key="breakdowns_kpi").value == "on_time_ship_rate"
    assert at.selectbox(key="breakdowns_by").value == "location"
    assert at.selectbox(key="breakdowns_weighting").value == "lines"
    assert tuple(at.date_input(key="breakdowns_dates").value) == (start, whole.end)
    filters = Filters(start=start, end=whole.end, weighting="lines")
    want = catalogue(published, filters, "on_time_ship_rate", "location")
    table = _dataframe(at, "by dimension")
    assert sorted(zip(table["numerator"], table["denominator"], strict=True)) == sorted(
        zip(want["numerator"], want["denominator"], strict=True)
    )
    assert len(at.dataframe) == 1  # no SKU or line table before a group is picked

    shown = breakdowns.by_dimension(published, filters, "on_time_ship_rate", "location")
    member = _group_with_most_against(shown)
    at.selectbox(key="breakdowns_group").select(member).run()
    assert not at.exception
    numerator, denominator = _counts(want)[member]
    late = _dataframe(at, "lines")
    assert len(late) == denominator - numerator  # the lines counted late
    assert late["counts_against"].all()
    skus = _dataframe(at, "by SKU")
    assert (int(skus["numerator"].sum()), int(skus["denominator"].sum())) == (
        numerator,
        denominator,
    )
    assert len(at.get("download_button")) == 3
    assert at.query_params["group"] == member


def test_filters_follow_the_user_to_the_overview_and_into_the_url(published, monkeypatch, app_env):
    at = open_page(published, monkeypatch)
    channel = sorted(pl.read_parquet(_folder(published) / "dim_channels.parquet")["channel"])[0]
    at.multiselect(key="breakdowns_channels").select(channel).run()
    at.selectbox(key="breakdowns_weighting").select("orders").run()
    assert not at.exception
    assert at.query_params["channel"] == channel
    assert at.query_params["weighting"] == "orders"
    assert "dates" not in at.query_params  # the default period is not pinned in the URL

    at.switch_page("app_pages/overview.py")
    at.run()
    assert not at.exception
    assert at.multiselect(key="overview_channels").value == [channel]
    assert at.selectbox(key="overview_weighting").value == "orders"
    assert any("weighted by orders" in c.value for c in at.caption)


def test_unknown_values_in_the_url_fall_back_to_the_defaults(published, monkeypatch, app_env):
    at = open_page(
        published,
        monkeypatch,
        {"kpi": "nonsense", "channel": ["no-such-channel"], "dates": "2001-01-01..x"},
    )
    whole = _whole_period(published)
    assert at.selectbox(key="breakdowns_kpi").value == next(iter(KPIS))
    assert at.multiselect(key="breakdowns_channels").value == []
    assert tuple(at.date_input(key="breakdowns_dates").value) == (
        max(whole.start, whole.end - timedelta(days=27)),
        whole.end,
    )


def test_order_lines_are_read_only_once_a_group_is_picked(
    published, monkeypatch, app_env, tmp_path
):
    """Without the lines file the first render is whole; the drill-down then says it is
    missing: nothing read the lines before."""
    copy = tmp_path / "published"
    folder = copy / "versions" / "only"
    shutil.copytree(_folder(published), folder)
    (folder / "fct_kpi_order_lines.parquet").unlink()
    (copy / "current").symlink_to(Path("versions") / "only")
    at = open_page(copy, monkeypatch, {"by": "channel"})
    assert not unexpected_warnings(at)
    member = breakdowns.by_dimension(copy, _whole_period(published), "fill_rate", "channel")[
        "member"
    ][0]
    at.selectbox(key="breakdowns_group").select(member).run()
    assert any("fct_kpi_order_lines" in w.value for w in at.warning)


def test_every_date_in_the_url_is_within_the_published_days(published, monkeypatch, app_env):
    whole = _whole_period(published)
    at = open_page(published, monkeypatch, {"dates": f"{date(2000, 1, 1)}..{whole.end}"})
    assert tuple(at.date_input(key="breakdowns_dates").value) == (whole.start, whole.end)
