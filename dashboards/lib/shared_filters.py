"""Filters shared by the pages: kept in the URL (`st.query_params`) so a reload or a shared link
shows the same selection, and in session state so they follow the user from page to page.

Each filter has a name (its URL parameter, e.g. `channel=webshop&channel=pos`) and one value in
session state (`SHARED_KEY`), whatever page set it. A page's widget has its own key; before the
widget is drawn it is given the shared value, and its `on_change` copies the user's choice back,
so the widget and the shared value never disagree. Streamlit drops a widget's state once a run
does not draw it (another page), which is why the value lives outside the widget. A value the
published data cannot answer (a channel that is gone, dates outside the data) falls back to the
page's default. Only values that differ from the default are written to the URL, so the default
period keeps following the newest data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar, cast

import streamlit as st

from dashboards.lib.kpis import FilterOptions, Filters
from dashboards.lib.schema import WEIGHTINGS, Weighting

T = TypeVar("T")

SHARED_KEY = "shared_filters"
"""Session-state key of the dict: filter name -> value."""

DATES, CHANNELS, LOCATIONS, WEIGHTING, KPI = "dates", "channel", "location", "weighting", "kpi"
"""Names of the shared filters, and of their URL parameters."""

_DATE_SEPARATOR = ".."


def _shared() -> dict[str, Any]:
    shared = st.session_state.get(SHARED_KEY)
    if shared is None:
        shared = st.session_state[SHARED_KEY] = {}
    return cast(dict[str, Any], shared)


def _keep(name: str, key: str) -> None:
    """on_change: the user's choice becomes the shared value (callbacks run before the page)."""
    _shared()[name] = st.session_state[key]


def _bind(
    name: str,
    key: str,
    default: T,
    from_url: Callable[[list[str]], T | None],
    clean: Callable[[T], T | None],
) -> dict[str, Any]:
    """Give the widget `key` the shared value of `name` (from the URL the first time, else the
    default; cleaned against what the data holds) and return the widget's key arguments."""
    shared = _shared()
    if name not in shared:
        parsed = from_url(st.query_params.get_all(name))
        shared[name] = default if parsed is None else parsed
    value = clean(shared[name])
    shared[name] = default if value is None else value
    if key not in st.session_state or st.session_state[key] != shared[name]:
        st.session_state[key] = shared[name]
    return {"key": key, "on_change": _keep, "args": (name, key)}


def _remember(name: str, value: Any, default: Any, to_url: Callable[[Any], list[str]]) -> None:
    """Store the value shown, and put it in the URL unless it is the default."""
    _shared()[name] = value
    if value == default:
        if name in st.query_params:
            del st.query_params[name]
    else:
        st.query_params[name] = to_url(value)


def _parse_dates(values: list[str]) -> tuple[date, ...] | None:
    if len(values) != 1:
        return None
    try:
        parts = tuple(date.fromisoformat(v) for v in values[0].split(_DATE_SEPARATOR))
    except ValueError:
        return None
    return parts if len(parts) in (1, 2) else None


def _format_dates(value: Sequence[date]) -> list[str]:
    return [_DATE_SEPARATOR.join(d.isoformat() for d in (value[0], value[-1]))]


def _one_of(choices: Sequence[T]) -> Callable[[list[str]], T | None]:
    def parse(values: list[str]) -> T | None:
        return next((c for c in choices if values and str(c) == values[-1]), None)

    return parse


def filter_bar(options: FilterOptions, page: str, default_days: int = 28) -> Filters | None:
    """The order-date range, channels, fulfilling locations and weighting, shared by the pages
    (widget keys `<page>_dates`, `<page>_channels`, `<page>_locations`, `<page>_weighting`).
    None when the published data has no days."""
    default = options.default_filters(days=default_days)
    if default is None or options.min_date is None or options.max_date is None:
        return None
    low, high = options.min_date, options.max_date
    default_dates: tuple[date, ...] = (default.start, default.end)
    everything: list[str] = []  # no channel or location chosen: all of them

    def clean_dates(value: tuple[date, ...]) -> tuple[date, ...] | None:
        clipped = tuple(min(max(d, low), high) for d in value)
        return clipped if clipped and clipped[0] <= clipped[-1] else None

    def as_listed(values: list[str]) -> list[str] | None:
        return values

    def known(choices: dict[str, str]) -> Callable[[list[str]], list[str] | None]:
        return lambda value: [v for v in value if v in choices]

    date_col, channel_col, location_col, weight_col = st.columns([2, 3, 3, 2])
    picked = date_col.date_input(
        "Order dates",
        min_value=low,
        max_value=high,
        help=f"Defaults to the last {default_days} days of data.",
        **_bind(DATES, f"{page}_dates", default_dates, _parse_dates, clean_dates),
    )
    channels = channel_col.multiselect(
        "Channels",
        options=list(options.channels),
        format_func=lambda channel: options.channels.get(channel, channel),
        placeholder="All channels",
        **_bind(CHANNELS, f"{page}_channels", everything, as_listed, known(options.channels)),
    )
    locations = location_col.multiselect(
        "Fulfilling locations",
        options=list(options.locations),
        format_func=lambda location: options.locations.get(location, location),
        placeholder="All locations",
        **_bind(LOCATIONS, f"{page}_locations", everything, as_listed, known(options.locations)),
    )
    picked_weighting = weight_col.selectbox(
        "Rates weighted by",
        options=WEIGHTINGS,
        help="Units: every unit counts alike (wholesale dominates); lines: every order line; "
        "orders: every order, filled or on time only when all its lines are.",
        **_bind(WEIGHTING, f"{page}_weighting", "units", _one_of(WEIGHTINGS), lambda v: v),
    )
    # While a range is being picked the widget holds only its first date.
    dates: tuple[date, ...] = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
    weighting: Weighting = picked_weighting or "units"
    _remember(DATES, dates, default_dates, _format_dates)
    _remember(CHANNELS, list(channels), [], list)
    _remember(LOCATIONS, list(locations), [], list)
    _remember(WEIGHTING, weighting, "units", lambda v: [v])
    return Filters(
        start=dates[0],
        end=dates[-1],
        channels=tuple(channels),
        locations=tuple(locations),
        weighting=weighting,
    )


def shared_choice(
    name: str,
    label: str,
    choices: Sequence[str],
    page: str,
    format_func: Callable[[str], str] = str,
    container: Any = st,
    **widget: Any,
) -> str:
    """A selectbox whose choice is shared through the URL and session state like the filters
    (the first choice is the default). `container`: where to draw it (st, a column)."""
    default = choices[0]
    kwargs = _bind(
        name,
        f"{page}_{name}",
        default,
        _one_of(choices),
        lambda v: v if v in choices else None,
    )
    picked = container.selectbox(
        label, options=choices, format_func=format_func, **kwargs, **widget
    )
    value = picked if picked in choices else default
    _remember(name, value, default, lambda v: [v])
    return str(value)
