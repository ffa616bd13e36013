"""Which landing files a load reads: new, complete files inside the landing folder.

A file is read once it is complete and new by content:
- **inside the landing folder**: a symbolic link whose target lies outside it is refused (never
  opened), so no file of the machine can reach the quarantine or the published copy;
- **complete**: a file modified within the last `settle` seconds, one that changes while it is
  fingerprinted, or one whose last line has no line break yet (for up to `unterminated_grace`
  seconds, after which its writer is taken to be done) waits for a later run;
- **new by content**: the ledger's path, size, modification and change times skip a file
  already loaded without reading it; anything else is fingerprinted (SHA-256). The change time
  (`ctime`) cannot be set by a writer, so a file edited in place with its size and modification
  time restored is still read again. Bytes already loaded under another name are a copy: a
  ledger row of its own (`duplicate_of`), its records counted as duplicates, nothing re-read.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import duckdb
import polars as pl

from pipelines.ingest.spec import Source

# Sources read line by line (the small-file staging applies to them).
LINE_FORMATS = ("jsonl", "fixed")


class Stat(NamedTuple):
    """What the ledger keeps of a file's stat (a tuple: hundreds of thousands are made)."""

    bytes: int
    mtime_ns: int
    ctime_ns: int


@dataclass(frozen=True)
class Copy:
    """A file whose bytes are a batch already loaded (or loaded earlier in this load)."""

    rel: str
    sha256: str
    stat: Stat
    original_batch_id: str


@dataclass(frozen=True)
class Refused:
    """A file the load must not read, with the reason a person can act on."""

    rel: str
    fingerprint: str
    stat: Stat
    reason: str


@dataclass
class Discovery:
    new: pl.DataFrame
    copies: list[Copy] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    # (relative path, why it waits): not read now, read by a later run once complete
    waiting: list[tuple[str, str]] = field(default_factory=list)
    # (relative path, sha256, stat): loaded before with these bytes, now with another stat
    restat: list[tuple[str, str, Stat]] = field(default_factory=list)
    # path -> the bytes fingerprinted, for small files of line-based sources (within a
    # budget): the load stages these very bytes instead of reading the file again
    contents: dict[str, bytes] = field(default_factory=dict)


NEW_FILE_SCHEMA = {
    "path": pl.String,
    "rel": pl.String,
    "batch_id": pl.String,
    "sha256": pl.String,
    "bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "ctime_ns": pl.Int64,
}


# A file this small is read in one call (no streaming digest): most landing files of a source
# that delivers many of them are.
_WHOLE_READ_BYTES = 1 << 20
# The bytes of files up to this size are kept for the load (line-based sources only), up to
# `KEEP_BUDGET_BYTES` in all: reading 300,000 one-PO files a second time cost as much as
# fingerprinting them.
KEEP_FILE_BYTES = 16 << 10
KEEP_BUDGET_BYTES = 256 << 20


class Digest(NamedTuple):
    """A file's fingerprint, its last byte (b'' when empty), its stat after reading (None
    when it is gone: a file that changed while it was read shows a different stat) and, when
    kept, its bytes."""

    sha256: str
    tail: bytes
    after: Stat | None
    data: bytes | None


_GONE = Digest("", b"", None, None)


def _digest_and_tail(path: str, keep: bool) -> Digest:
    with open(path, "rb") as fh:
        data = fh.read(_WHOLE_READ_BYTES + 1)
        if len(data) <= _WHOLE_READ_BYTES:
            digest, tail = hashlib.sha256(data).hexdigest(), data[-1:]
        else:
            fh.seek(0)
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
            size = fh.seek(0, os.SEEK_END)
            fh.seek(size - 1)
            tail = fh.read(1)
    try:
        after: Stat | None = _stat(os.stat(path))
    except OSError:
        after = None
    return Digest(digest, tail, after, data if keep and len(data) <= KEEP_FILE_BYTES else None)


def _digest_many(paths: list[str], budget: int) -> list[Digest]:
    out: list[Digest] = []
    for p in paths:
        try:
            d = _digest_and_tail(p, budget > 0)
        except OSError:  # gone since the listing
            d = _GONE
        if d.data is not None:
            budget -= len(d.data)
        out.append(d)
    return out


def digest_all(paths: list[str], keep_budget: int = 0) -> list[Digest]:
    """Fingerprints of many files (with their stat after reading), hashed on every core
    (reads and hashlib release the GIL), keeping the bytes of small files up to
    `keep_budget` bytes in all. Each worker takes an interleaved share in one task: tens of
    thousands of small files would otherwise cost more in task hand-offs than in hashing."""
    workers = min(os.cpu_count() or 2, len(paths))
    if workers < 2:
        return _digest_many(paths, keep_budget)
    shares_of = [paths[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        shares = list(pool.map(_digest_many, shares_of, [keep_budget // workers] * workers))
    digests: list[Digest] = [_GONE] * len(paths)
    for i, share in enumerate(shares):
        digests[i::workers] = share
    return digests


def _stat(st: os.stat_result) -> Stat:
    return Stat(st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _utf8(name: str) -> bool:
    """Whether a name (as the OS gave it, undecodable bytes as surrogates) is valid UTF-8: the
    ledger, the warehouse and the dashboards hold names as text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _outside(path: str, root_real: str) -> str | None:
    """The real path of a file that lies outside the landing folder (through a link), or None."""
    real = os.path.realpath(path)
    return None if real == root_real or real.startswith(root_real + os.sep) else real


def _listing(source: Source, root: str) -> list[str]:
    """The source's files, relative to the landing folder, in path order, folder by folder
    (landing contract): with the separator as the lowest character, string order is
    folder-by-folder order (and cheaper than lists of parts)."""
    return sorted(
        {r for g in source.globs for r in glob.glob(g, root_dir=root, include_hidden=True)},
        key=lambda r: r.replace(os.sep, "\0"),
    )


def _known(con: duckdb.DuckDBPyConnection, source: Source) -> list[tuple]:  # type: ignore[type-arg]
    """The ledger's files of the source: file, stat, sha256 and the batch holding its bytes."""
    return con.execute(
        """select file, bytes, mtime_ns, coalesce(ctime_ns, -1), sha256,
               coalesce(duplicate_of, batch_id)
        from raw._batches where source = ?""",
        [source.name],
    ).fetchall()


def _shown(rel_key: str) -> str:
    """A file name as the ledger holds it: bytes that are not UTF-8 escaped."""
    return os.fsencode(rel_key).decode("utf-8", "backslashreplace")


def pending_files(
    con: duckdb.DuckDBPyConnection, source: Source, landing_dir: str, settle_seconds: float
) -> int:
    """How many of the source's files a load would look at (not in the ledger with their
    path and stat, and settled), without reading any: 0 means a load would do nothing."""
    root = str(landing_dir)
    known = {(f, Stat(b, m, c)) for f, b, m, c, _, _ in _known(con, source)}
    now_ns = time.time_ns()
    prefix = root.rstrip(os.sep) + os.sep
    pending = 0
    for rel in _listing(source, root):
        try:
            st = os.stat(prefix + rel)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        rel_key = rel.replace(os.sep, "/")
        key = rel_key if _utf8(rel_key) else _shown(rel_key)
        if (key, _stat(st)) in known:
            continue
        if (now_ns - st.st_mtime_ns) / 1e9 >= settle_seconds:
            pending += 1
    return pending


def discover(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing_dir: str,
    settle_seconds: float,
    unterminated_grace_seconds: float,
) -> Discovery:
    """The files of a source to load now, and what becomes of the others (see module doc)."""
    root = str(landing_dir)
    root_real = os.path.realpath(root)
    # glob with root_dir yields paths relative to the landing folder: no per-file Path objects
    rels = _listing(source, root)
    known = _known(con, source)
    known_stat = {(f, Stat(b, m, c)) for f, b, m, c, _, _ in known}
    batch_of_sha = {s: batch for *_, s, batch in known if not s.startswith("refused:")}
    known_file_sha = {(f, s) for f, *_, s, _ in known}
    now_ns = time.time_ns()
    found = Discovery(new=pl.DataFrame(schema=NEW_FILE_SCHEMA))
    candidates: list[tuple[str, str, Stat]] = []
    # Whether a folder lies inside the landing folder, once per folder: a file that is not a
    # link lies where its folder does, so only links need a path resolved of their own.
    folder_inside: dict[str, bool] = {}
    prefix = root.rstrip(os.sep) + os.sep
    for rel in rels:
        path = prefix + rel
        try:
            st = os.lstat(path)
            is_link = stat.S_ISLNK(st.st_mode)
            if is_link:
                st = os.stat(path)
        except OSError:  # a broken link, or a file gone since the listing
            continue
        if not stat.S_ISREG(st.st_mode):  # a folder, or a pipe that would block a reader
            continue
        rel_key = rel.replace(os.sep, "/")
        current = _stat(st)
        if (rel_key, current) in known_stat:
            continue
        if not _utf8(rel_key):
            shown = _shown(rel_key)
            fingerprint = "refused:" + hashlib.sha256(os.fsencode(rel_key)).hexdigest()
            if (shown, fingerprint) not in known_file_sha:
                found.refused.append(
                    Refused(
                        shown,
                        fingerprint,
                        current,
                        "refused_file: the file name is not UTF-8 (shown with its bytes "
                        "escaped); rename the file to load it",
                    )
                )
            continue
        folder = rel.rpartition(os.sep)[0]
        if folder not in folder_inside:
            folder_inside[folder] = _outside(prefix + folder, root_real) is None
        target = _outside(path, root_real) if is_link or not folder_inside[folder] else None
        if target is not None:
            fingerprint = "refused:" + hashlib.sha256(target.encode()).hexdigest()
            if (rel_key, fingerprint) not in known_file_sha:
                found.refused.append(
                    Refused(
                        rel_key,
                        fingerprint,
                        current,
                        f"refused_file: a link to {target}, outside the landing folder, is "
                        "never read",
                    )
                )
            continue
        age = (now_ns - st.st_mtime_ns) / 1e9
        if age < settle_seconds:
            found.waiting.append((rel_key, f"modified {max(age, 0):.1f} s ago, still settling"))
            continue
        candidates.append((path, rel_key, current))
    rows = []
    keep = KEEP_BUDGET_BYTES if source.format in LINE_FORMATS else 0
    digests = digest_all([p for p, _, _ in candidates], keep)
    for (path, rel, before), (sha, tail, after, data) in zip(candidates, digests, strict=True):
        if after is None:
            continue
        if after != before:
            found.waiting.append((rel, "changed while it was read"))
            continue
        age = (now_ns - before.mtime_ns) / 1e9
        if tail not in (b"\n", b"") and age < unterminated_grace_seconds:
            found.waiting.append((rel, "its last line has no line break yet"))
            continue
        if (rel, sha) in known_file_sha:
            found.restat.append((rel, sha, before))
            continue
        if sha in batch_of_sha:
            found.copies.append(Copy(rel, sha, before, batch_of_sha[sha]))
            continue
        if data is not None:
            found.contents[path] = data
        batch_id = f"{source.name}:{sha[:16]}"
        batch_of_sha[sha] = batch_id  # the same bytes twice in one load: one batch, one copy
        rows.append(
            {
                "path": path,
                "rel": rel,
                "batch_id": batch_id,
                "sha256": sha,
                "bytes": before.bytes,
                "mtime_ns": before.mtime_ns,
                "ctime_ns": before.ctime_ns,
            }
        )
    found.new = pl.DataFrame(rows, schema=NEW_FILE_SCHEMA)
    return found
