"""Great Expectations suites guarding the raw boundary, one per source.

The ingest engine already quarantines records that break the landing contract; these suites are
the independent second line: they re-check what was *loaded* (required fields present, keys
unique within the load, vocabularies as documented) with a different tool, so an engine bug
cannot silently let bad rows through. Results surface as Dagster asset checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl

from pipelines.ingest.spec import Source
from pipelines.ingest.sql import MAX_QUANTITY, vocabulary_values


@dataclass(frozen=True)
class SuiteOutcome:
    """The result of one suite on one load: passed, and per expectation what failed."""

    passed: bool
    evaluated: int
    failures: list[dict[str, Any]]
    rows: int


@cache
def _context() -> Any:
    os.environ.setdefault("TQDM_DISABLE", "1")  # GX draws progress bars into our logs otherwise
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx  # imported lazily: it takes seconds
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return gx, context


def build_expectations(source: Source) -> list[Any]:
    """The expectations for a source, derived from its spec: required fields, quantities,
    keys, and the vocabularies the spec names (`pipelines/vocabularies.py`)."""
    gx, _ = _context()
    exp = gx.expectations
    out: list[Any] = []
    for f in source.stored_fields:
        if f.required:
            out.append(exp.ExpectColumnValuesToNotBeNull(column=f.name))
        if f.quantity is not None:
            low = {"positive": 1, "nonnegative": 0, "nonzero": -MAX_QUANTITY}[f.quantity]
            out.append(
                exp.ExpectColumnValuesToBeBetween(
                    column=f.name, min_value=low, max_value=MAX_QUANTITY
                )
            )
        if f.bounds is not None:
            out.append(
                exp.ExpectColumnValuesToBeBetween(
                    column=f.name, min_value=f.bounds[0], max_value=f.bounds[1]
                )
            )
        if f.vocabulary is not None:
            out.append(
                exp.ExpectColumnValuesToBeInSet(
                    column=f.name, value_set=list(vocabulary_values(f.vocabulary))
                )
            )
    if source.key is not None:
        if len(source.key) == 1:
            out.append(exp.ExpectColumnValuesToBeUnique(column=source.key[0]))
        else:
            out.append(exp.ExpectCompoundColumnsToBeUnique(column_list=list(source.key)))
    return out


def validate_load(source: Source, frame: pl.DataFrame) -> SuiteOutcome:
    """Validate the rows of one load (a polars frame of the raw table's rows)."""
    gx, ctx = _context()
    name = f"raw_{source.name}"
    try:
        batch_def = ctx.data_sources.get(name).get_asset(name).get_batch_definition(name)
    except (KeyError, ValueError, LookupError, AttributeError):
        batch_def = (
            ctx.data_sources.add_pandas(name)
            .add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe(name)
        )
    suite = gx.ExpectationSuite(name=f"{name}_suite", expectations=build_expectations(source))
    # Decimals are compared as floats by pandas-based expectations.
    pdf = frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64)).to_pandas()
    result = batch_def.get_batch(batch_parameters={"dataframe": pdf}).validate(suite)
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column")
            or r.expectation_config.kwargs.get("column_list"),
            "unexpected_count": (r.result or {}).get("unexpected_count"),
            "examples": [str(v) for v in ((r.result or {}).get("partial_unexpected_list") or [])][
                :5
            ],
        }
        for r in result.results
        if not r.success
    ]
    return SuiteOutcome(bool(result.success), len(result.results), failures, frame.height)
