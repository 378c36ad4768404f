"""brat collections on disk: discover the files, and the workflows behind ``corpus import --format
brat`` and ``corpus export --format brat`` (they touch the store, imported lazily).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.annotations.brat.convert import annotation_conf, annotation_to_brat, brat_to_annotation
from corpus.annotations.brat.mapping import DEFAULT_ANNOTATOR, BratMapping, load_mapping
from corpus.core import atomic
from corpus.core.errors import InputError, UsageError, on_disk_full
from corpus.core.model import Annotation
from corpus.core.problems import Problem
from corpus.ingest.readers.brat import parse_ann, write_ann
from corpus.store.snapshot import iter_snapshot_records, new_snapshot_path, write_snapshot


@dataclass
class BratFiles:
    """One document: its text file, its source key (for the doc id) and its ``.ann`` files."""

    name: str
    txt: Path
    rel: str  # path of the .txt relative to the import root, posix
    anns: list[tuple[str, Path]] = field(default_factory=list)  # (annotator, path)
    metadata: dict[str, str] = field(default_factory=dict)


def discover(
    paths_or_dir: str | Path | Sequence[str | Path], *, annotator: str | None = None
) -> tuple[list[BratFiles], list[Problem]]:
    """Find documents in either layout.

    * PolNeAR: ``DIR/text/NAME.txt`` + ``DIR/attributions/NAME_ANNOTATOR.ann`` (annotator = the
      suffix after the last underscore); ``DIR`` may also hold several such compartments.
    * side by side: ``NAME.txt`` + ``NAME.ann`` (annotator: ``annotator`` or "brat"), and
      ``NAME_ANNOTATOR.ann`` next to ``NAME.txt``.
    ``metadata.tsv`` in DIR or its parent fills title, publisher and date.
    """
    items = [paths_or_dir] if isinstance(paths_or_dir, (str, Path)) else list(paths_or_dir)
    docs: list[BratFiles] = []
    issues: list[Problem] = []
    for item in items:
        root = Path(item)
        if not root.exists():
            raise UsageError(
                f"{root} does not exist",
                hint="give a brat directory (NAME.txt + NAME.ann, or PolNeAR's text/ + attributions/)",
            )
        if root.is_file():
            root = root.parent
        compartments = (
            [root] if (root / "text").is_dir() else sorted(p for p in root.iterdir() if (p / "text").is_dir())
        )
        if compartments:
            meta = _read_metadata(root)
            for comp in compartments:
                docs += _polnear_layout(comp, meta, issues)
        else:
            docs += _side_by_side(root, annotator or DEFAULT_ANNOTATOR, _read_metadata(root), issues)
    return docs, issues


def _read_metadata(root: Path) -> dict[str, dict[str, str]]:
    """Rows of the nearest ``metadata.tsv`` (DIR, its parent, or grandparent), by file stem."""
    from corpus.ingest.readers.metadata import load_metadata

    for cand in (root / "metadata.tsv", root.parent / "metadata.tsv", root.parent.parent / "metadata.tsv"):
        if cand.is_file():
            table = load_metadata(cand)
            return {Path(k).stem: v for k, v in table.rows.items()}
    return {}


def _polnear_layout(comp: Path, meta: dict[str, dict[str, str]], issues: list[Problem]) -> list[BratFiles]:
    text_dir = comp / "text"
    docs = {
        p.stem: BratFiles(p.stem, p, p.relative_to(text_dir).as_posix(), metadata=meta.get(p.stem, {}))
        for p in sorted(text_dir.glob("*.txt"))
    }
    ann_dir = comp / "attributions"
    for p in sorted(ann_dir.glob("*.ann")) if ann_dir.is_dir() else []:
        name, _, who = p.stem.rpartition("_")
        if not name or name not in docs:
            issues.append(
                Problem("brat_no_text", f"no text/{name or p.stem}.txt for this annotation file", file=str(p))
            )
            continue
        docs[name].anns.append((who, p))
    return list(docs.values())


def _side_by_side(
    root: Path, annotator: str, meta: dict[str, dict[str, str]], issues: list[Problem]
) -> list[BratFiles]:
    docs: dict[Path, BratFiles] = {}
    for p in sorted(root.rglob("*.txt")):
        docs[p.with_suffix("")] = BratFiles(p.stem, p, p.relative_to(root).as_posix(), metadata=meta.get(p.stem, {}))
    for p in sorted(root.rglob("*.ann")):
        base = p.with_suffix("")
        if base in docs:
            docs[base].anns.append((annotator, p))
            continue
        head, _, who = p.stem.rpartition("_")
        if head and p.with_name(head) in docs:
            docs[p.with_name(head)].anns.append((who, p))
        else:
            issues.append(Problem("brat_no_text", f"no {p.stem}.txt beside this annotation file", file=str(p)))
    return list(docs.values())


# ---------------------------------------------------------------- snapshot files


# ---------------------------------------------------------------- import / export workflows


@dataclass
class BratReport:
    documents: int = 0
    ann_files: int = 0
    annotations: int = 0
    entities: int = 0
    events: int = 0
    attributions: int = 0
    flags: int = 0
    notes: int = 0
    unmapped: int = 0
    snapshot: str | None = None
    issues: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "issues"}
        d["errors"] = [i.to_dict() for i in self.errors]
        d["warnings"] = [i.to_dict() for i in self.warnings]
        return d


def _article_for(
    files: BratFiles, doc_id: str, key: str, stored: str, raw: str, raw_sha: str, source: str | None
) -> Any:
    """The Article the plain-text import would make of this file (same key, title, meta), with
    the metadata table applied, and the text normalized here so brat offsets can be mapped."""
    from corpus.core.model import Article
    from corpus.ingest.readers.base import RawRecord, first_line
    from corpus.ingest.readers.metadata import MetadataTable

    rec = RawRecord(
        source_key=key, text=stored, title=first_line(raw), source=source, meta={"path": files.rel}, raw_sha256=raw_sha
    )
    if files.metadata:
        MetadataTable({files.txt.name: files.metadata}).apply(rec, files.txt)
    return Article(
        doc_id=doc_id,
        text=stored,
        title=rec.title,
        source=rec.source,
        url=rec.url,
        published=rec.published,
        language=rec.language,
        raw_sha256=raw_sha,
        meta=dict(rec.meta),
    )


def import_brat(
    paths_or_dir: str | Path | Sequence[str | Path],
    store: Any,
    *,
    source: str | None = None,
    annotations_out: str | Path | None = None,
    mapping: str | Path | dict | BratMapping | None = None,
    message: str | None = None,
    progress: bool = False,
    annotator: str | None = None,
) -> tuple[Any, BratReport]:
    """Texts into the corpus (through ``ingest``), ``.ann`` files into one annotation snapshot.

    Returns (ImportReport, BratReport). The snapshot is written only when ``annotations_out``
    is given (a directory ``annotations/NAME`` or a ``.jsonl`` path).
    """
    import hashlib

    from corpus.core import normalize
    from corpus.core.model import make_doc_id, sha256_text
    from corpus.ingest import importer as ingest

    mp = load_mapping(mapping)
    docs, issues = discover(paths_or_dir, annotator=annotator)
    report = BratReport(issues=list(issues))
    prepared: list[tuple[BratFiles, str, str, list[int]]] = []
    articles = []
    for files in docs:
        try:
            data = files.txt.read_bytes()
            raw = data.decode("utf-8")  # brat's view: offsets count code points of this
        except OSError as e:
            report.issues.append(Problem("unreadable_file", f"cannot read: {e.strerror}", file=str(files.txt)))
            continue
        except UnicodeDecodeError:
            try:
                raw, _meta = normalize.decode(data)
            except InputError as e:
                report.issues.append(Problem(e.code, e.message, file=str(files.txt), hint=e.hint))
                continue
        body = raw[1:] if raw.startswith("\ufeff") else raw  # the stored text has no BOM
        stored, omap = normalize.normalize_with_map(body)
        if body is not raw:
            omap = [0, *omap]
        key = (f"{source}:" if source else "") + files.rel
        art = _article_for(files, make_doc_id(key), key, stored, body, hashlib.sha256(data).hexdigest(), source)
        prepared.append((files, raw, stored, omap))
        articles.append(art)
    ireport = ingest.import_articles(
        store, articles, message=message or f"brat import of {paths_or_dir}", progress=progress
    )
    report.documents = len(prepared)
    # an exact duplicate of an article already stored is kept under the original's doc id
    stored_id = {a.doc_id: (ireport.doc_ids or {}).get(a.doc_id, a.doc_id) for a in articles}
    stored_now: dict[str, Any] = {}
    ids = sorted(set(stored_id.values()))
    for start in range(0, len(ids), 1000):
        stored_now.update(store.get_many(ids[start : start + 1000]))

    records: list[Annotation] = []
    for (files, raw, stored, omap), art in zip(prepared, articles):
        have = stored_now.get(stored_id[art.doc_id])
        if have is None or have.text != stored:
            why = "is not in the store" if have is None else "is stored with a different text (normalization differs)"
            for _who, p in files.anns:
                report.issues.append(
                    Problem("brat_no_article", f"article {art.doc_id} {why}; annotations skipped", file=str(p))
                )
            continue
        sha = sha256_text(stored)
        for who, p in files.anns:
            report.ann_files += 1
            try:
                content = p.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as e:
                report.issues.append(Problem("unreadable_file", f"cannot read: {e}", file=str(p)))
                continue
            bdoc = parse_ann(content, str(p))
            ann, found = brat_to_annotation(
                bdoc,
                raw_text=raw,
                stored_text=stored,
                offset_map=omap,
                mapping=mp,
                doc_id=stored_id[art.doc_id],
                annotator=who,
                text_sha256=sha,
                name=files.name,
            )
            report.issues += found
            records.append(ann)
            report.entities += len(ann.entities)
            report.events += len(ann.events)
            report.attributions += len(ann.attributions)
            report.flags += sum(len(a.flags) for a in ann.attributions)
            report.notes += len(ann.notes)
            report.unmapped += len(ann.meta["brat"].get("unmapped", []))
    report.annotations = len(records)
    if annotations_out is not None and records:
        path = new_snapshot_path(annotations_out)
        write_snapshot(
            records,
            path,
            origin="brat",
            mapping=mp.name,
            taxonomy_version=mp.taxonomy_version,
            corpus_version=getattr(ireport, "version", None),
            source=str(paths_or_dir) if isinstance(paths_or_dir, (str, Path)) else None,
        )
        report.snapshot = str(path)
    return ireport, report


@dataclass
class BratExportReport:
    out_dir: str
    documents: int = 0
    ann_files: int = 0
    issues: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "documents": self.documents,
            "ann_files": self.ann_files,
            "errors": [i.to_dict() for i in self.issues],
        }


def export_brat(
    snapshot: str | Path | Sequence[str | Path],
    store: Any,
    out_dir: str | Path,
    version: int | str | None = None,
    *,
    mapping: str | Path | dict | BratMapping | None = None,
) -> BratExportReport:
    """A snapshot -> ``NAME.txt`` + ``NAME_ANNOTATOR.ann`` (+ ``annotation.conf``) in ``out_dir``.

    A record imported from brat keeps its ``.ann`` file name (``NAME.ann`` of a side-by-side
    collection, ``NAME_ANNOTATOR.ann`` of PolNeAR), so the export is a collection of the same names.

    Offsets index the stored text, which is what ``NAME.txt`` contains. A record whose
    ``text_sha256`` does not match the stored article is skipped and reported.
    """
    with on_disk_full("exporting brat files", out_dir):
        return _export_brat(snapshot, store, Path(out_dir), version, mapping)


def _export_brat(snapshot: Any, store: Any, out: Path, version: Any, mapping: Any) -> BratExportReport:

    mp = load_mapping(mapping)
    out.mkdir(parents=True, exist_ok=True)
    report = BratExportReport(str(out))
    by_doc: dict[str, list[tuple[Path, int, Annotation]]] = {}
    skipped: list[str] = []
    for f, no, d in iter_snapshot_records(snapshot, skipped):
        try:
            by_doc.setdefault(d["doc_id"], []).append((f, no, Annotation.from_dict(d)))
        except (KeyError, TypeError, ValueError) as e:
            report.issues.append(
                Problem("not_an_annotation", f"not a canonical annotation record ({e})", file=str(f), line=no)
            )

    for w in skipped:
        report.issues.append(Problem("incomplete_snapshot", w))

    taken: dict[str, str] = {}  # file name (without extension) -> the doc_id it belongs to
    ids = list(by_doc)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        articles = store.get_many(chunk, version=version)
        for doc_id in chunk:
            art = articles.get(doc_id)
            recs = by_doc[doc_id]
            if art is None:
                for f, no, _a in recs:
                    report.issues.append(
                        Problem(
                            "brat_no_article",
                            f"article {doc_id} is not in the store (version {version or 'latest'})",
                            file=str(f),
                            line=no,
                        )
                    )
                continue
            written: set[str] = set()
            used: set[str] = set()
            for f, no, ann in recs:
                name = _unique_name(_export_name(art, ann), doc_id, taken)
                if ann.text_sha256 and ann.text_sha256 != art.text_sha256:
                    report.issues.append(
                        Problem(
                            "brat_text_changed",
                            f"{doc_id}: the stored text changed since this annotation (text_sha256 differs); skipped",
                            file=str(f),
                            line=no,
                        )
                    )
                    continue
                who = _fit(re.sub(r"[^\w.-]+", "-", ann.annotator or DEFAULT_ANNOTATOR), MAX_ANNOTATOR_BYTES)
                fname = _original_ann_name(ann, name) or f"{name}_{who}.ann"
                k = 2
                while fname in used:
                    fname, k = f"{name}_{who}-{k}.ann", k + 1
                used.add(fname)
                atomic.write_text(out / fname, write_ann(annotation_to_brat(ann, art.text, mp, fname)), newline="")
                report.ann_files += 1
                written.add(name)
            for name in sorted(written):
                atomic.write_text(out / f"{name}.txt", art.text, newline="")
                report.documents += 1
    atomic.write_text(out / "annotation.conf", annotation_conf(mp), newline="")
    return report


def _original_ann_name(ann: Annotation, name: str) -> str | None:
    """The ``.ann`` name the record was imported from, when it still belongs to document ``name``."""
    f = (ann.meta.get("brat") or {}).get("file")
    if not isinstance(f, str) or not f.endswith(".ann"):
        return None
    stem = f[: -len(".ann")]
    if stem != name and not stem.startswith(name + "_"):
        return None
    return f if re.fullmatch(r"[\w.-]+", f) else None


# A brat file is NAME.txt / NAME_ANNOTATOR[-k].ann: with these caps a name stays far below the
# 255 bytes file systems allow, with room for the temporary name it is written under.
MAX_NAME_BYTES = 120
MAX_ANNOTATOR_BYTES = 60


def _fit(name: str, limit: int) -> str:
    """``name`` if it fits in ``limit`` UTF-8 bytes, else its start + ``-`` + 10 hex digits of
    its sha256: still readable, still distinct, stable from run to run."""
    b = name.encode("utf-8")
    if len(b) <= limit:
        return name
    head = b[: limit - 11].decode("utf-8", "ignore")
    return f"{head}-{hashlib.sha256(b).hexdigest()[:10]}"


def _unique_name(name: str, doc_id: str, taken: dict[str, str]) -> str:
    """The export's file name for ``doc_id``: its own name, unless another document of this
    export already has it (``a/story.txt`` and ``b/story.txt`` both reduce to ``story``); then
    ``NAME-<doc_id>`` (the doc id is unique, so is the name). The first document in snapshot order
    keeps the plain name."""
    name = _fit(name, MAX_NAME_BYTES)
    if taken.setdefault(name, doc_id) == doc_id:
        return name
    alt = _fit(f"{name}-{doc_id}", MAX_NAME_BYTES + 17)
    taken[alt] = doc_id
    return alt


def _export_name(article: Any, ann: Annotation) -> str:
    name = (ann.meta.get("brat") or {}).get("name")
    if not name:
        path = (article.meta or {}).get("path") if getattr(article, "meta", None) else None
        name = Path(path).stem if path else article.doc_id
    return re.sub(r"[^\w.-]+", "-", name)
