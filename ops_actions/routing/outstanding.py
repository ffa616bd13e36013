"""Outstanding allocations: one definition, in the dbt macro `allocations_with_outstanding`.

The macro (`dbt_project/macros/outstanding_allocations.sql`) is the only place that says when an
allocation stops being deducted from stock. dbt renders it inside `fct_available_to_promise`;
the router and the oversell check need the same rows live, at routing time (routing runs every
five minutes, with commits in between), over `ops.*` directly. This module reads the macro's
body and fills in its three relations, so they run the very text dbt runs.

One row per allocation: run_id, order_line_id, sku, location_id, units, action_id,
is_outstanding.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

MACRO_PATH = (
    Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "outstanding_allocations.sql"
)
MACRO_NAME = "allocations_with_outstanding"
RELATIONS = ("allocations", "outbox", "stock_as_of")

_MACRO = re.compile(
    r"{%-?\s*macro\s+" + MACRO_NAME + r"\((?P<args>[^)]*)\)\s*-?%}(?P<body>.*?){%-?\s*endmacro",
    re.S,
)
_PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")


class OutstandingDefinitionError(RuntimeError):
    """The macro file does not hold a body this module can render without dbt."""


@cache
def _body() -> str:
    text = MACRO_PATH.read_text(encoding="utf-8")
    found = _MACRO.search(text)
    if found is None:
        raise OutstandingDefinitionError(f"{MACRO_PATH}: no macro {MACRO_NAME}(...)")
    args = tuple(a.strip() for a in found["args"].split(","))
    if args != RELATIONS:
        raise OutstandingDefinitionError(
            f"{MACRO_PATH}: {MACRO_NAME} takes {args}, expected {RELATIONS}"
        )
    body = found["body"]
    names = set(_PLACEHOLDER.findall(body))
    leftover = _PLACEHOLDER.sub("", body)
    if names - set(RELATIONS) or "{%" in leftover or "{{" in leftover or "{#" in leftover:
        raise OutstandingDefinitionError(
            f"{MACRO_PATH}: {MACRO_NAME} may use only {{{{ allocations }}}}, {{{{ outbox }}}} "
            "and {{ stock_as_of }}; it is also run without dbt"
        )
    return body.strip()


def allocations_sql(allocations: str, outbox: str, stock_as_of: str) -> str:
    """The macro's SELECT over these relations (names or parenthesised queries): one row per
    allocation with `is_outstanding`. `stock_as_of` has one row per (sku, location_id) with the
    `snapshot_at` its stock figure describes."""
    given = {"allocations": allocations, "outbox": outbox, "stock_as_of": stock_as_of}
    return _PLACEHOLDER.sub(lambda m: given[m[1]], _body())
