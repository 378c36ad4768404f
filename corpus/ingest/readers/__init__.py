"""Readers: input files -> raw records. One small module per format; this module walks
directories (sorted, deterministic), picks the reader, and joins a metadata table.

``read_paths`` yields ``RawRecord`` or ``Problem`` items and never raises for bad input.
Symlinks that leave the import root are not followed (reported instead).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from corpus.core.display import printable
from corpus.core.errors import UsageError
from corpus.core.problems import Problem
from corpus.ingest.readers import csvrows, html, jsonl, txt
from corpus.ingest.readers.base import (
    DEFAULT_FIELDS,
    DEFAULT_MAX_BYTES,
    Item,
    RawRecord,
    ReadOptions,
    file_key,
)
from corpus.ingest.readers.metadata import MetadataTable, load_metadata

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "Item",
    "MetadataTable",
    "RawRecord",
    "ReadOptions",
    "file_key",
    "load_metadata",
    "plan_files",
    "read_paths",
]

Reader = Callable[[Path, str, ReadOptions, str], Iterator[Item]]
FORMATS: dict[str, tuple[Reader, tuple[str, ...]]] = {
    "txt": (txt.read, txt.EXTENSIONS),
    "html": (html.read, html.EXTENSIONS),
    "jsonl": (jsonl.read, jsonl.EXTENSIONS),
    "csv": (csvrows.read, csvrows.EXTENSIONS),
}


def format_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    for name, (_, exts) in FORMATS.items():
        if suffix in exts:
            return name
    return None


def plan_files(
    paths: Iterable[str | os.PathLike[str]], fmt: str = "auto"
) -> Iterator[tuple[Path, str, str, str] | Problem]:
    """(file, path relative to its import root, format, display path) for every input file.

    A file argument's root is its directory; a directory argument is walked in sorted order
    (hidden entries skipped; files of other formats skipped). Explicit file arguments are
    read with ``fmt`` (or by extension when ``auto``).
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"choose one of auto, {', '.join(FORMATS)}")
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from _walk(p, fmt)
        elif p.exists() or p.is_symlink():
            f = fmt if fmt != "auto" else format_of(p)
            if f is None:
                yield Problem(
                    "unknown_file_type",
                    f"unknown file type {printable(p.suffix) or '(no extension)'}",
                    file=printable(p),
                )
                continue
            yield p, p.name, f, printable(p)
        else:
            yield Problem("no_such_file", "no such file or directory", file=printable(p))


def _walk(root: Path, fmt: str) -> Iterator[tuple[Path, str, str, str] | Problem]:
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        d = Path(dirpath)
        # symlinked directories are listed in dirnames but not descended into by os.walk
        for name in list(dirnames):
            if (d / name).is_symlink():
                target = _resolve(d / name)
                if target is None:
                    yield Problem("symlink_loop", "symlink loop; not followed", file=printable(d / name))
                elif not _inside(target, real_root):
                    yield Problem(
                        "symlink_outside_root", "symlink leaves the import root; not followed", file=printable(d / name)
                    )
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = d / name
            rel = p.relative_to(root).as_posix()
            f = fmt if fmt != "auto" else format_of(p)
            if f is None or (fmt != "auto" and p.suffix.lower() not in FORMATS[f][1]):
                continue
            if p.is_symlink():
                target = _resolve(p)
                if target is None:
                    yield Problem("symlink_loop", "symlink loop; not followed", file=printable(p))
                    continue
                if not _inside(target, real_root):
                    yield Problem(
                        "symlink_outside_root", "symlink leaves the import root; not followed", file=printable(p)
                    )
                    continue
            yield p, rel, f, printable(p)


def _resolve(p: Path) -> Path | None:
    """The real path of a symlink, or None when it is a loop (``a -> b -> a``, ``x -> x``)."""
    try:
        return p.resolve(strict=False)
    except (RuntimeError, OSError):  # RuntimeError: Python < 3.13's "Symlink loop"
        return None


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
        return True
    except ValueError:
        return False


def read_paths(
    paths: Iterable[str | os.PathLike[str]],
    fmt: str = "auto",
    opts: ReadOptions | None = None,
    metadata: MetadataTable | None = None,
    on_file: Callable[[str], None] | None = None,
) -> Iterator[Item]:
    """Every record (or problem) from the given files and directories, in a stable order."""
    opts = opts or ReadOptions()
    for item in plan_files(paths, fmt):
        if isinstance(item, Problem):
            yield item
            continue
        path, rel, f, display = item
        if on_file:
            on_file(display)
        reader = FORMATS[f][0]
        for rec in reader(path, rel, opts, display):
            if metadata is not None and isinstance(rec, RawRecord):
                metadata.apply(rec, path)
            yield rec
