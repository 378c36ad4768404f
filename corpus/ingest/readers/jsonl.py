"""JSON Lines: one object per line, fields mapped by name (see ``base.DEFAULT_FIELDS``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from corpus.core.errors import InputError
from corpus.core.normalize import decode
from corpus.ingest.readers.base import Item, ReadError, ReadOptions, lines_with_numbers, record_from_mapping

EXTENSIONS = (".jsonl", ".ndjson")


def read(path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    for item in lines_with_numbers(path, display, opts.max_bytes):
        if isinstance(item, ReadError):
            yield item
            continue
        n, raw = item
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                line, _ = decode(raw)
            except InputError as e:
                yield ReadError(display, e.message, n)
                continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            yield ReadError(display, f"malformed JSON: {e}", n)
            continue
        if not isinstance(obj, dict):
            yield ReadError(display, f"expected a JSON object, got {type(obj).__name__}", n)
            continue
        yield record_from_mapping(obj, opts, rel=rel, display=display, line=n)
