"""Annotation snapshots on disk: one place for how they are named, written, found and read.

A snapshot is a JSONL file of canonical annotation records (``Annotation.to_dict()``) named by UTC
timestamp, ``<prefix><ts>.jsonl``, with ``<same>.manifest.json`` written last (counts, sha256,
provenance): a snapshot without a manifest is incomplete. Next to it may stand
``<same>.errors.jsonl`` (records that did not validate, from ``pull``) and
``<same>.conflicts.jsonl`` (from ``adjudicate``); neither holds annotations to read.
Snapshots are immutable: a new pull or import writes a new file, never over an old one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from corpus.core import atomic
from corpus.core.display import printable
from corpus.core.errors import InputError, UsageError
from corpus.core.model import Annotation

SIDE_FILES = (".errors.jsonl", ".conflicts.jsonl")


def utc_stamp(now: _dt.datetime | None = None) -> str:
    return (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def _stem(path: Path) -> str:
    return path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.name


def manifest_path(path: str | Path) -> Path:
    """``x.jsonl`` -> ``x.manifest.json``."""
    return Path(path).with_name(_stem(Path(path)) + ".manifest.json")


def side_path(path: str | Path, kind: str) -> Path:
    """``x.jsonl`` -> ``x.<kind>.jsonl`` (``errors``, ``conflicts``)."""
    return Path(path).with_name(f"{_stem(Path(path))}.{kind}.jsonl")


def new_snapshot_path(out: str | Path, prefix: str = "", now: _dt.datetime | None = None) -> Path:
    """``annotations/NAME`` -> ``annotations/NAME/<prefix><UTC timestamp>.jsonl`` (a ``.jsonl`` path
    is kept); two snapshots in one second get ``-1``, ``-2``... and never overwrite each other."""
    out = Path(out)
    if out.suffix == ".jsonl":
        return out
    stamp = prefix + utc_stamp(now)
    path, n = out / f"{stamp}.jsonl", 1
    while path.exists() or manifest_path(path).exists():
        path, n = out / f"{stamp}-{n}.jsonl", n + 1
    return path


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> Path:
    m = manifest_path(path)
    atomic.write_text(m, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return m


def write_snapshot(
    records: Iterable[Annotation | dict[str, Any]], path: str | Path, **manifest_extra: Any
) -> dict[str, Any]:
    """Write a JSONL snapshot, then its manifest (counts, annotators, origins, sha256), atomically."""
    path = Path(path)
    counts = {"records": 0, "documents": 0, "entities": 0, "events": 0, "attributions": 0}
    docs: set[str] = set()
    annotators: dict[str, int] = {}
    origins: set[str] = set()
    h = hashlib.sha256()

    def write(fh: IO[str]) -> None:
        for rec in records:
            d = rec.to_dict() if isinstance(rec, Annotation) else rec
            line = json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n"
            fh.write(line)
            h.update(line.encode("utf-8"))
            counts["records"] += 1
            docs.add(d["doc_id"])
            who = d.get("annotator") or ""
            annotators[who] = annotators.get(who, 0) + 1
            origins.add(d.get("origin") or "")
            for k in ("entities", "events", "attributions"):
                counts[k] += len(d.get(k) or [])

    with atomic.atomic_open(path) as fh:
        write(fh)
    counts["documents"] = len(docs)
    manifest = {
        "snapshot": path.name,
        "created_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": h.hexdigest(),
        "counts": counts,
        "annotators": dict(sorted(annotators.items())),
        "origins": sorted(origins),
        **manifest_extra,
    }
    write_manifest(path, manifest)
    return manifest


def check_manifest(path: str | Path, sha256: str) -> None:
    """A snapshot whose manifest records another sha256 was changed after it was written: refuse it."""
    m = manifest_path(path)
    if not m.is_file():
        return
    try:
        recorded = json.loads(m.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError) as e:
        raise InputError(f"manifest {m} is unreadable: {e}") from None
    if recorded and recorded != sha256:
        raise InputError(
            f"snapshot {path} does not match its manifest (sha256 {sha256[:12]}..., manifest {str(recorded)[:12]}...)",
            hint="Snapshots are immutable: restore the file from git, or pull a new snapshot.",
        )


_SNAPSHOT_NAME = re.compile(r"^[A-Za-z_-]*\d{8}T\d{6}Z(?:-\d+)?\.jsonl$")


def is_snapshot_name(path: str | Path) -> bool:
    """Is this file named like a snapshot (``[prefix]<UTC timestamp>[-n].jsonl``)? Such a file is
    complete only with its manifest."""
    return bool(_SNAPSHOT_NAME.match(Path(path).name))


def is_incomplete(path: str | Path) -> bool:
    """A snapshot-named file without its manifest: a pull or import was interrupted (or is still
    writing); it is never read."""
    return is_snapshot_name(path) and not manifest_path(path).is_file()


def _incomplete_warning(f: Path) -> str:
    return (
        f"skipped incomplete snapshot {printable(f)}: it has no manifest "
        f"({manifest_path(f).name}), so the pull or import that wrote it did not finish"
    )


def snapshot_files(paths: Iterable[str | Path], warnings: list[str] | None = None) -> list[Path]:
    """The JSONL files to read: files as given; for a directory, the latest complete snapshot in
    each folder below it.

    ``corpus pull`` writes full snapshots, so the newest snapshot with a manifest supersedes the
    older ones; reading them all would only add stale copies. Completeness is the manifest: a
    snapshot-named file without one (``is_incomplete``) is never read, whether given as a file or
    found in a folder; each one skipped is named in ``warnings`` (when a list is given). Folders
    of hand-made JSONL files (other names) without manifests use their newest file.
    """
    out: list[Path] = []
    skipped: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            if is_incomplete(p):
                skipped.append(p)
            else:
                out.append(p)
        elif p.is_dir():
            by_dir: dict[Path, list[Path]] = {}
            for f in p.rglob("*.jsonl"):
                if not f.name.endswith(SIDE_FILES) and not f.name.startswith("."):
                    by_dir.setdefault(f.parent, []).append(f)
            for _, files in sorted(by_dir.items()):
                complete = [f for f in files if manifest_path(f).is_file()]
                incomplete = sorted(f for f in files if is_incomplete(f))
                handmade = [f for f in files if not is_snapshot_name(f)]
                usable = complete or handmade
                if usable:
                    out.append(max(usable, key=lambda f: f.name))
                skipped.extend(incomplete)
        else:
            raise UsageError(
                f"annotation snapshot {printable(p)} does not exist",
                hint="Pass a .jsonl snapshot or a folder of them.",
            )
    if warnings is not None:
        warnings.extend(_incomplete_warning(f) for f in skipped)
    seen: set[Path] = set()
    unique = []
    for f in out:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique


def iter_snapshot_records(
    paths: str | Path | Sequence[str | Path], warnings: list[str] | None = None
) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """(file, line, record dict) for every record of snapshot files or folders of them
    (incomplete snapshots skipped, named in ``warnings``: see ``snapshot_files``)."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    for f in snapshot_files(items, warnings):
        with f.open(encoding="utf-8") as fh:
            for no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield f, no, json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{f}:{no}: not valid JSON ({e.msg})", hint="is this a snapshot file?") from e


def load_annotations(paths: str | Path | Sequence[str | Path], warnings: list[str] | None = None) -> list[Annotation]:
    """Every record of snapshot files or folders, as ``Annotation`` (errors name file and line;
    incomplete snapshots skipped, named in ``warnings``)."""
    out = []
    for f, no, d in iter_snapshot_records(paths, warnings):
        try:
            out.append(Annotation.from_dict(d))
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{f}:{no}: not a canonical annotation record ({e})") from e
    return out
