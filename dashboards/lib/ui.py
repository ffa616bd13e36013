"""Small Streamlit helpers shared by the pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from dashboards.lib.published import RUN_COMMAND, DashboardDataError, RunInfo, read_run_info
from pipelines.settings import get_settings

EMPTY_STATE_TITLE = "Nothing published yet"

STALE_SOURCE_ICON = ":material/schedule:"
"""Icon of the data-quality page's warning that a source delivered nothing new for too long
(a finding about the data, like its lines that refer to nothing known)."""


@dataclass(frozen=True)
class PublishedRun:
    """The published folder (as a cache-friendly string) and the run it currently holds."""

    published_dir: str
    run: RunInfo


def require_published_run() -> PublishedRun:
    """The current published run; shows the empty state and stops the page when there is none."""
    published_dir = get_settings().published_dir
    run = read_run_info(published_dir)
    if run is None:
        st.info(
            f"**{EMPTY_STATE_TITLE}.** The dashboards read the marts a pipeline run publishes to "
            f"`{published_dir}`. Run the main job first:\n\n```\n{RUN_COMMAND}\n```\n\n"
            "then reload this page.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    return PublishedRun(published_dir=str(published_dir), run=run)


def data_as_of(run: RunInfo) -> None:
    st.caption(f"Data as of {run.finished_at:%Y-%m-%d %H:%M} UTC · pipeline run `{run.run_id}`")


@contextmanager
def data_section() -> Iterator[None]:
    """Show a data problem (a missing table or column, a vanished run) as a warning in place,
    so the rest of the page still renders."""
    try:
        yield
    except DashboardDataError as exc:
        st.warning(str(exc), icon=":material/warning:")
