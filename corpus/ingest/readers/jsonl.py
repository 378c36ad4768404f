"""JSON Lines: one object per line, fields mapped by name (see ``base.DEFAULT_FIELDS``)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from corpus.core.errors import InputError
from corpus.core.normalize import decode
from corpus.core.problems import Problem
from corpus.ingest.readers.base import (
    Item,
    ReadOptions,
    lines_with_numbers,
    lone_surrogate,
    record_from_mapping,
    too_long,
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
        got = parse_line(raw, n, opts, rel, display)
        if got is not None:
            yield got


def parse_line(raw: bytes, n: int, opts: ReadOptions, rel: str, display: str) -> Item | None:
    """One line (number ``n``) -> its record or problem; None for a blank line."""
    if not raw.strip():
        return None
    obj = _fast_loads(raw)
    if obj is not None:
        return _record(obj, raw, n, opts, rel, display)
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            line, _ = decode(raw)
        except InputError as e:
            return Problem(e.code, e.message, file=display, line=n, hint=e.hint)
    try:
        obj = json.loads(line)
    except RecursionError:
        return Problem(
            "malformed_json",
            "malformed JSON: nested too deeply (arrays / objects inside each other)",
            file=display,
            line=n,
        )
    except ValueError as e:  # also an integer literal over 4300 digits
        return Problem("malformed_json", f"malformed JSON: {e}", file=display, line=n)
    return _record(obj, raw, n, opts, rel, display)


def _record(obj: Any, raw: bytes, n: int, opts: ReadOptions, rel: str, display: str) -> Item:
    if not isinstance(obj, dict):
        return Problem("not_json_object", f"expected a JSON object, got {type(obj).__name__}", file=display, line=n)
    if _SURROGATE_ESCAPE.search(raw) and (where := lone_surrogate(obj)) is not None:
        return Problem(
            "lone_surrogate",
            f"field {where!r} holds a lone surrogate (an invalid \\u escape)",
            file=display,
            line=n,
        )
    return record_from_mapping(obj, opts, rel=rel, display=display, line=n)


_DEPTH = 100  # deeper structures go to json, whose limit is the interpreter's recursion limit


def _fast_loads(raw: bytes) -> Any:
    """orjson's parse of a line when it is certainly ``json.loads``'s (about 3x faster), else None
    (then ``json`` parses it and words the problem). orjson refuses what json accepts beyond
    the standard (NaN, lone surrogates: refused, so None), reads integers beyond 64 bits as
    floats (a whole float that large may have been one: None) and nests deeper than json
    can (deep nesting: None)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is dict and all(type(v) is str for v in obj.values()):
        return obj  # the usual news record: nothing nested, no number
    stack = [(obj, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth >= _DEPTH:
                return None
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
        elif isinstance(v, float) and abs(v) >= 2.0**63 and v.is_integer():
            return None
    return obj


# ------------------------------------------------------------------ parallel reading


@dataclass(frozen=True)
class Range:
    """Whole lines ``first_line``... of a file, bytes ``start:end``: what one worker reads."""

    start: int
    end: int
    first_line: int
    lines: int


def plan_ranges(path: Path, display: str, max_bytes: int, target: int) -> Iterator[Range | tuple[int, Problem]]:
    """Cut a file into ranges of about ``target`` bytes at line ends, reading it once (to count
    lines: records are numbered by line). A line over ``max_bytes`` is not put in a range but
    reported as ``(line number, problem)``, as ``lines_with_numbers`` does."""
    try:
        f = open(path, "rb")
    except OSError as e:
        yield 1, Problem("unreadable_file", f"unreadable: {e.strerror or e}", file=display)
        return
    with f:
        pos, line = 0, 1  # start of the range being cut, and its first line number
        buf = b""  # bytes read from pos on
        while True:
            try:
                more = f.read(max(target, 1))
            except OSError as e:
                yield line, Problem("unreadable_file", f"read failed: {e.strerror or e}", file=display, line=line)
                return
            buf += more
            cut = buf.rfind(b"\n") + 1
            if not more and len(buf) - cut <= max_bytes:
                cut = len(buf)  # the end: the last line, without a line end
            if cut:
                n = buf.count(b"\n", 0, cut) + (0 if buf[cut - 1 : cut] == b"\n" else 1)
                yield Range(pos, pos + cut, line, n)
                pos, line, buf = pos + cut, line + n, buf[cut:]
            if not more:
                if buf:  # the last line, over the limit
                    yield line, too_long(max_bytes, display, line)
                return
            if len(buf) > max_bytes:  # a line over the limit: reported, skipped, not held
                yield line, too_long(max_bytes, display, line)
                while (i := buf.find(b"\n")) < 0:
                    pos += len(buf)
                    buf = f.read(1 << 20)
                    if not buf:
                        return
                pos, line, buf = pos + i + 1, line + 1, b""
                f.seek(pos)  # ranges stay about ``target`` bytes


def read_range(path: Path, rng: Range, opts: ReadOptions, rel: str, display: str) -> Iterator[tuple[int, Item]]:
    """The records and problems of one range, each with its line's offset in the range."""
    try:
        with open(path, "rb") as f:
            f.seek(rng.start)
            data = f.read(rng.end - rng.start)
    except OSError as e:
        yield 0, Problem("unreadable_file", f"read failed: {e.strerror or e}", file=display, line=rng.first_line)
        return
    if rng.start == 0 and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for i, raw in enumerate(io.BytesIO(data)):  # lines end at \n only, as for readline
        if len(raw) - raw.endswith(b"\n") > opts.max_bytes:
            yield i, too_long(opts.max_bytes, display, rng.first_line + i)
            continue
        got = parse_line(raw, rng.first_line + i, opts, rel, display)
        if got is not None:
            yield i, got
