"""HTML pages: main text, title and date extracted with trafilatura (offline; no fetching)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from corpus.core.problems import Problem
from corpus.ingest.readers.base import Item, RawRecord, ReadOptions, decode_file, file_key

EXTENSIONS = (".html", ".htm", ".xhtml")


def extract(html: str) -> dict[str, str | None] | None:
    """trafilatura's main-text extraction; None when it finds no article text."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True, favor_precision=False
        )
    if doc is None:
        return None
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = d.get("text") or d.get("raw_text")
    if not text or not text.strip():
        return None
    return {
        "text": text,
        "title": d.get("title"),
        "published": d.get("date"),
        "url": d.get("url"),
        "author": d.get("author"),
        "sitename": d.get("sitename"),
        "language": d.get("language"),
    }


def read(path: Path, rel: str, opts: ReadOptions, display: str) -> Iterator[Item]:
    got = decode_file(path, display, opts.max_bytes)
    if isinstance(got, Problem):
        yield got
        return
    html, enc_meta, raw_sha = got
    try:
        x = extract(html)
    except Exception as e:  # trafilatura/lxml on hostile markup: report, go on
        yield Problem("html_extraction_failed", f"HTML extraction failed: {type(e).__name__}: {e}", file=display)
        return
    if x is None:
        yield Problem("no_main_text", "no main text found in the HTML", file=display)
        return
    meta = {**enc_meta, "path": rel}
    for k in ("author", "sitename"):
        if x.get(k):
            meta[k] = x[k]
    yield RawRecord(
        source_key=file_key(opts.source, rel),
        text=x["text"] or "",
        title=x.get("title"),
        url=x.get("url"),
        published=x.get("published"),
        source=opts.source,
        language=x.get("language"),
        meta=meta,
        raw_sha256=raw_sha,
        path=display,
    )
