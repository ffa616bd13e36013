"""File drops of status updates: the marketplace's tab-separated feed and the wholesale
customers' acknowledgement files.

Both keep the file drop's mechanics (temporary name renamed into place, a name derived from
the keys held, the read of the folder before a retry, the key in the first column):

- `StatusFeedAdapter`: one `.tsv` feed file per delivery batch, one row per order line of each
  update (columns `FEED_COLUMNS`, `update-key` first).
- `AcknowledgementDropAdapter`: one `.csv` acknowledgement file per wholesale customer per
  delivery batch (columns `ACK_COLUMNS`, `ack_key` first), named after the customer.

The rows come ready from the payload (`ops_actions.status.shapes`); the adapter only adds the
key and lays them out. A file's name starts with the UTC time it was written, so a reader that
takes the files in name order reads each order's updates in the order they were delivered (a
later batch never sorts before an earlier one). A retry never rewrites a key already in a file
(the read before a retry), so the time in the name does not duplicate anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from itertools import groupby

from ops_actions.delivery.adapters.base import Action, Outcome
from ops_actions.delivery.adapters.file_drop import FileDropAdapter, safe_name
from ops_actions.status.shapes import ACK_COLUMNS, FEED_COLUMNS


class _TimeOrderedNames(FileDropAdapter):
    def _file_name(self, stem: str, batch_id: str) -> str:
        at = dt.datetime.now(dt.UTC)
        return f"{at:%Y%m%dT%H%M%S%f}_{stem}_{batch_id}.{self.file_format}"


def _table(actions: list[Action], columns: tuple[str, ...], delimiter: str) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=columns, delimiter=delimiter, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for a in actions:
        for row in a.payload.get("rows", []):
            writer.writerow({**row, columns[0]: a.action_id})
    return buf.getvalue()


@dataclass
class StatusFeedAdapter(_TimeOrderedNames):
    file_format: str = "tsv"

    FORMATS = ("tsv", "json")

    def _render(self, batch_id: str, actions: list[Action]) -> str:
        if self.file_format == "json":
            return super()._render(batch_id, actions)
        return _table(actions, FEED_COLUMNS, "\t")


@dataclass
class AcknowledgementDropAdapter(_TimeOrderedNames):
    file_format: str = "csv"

    FORMATS = ("csv", "json")

    def deliver(self, actions: list[Action]) -> list[Outcome]:
        if not actions:
            return []
        present = self.keys_present() if any(a.is_retry for a in actions) else set()
        out = [
            Outcome(a.action_id, "delivered", ack={"file": "existing"}, detail="found in folder")
            for a in actions
            if a.action_id in present
        ]
        todo = sorted(
            (a for a in actions if a.action_id not in present), key=lambda a: _customer(a)
        )
        for customer, group in groupby(todo, key=_customer):
            out += self._write(list(group), f"ack_{safe_name(customer)}")
        return out

    def _render(self, batch_id: str, actions: list[Action]) -> str:
        if self.file_format == "json":
            return super()._render(batch_id, actions)
        return _table(actions, ACK_COLUMNS, ",")


def _customer(action: Action) -> str:
    return str(action.payload.get("customer_id") or "unknown_customer")
