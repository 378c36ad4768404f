"""Which annotation of a document is the gold one, and re-anchoring stale annotations.

A snapshot can hold several annotations of one document (two annotators, a reviewer, an
adjudicated merge, older copies in earlier snapshots). A release ships exactly one per document,
chosen by a documented policy and recorded per row, so users can filter by how gold was made.

Policies (``--policy``):

* ``default``: the reviewed one (``ground_truth``) if any; else, when every annotation comes from
  one annotator, that annotator's; else the adjudicated one (origin ``adjudicated``); else the
  most recent. Machine-accepted predictions (``provenance.record_origin``) count only when no
  person annotated the document; the rule is then ``machine_accepted``. Ties at any step go to the most recent (``updated_at``, else ``created_at``), then
  to the last one read (files in the order given, lines in file order).
* ``latest``: the most recent annotation, whoever made it.
* ``reviewed``: only ``ground_truth`` or adjudicated annotations; other documents are left out.

Memory: the selection pass keeps a columnar (Arrow) index of where each candidate line is, not
the annotation itself (about 100 bytes a candidate); the chosen lines are read again by file
offset when the release is written, so annotation bodies are never all in memory.

Stale annotations (``text_sha256`` differs from the pinned text) are re-anchored only when every
fragment's text occurs exactly once in the new text; otherwise they are reported and left out.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from corpus.core.errors import UsageError
from corpus.core.model import FRAGMENT_JOINER, Annotation, Fragment, Span
from corpus.core.problems import Problem
from corpus.release.provenance import MACHINE_ACCEPTED, record_origin
from corpus.store.snapshot import check_manifest

POLICIES = ("default", "latest", "reviewed")
DEFAULT_EXCLUDED_ORIGINS = ("prediction",)


@dataclass(frozen=True)
class SnapshotFile:
    path: Path
    sha256: str
    records: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """Where one annotation line is, plus what the policy needs to rank it."""

    stamp: str  # updated_at or created_at ("" when unknown)
    file_idx: int
    line: int
    offset: int
    annotator: str
    origin: str
    ground_truth: bool

    @property
    def rank(self) -> tuple:
        return (self.stamp, self.file_idx, self.line)


@dataclass(frozen=True, slots=True)
class Choice:
    doc_id: str
    candidate: Candidate
    policy: str  # the rule that chose it: ground_truth, single_annotator, adjudicated, most_recent
    n_candidates: int


def _candidates(d: dict, file_idx: int, line: int, offset: int) -> Candidate:
    return Candidate(
        stamp=sys.intern(str(d.get("updated_at") or d.get("created_at") or "")),
        file_idx=file_idx,
        line=line,
        offset=offset,
        annotator=sys.intern(str(d.get("annotator") or "")),
        origin=sys.intern(record_origin(d)),
        ground_truth=bool(d.get("ground_truth")),
    )


INDEX_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("stamp", pa.string()),
        ("file_idx", pa.int32()),
        ("line", pa.int64()),
        ("offset", pa.int64()),
        ("annotator", pa.string()),
        ("origin", pa.string()),
        ("ground_truth", pa.bool_()),
    ]
)
_INDEX_CHUNK = 50_000


def index_snapshots(
    files: list[Path], excluded_origins: Iterable[str] = DEFAULT_EXCLUDED_ORIGINS
) -> tuple[pa.Table, list[SnapshotFile], list[Problem]]:
    """One pass over the snapshot files: a columnar index of every candidate annotation (where its
    line is and what the policy ranks it by, about 100 bytes each), file hashes, bad lines."""
    excluded = set(excluded_origins)
    chunks: list[pa.RecordBatch] = []
    cols: dict[str, list] = {n: [] for n in INDEX_SCHEMA.names}
    problems: list[Problem] = []
    infos: list[SnapshotFile] = []

    def flush() -> None:
        if cols["doc_id"]:
            chunks.append(pa.RecordBatch.from_pydict(cols, schema=INDEX_SCHEMA))
            for v in cols.values():
                v.clear()

    for idx, path in enumerate(files):
        h = hashlib.sha256()
        n = 0
        offset = 0
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                h.update(raw)
                here, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    d = json.loads(raw)
                    if not isinstance(d, dict) or not isinstance(d.get("doc_id"), str) or not d.get("text_sha256"):
                        raise ValueError("not an annotation record (needs doc_id and text_sha256)")
                except ValueError as e:
                    problems.append(
                        Problem("not_an_annotation", f"unreadable annotation record: {e}", file=str(path), line=lineno)
                    )
                    continue
                n += 1
                c = _candidates(d, idx, lineno, here)
                if c.origin in excluded:
                    problems.append(
                        Problem(
                            "excluded_origin",
                            f"origin {c.origin!r} is not gold",
                            file=str(path),
                            line=lineno,
                            doc_id=d["doc_id"],
                        )
                    )
                    continue
                for k, v in (
                    ("doc_id", d["doc_id"]),
                    ("stamp", c.stamp),
                    ("file_idx", idx),
                    ("line", lineno),
                    ("offset", here),
                    ("annotator", c.annotator),
                    ("origin", c.origin),
                    ("ground_truth", c.ground_truth),
                ):
                    cols[k].append(v)
                if len(cols["doc_id"]) >= _INDEX_CHUNK:
                    flush()
        check_manifest(path, h.hexdigest())
        infos.append(SnapshotFile(path, h.hexdigest(), n))
    flush()
    return pa.Table.from_batches(chunks, schema=INDEX_SCHEMA), infos, problems


def choose(doc_id: str, candidates: list[Candidate], policy: str = "default") -> Choice | None:
    """The gold candidate of one document under ``policy`` (None: nothing qualifies)."""
    if policy not in POLICIES:
        raise UsageError(f"unknown gold policy {policy!r}", hint=f"Choose one of: {', '.join(POLICIES)}.")

    def latest(cs: list[Candidate]) -> Candidate:
        return max(cs, key=lambda c: c.rank)

    n = len(candidates)
    machine = [c for c in candidates if c.origin == MACHINE_ACCEPTED]
    if machine and policy != "latest":
        if len(machine) == n:  # nobody but the machine: say so
            return None if policy == "reviewed" else Choice(doc_id, latest(machine), MACHINE_ACCEPTED, n)
        candidates = [c for c in candidates if c.origin != MACHINE_ACCEPTED]  # people's work first
    reviewed = [c for c in candidates if c.ground_truth]
    adjudicated = [c for c in candidates if c.origin == "adjudicated"]
    if policy == "latest":
        return Choice(doc_id, latest(candidates), "most_recent", n)
    if reviewed:
        return Choice(doc_id, latest(reviewed), "ground_truth", n)
    if policy == "reviewed":
        return Choice(doc_id, latest(adjudicated), "adjudicated", n) if adjudicated else None
    if len({c.annotator for c in candidates}) == 1:
        return Choice(doc_id, latest(candidates), "single_annotator", n)
    if adjudicated:
        return Choice(doc_id, latest(adjudicated), "adjudicated", n)
    return Choice(doc_id, latest(candidates), "most_recent", n)


CHOSEN_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("file_idx", pa.int32()),
        ("line", pa.int64()),
        ("offset", pa.int64()),
        ("policy", pa.string()),
        ("n_candidates", pa.int32()),
    ]
)


def select_gold(index: pa.Table, policy: str = "default") -> tuple[pa.Table, list[Problem]]:
    """The chosen annotation of every document, as a table sorted by doc_id.

    Works through the index sorted by document, a slice at a time, so only one slice of
    candidates is ever Python objects; the result stays columnar (about 60 bytes a document).
    """
    if policy not in POLICIES:
        raise UsageError(f"unknown gold policy {policy!r}", hint=f"Choose one of: {', '.join(POLICIES)}.")
    index = index.sort_by([("doc_id", "ascending"), ("file_idx", "ascending"), ("line", "ascending")])
    problems: list[Problem] = []
    out: dict[str, list] = {n: [] for n in CHOSEN_SCHEMA.names}
    chunks: list[pa.RecordBatch] = []

    def decide(doc_id: str, group: list[Candidate]) -> None:
        c = choose(doc_id, group, policy)
        if c is None:
            problems.append(
                Problem("no_reviewed", f"no reviewed or adjudicated annotation (policy {policy})", doc_id=doc_id)
            )
            return
        for k, v in (
            ("doc_id", doc_id),
            ("file_idx", c.candidate.file_idx),
            ("line", c.candidate.line),
            ("offset", c.candidate.offset),
            ("policy", c.policy),
            ("n_candidates", c.n_candidates),
        ):
            out[k].append(v)
        if len(out["doc_id"]) >= _INDEX_CHUNK:
            chunks.append(pa.RecordBatch.from_pydict(out, schema=CHOSEN_SCHEMA))
            for column in out.values():
                column.clear()

    current = ""  # the doc_id of ``group`` (set before anything is added to it)
    group: list[Candidate] = []
    for batch in index.to_batches(max_chunksize=_INDEX_CHUNK):
        for r in batch.to_pylist():
            if r["doc_id"] != current:
                if group:
                    decide(current, group)
                current, group = r["doc_id"], []
            group.append(
                Candidate(
                    r["stamp"], r["file_idx"], r["line"], r["offset"], r["annotator"], r["origin"], r["ground_truth"]
                )
            )
    if group:
        decide(current, group)
    if out["doc_id"]:
        chunks.append(pa.RecordBatch.from_pydict(out, schema=CHOSEN_SCHEMA))
    return pa.Table.from_batches(chunks, schema=CHOSEN_SCHEMA), problems


class AnnotationReader:
    """Reads chosen annotation lines back by file offset (files kept open for the build)."""

    def __init__(self, files: list[Path]):
        self.files = files
        self._handles: dict[int, BinaryIO] = {}

    def read(self, file_idx: int, offset: int) -> dict:
        fh = self._handles.get(file_idx)
        if fh is None:
            fh = self._handles[file_idx] = open(self.files[file_idx], "rb")
        fh.seek(offset)
        return json.loads(fh.readline())

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()

    def __enter__(self) -> AnnotationReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- anchoring


class AnchorError(ValueError):
    """The annotation cannot be placed on the pinned text; the message says which span."""


def _fragment_texts(span: Span) -> list[str]:
    """The text of each fragment, cut from ``span.text`` by the fragments' lengths."""
    out, pos = [], 0
    for k, f in enumerate(span.fragments):
        if k:
            if span.text[pos : pos + len(FRAGMENT_JOINER)] != FRAGMENT_JOINER:
                raise AnchorError(f"span text {span.text!r} does not match its fragments")
            pos += len(FRAGMENT_JOINER)
        out.append(span.text[pos : pos + f.end - f.start])
        pos += f.end - f.start
    if pos != len(span.text) or any(not t for t in out):
        raise AnchorError(f"span text {span.text!r} does not match its fragments")
    return out


def _relocate(span: Span, text: str, where: str) -> None:
    frags = []
    for piece in _fragment_texts(span):
        first = text.find(piece)
        if first < 0:
            raise AnchorError(f"{where}: {piece!r} is no longer in the text")
        if text.find(piece, first + 1) >= 0:
            raise AnchorError(f"{where}: {piece!r} occurs more than once in the new text (ambiguous)")
        frags.append(Fragment(first, first + len(piece)))
    span.fragments = sorted(frags)


def check_anchors(ann: Annotation, text: str) -> None:
    """Raise AnchorError when a span's offsets do not select its recorded text."""
    for layer, sid, span in ann.spans():
        if not span.fragments:
            raise AnchorError(f"{layer} {sid}: span has no fragments")
        if any(f.start < 0 or f.end > len(text) or f.end <= f.start for f in span.fragments):
            raise AnchorError(f"{layer} {sid}: offsets outside the text")
        if span.expected_text(text) != span.text:
            raise AnchorError(
                f"{layer} {sid}: offsets select {span.expected_text(text)!r}, recorded text is {span.text!r}"
            )


def anchor(ann: Annotation, text: str, text_sha256: str) -> bool:
    """Make ``ann`` fit the pinned text; True when it had to be re-anchored.

    Raises AnchorError (the annotation is then reported and left out) when the offsets do not
    select the recorded span texts, or a stale annotation cannot be re-anchored unambiguously.
    """
    if ann.text_sha256 == text_sha256:
        check_anchors(ann, text)
        return False
    for layer, sid, span in ann.spans():
        _relocate(span, text, f"{layer} {sid}")
    ann.text_sha256 = text_sha256
    check_anchors(ann, text)
    return True
