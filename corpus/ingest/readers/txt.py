"""Plain text files: one file, one article; the title is the first non-empty line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpus.core.problems import Problem
from corpus.ingest.readers.base import Item, RawRecord, ReadOptions, decode_file, file_key, first_line

EXTENSIONS = (".txt", ".text")


def read(path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    got = decode_file(path, display, opts.max_bytes)
    if isinstance(got, Problem):
        yield got
        return
    text, enc_meta, raw_sha = got
    yield RawRecord(
        source_key=file_key(opts.source, rel),
        text=text,
        title=first_line(text),
        source=opts.source,
        meta={**enc_meta, "path": rel},
        raw_sha256=raw_sha,
        path=display,
    )
