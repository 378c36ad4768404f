"""CSV (and TSV) files: one row, one article; the header names the fields."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

from corpus.core.errors import InputError
from corpus.core.normalize import decode
from corpus.core.problems import Problem
from corpus.ingest.readers.base import Item, ReadOptions, record_from_mapping

EXTENSIONS = (".csv", ".tsv")


def read(path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    try:
        f = open(path, "rb")
    except OSError as e:
        yield Problem("unreadable_file", f"unreadable: {e.strerror or e}", file=display)
        return
    with f:
        head = f.read(4)
        if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            yield Problem("binary_file", "binary file (contains NUL bytes)", file=display)
            return
        f.seek(0)
        if _is_utf8(f):
            f.seek(0)
            yield from _rows(io.TextIOWrapper(f, encoding="utf-8-sig", newline=""), path, rel, opts, display)
            return
    # not UTF-8: detect the encoding of the whole file (rare, and such files are small)
    try:
        text, _ = decode(path.read_bytes())
    except OSError as e:
        yield Problem("unreadable_file", f"unreadable: {e.strerror or e}", file=display)
        return
    except InputError as e:
        yield Problem(e.code, e.message, file=display, hint=e.hint)
        return
    yield from _rows(io.StringIO(text, newline=""), path, rel, opts, display)


def _is_utf8(f) -> bool:
    """Validate a stream as UTF-8 chunk by chunk (memory stays flat)."""
    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := f.read(1 << 20):
            dec.decode(chunk)
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _rows(stream, path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    csv.field_size_limit(max(opts.max_bytes, 1 << 20))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(stream, delimiter=delimiter)
    while True:
        start = reader.line_num + 1  # the record's first line (line_num counts lines read so far)
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield Problem("malformed_csv", f"malformed CSV: {e}", file=display, line=start)
            continue
        line = reader.line_num
        if None in row:  # more cells than header names
            row.pop(None)
        yield record_from_mapping(
            {k: v for k, v in row.items() if k is not None}, opts, rel=rel, display=display, line=line
        )
