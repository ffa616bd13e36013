"""Purchase-order file drop: one CSV (or JSON) file per supplier per delivery batch.

The folder mechanics are the file-drop adapter's (temporary name renamed into place, a file
name derived from the keys it holds, the read of the folder before a retry); only the rendering
differs: one row per purchase-order line, with the request's key in `action_key` so the
look-up before a retry finds it. JSON files keep the file drop's document shape.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ops_actions.delivery.adapters.base import Action
from ops_actions.delivery.adapters.file_drop import FileDropAdapter

PO_COLUMNS = (
    "action_key",
    "request_type",
    "party_id",
    "as_of_date",
    "line_no",
    "suggestion_id",
    "sku",
    "deliver_to_location_id",
    "quantity",
    "unit_cost",
    "currency",
    "line_value",
    "approved_by",
    "approved_at",
    "note",
)


@dataclass
class PurchaseOrderDropAdapter(FileDropAdapter):
    """Writes reorder requests (purchase orders, transfer requests) as PO files."""

    file_format: str = "csv"

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        super().__post_init__()

    def _render(self, batch_id: str, actions: list[Action]) -> str:
        if self.file_format == "json":
            return super()._render(batch_id, actions)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=PO_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for a in actions:
            p = a.payload
            party = p.get("supplier_id") or p.get("source_location_id")
            for no, line in enumerate(p.get("lines", []), start=1):
                writer.writerow(
                    {
                        "action_key": a.action_id,
                        "request_type": p.get("request_type", a.kind),
                        "party_id": party,
                        "as_of_date": p.get("as_of_date"),
                        "line_no": no,
                        "suggestion_id": line.get("suggestion_id"),
                        "sku": line.get("sku"),
                        "deliver_to_location_id": line.get("location_id"),
                        "quantity": line.get("quantity"),
                        "unit_cost": line.get("unit_cost"),
                        "currency": line.get("currency"),
                        "line_value": line.get("line_value"),
                        "approved_by": line.get("approved_by"),
                        "approved_at": line.get("approved_at"),
                        "note": line.get("note"),
                    }
                )
        return buf.getvalue()
