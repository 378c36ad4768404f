"""Build a Hugging Face dataset release from a pinned corpus version + annotation snapshots.

Build (``build_release``), memory flat in the number of documents:

1. index the annotation snapshots (one pass, a columnar Arrow index of where each candidate
   line is) and choose the gold annotation of each document (``corpus.release.gold``);
2. stream the pinned corpus version batch by batch; articles with a gold annotation (an Arrow
   ``is_in`` on the batch) are spilled to one of a few temporary run files by doc-id range
   (ranges cut from the sorted gold ids, at most ``chunk_docs`` documents each);
3. range by range, in doc-id order: read the gold annotation back by file offset, anchor it to
   the pinned text, build the rows of every config (``corpus.release.rows``) and hand them to one
   buffered Parquet writer per config and split (the ArrowWriter shape: buffer, flush
   ``batch_rows`` rows at a time as one row group, counts at ``close``);
4. write the card and ``release.json``, then move the folder into place (atomic).

Rows are sorted by doc id (then sentence), the writer settings are fixed and no timestamp enters
the Parquet files, so two builds of the same inputs are byte-identical apart from the card's
``Built at`` line and ``release.json``'s ``built_at``.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import pickle
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.core import atomic
from corpus.core.errors import ReleaseError, UsageError, on_disk_full
from corpus.core.model import Annotation, Article
from corpus.core.problems import Problem
from corpus.release import card, gold, provenance
from corpus.release.features import Features, dataset_features, label_set
from corpus.release.rows import LabelSet, RowBuilder, RowError, label_counts
from corpus.release.splits import SPLITS, assign_split, parse_ratios
from corpus.store.snapshot import snapshot_files
from corpus.store.table import ARTICLE_COLUMNS, row_to_article

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
PARQUET_SETTINGS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "write_page_index": True,  # the Hub viewer (and DuckDB, Polars) skip pages by it
}
MAX_ROW_GROUP_BYTES = 100 * 1024 * 1024  # uncompressed, per row group
MAX_FILE_BYTES = 500 * 1024 * 1024  # per Parquet shard
RELEASE_MANIFEST = "release.json"
CROISSANT_FILE = "croissant.json"


class ArticleSource(Protocol):
    """What the build needs from the corpus store (``corpus.store.table.CorpusStore``)."""

    def resolve_version(self, v: int | str | None) -> int: ...

    def iter_batches(
        self, version: int | str | None = None, columns: list[str] | None = None, batch_size: int = 1000
    ) -> Iterable[pa.RecordBatch]: ...


@contextlib.contextmanager
def article_source(store: Any, engine: str = "local", ray_address: str | None = None) -> Iterator[Any]:
    """The store itself (``local``), or (``ray``) the store read with Ray Data on a cluster
    (``corpus.ingest.ray_engine.RaySource``): the release files are the same bytes."""
    if engine != "ray":
        yield store
        return
    from corpus.ingest import ray_engine

    with ray_engine.cluster(ray_address) as ray:
        yield ray_engine.RaySource(store, ray)


# ---------------------------------------------------------------- streaming Parquet writer


class SplitWriter:
    """Buffered, sharded Parquet writer for one config and split: rows in, row groups out.

    What the Hub's dataset viewer reads well: row groups of at most ``max_row_group_bytes``
    (uncompressed Arrow bytes; a buffer of ``batch_rows`` rows that is bigger is cut into several
    row groups), files of at most about ``max_file_bytes`` (a new shard starts when the next row
    group would pass it), the page index written, shards named ``<split>-00000-of-0000N.parquet``
    (the count is known only at ``close``, so shards are renamed then).

    Every split file of a config is written with the same explicit schema, so splits load with
    identical features whatever their content (e.g. a split without any event).
    """

    def __init__(
        self,
        folder: Path,
        split: str,
        schema: pa.Schema,
        batch_rows: int,
        max_row_group_bytes: int = MAX_ROW_GROUP_BYTES,
        max_file_bytes: int = MAX_FILE_BYTES,
    ):
        self.folder = folder
        self.split = split
        self.schema = schema
        self.batch_rows = batch_rows
        self.max_row_group_bytes = max_row_group_bytes
        self.max_file_bytes = max_file_bytes
        self.rows = 0
        self.paths: list[Path] = []  # final shard paths, after close
        self._buf: list[dict[str, Any]] = []
        self._shards: list[Path] = []
        self._shard: tuple[pq.ParquetWriter, pa.NativeFile] | None = None  # the open shard's writer, file
        self._last_group = 0  # bytes the last row group took in the file
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        if len(self._buf) >= self.batch_rows:
            self.flush()

    def _open(self) -> tuple[pq.ParquetWriter, pa.NativeFile]:
        path = self.folder / f".{self.split}-{len(self._shards):05d}.parquet.part"
        self._shards.append(path)
        sink = pa.OSFile(str(path), "wb")
        self._shard = pq.ParquetWriter(sink, self.schema, **PARQUET_SETTINGS), sink
        self._last_group = 0
        return self._shard

    def _close_shard(self) -> None:
        if self._shard is not None:
            writer, sink = self._shard
            writer.close()
            sink.close()
            self._shard = None

    def _write_group(self, batch: pa.RecordBatch) -> None:
        if self._shard is not None and self._shard[1].tell() + self._last_group > self.max_file_bytes:
            self._close_shard()
        writer, sink = self._shard or self._open()
        before = sink.tell()
        writer.write_batch(batch, row_group_size=batch.num_rows)
        self._last_group = sink.tell() - before

    def flush(self) -> None:
        if not self._buf:
            return
        batch = pa.RecordBatch.from_pylist(self._buf, schema=self.schema)
        self.rows += len(self._buf)
        self._buf = []
        per_row = max(batch.nbytes / batch.num_rows, 1.0)
        step = max(1, int(self.max_row_group_bytes // per_row))
        for i in range(0, batch.num_rows, step):
            self._write_group(batch.slice(i, step))

    def close(self) -> int:
        """Write what is buffered, close the last shard and give the shards their final names."""
        self.flush()
        self._close_shard()
        n = len(self._shards)
        for k, part in enumerate(self._shards):
            final = self.folder / f"{self.split}-{k:05d}-of-{n:05d}.parquet"
            os.replace(part, final)
            self.paths.append(final)
        return self.rows


# ---------------------------------------------------------------- build


@dataclass
class BuildOptions:
    version: str
    annotations: list[str]
    out: str = "dist"
    name: str = "newscorpus"
    repo: str | None = None  # ORG/NAME, for the card's load instructions
    corpus_version: int | str | None = None
    policy: str = "default"
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    agreement: str | None = None
    license: str = "other"
    language: str = "en"
    pretty_name: str | None = None
    exclude_origins: tuple[str, ...] = gold.DEFAULT_EXCLUDED_ORIGINS
    force: bool = False
    batch_rows: int = 1000
    chunk_docs: int = 5000
    max_row_group_bytes: int = MAX_ROW_GROUP_BYTES
    max_file_bytes: int = MAX_FILE_BYTES
    built_at: str | None = None  # fixed in tests; default: now (UTC)
    show_emails: bool = False  # annotators' e-mail addresses in rows and card (default: pseudonyms)
    license_name: str | None = None  # for license "other" (the Hub's license_name)
    license_link: str | None = None
    authors: tuple[str, ...] = ()  # citation
    year: int | None = None  # citation (default: the year of built_at)
    url: str | None = None  # citation / homepage (default: the Hub page of repo)
    config: str | None = (
        None  # YAML file with any of: license, license_name, license_link, authors, year, url, pretty_name
    )
    previous: str | None = None  # a previous release folder: the card's "Changes since"
    guidelines: str | None = None  # shipped as guidelines.md (default: the project's annotations/guidelines.md)
    figures: bool = True  # figures/*.png in the folder, shown by the card


@dataclass
class ReleaseReport:
    folder: str
    version: str
    corpus_version: int
    rows: dict[str, dict[str, int]]
    documents: dict[str, int]
    reanchored: int
    unannotated: int
    left_out: dict[str, int]
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Annotation records that could not be shipped (unreadable, stale, unknown label): the
        error-severity problems; the others (not in the corpus version, a prediction, no reviewed
        annotation) are expected outcomes."""
        return sum(1 for p in self.problems if p.is_error)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["problems"] = [p.to_dict() for p in self.problems]
        d["failed"] = self.failed
        return d


EXAMPLES_PER_KIND = 100


class ProblemLog(list):
    """Problems of a build: every failure is kept; expected outcomes (a prediction skipped, a
    document outside the pinned version) are counted, with the first examples kept, so a
    corpus full of predictions does not grow memory or release.json."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()

    def append(self, p: Problem) -> None:
        self.counts[p.code] += 1
        if p.is_error or self.counts[p.code] <= EXAMPLES_PER_KIND:
            super().append(p)


def _check_options(opts: BuildOptions) -> None:
    if not VERSION_RE.match(opts.version):
        raise UsageError(f"version {opts.version!r} is not X.Y.Z", hint="Use a semantic version such as 1.0.0.")
    if not NAME_RE.match(opts.name):
        raise UsageError(f"name {opts.name!r} is not a valid dataset name", hint="Letters, digits, '.', '_', '-'.")
    if opts.repo and not REPO_RE.match(opts.repo):
        raise UsageError(f"repo {opts.repo!r} is not ORG/NAME")
    if not opts.annotations:
        raise UsageError("no annotation snapshot given", hint="Give annotations: a .jsonl snapshot or a folder.")
    if opts.policy not in gold.POLICIES:
        raise UsageError(f"unknown policy {opts.policy!r}", hint=f"Choose one of: {', '.join(gold.POLICIES)}.")
    parse_ratios(opts.split_ratios)


def _read_agreement(path: str | None) -> dict[str, Any]:
    """Flatten an agreement JSON (any nesting) to ``{"a.b": number}`` for the card."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read agreement {path}: {e}") from None
    flat: dict[str, Any] = {}

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k in sorted(v):
                walk(f"{prefix}.{k}" if prefix else str(k), v[k])
        elif isinstance(v, (int, float, str)) and not isinstance(v, bool):
            flat[prefix] = round(v, 4) if isinstance(v, float) else v

    walk("", data)
    return flat


def toolkit_version() -> str:
    try:
        return metadata.version("newscorpus")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Spill:
    """Temporary run files: articles grouped by doc-id range, read back one range at a time."""

    def __init__(self, tmp: Path, boundaries: list[str]):
        self.boundaries = boundaries
        self.paths = [tmp / f"range-{k:05d}.pkl" for k in range(len(boundaries) + 1)]
        self._fh = [open(p, "wb") for p in self.paths]

    def add(self, article: Article) -> None:
        k = bisect.bisect_right(self.boundaries, article.doc_id)
        pickle.dump(article, self._fh[k], protocol=pickle.HIGHEST_PROTOCOL)

    def ranges(self) -> Iterable[list[Article]]:
        for fh in self._fh:
            fh.close()
        for p in self.paths:
            items: list[Article] = []
            with open(p, "rb") as run:
                while True:
                    try:
                        items.append(pickle.load(run))  # our own temp file, written above
                    except EOFError:
                        break
            p.unlink()
            items.sort(key=lambda a: a.doc_id)
            yield items


CONFIG_KEYS = ("license", "license_name", "license_link", "authors", "year", "url", "pretty_name")


def apply_config(opts: BuildOptions) -> BuildOptions:
    """Fill options left at their defaults from ``opts.config`` (a YAML mapping); explicit
    options win. Unknown keys are a usage error (a typo must not pass silently)."""
    if not opts.config:
        return opts
    import yaml

    try:
        data = yaml.safe_load(Path(opts.config).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"cannot read release config {opts.config}: {e}") from None
    if not isinstance(data, dict):
        raise UsageError(f"release config {opts.config} is not a mapping", hint=f"Keys: {', '.join(CONFIG_KEYS)}.")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(
            f"release config {opts.config}: unknown key(s) {', '.join(unknown)}",
            hint=f"Keys: {', '.join(CONFIG_KEYS)}.",
        )
    defaults = BuildOptions(version=opts.version, annotations=[])
    for k, v in data.items():
        if getattr(opts, k) == getattr(defaults, k):
            if k == "authors":
                v = tuple([v] if isinstance(v, str) else (v or ()))
            setattr(opts, k, v)
    return opts


def build_release(
    opts: BuildOptions,
    source: ArticleSource,
    labels: LabelSet | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReleaseReport:
    """Build ``<out>/<name>-<version>/``; see the module docstring for the steps. A full disk is
    ``DiskFull`` (the half-built folder is removed, an earlier release is untouched)."""
    with on_disk_full("building the release", opts.out):
        return _build_release(opts, source, labels, progress)


def _build_release(
    opts: BuildOptions,
    source: ArticleSource,
    labels: LabelSet | None,
    progress: Callable[[int, int], None] | None,
) -> ReleaseReport:
    opts = apply_config(opts)
    _check_options(opts)
    ratios = parse_ratios(opts.split_ratios)
    labels = labels or label_set()
    agreement = _read_agreement(opts.agreement)
    final = Path(opts.out) / f"{opts.name}-{opts.version}"
    if final.exists() and not opts.force:
        raise ReleaseError(f"{final} already exists", hint="A built release is not overwritten; rebuild it with force.")
    corpus_version = source.resolve_version(opts.corpus_version)

    skipped: list[str] = []
    files = snapshot_files(opts.annotations, skipped)
    if not files:
        raise UsageError(
            f"no complete .jsonl annotation snapshot found in {', '.join(opts.annotations)}"
            + "".join(f"; {w}" for w in skipped)
        )
    index, snapshots, found = gold.index_snapshots(files, opts.exclude_origins)
    chosen, more = gold.select_gold(index, opts.policy)  # sorted by doc_id, columnar
    problems = ProblemLog()
    for w in skipped:
        problems.append(Problem("incomplete_snapshot", w))
    for p in found + more:
        problems.append(p)
    del index
    gold_ids = chosen.column("doc_id").combine_chunks()
    n_gold = len(gold_ids)
    chunk = max(opts.chunk_docs, -(-n_gold // 256))  # at most ~256 run files open
    boundaries = [gold_ids[i].as_py() for i in range(chunk, n_gold, chunk)]

    Path(opts.out).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=opts.out))
    try:
        spill = _Spill(work, boundaries)
        unannotated = 0
        for batch in source.iter_batches(corpus_version, columns=ARTICLE_COLUMNS, batch_size=opts.batch_rows):
            keep = pc.is_in(batch.column("doc_id").cast(pa.string()), value_set=gold_ids)
            kept = batch.filter(keep)
            unannotated += batch.num_rows - kept.num_rows
            for row in kept.to_pylist():
                spill.add(row_to_article(row))
        folder = work / final.name
        features = dataset_features(labels)
        writers = {
            c: {
                s: SplitWriter(
                    folder / c,
                    s,
                    features[c].arrow_schema,
                    opts.batch_rows,
                    opts.max_row_group_bytes,
                    opts.max_file_bytes,
                )
                for s in SPLITS
            }
            for c in labels.configs
        }
        builder = RowBuilder(labels)
        counts: dict[str, Counter] = {s: Counter() for s in SPLITS}
        docs: Counter = Counter()
        policy_counts: Counter = Counter()
        origin_counts: Counter = Counter()
        annotator_counts: Counter = Counter()
        tax_versions: Counter = Counter()
        reanchored = 0
        done = 0
        with gold.AnnotationReader(files) as reader:
            for k, articles in enumerate(spill.ranges()):
                choices = {r["doc_id"]: r for r in chosen.slice(k * chunk, chunk).to_pylist()}
                got = {a.doc_id for a in articles}
                for doc_id in choices:
                    if doc_id not in got:
                        problems.append(
                            Problem("not_in_corpus", f"document not in corpus version {corpus_version}", doc_id=doc_id)
                        )
                prev = None
                for art in articles:
                    if art.doc_id == prev:
                        continue
                    prev = art.doc_id
                    choice = choices[art.doc_id]
                    where = (str(files[choice["file_idx"]]), choice["line"])
                    try:
                        ann = Annotation.from_dict(reader.read(choice["file_idx"], choice["offset"]))
                    except (ValueError, KeyError, TypeError) as e:
                        problems.append(
                            Problem(
                                "not_an_annotation",
                                f"annotation record cannot be read: {e!r}",
                                file=where[0],
                                line=where[1],
                                doc_id=art.doc_id,
                            )
                        )
                        continue
                    stale = ann.text_sha256 != art.text_sha256
                    try:
                        moved = gold.anchor(ann, art.text, art.text_sha256)
                    except gold.AnchorError as e:
                        code = "stale_annotation" if stale else "bad_anchor"
                        msg = ("text changed and the annotation cannot be re-anchored: " if stale else "") + str(e)
                        problems.append(Problem(code, msg, file=where[0], line=where[1], doc_id=art.doc_id))
                        continue
                    extra = {
                        "annotator": provenance.public_annotator(ann.annotator, opts.show_emails),
                        "annotation_origin": provenance.record_origin(ann),
                        "annotation_policy": choice["policy"],
                        "reanchored": moved,
                    }
                    try:
                        doc_row = builder.document_row(art, ann, extra)
                    except RowError as e:
                        problems.append(
                            Problem("unknown_label", str(e), file=where[0], line=where[1], doc_id=art.doc_id)
                        )
                        continue
                    ner_rows, attr_row = builder.token_rows(art, ann)
                    split = assign_split(art.doc_id, ratios)
                    writers["documents"][split].add(doc_row)
                    for r in ner_rows:
                        writers["ner"][split].add(r)
                    if "attribution" in writers:
                        writers["attribution"][split].add(attr_row)
                    docs[split] += 1
                    counts[split].update(label_counts(ann, labels))
                    policy_counts[choice["policy"]] += 1
                    origin_counts[extra["annotation_origin"]] += 1
                    annotator_counts[extra["annotator"]] += 1
                    tax_versions[ann.taxonomy_version or "unknown"] += 1
                    reanchored += moved
                    done += 1
                    if progress:
                        progress(done, n_gold)
        rows = {c: {s: w.close() for s, w in ws.items()} for c, ws in writers.items()}
        if not any(rows["documents"].values()):
            raise ReleaseError(
                "no document could be shipped: "
                + (", ".join(f"{k} {v}" for k, v in problems.counts.items()) or "no annotations"),
                hint="Check annotations, corpus_version and policy (the problems list every record left out).",
            )
        shards = {c: {s: w.paths for s, w in ws.items() if rows[c][s]} for c, ws in writers.items()}

        left_out = problems.counts
        built_at = opts.built_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        extras = _card_extras(opts, source, corpus_version, files, labels, folder, rows, built_at)
        stats = {
            "name": opts.name,
            "version": opts.version,
            "repo": opts.repo or f"ORG/{opts.name}",
            "policy": opts.policy,
            "split_ratios": ",".join(f"{r:g}" for r in ratios),
            "rows": rows,
            "documents": dict(docs),
            "label_counts": {
                s: {f"{layer}/{label}": n for (layer, label), n in sorted(c.items())} for s, c in counts.items()
            },
            "policy_counts": dict(policy_counts),
            "origin_counts": dict(sorted(origin_counts.items())),
            "annotator_counts": dict(annotator_counts.most_common()),
            "reanchored": reanchored,
            "unannotated": unannotated,
            "left_out": dict(left_out),
            "agreement": agreement,
            **extras,
            "tagging": {
                layer: {k: dict(sorted(getattr(rep, k).items())) for k in ("tagged", "misaligned", "overlapping")}
                for layer, rep in builder.reports.items()
            },
            "provenance": {
                "corpus_version": corpus_version,
                "store": _public_uri(getattr(source, "display_uri", None) or getattr(source, "uri", "")),
                "table_id": _table_id(source, corpus_version),
                "taxonomy_version": labels.version,
                "annotation_taxonomy_versions": dict(tax_versions),
                "toolkit_version": toolkit_version(),
                "annotation_snapshots": [
                    {"name": _public_name(s.path), "sha256": s.sha256, "records": s.records} for s in snapshots
                ],
            },
        }
        meta = _card_meta(opts, labels, features, shards, rows, sum(docs.values()))
        if stats.get("previous"):
            stats["changes"] = compare_releases(stats["previous"]["folder"], folder, stats)
            stats["previous"] = {k: v for k, v in stats["previous"].items() if k != "folder"}
        atomic.write_text(folder / "README.md", card.render_card(meta, stats, labels, built_at))
        atomic.write_text(
            folder / CROISSANT_FILE,
            json.dumps(_croissant(meta, stats, features, opts), indent=2, ensure_ascii=False) + "\n",
        )
        manifest = {**stats, "built_at": built_at, "problems": [p.to_dict() for p in problems]}
        atomic.write_text(
            folder / RELEASE_MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(folder, final)  # the release appears whole, or not at all
        atomic.fsync_dir(final.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ReleaseReport(
        folder=str(final),
        version=opts.version,
        corpus_version=corpus_version,
        rows=rows,
        documents=dict(docs),
        reanchored=reanchored,
        unannotated=unannotated,
        left_out=dict(left_out),
        problems=list(problems),
    )


def _safe_uri(uri: Any) -> str:
    """The store URI without credentials or query strings (it goes into a public card)."""
    s = str(uri or "")
    s = re.sub(r"//[^/@]*@", "//", s)
    return s.split("?", 1)[0]


def _public_uri(uri: Any) -> str | None:
    """A store URI for a public card: only a remote one (a local path means nothing on the Hub),
    without credentials or query strings."""
    s = _safe_uri(uri)
    return s if "://" in s and not s.startswith("file://") else None


def _public_name(p: Path) -> str:
    """A snapshot as ``<folder>/<file>``: enough to find it in the project, no local path."""
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def _croissant(meta: dict[str, Any], stats: dict[str, Any], features: dict[str, Features], opts: BuildOptions):
    from corpus.release import croissant

    spdx, _, _ = card.license_info(opts.license, opts.license_name)
    url = f"https://spdx.org/licenses/{spdx}.html" if spdx in card.LICENSES else opts.license_link
    bib = "\n".join(card._bibtex(stats, meta, opts.name, opts.version, stats["repo"]))
    return croissant.croissant(meta, stats, features, card.CONFIG_DESCRIPTIONS, url, bib)


def _version_year(store: Any, version: int) -> int | None:
    """The year the pinned corpus version was committed (the citation's default year: the same
    for every build of these inputs)."""
    try:
        ts = next(h.timestamp for h in store.history() if h.version == version)
        return int(ts[:4])
    except Exception:  # no history (a test source) or a vacuumed log
        return None


def _table_id(source: Any, version: int) -> str | None:
    get = getattr(source, "table_id", None)
    try:
        return str(get(version)) if callable(get) else None
    except Exception:  # provenance is best effort; the build does not fail on it
        return None


def _card_extras(
    opts: BuildOptions,
    source: Any,
    corpus_version: int,
    files: list[Path],
    labels: LabelSet,
    folder: Path,
    rows: dict[str, dict[str, int]],
    built_at: str,
) -> dict[str, Any]:
    """What the card says beyond the rows: annotators, agreement and figures (from the
    snapshots and the store, ``corpus.release.report``), guidelines, license, citation, the
    previous release."""
    from corpus.core import taxonomy as taxmod
    from corpus.release import report

    store = source if hasattr(source, "history") else None
    data = report.collect(
        store,
        [],
        corpus_version,
        labels=labels,
        split_ratios=opts.split_ratios,
        show_emails=opts.show_emails,
        files=files,
    )
    figures = []
    if opts.figures:
        figs = report.render(data)
        report.write_figures(figs, folder / report.FIGURES_DIR)
        figures = [
            {"path": f"{report.FIGURES_DIR}/{f.name}.png", "title": f.title, "caption": f.caption}
            for f in figs
            if f.png is not None
        ]
    guidelines = Path(opts.guidelines) if opts.guidelines else taxmod.GUIDELINES_PATH
    shipped_guidelines = None
    if guidelines.is_file():
        shutil.copyfile(guidelines, folder / "guidelines.md")
        m = re.search(r"Taxonomy \*\*([^*]+)\*\*", guidelines.read_text(encoding="utf-8"))
        shipped_guidelines = {"file": "guidelines.md", "taxonomy": m.group(1) if m else None}
    year = opts.year or _version_year(store, corpus_version) or int(built_at[:4])
    ann = data["annotations"]
    out: dict[str, Any] = {
        "annotations": {
            "records": ann["records"],
            "origins": ann["origins"],
            "annotators": ann["annotators"],
            "acceptance": ann["acceptance"],
            "acceptance_by_layer": ann.get("acceptance_by_layer", {}),
        },
        "computed_agreement": card.agreement_summary(data.get("agreement")),
        "figures": figures,
        "guidelines": shipped_guidelines,
        "license": {"id": opts.license, "name": opts.license_name, "link": opts.license_link},
        "citation": {"authors": list(opts.authors), "year": year, "url": opts.url},
        "empty_splits": {c: [s for s in SPLITS if not rows[c][s]] for c in rows if any(not rows[c][s] for s in SPLITS)},
    }
    if opts.previous:
        out["previous"] = read_previous(opts.previous)
    return out


# ---------------------------------------------------------------- changes since a previous release


def read_previous(folder: str | Path) -> dict[str, Any]:
    root = Path(folder)
    try:
        manifest = json.loads((root / RELEASE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(
            f"previous release {root} is not a built release (no readable {RELEASE_MANIFEST})",
            hint="Pass the folder of the previous release (corpus release build writes it).",
        ) from None
    return {"folder": str(root), "version": manifest.get("version"), "label_counts": manifest.get("label_counts", {})}


def _doc_digests(folder: Path) -> dict[str, tuple[str, str]]:
    """doc id -> (text hash, digest of its annotation layers), from a release's documents Parquet."""
    out: dict[str, tuple[str, str]] = {}
    cols = ["id", "text_sha256", "entities", "events", "attributions"]
    import hashlib

    for p in sorted((folder / "documents").glob("*.parquet")):
        pf = pq.ParquetFile(p)
        for batch in pf.iter_batches(columns=cols, batch_size=2000):
            d = batch.to_pydict()
            for i, doc_id in enumerate(d["id"]):
                body = json.dumps([d["entities"][i], d["events"][i], d["attributions"][i]], sort_keys=True)
                out[doc_id] = (d["text_sha256"][i], hashlib.sha256(body.encode("utf-8")).hexdigest())
    return out


def compare_releases(previous: str | Path, folder: Path, stats: dict[str, Any]) -> dict[str, Any]:
    """Documents added and removed, texts and annotations changed, label counts moved."""
    old, new = _doc_digests(Path(previous)), _doc_digests(folder)
    both = old.keys() & new.keys()

    def totals(per_split: dict[str, dict[str, int]]) -> Counter:
        c: Counter = Counter()
        for counts in per_split.values():
            c.update(counts)
        return c

    before = totals(stats["previous"]["label_counts"])
    after = totals(stats["label_counts"])
    moved = {
        k: [before.get(k, 0), after.get(k, 0)]
        for k in sorted(before.keys() | after.keys())
        if before.get(k, 0) != after.get(k, 0)
    }
    return {
        "since": stats["previous"]["version"],
        "documents_added": len(new.keys() - old.keys()),
        "documents_removed": len(old.keys() - new.keys()),
        "texts_changed": sum(1 for d in both if old[d][0] != new[d][0]),
        "annotations_changed": sum(1 for d in both if old[d][1] != new[d][1]),
        "label_counts_moved": moved,
    }


def _display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name


def _card_meta(
    opts: BuildOptions,
    labels: LabelSet,
    features: dict[str, Features],
    shards: dict[str, dict[str, list[Path]]],
    rows: dict[str, dict[str, int]],
    n_docs: int,
) -> dict[str, Any]:
    configs = []
    infos = []
    for c in labels.configs:
        cfg: dict[str, Any] = {"config_name": c}
        if c == "documents":
            cfg["default"] = True
        present = [s for s in SPLITS if rows[c][s]]
        cfg["data_files"] = [{"split": s, "path": f"{c}/{s}-*.parquet"} for s in present]
        configs.append(cfg)
        sizes = {s: sum(p.stat().st_size for p in shards[c][s]) for s in present}
        infos.append(
            {
                "config_name": c,
                "features": features[c]._to_yaml_list(),
                "splits": [{"name": s, "num_bytes": sizes[s], "num_examples": rows[c][s]} for s in present],
                "download_size": sum(sizes.values()),
                "dataset_size": sum(sizes.values()),
            }
        )
    spdx, lic_name, hub_license = card.license_info(opts.license, opts.license_name)
    lic: dict[str, Any] = {"license": hub_license}
    if hub_license == "other":
        lic["license_name"] = spdx if spdx != "other" else (opts.license_name or "unspecified")
        if opts.license_link:
            lic["license_link"] = opts.license_link
    return {
        "pretty_name": opts.pretty_name or f"{opts.name} {opts.version}",
        **lic,
        "language": [opts.language],
        "size_categories": [card.size_category(n_docs)],
        "task_categories": ["token-classification"],
        "task_ids": ["named-entity-recognition"],
        "tags": ["news", "attribution", "events", "named-entities"],
        "configs": configs,
        "dataset_info": infos,
    }
