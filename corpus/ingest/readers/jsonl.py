"""JSON Lines: one object per line, fields mapped by name (see ``base.DEFAULT_FIELDS``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from corpus.core.errors import InputError
from corpus.core.normalize import decode
from corpus.core.problems import Problem
from corpus.ingest.readers.base import (
    Item,
    ReadOptions,
    lines_with_numbers,
    lone_surrogate,
    record_from_mapping,
)

EXTENSIONS = (".jsonl", ".ndjson")

# a \uD800-\uDFFF escape: the only way a lone surrogate (not valid Unicode, not storable) gets in
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def read(path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    for item in lines_with_numbers(path, display, opts.max_bytes):
        if isinstance(item, Problem):
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
                yield Problem(e.code, e.message, file=display, line=n, hint=e.hint)
                continue
        try:
            obj = json.loads(line)
        except RecursionError:
            yield Problem(
                "malformed_json",
                "malformed JSON: nested too deeply (arrays / objects inside each other)",
                file=display,
                line=n,
            )
            continue
        except ValueError as e:  # also an integer literal over 4300 digits
            yield Problem("malformed_json", f"malformed JSON: {e}", file=display, line=n)
            continue
        if not isinstance(obj, dict):
            yield Problem("not_json_object", f"expected a JSON object, got {type(obj).__name__}", file=display, line=n)
            continue
        if _SURROGATE_ESCAPE.search(raw) and (where := lone_surrogate(obj)) is not None:
            yield Problem(
                "lone_surrogate",
                f"field {where!r} holds a lone surrogate (an invalid \\u escape)",
                file=display,
                line=n,
            )
            continue
        yield record_from_mapping(obj, opts, rel=rel, display=display, line=n)
