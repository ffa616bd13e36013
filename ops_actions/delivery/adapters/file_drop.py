"""File drop adapter: one file per batch in a folder the warehouse polls.

Each delivery call writes one file for its destination holding every action of the batch
(JSON: a document with a list of actions; CSV: one row per order line with the action key).
The file is written to a temporary name and renamed into place, so the warehouse never sees a
half-written file. The name is derived from the keys it holds, so rewriting the same batch
replaces the same file. A folder cannot deduplicate, so before a retry the adapter reads the
folder's files and treats keys already present as delivered (in CSV and tab-separated
files the first column holds the key).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ops_actions.delivery.adapters.base import Action, Outcome
from ops_actions.delivery.keys import canonical_json

CSV_COLUMNS = (
    "action_key",
    "kind",
    "order_id",
    "order_line_id",
    "sku",
    "units",
    "location_id",
)


@dataclass
class FileDropAdapter:
    directory: Path
    file_format: str = "json"  # json | csv (subclasses may add formats)

    FORMATS = ("json", "csv")

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        if self.file_format not in self.FORMATS:
            raise ValueError(
                f"file_format must be {' or '.join(self.FORMATS)}, not {self.file_format!r}"
            )

    def keys_present(self) -> set[str]:
        """Keys in the files already dropped (the read before a retry)."""
        keys: set[str] = set()
        if not self.directory.exists():
            return keys
        for path in self.directory.iterdir():
            if path.suffix == ".json":
                doc = json.loads(path.read_text(encoding="utf-8"))
                keys.update(a["key"] for a in doc.get("actions", []))
            elif path.suffix in (".csv", ".tsv"):
                with path.open(newline="", encoding="utf-8") as fh:
                    reader = csv.reader(fh, delimiter="\t" if path.suffix == ".tsv" else ",")
                    next(reader, None)  # the header
                    keys.update(row[0] for row in reader if row)
        return keys

    def deliver(self, actions: list[Action]) -> list[Outcome]:
        if not actions:
            return []
        present = self.keys_present() if any(a.is_retry for a in actions) else set()
        done = [
            Outcome(a.action_id, "delivered", ack={"file": "existing"}, detail="found in folder")
            for a in actions
            if a.action_id in present
        ]
        todo = [a for a in actions if a.action_id not in present]
        if not todo:
            return done
        return done + self._write(todo, safe_name(todo[0].destination))

    def _write(self, todo: list[Action], stem: str) -> list[Outcome]:
        """One file `<stem>_<batch id>.<format>` holding `todo`, renamed into place."""
        keys = sorted(a.action_id for a in todo)
        batch_id = hashlib.sha256("|".join(keys).encode()).hexdigest()[:20]
        name = self._file_name(stem, batch_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            text = self._render(batch_id, todo)
            tmp = self.directory / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / name)
        except OSError as exc:
            return [Outcome(a.action_id, "retry", error=f"{exc}") for a in todo]
        ack = {"file": name, "batch_id": batch_id}
        return [Outcome(a.action_id, "delivered", ack=ack) for a in todo]

    def _file_name(self, stem: str, batch_id: str) -> str:
        """Derived from the keys only, so rewriting the same batch replaces the same file."""
        return f"{stem}_{batch_id}.{self.file_format}"

    def _render(self, batch_id: str, actions: list[Action]) -> str:
        if self.file_format == "json":
            doc = {
                "batch_id": batch_id,
                "actions": [
                    {"key": a.action_id, "kind": a.kind, "payload": a.payload} for a in actions
                ],
            }
            return canonical_json(doc)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for a in actions:
            for line in a.payload.get("lines", [{}]):
                writer.writerow(
                    {
                        "action_key": a.action_id,
                        "kind": a.kind,
                        "order_id": a.payload.get("order_id"),
                        "order_line_id": line.get("order_line_id"),
                        "sku": line.get("sku"),
                        "units": line.get("units"),
                        "location_id": a.payload.get("location_id"),
                    }
                )
        return buf.getvalue()


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
