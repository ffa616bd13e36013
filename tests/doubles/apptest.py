"""Reading a Streamlit AppTest run: the page's one table with given columns, a button by label."""

from __future__ import annotations

from typing import Any

import polars as pl
from streamlit.testing.v1 import AppTest


def table_with(at: AppTest, *columns: str) -> pl.DataFrame:
    """The (only) table on the page that has all of `columns`, as a polars frame."""
    found = [df.value for df in at.dataframe if set(columns) <= set(df.value.columns)]
    assert len(found) == 1, (columns, [list(df.value.columns) for df in at.dataframe])
    frame = found[0]
    return frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)


def button(at: AppTest, label: str) -> Any:
    """The page's button labelled `label`."""
    return next(b for b in at.button if b.label == label)
