"""Input-file fingerprints: a re-import skips the files whose records the store already holds.

After each import the store keeps, for the version it leaves, one fingerprint per input file
that went in cleanly: every record stored as read (added, updated or unchanged; no read error,
no exact duplicate, no repeated key). A fingerprint is (file, size, mtime, content hash) under a
key naming the resolved path, the path relative to the import root (doc ids derive from it),
the format and the reading options (source, field mapping, size limit, metadata file).

The rule: a file is skipped when its key is known, its size is the recorded size and its
content hash (xxh3-128 of the bytes) is the recorded hash. The mtime never decides: a file
rewritten within the same second, or copied with its times kept, has the same mtime and other
bytes; hashing costs a tenth of parsing. A different size means changed without hashing.
A skipped file's records count as unchanged. A changed file is re-read and diffed by record
(``corpus.ingest.importer``: unchanged records by raw hash, the rest normalized and planned).

The fingerprints stay valid while the version they describe is the latest one. An import that
updates any document keeps only the fingerprints of the files it read itself (a file it
skipped might hold the document's old text); files that no longer exist are dropped.
Known limit: a record whose key repeats one in a skipped file is not reported as repeated
(the skipped file is not read); it is planned against the store like any record.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from corpus.ingest.readers import MetadataTable, ReadOptions

_CHUNK = 1 << 22


def content_hash(path: Path) -> str | None:
    """xxh3-128 of a file's bytes (None: unreadable)."""
    h = xxhash.xxh3_128()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
    except OSError:
        return None
    return h.hexdigest()


def options_digest(fmt: str, opts: ReadOptions, metadata: str | Path | MetadataTable | None) -> str | None:
    """What else decides a file's records. None: skipping is off (metadata given as a table)."""
    if isinstance(metadata, MetadataTable):
        return None
    md = None
    if metadata is not None:
        try:
            md = hashlib.sha256(Path(metadata).read_bytes()).hexdigest()
        except OSError:
            return None
    from corpus import __version__

    return json.dumps(
        [fmt, opts.source, sorted(opts.field_map.items()), opts.max_bytes, md, __version__], separators=(",", ":")
    )


@dataclass
class _File:
    key: str
    path: Path
    fp: dict[str, Any]
    start: int  # first record number
    end: int = -1  # one past the last
    stable: bool = True  # same size and mtime after reading as before


@dataclass
class Ledger:
    """The fingerprints of one import: which files to skip, which to record afterwards."""

    digest: str | None
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    read: list[_File] = field(default_factory=list)
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped_records: int = 0
    _bad: set[int] = field(default_factory=set)  # record numbers with a problem
    _blank: list[tuple[int, int]] = field(default_factory=list)  # (record number, unused numbers)

    def load(self, store: Any, version: int | None) -> None:
        if self.digest is not None and version is not None:
            self.known = store.read_fingerprints(version)

    def key(self, path: Path, rel: str, fmt: str) -> str | None:
        if self.digest is None:
            return None
        try:
            real = str(path.resolve(strict=True))
        except (OSError, RuntimeError):
            return None
        return json.dumps([real, rel, fmt, self.digest], separators=(",", ":"))

    def will_read(self, path: Path, rel: str, fmt: str) -> bool:
        """True when ``begin`` will certainly say "read it" (no fingerprint of the same size is
        known), told without hashing the file."""
        key = self.key(path, rel, fmt)
        old = self.known.get(key) if key is not None else None
        try:
            return old is None or old.get("size") != path.stat().st_size
        except OSError:
            return True

    def begin(self, path: Path, rel: str, fmt: str, seq: int) -> bool:
        """Called before reading a file; True: skip it (its records are stored as they are)."""
        key = self.key(path, rel, fmt)
        if key is None:
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        old = self.known.get(key)
        if old is not None and old.get("size") == st.st_size:
            digest = content_hash(path)
            if digest is not None and digest == old.get("xxh3_128"):
                self.skipped[key] = {**old, "mtime_ns": st.st_mtime_ns}
                self.skipped_records += int(old.get("records", 0))
                return True
        else:
            digest = None
        if digest is None:
            digest = content_hash(path)
        if digest is not None:
            fp = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "xxh3_128": digest}
            self.read.append(_File(key, path, fp, seq))
        return False

    def end(self, seq: int) -> None:
        """The file begun last was read up to record ``seq`` (exclusive)."""
        if self.read and self.read[-1].end < 0:
            f = self.read[-1]
            f.end = seq
            try:
                st = f.path.stat()
                f.stable = st.st_size == f.fp["size"] and st.st_mtime_ns == f.fp["mtime_ns"]
            except OSError:
                f.stable = False

    def blank_lines(self, seq: int, n: int) -> None:
        """``n`` record numbers of the range starting at ``seq`` held no record (blank lines of a
        JSONL file read in parallel, whose records are numbered by line)."""
        self._blank.append((seq, n))

    def problem(self, seq: int) -> None:
        """Record ``seq`` was not stored as read (error, duplicate, repeated key)."""
        self._bad.add(seq)

    def result(self, updated_any: bool) -> dict[str, dict[str, Any]]:
        """The fingerprints of the version this import leaves."""
        out: dict[str, dict[str, Any]] = {}
        if not updated_any:
            for key, fp in self.known.items():
                if os.path.exists(fp.get("path", "")):
                    out[key] = fp
            out.update(self.skipped)
        bad = sorted(self._bad)
        for f in self.read:
            out.pop(f.key, None)
            if f.end < 0 or not f.stable:
                continue
            i = bisect.bisect_left(bad, f.start)
            if i < len(bad) and bad[i] < f.end:
                continue  # a record of this file had a problem: read it again next time
            blank = sum(n for s, n in self._blank if f.start <= s < f.end)
            out[f.key] = {**f.fp, "records": f.end - f.start - blank}
        return out
