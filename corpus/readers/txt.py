"""Plain text files: one file, one article; the title is the first non-empty line."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from corpus.readers.base import Item, ReadError, ReadOptions, RawRecord, decode_file, file_key, first_line

EXTENSIONS = (".txt", ".text")


def read(path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    got = decode_file(path, display, opts.max_bytes)
    if isinstance(got, ReadError):
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
