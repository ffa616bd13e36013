"""Many small line-based files staged in one go: what makes 300,000 one-PO files cheap.

DuckDB's file readers have a fixed cost per file (opening it, planning its scan, handing over
its one small batch) that grows with the length of the file list: 30,000 one-PO wholesale
files took 100 s through `read_csv` and 44 s through `read_text` on a loaded 2-core machine,
where reading their bytes in Python threads took 9 s. So a chunk of small files of a
line-based source (JSON Lines, fixed width) is read here: every file on a worker thread,
its bytes checked against the fingerprint discovery took, split into lines in one polars
expression, and staged as the engine's `_scanned` table (one row per line, in path order and
line order, blank lines skipped), exactly what the scanner would have staged.

Only files whose lines the scanner would read plainly are split here: valid UTF-8, no
carriage return, no NUL, no byte-order mark, no `\\x01` (the scanner's delimiter). The rare
other file (Windows line endings, bytes that are not UTF-8, a control character) is read by
DuckDB's own scanner in the same statement sequence, so its rejects and reasons are the
scanner's, and its lines take their place in path order: the first copy of a key in path
order is still the one loaded. A file whose bytes changed since discovery is left out of the
load and waits for the next run.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.discovery import LINE_FORMATS
from pipelines.ingest.readers import not_blank, scan_source
from pipelines.ingest.spec import Source

# A chunk of small files is held in memory as text while it is staged: a smaller chunk than
# the engine's 1 GiB bounds that (300,000 one-PO files are about 135 MB).
SMALL_CHUNK_BYTES = 256 << 20

# Bytes the scanner treats specially (line ends, NUL, its own delimiter): a file holding one
# is left to the scanner.
_SPECIAL = (b"\r", b"\x00", b"\x01")
_BOM = b"\xef\xbb\xbf"

CHANGED = "changed while it was read"


def stageable(source: Source, mean_bytes: float, small_file_bytes: int) -> bool:
    """Whether a chunk of this source is staged here: line-based files, small on average."""
    return source.format in LINE_FORMATS and mean_bytes < small_file_bytes


@dataclass(frozen=True)
class FileTexts:
    """What reading a chunk's files found, by the file's position in the chunk."""

    # the file's text when it is plain (split here), None when the scanner must read it
    texts: list[str | None]
    # positions of files whose bytes no longer match their fingerprint
    changed: list[int]

    @property
    def odd(self) -> list[int]:
        """Positions of the (still matching) files the scanner reads."""
        gone = set(self.changed)
        return [i for i, t in enumerate(self.texts) if t is None and i not in gone]


def _plain_text(data: bytes) -> str | None:
    """The file's text when the scanner would read its lines plainly, else None."""
    if data.startswith(_BOM) or any(b in data for b in _SPECIAL):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _read_one(path: str, sha256: str, kept: bytes | None) -> tuple[str | None, bool]:
    """(text or None, whether the bytes still match the fingerprint). `kept`: the bytes
    discovery fingerprinted, when it kept them."""
    if kept is not None:
        return _plain_text(kept), True
    with open(path, "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        return None, False
    return _plain_text(data), True


def _read_share(
    pairs: list[tuple[str, str]], contents: dict[str, bytes]
) -> list[tuple[str | None, bool]]:
    out = []
    for path, sha in pairs:
        try:
            out.append(_read_one(path, sha, contents.get(path)))
        except OSError:  # gone since discovery: as good as changed
            out.append((None, False))
    return out


def read_texts(chunk: pl.DataFrame, contents: dict[str, bytes]) -> FileTexts:
    """The texts of the chunk's files: from the bytes discovery kept (`contents`, by path),
    else read again on every core (file reads and hashing release the GIL), one interleaved
    share per worker: one task per file would cost more than the reads."""
    pairs = list(zip(chunk["path"].to_list(), chunk["sha256"].to_list(), strict=True))
    workers = max(1, min(os.cpu_count() or 2, len(pairs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        shares = list(
            pool.map(_read_share, [pairs[i::workers] for i in range(workers)], [contents] * workers)
        )
    results: list[tuple[str | None, bool]] = [(None, True)] * len(pairs)
    for i, share in enumerate(shares):
        results[i::workers] = share
    return FileTexts(
        texts=[t for t, _ in results], changed=[i for i, (_, ok) in enumerate(results) if not ok]
    )


def stage_lines(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    chunk: pl.DataFrame,
    texts: list[str | None],
    keep_rejects: bool,
) -> bool:
    """Create `_scanned` (`_file`, `_line`) from the chunk's files (`_file`: the position in
    `chunk`, as `_files` numbers them), in path and line order. Files without a text are read
    by the scanner (keeping its rejects when `keep_rejects`). Returns whether the scanner
    kept rejects (so `_csv_rejects` exists)."""
    plain = [i for i, t in enumerate(texts) if t is not None]
    lines = (
        pl.DataFrame(
            {
                "_file": pl.Series(plain, dtype=pl.UInt64),
                "_line": pl.Series([texts[i] for i in plain], dtype=pl.String),
            }
        )
        .with_columns(pl.col("_line").str.split("\n"))
        .explode("_line")
        .with_row_index("_ln")
    )
    con.register("_plain_lines", lines.to_arrow())
    parts = [f"select _file, _ln, _line from _plain_lines where {not_blank('_line')}"]
    odd = [i for i, t in enumerate(texts) if t is None]
    if odd:
        paths = chunk["path"].to_list()
        scan = scan_source(source, [Path(paths[i]) for i in odd], keep_rejects)
        # the scanner numbers files by their position in its own list; order kept by rowid
        con.execute(f"create or replace temp table _odd_lines as {scan.read}")
        con.register("_odd_files", pl.DataFrame({"pos": range(len(odd)), "_file": odd}).to_arrow())
        parts.append(
            """select f._file::UBIGINT, o.rowid, o._line
            from _odd_lines o join _odd_files f on o._file = f.pos"""
        )
    try:
        con.execute(
            "create or replace temp table _scanned as select _file, _line from ("
            + " union all ".join(parts)
            + ") order by _file, _ln"
        )
    finally:
        con.unregister("_plain_lines")
        if odd:
            con.unregister("_odd_files")
            con.execute("drop table if exists temp._odd_lines")
    return bool(odd) and keep_rejects
