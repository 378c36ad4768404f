"""What every reader yields: raw records (decoded, not yet normalized) or problems.

A reader never raises for bad input: it yields a :class:`~corpus.core.problems.Problem`
naming the file (and line) and goes on, so one broken file never stops an import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from corpus.core.errors import InputError
from corpus.core.normalize import decode
from corpus.core.problems import Problem

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# Candidate field names, first match wins; --text-field etc. replace a list with one name.
DEFAULT_FIELDS: dict[str, list[str]] = {
    "text": ["text", "content", "body", "article", "maintext"],
    "id": ["id", "doc_id", "guid", "uuid"],
    "title": ["title", "headline"],
    "url": ["url", "link", "uri"],
    "published": ["published", "date", "published_at", "publication_date", "pubdate", "date_publish"],
    "source": ["source", "publisher", "outlet"],
    "language": ["language", "lang"],
}


@dataclass
class RawRecord:
    """One article as read. ``source_key`` decides the doc_id (see ``model.make_doc_id``)."""

    source_key: str
    text: str
    title: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    raw_sha256: str | None = None
    path: str | None = None  # for reports
    line: int | None = None


Item = RawRecord | Problem


@dataclass
class ReadOptions:
    source: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)  # logical name -> field name
    max_bytes: int = DEFAULT_MAX_BYTES

    def fields(self) -> dict[str, list[str]]:
        """Field names to try for each name (text, id, title, url, published, source, language);
        ``date`` is accepted as another key for ``published``."""
        return _candidates(tuple(self.field_map.items()))


@lru_cache(maxsize=64)
def _candidates(field_map: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """Computed once per field map: a record looks up seven names, an import millions of records."""
    given = dict(field_map)
    out = {}
    for name, defaults in DEFAULT_FIELDS.items():
        one = given.get(name) or (given.get("date") if name == "published" else None)
        out[name] = [one] if one else defaults
    return out


@lru_cache(maxsize=64)
def _roles(field_map: tuple[tuple[str, str], ...]) -> dict[str, tuple[tuple[str, int], ...]]:
    """Field name -> the names it can give, each with its rank among that name's candidates."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name, candidates in _candidates(field_map).items():
        for rank, fname in enumerate(candidates):
            out.setdefault(fname, []).append((name, rank))
    return {k: tuple(v) for k, v in out.items()}


def _picks(d: dict[str, Any], opts: ReadOptions) -> dict[str, tuple[int, str, Any]]:
    """``pick`` of every name at once, in one pass over the record's fields (a record has a few
    fields, the names ~25 candidates): name -> (rank, field name, value) of its first candidate
    present with a value other than None and ""."""
    roles = _roles(tuple(opts.field_map.items()))
    best: dict[str, tuple[int, str, Any]] = {}
    for k, v in d.items():
        r = roles.get(k)
        if r is None or v is None or v == "":
            continue
        for name, rank in r:
            cur = best.get(name)
            if cur is None or rank < cur[0]:
                best[name] = (rank, k, v)
    return best


def key_prefix(source: str | None) -> str:
    return f"{source}:" if source else ""


def file_key(source: str | None, rel: str) -> str:
    """Source key of a file: ``source:relative/path.ext`` (posix), or the path alone."""
    return key_prefix(source) + rel


def read_bytes(path: Path, display: str, max_bytes: int) -> bytes | Problem:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Problem("file_too_large", f"too large ({size} bytes > max_bytes {max_bytes})", file=display)
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            return Problem("file_too_large", f"too large (> max_bytes {max_bytes})", file=display)
        return data
    except OSError as e:
        return Problem("unreadable_file", f"unreadable: {e.strerror or e}", file=display)


def decode_file(path: Path, display: str, max_bytes: int) -> tuple[str, dict[str, Any], str] | Problem:
    """Read and decode one file: (text, encoding meta, raw sha256) or a problem."""
    data = read_bytes(path, display, max_bytes)
    if isinstance(data, Problem):
        return data
    try:
        text, meta = decode(data)
    except InputError as e:
        return Problem(e.code, e.message, file=display, hint=e.hint)
    return text, meta, hashlib.sha256(data).hexdigest()


def lone_surrogate(obj: Any) -> str | None:
    """The first field (top-level name) of a parsed JSON value holding a string with a lone
    surrogate, else None. Iterative: the value may be nested as deep as the parser allows."""
    stack: list[tuple[str, Any]] = [(k, v) for k, v in obj.items()] if isinstance(obj, dict) else [("", obj)]
    stack.reverse()
    while stack:
        top, v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return top
        elif isinstance(v, dict):
            stack.extend((top, x) for kv in v.items() for x in kv)
        elif isinstance(v, list):
            stack.extend((top, x) for x in v)
    if isinstance(obj, dict):
        for k in obj:
            try:
                k.encode("utf-8")
            except UnicodeEncodeError:
                return k
    return None


def first_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


def as_str(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def record_from_mapping(
    d: dict[str, Any], opts: ReadOptions, *, rel: str, display: str, line: int
) -> RawRecord | Problem:
    """JSONL object / CSV row -> RawRecord, using the field mapping; other fields go to meta."""
    picked = _picks(d, opts)
    if "text" not in picked:
        want = " / ".join(opts.fields()["text"])
        return Problem("no_text_field", f"no text (looked for field {want})", file=display, line=line)
    _, tname, text = picked.pop("text")
    if not isinstance(text, str):
        return Problem("text_not_string", f"field {tname!r} is not a string", file=display, line=line)
    if not text.strip():
        return Problem("empty_text", f"field {tname!r} is empty", file=display, line=line)
    used = {tname}
    values: dict[str, Any] = {}
    for name, (_, fname, v) in picked.items():
        used.add(fname)
        values[name] = as_str(v)
    source = opts.source or values.get("source")
    if values.get("id"):
        key = key_prefix(source) + values["id"]
    elif values.get("url"):
        key = values["url"]
    else:
        key = key_prefix(opts.source) + f"{rel}#{line}"
    meta = {k: v for k, v in d.items() if k not in used}
    if values.get("id"):
        meta["native_id"] = values["id"]
    if opts.source and values.get("source") and values["source"] != opts.source:
        meta["record_source"] = values["source"]
    return RawRecord(
        source_key=key,
        text=text,
        title=values.get("title"),
        url=values.get("url"),
        published=values.get("published"),
        source=source,
        language=values.get("language"),
        meta=meta,
        path=display,
        line=line,
    )


def too_long(max_bytes: int, display: str, line: int) -> Problem:
    return Problem("line_too_long", f"line longer than max_bytes {max_bytes}", file=display, line=line)


def lines_with_numbers(path: Path, display: str, max_bytes: int) -> Iterator[tuple[int, bytes] | Problem]:
    """Binary lines of a big file, streamed; a line over ``max_bytes`` is reported, not read."""
    try:
        f = open(path, "rb")
    except OSError as e:
        yield Problem("unreadable_file", f"unreadable: {e.strerror or e}", file=display)
        return
    with f:
        n = 0
        while True:
            try:
                line = f.readline(max_bytes + 1)
            except OSError as e:
                yield Problem("unreadable_file", f"read failed: {e.strerror or e}", file=display, line=n + 1)
                return
            if not line:
                return
            n += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                yield too_long(max_bytes, display, n)
                while line and not line.endswith(b"\n"):  # skip the rest of it
                    line = f.readline(1 << 20)
                continue
            if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            yield n, line
