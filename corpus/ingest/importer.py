"""Import workflow: readers -> normalize -> dedup -> one commit to the store.

The outcome of each record is decided by its doc_id (from its source key) and text hash:

* doc_id unknown, text new ............ added
* doc_id known, same text ............. unchanged (nothing written)
* doc_id known, other text ............ updated (new revision; the old one stays readable at
                                        the old version)
* doc_id unknown, text already stored . duplicate (not added; reported with the id it duplicates)
* added/updated and MinHash-similar to a stored text (Jaccard >= threshold): also a
  near-duplicate, stored with the cluster id (the first member's doc_id).

Memory stays flat: records are normalized, MinHash-signed (a whole batch at once) and staged
to temporary Arrow files in batches; the dedup index of a big import (stored corpus + staged
rows beyond one round) lives on disk (``corpus.ingest.diskindex``), and the ids admitted so far
take 8 bytes each. (Still in memory, per stored document: the raw-input hashes of the stored
corpus, loaded when a record of a re-read file needs them.) Input files unchanged since they
went in are not read at all (``corpus.ingest.fingerprints``).
In a big import (more than one batch) the normalizing and hashing run in worker processes
(``$CORPUS_IMPORT_WORKERS``, default one per CPU) while this process reads, and each round of
staged rows is decided and written to data files as soon as it is complete (``_Pipeline``),
so that only the last round and the commit remain when the reading ends. A record whose
raw bytes are the ones already stored is recognized as unchanged before any normalization,
so re-importing an unchanged corpus costs little more than reading it.

The plan is made against the latest version; if another import commits first, the staged rows
are re-planned against the new version and the commit is retried (``store.ConcurrentCommit``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa

from corpus.core.arrays import bool_array, string_array
from corpus.core.errors import StoreError, on_disk_full
from corpus.core.model import Article, make_doc_id, sha256_text
from corpus.core.normalize import normalize_text
from corpus.core.problems import Problem
from corpus.ingest import dedup, diskindex
from corpus.ingest.fingerprints import Ledger, options_digest
from corpus.ingest.readers import (
    DEFAULT_MAX_BYTES,
    FORMATS,
    MetadataTable,
    RawRecord,
    ReadOptions,
    jsonl,
    load_metadata,
    plan_files,
)
from corpus.store.table import (
    SCHEMA,
    ConcurrentCommit,
    CorpusStore,
    article_to_row,
    bucket_of,
    meta_json,
    write_data_files,
)

BATCH = 5000
SHARD_BYTES = 4 << 20  # a JSONL file this big is read by the workers, in ranges of about this size
DOC_IDS_KEPT = 100_000  # ImportReport.doc_ids is complete up to this many records (memory flat)
MAX_ATTEMPTS = 30
IN_FLIGHT = 4  # batches queued per worker process: they keep working while this process decides a round
# staged rows also carry their record number (to tie duplicates back to their input file)
_STAGE_SCHEMA = SCHEMA.append(pa.field("_seq", pa.int64()))


@dataclass
class ImportReport:
    version: int | None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    errors: list[Problem] = field(default_factory=list)
    # source_key -> doc_id (duplicates: the original); complete up to DOC_IDS_KEPT records, beyond
    # that only the keys whose id is not make_doc_id(key) (see doc_id_of)
    doc_ids: dict[str, str] = field(default_factory=dict)
    doc_ids_complete: bool = True
    created: bool = False  # did this import commit a new version?
    duplicate_of: list[dict[str, str]] = field(default_factory=list)
    near_duplicate_of: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    message: str | None = None
    files_skipped: int = 0  # input files known unchanged by their fingerprint (not read)

    def near_duplicate(self, doc_id: str, source_key: str, near: dedup.Match) -> None:
        """Count a record kept as a near-duplicate of ``near`` (both engines report it so)."""
        self.near_duplicates += 1
        self.near_duplicate_of.append(
            {
                "doc_id": doc_id,
                "source_key": source_key,
                "cluster": near.cluster,
                "similar_to": near.doc_id,
                "similarity": round(near.similarity, 4),
            }
        )

    def doc_id_of(self, source_key: str) -> str:
        """The doc_id a source key of this import went to (duplicates: the original's)."""
        return self.doc_ids.get(source_key) or make_doc_id(source_key)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "errors": len(self.errors),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            **{k: v for k, v in self.counts().items() if k != "errors"},
            "errors": [e.to_dict() for e in self.errors],
            "created": self.created,
            "message": self.message,
            "duplicate_of": self.duplicate_of,
            "near_duplicate_of": self.near_duplicate_of,
            "files_skipped": self.files_skipped,
        }


# ---------------------------------------------------------------------------- entry points


def import_paths(
    paths: Iterable[str | Path],
    store: CorpusStore,
    fmt: str = "auto",
    source: str | None = None,
    message: str | None = None,
    field_map: dict[str, str] | None = None,
    progress: bool = False,
    *,
    metadata: str | Path | MetadataTable | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    threshold: float = dedup.THRESHOLD,
    engine: str = "local",
    ray_address: str | None = None,
) -> ImportReport:
    """Import files and directories (see ``corpus.ingest.readers``) as one new corpus version.

    ``engine="ray"``: the same import on a Ray cluster (``corpus.ingest.ray_engine``)."""
    if engine == "ray":
        from corpus.ingest import ray_engine

        return ray_engine.import_paths(
            paths, store, fmt, source, message, field_map, progress,
            metadata=metadata, max_bytes=max_bytes, threshold=threshold, address=ray_address,
        )  # fmt: skip
    paths = [Path(p) for p in paths]
    opts = ReadOptions(source=source, field_map=dict(field_map or {}), max_bytes=max_bytes)
    md = load_metadata(metadata) if isinstance(metadata, (str, Path)) else metadata
    planned = list(plan_files(paths, fmt))  # file paths only: cheap, and gives the progress total
    n_files = sum(1 for p in planned if not isinstance(p, Problem))
    ledger = Ledger(options_digest(fmt, opts, metadata))

    shards = md is None and _workers() > 1  # big JSONL files are read by the workers themselves

    def items(tick: Callable[[], None]) -> Iterator[RawRecord | Problem | _Shard | _StartWorkers]:
        seq = 0  # as _run_import numbers them
        for entry in planned:
            if isinstance(entry, Problem):
                yield entry
                seq += 1
                continue
            path, rel, f, display = entry
            big = shards and f == "jsonl" and _size(path) >= SHARD_BYTES
            if big and ledger.will_read(path, rel, f):
                yield _START_WORKERS  # they start up while the file is hashed and cut
            if ledger.begin(path, rel, f, seq):  # unchanged since it went in: not read
                tick()
                continue
            if big:
                for part in jsonl.plan_ranges(path, display, opts.max_bytes, SHARD_BYTES):
                    if isinstance(part, jsonl.Range):
                        yield _Shard(path, rel, display, opts, part)
                        seq += part.lines
                    else:
                        yield part[1]
                        seq += 1
            else:
                for rec in FORMATS[f][0](path, rel, opts, display):
                    if md is not None and isinstance(rec, RawRecord):
                        md.apply(rec, path)
                    yield rec
                    seq += 1
            ledger.end(seq)
            tick()

    msg = message or "import " + " ".join(str(p) for p in paths)
    return _run(store, items, msg, progress=progress, total=n_files, threshold=threshold, ledger=ledger)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def import_articles(
    store: CorpusStore,
    records: Iterable[RawRecord | Article],
    message: str | None = None,
    *,
    progress: bool = False,
    threshold: float = dedup.THRESHOLD,
) -> ImportReport:
    """Import records made elsewhere (e.g. the brat reader) as one new corpus version.

    ``RawRecord``: normalized here. ``Article``: its text must already be normalized (it is
    stored verbatim, so offsets computed against it stay valid); its doc_id is kept.
    """

    def items(tick: Callable[[], None]) -> Iterator[RawRecord | Article | Problem]:
        for r in records:
            yield r
            tick()

    return _run(store, items, message or "import", progress=progress, total=None, threshold=threshold)


# ---------------------------------------------------------------------------- the workflow


STAGING_DIR = "newscorpus-import-staging"  # under $TMPDIR: the only place imports stage, and clean
STAGING_LOCK = ".lock"  # flock'd by the live import that owns a staging folder


def staging_root() -> Path:
    return Path(tempfile.gettempdir()) / STAGING_DIR


def remove_stale_staging(root: Path | None = None) -> list[str]:
    """Remove the staging folders of killed imports: those in our own staging location whose
    lock no live import holds (a kill releases it). Returns the folders removed."""
    import fcntl

    root = root or staging_root()
    removed: list[str] = []
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return removed
    for d in entries:
        lock = d / STAGING_LOCK
        if not d.is_dir() or d.is_symlink():
            continue
        if d.name.startswith(".new-"):  # killed between creating and locking it (microseconds)
            try:
                if time.time() - d.stat().st_mtime > 3600:
                    shutil.rmtree(d, ignore_errors=True)
                    removed.append(str(d))
            except OSError:
                pass
            continue
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:  # being created right now (lock not there yet), or not ours
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live import holds it
        try:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d))
        finally:
            os.close(fd)
    return removed


class _Staging:
    """Rows waiting for the commit, in temporary Arrow IPC files of BATCH rows (memory flat).

    Arrow IPC rather than Parquet: planning and the commit read the files back memory-mapped,
    without decoding. The folder lives in ``staging_root()`` and holds a lock (``STAGING_LOCK``)
    for as long as this import lives, so the next import can tell a killed import's leftovers
    (lock free: removed) from a running one's (lock held: left alone).
    """

    def __init__(self) -> None:
        import fcntl

        root = staging_root()
        root.mkdir(parents=True, exist_ok=True)
        self.removed_stale = remove_stale_staging(root)
        # locked under a hidden name, then renamed: no other import ever sees it unlocked
        new = Path(tempfile.mkdtemp(prefix=f".new-{os.getpid()}-", dir=root))
        self._lock = os.open(new / STAGING_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.dir = root / new.name[len(".new-") :]
        os.rename(new, self.dir)
        self.files: list[Path] = []
        self.counts: list[int] = []  # rows of each staged file
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        path = self.dir / f"local-{len(self.files):06d}.arrow"
        _write_ipc(table, path)
        self.add_file(path, table.num_rows)

    def add_file(self, path: Path, rows: int) -> None:
        """A staged file written elsewhere (by an import worker)."""
        self.files.append(path)
        self.counts.append(rows)
        self.rows += rows

    def read(self, i: int, columns: list[str] | None = None) -> pa.Table:
        with pa.memory_map(str(self.files[i]), "r") as src:
            t = pa.ipc.open_file(src).read_all()
        return t.select(columns) if columns is not None else t

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


def _write_ipc(table: pa.Table, path: str | Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, _STAGE_SCHEMA) as w:
        w.write_table(table)


def _binary_column(sigs: np.ndarray) -> pa.Array:
    """(n, k) uint32 signatures -> a binary array of n little-endian values, without copies per row."""
    n, k = sigs.shape
    data = np.ascontiguousarray(sigs, dtype="<u4")
    offsets = np.arange(0, (n + 1) * 4 * k, 4 * k, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _signature_matrix(col: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray | None:
    """A binary column of equal-length signatures -> (n, num_perm) uint32 (None: other lengths)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    if n == 0:
        return np.empty((0, num_perm), np.uint32)
    if arr.null_count or arr.type != pa.binary():
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    if not (np.diff(offsets) == 4 * num_perm).all():
        return None
    data = np.frombuffer(arr.buffers()[2], dtype="<u4", count=(offsets[-1] - offsets[0]) // 4, offset=int(offsets[0]))
    return data.reshape(n, num_perm)


def _index_on_disk(store: CorpusStore, version: int | None, staged: int) -> bool:
    """``$CORPUS_IMPORT_INDEX``: ``memory``, ``disk``, or (default) on disk when the stored
    corpus and the staged rows together exceed one round (``diskindex.RUN``)."""
    mode = os.environ.get("CORPUS_IMPORT_INDEX", "auto").strip().lower()
    if mode in ("memory", "disk"):
        return mode == "disk"
    stored = store.count(version) if version is not None else 0
    return stored + staged > diskindex.RUN


def _load_index(
    store: CorpusStore, version: int | None, threshold: float, staged: int = 0
) -> dedup.DedupIndex | diskindex.TieredIndex:
    """The dedup index of the stored corpus, in memory or (big imports) on disk."""
    if _index_on_disk(store, version, staged):
        tiered = _load_disk_index(store, version, threshold)
        if tiered is not None:
            return tiered
    return _load_memory_index(store, version, threshold)


def _load_disk_index(store: CorpusStore, version: int | None, threshold: float) -> diskindex.TieredIndex | None:
    """Stored entries streamed into runs on disk (None: some rows lack a usable signature,
    which only the in-memory index handles)."""
    disk = diskindex.DiskIndex(dedup.DedupIndex(threshold=threshold))
    if version is None:
        return diskindex.TieredIndex(disk)
    recompute = store.minhash_scheme(version) != dedup.SCHEME
    for batch in store.read_index(version, with_text=recompute):
        d = batch.select(["doc_id", "text_sha256", "near_dup_cluster"]).to_pydict()
        if recompute:
            sigs = dedup.signatures(batch.column("text").to_pylist())
        else:
            stored = _signature_matrix(batch.column("minhash"), disk.t.num_perm)
            if stored is None:
                disk.close()
                return None
            sigs = stored
        disk.add(d["doc_id"], d["text_sha256"], sigs, d["near_dup_cluster"])
    return diskindex.TieredIndex(disk)


def _load_memory_index(store: CorpusStore, version: int | None, threshold: float) -> dedup.DedupIndex:
    """Dedup index of the stored corpus: ids, text hashes, signatures, clusters (no texts).

    A store whose signatures use another MinHash scheme (``store.minhash_scheme``; stores made
    before the scheme was recorded) cannot be compared with ours: their signatures are
    recomputed from the stored texts, in batches, on every import into such a store.
    """
    index = dedup.DedupIndex(threshold=threshold)
    if version is None:
        return index
    recompute = store.minhash_scheme(version) != dedup.SCHEME
    for batch in store.read_index(version, with_text=recompute):
        d = batch.select(["doc_id", "text_sha256", "near_dup_cluster"]).to_pydict()
        for doc_id, sha in zip(d["doc_id"], d["text_sha256"]):
            index.set_sha(doc_id, sha)
        if recompute:
            sigs = dedup.signatures(batch.column("text").to_pylist())
        else:
            stored = _signature_matrix(batch.column("minhash"), index.num_perm)
            if stored is None:  # mixed lengths or nulls: keep the rows with a usable signature
                mh = batch.column("minhash").to_pylist()
                ok = [j for j, m in enumerate(mh) if m is not None and len(m) == 4 * index.num_perm]
                stored = np.frombuffer(b"".join(mh[j] for j in ok), "<u4").reshape(len(ok), index.num_perm)
                d = {k: [v[j] for j in ok] for k, v in d.items()}
            sigs = stored
        index.add_signatures(d["doc_id"], sigs, d["near_dup_cluster"])
    return index


class _Seen:
    """The doc ids admitted so far in this import, 8 bytes each: 64-bit doc ids (16 hex digits,
    as ``make_doc_id`` makes them) go to sorted numpy runs, one per batch, searched with
    ``searchsorted`` a batch at a time; a run is merged into the one before while it is at least
    half that one's size (a binary counter: about log2(batches) runs to search, each id merged
    about as many times); other ids (imported Articles) stay in a set of strings."""

    _HEX16 = re.compile("[0-9a-f]{16}")

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.other: set[str] = set()

    def add(self, doc_id: str) -> bool:
        """Record ``doc_id``; False if it was already there."""
        return self.add_many([doc_id])[0]

    def add_many(self, doc_ids: Sequence[str]) -> list[bool]:
        """Record ids in order; for each, False if it was there already (or earlier in the list)."""
        out = [True] * len(doc_ids)
        hexes: list[int] = []
        for i, d in enumerate(doc_ids):
            if self._HEX16.fullmatch(d):
                hexes.append(i)
            elif d in self.other:
                out[i] = False
            else:
                self.other.add(d)
        if not hexes:
            return out
        keys = np.frombuffer(bytes.fromhex("".join(doc_ids[i] for i in hexes)), ">u8").astype(np.uint64)
        new = np.zeros(len(keys), bool)
        new[np.unique(keys, return_index=True)[1]] = True  # first in the list
        for run in self.runs:
            pos = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            new &= run[pos] != keys
        self.runs.append(np.unique(keys))
        while len(self.runs) > 1 and 2 * len(self.runs[-1]) >= len(self.runs[-2]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate((self.runs[-1], last)), kind="stable")  # two sorted runs
        for i, ok in zip(hexes, new.tolist()):
            out[i] = ok
        return out


class _RawHashes:
    """doc_id -> hash of the raw input last stored (recognizes unchanged records cheaply),
    loaded at the first lookup: an import whose files are all skipped never reads it."""

    def __init__(self, store: CorpusStore, version: int | None) -> None:
        self.store, self.version = store, version
        self._d: dict[str, bytes] | None = None

    def get(self, doc_id: str) -> bytes | None:
        if self._d is None:
            self._d = _load_raw_hashes(self.store, self.version)
        return self._d.get(doc_id)


def _load_raw_hashes(store: CorpusStore, version: int | None) -> dict[str, bytes]:
    """doc_id -> hash of the raw input last stored: recognizes unchanged records cheaply."""
    raw: dict[str, bytes] = {}
    if version is not None:
        for batch in store.iter_batches(version, columns=["doc_id", "raw_sha256"], batch_size=50000):
            d = batch.to_pydict()
            for doc_id, r in zip(d["doc_id"], d["raw_sha256"]):
                if r:
                    raw[doc_id] = bytes.fromhex(r)
    return raw


def _run(
    store: CorpusStore,
    make_items: Callable[[Callable[[], None]], Iterator[Any]],
    message: str,
    *,
    progress: bool,
    total: int | None,
    threshold: float,
    ledger: Ledger | None = None,
) -> ImportReport:
    with on_disk_full("importing", store.display_uri, also=f"the staging folder {staging_root()}"):
        return _run_import(
            store, make_items, message, progress=progress, total=total, threshold=threshold, ledger=ledger
        )


def _run_import(
    store: CorpusStore,
    make_items: Callable[[Callable[[], None]], Iterator[Any]],
    message: str,
    *,
    progress: bool,
    total: int | None,
    threshold: float,
    ledger: Ledger | None,
) -> ImportReport:
    version = store.latest_version()
    if ledger is not None:
        ledger.load(store, version)
    raw_by_doc = _RawHashes(store, version)
    report = ImportReport(version=version, message=message)
    staging = _Staging()
    admission = _Admission(report, raw_by_doc)
    pipeline = _Pipeline(store, staging, version, threshold)
    builder = _Builder(staging, admission, ledger, on_staged=lambda: pipeline.staged(report))
    errors: list[tuple[int, Problem]] = []  # (record number, problem): kept in input order
    try:
        with _progress(progress, total) as tick:
            seq = 0  # record number (a shard's records are numbered by line)
            for item in make_items(tick):
                if item is _START_WORKERS:
                    builder.start()
                    continue
                tick.record()
                if isinstance(item, Problem):
                    errors.append((seq, item))
                    seq += 1
                elif isinstance(item, _Shard):
                    builder.add_shard(seq, item)
                    seq += item.range.lines
                else:
                    builder.add(_job(seq, item))
                    seq += 1
            builder.finish()
        del raw_by_doc, admission.raw_by_doc
        errors.extend(admission.errors)
        report.errors = [e for _, e in sorted(errors, key=lambda x: x[0])]
        if ledger is not None:
            report.unchanged += ledger.skipped_records
            report.files_skipped = len(ledger.skipped)
        dup_seqs: list[int] = []
        if staging.rows:  # else all unchanged or failed: the signatures are never loaded
            got = pipeline.commit(report, message)
            if got is not None:
                dup_seqs = got
            else:  # a small import, or another import committed first
                first = 2 if pipeline.planner is not None else 1
                dup_seqs = _plan_and_commit(store, staging, None, version, report, threshold, first=first)
        if ledger is not None and report.version is not None:
            for seq in [s for s, _ in errors] + dup_seqs:
                ledger.problem(seq)
            files = ledger.result(updated_any=report.updated > 0)
            if report.created or files != ledger.known:
                store.write_fingerprints(report.version, files)
        return report
    finally:
        builder.close()
        pipeline.close()
        staging.close()


# A job: (record number, the record, doc_id, source key, raw sha256 or None, where for errors)
_Job = tuple[int, "RawRecord | Article", str, str, "str | None", dict[str, Any]]
# record number -> (file, line, is an imported Article)
_Where = Callable[[int], tuple["str | None", "int | None", bool]]


def _job(seq: int, item: RawRecord | Article) -> _Job:
    """What a record's row is built from; nothing here depends on the other records."""
    where = {"path": getattr(item, "path", None), "line": getattr(item, "line", None)}
    if isinstance(item, Article):
        key = item.meta.get("source_key") or item.doc_id
        doc_id = item.doc_id or make_doc_id(key)
        where["path"] = where["path"] or item.meta.get("path") or key
        return (seq, item, doc_id, key, None, where)
    return (seq, item, make_doc_id(item.source_key), item.source_key, item.raw_sha256 or None, where)


@dataclass
class _Built:
    """A batch of records built into staged rows (by a worker or here), before admission:
    its rows (``_STAGE_SCHEMA``), its problems, and the facts of the records whose row failed
    (their keys still count as seen: the first record of a key is the one kept)."""

    table: pa.Table | None
    errors: list[tuple[int, Problem]]
    failed: list[tuple[int, str, str]]  # (record number, doc_id, source key)


class _Admission:
    """The order-dependent part of an import, applied to each built batch in input order:
    a source key seen before is a repeated key (the first record is kept), and a record whose
    raw input is the one stored is unchanged. Batches are built anywhere (worker processes
    read and normalize in parallel); their admission happens here, one batch at a time."""

    def __init__(self, report: ImportReport, raw_by_doc: _RawHashes) -> None:
        self.report, self.raw_by_doc = report, raw_by_doc
        self.seen = _Seen()
        self.errors: list[tuple[int, Problem]] = []

    def take(self, built: _Built, where: _Where) -> pa.Table | None:
        """Admit a built batch; returns its admitted rows. ``where(seq)``: the record's file,
        line, and whether it is an imported Article (never "unchanged" by its raw hash)."""
        report, t = self.report, built.table
        problems = dict(built.errors)
        events: list[tuple[int, int, str, str, str | None]] = [(s, -1, d, k, None) for s, d, k in built.failed]
        if t is not None:
            c = t.select(["_seq", "doc_id", "source_key", "raw_sha256"]).to_pydict()
            events += [
                (s, j, d, k, r)
                for j, (s, d, k, r) in enumerate(zip(c["_seq"], c["doc_id"], c["source_key"], c["raw_sha256"]))
            ]
            events.sort()
        keep = np.ones(t.num_rows if t is not None else 0, dtype=bool)
        first = self.seen.add_many([e[2] for e in events])
        for (seq, j, doc_id, key, raw), is_first in zip(events, first):
            if not is_first:
                path, line, _ = where(seq)
                problems[seq] = Problem(
                    "repeated_source_key",
                    f"source key {key!r} appears more than once in this import; first kept",
                    file=path,
                    line=line,
                )
                if j >= 0:
                    keep[j] = False
                continue
            if len(report.doc_ids) < DOC_IDS_KEPT or doc_id != make_doc_id(key):
                report.doc_ids[key] = doc_id
            else:
                report.doc_ids_complete = False
            if j >= 0 and raw and not where(seq)[2]:
                known = self.raw_by_doc.get(doc_id)
                if known is not None and known.hex() == raw:
                    report.unchanged += 1  # same bytes as stored
                    keep[j] = False
        self.errors.extend(problems.items())
        if t is None or keep.all():
            return t
        return t.filter(bool_array(keep)) if keep.any() else None


def _build_rows(jobs: list[_Job]) -> _Built:
    """Normalize records into stored rows, with their MinHash signatures (one batch at once).

    Each record's text is encoded to UTF-8 once: a compiled scan of those bytes tells which
    texts normalization cannot change (``corpus.core.textscan``), and for those the same bytes
    give the raw hash, the text hash (the same) and the signature's input.

    Pure (no store, no report): runs in worker processes for big imports."""
    from corpus.core import textscan  # numba: loaded by the processes that build rows only

    rows: list[tuple[Any, ...]] = []  # in _STAGE_SCHEMA's column order
    encoded: list[bytes | None] = []  # the UTF-8 of each row's stored text, where known
    errors: list[tuple[int, Problem]] = []
    failed: list[tuple[int, str, str]] = []
    raws = [None if isinstance(j[1], Article) else j[1].text.encode("utf-8", "surrogatepass") for j in jobs]
    settled = iter(textscan.settled_bytes([r for r in raws if r is not None]).tolist())
    for (seq, item, doc_id, key, raw_sha, where), raw in zip(jobs, raws):
        data = raw if raw is not None and next(settled) else None
        row = _row(item, doc_id, key, raw_sha, data)
        if row[0] is None:
            errors.append((seq, Problem(row[1], row[2], file=where["path"], line=where["line"])))
            failed.append((seq, doc_id, key))
            continue
        rows.append((*row, seq))
        encoded.append(data)
    if not rows:
        return _Built(None, errors, failed)
    # rows grouped by bucket (stable): the data files are per bucket, and a batch that arrives
    # grouped is cut into them by slicing, where the importer would have to copy every text
    # into bucket order (the planner decides the rows in record order, ``_seq``, all the same)
    order = sorted(range(len(rows)), key=lambda i: rows[i][1])
    if any(i != j for i, j in enumerate(order)):
        rows = [rows[i] for i in order]
        encoded = [encoded[i] for i in order]
    columns = dict(zip(_STAGE_SCHEMA.names, map(list, zip(*rows))))
    # every stored text's UTF-8 once: it signs, and it is the text column (Arrow would encode
    # every text again; the cast checks it is valid UTF-8)
    utf8 = [e if e is not None else t.encode("utf-8", "surrogatepass") for e, t in zip(encoded, columns["text"])]
    columns["minhash"] = _binary_column(dedup.signatures(columns["text"], encoded=utf8))
    columns["text"] = pa.array(utf8, pa.large_binary()).cast(pa.large_string())
    return _Built(pa.Table.from_pydict(columns, schema=_STAGE_SCHEMA), errors, failed)


class _StartWorkers:
    """What ``import_paths``'s items yield before hashing and cutting a big file that will be
    read: the worker processes' start-up (~1 s: interpreter, imports, compiled kernels) then
    overlaps that pass over the file instead of following it."""


_START_WORKERS = _StartWorkers()


@dataclass(frozen=True)
class _Shard:
    """Lines of a big JSONL file that a worker process reads itself (no records cross a pipe)."""

    path: Path
    rel: str
    display: str
    opts: ReadOptions
    range: jsonl.Range

    def to_json(self, seq: int) -> str:
        r, o = self.range, self.opts
        return json.dumps(
            [
                str(self.path),
                self.rel,
                self.display,
                [o.source, o.field_map, o.max_bytes],
                [r.start, r.end, r.first_line, r.lines],
                seq,
            ]
        )

    @staticmethod
    def build(spec: str) -> tuple[_Built, int]:
        """A worker's part: read, normalize and sign the shard. Returns the batch and the number
        of items (records and problems) its lines held."""
        path, rel, display, (source, field_map, max_bytes), rng, seq = json.loads(spec)
        opts = ReadOptions(source=source, field_map=field_map, max_bytes=max_bytes)
        jobs: list[_Job] = []
        problems: list[tuple[int, Problem]] = []
        for i, item in jsonl.read_range(Path(path), jsonl.Range(*rng), opts, rel, display):
            if isinstance(item, Problem):
                problems.append((seq + i, item))
            else:
                jobs.append(_job(seq + i, item))
        built = _build_rows(jobs)
        built.errors.extend(problems)
        return built, len(jobs) + len(problems)


def _row(
    item: RawRecord | Article, doc_id: str, key: str, raw_sha: str | None, settled: bytes | None = None
) -> tuple[Any, ...]:
    """The stored row of one record in ``SCHEMA``'s column order (signature left out), or the
    problem ``(None, code, message)``. ``settled``: the UTF-8 of a record's text known to be
    normalized already (``_build_rows``). A raw record becomes its row directly (no Article:
    this runs for every imported record)."""
    if isinstance(item, Article):
        text = item.text
        if not text or not text.strip():
            return None, "empty_text", "empty text"
        if normalize_text(text) != text:
            return None, "not_normalized", "article text is not normalized (use corpus.core.normalize)"
        article = Article(
            doc_id=doc_id,
            text=text,
            title=item.title,
            source=item.source,
            url=item.url,
            published=item.published,
            language=item.language,
            raw_sha256=item.raw_sha256 or sha256_text(text),
            meta=dict(item.meta),
        )
        return tuple(article_to_row(article, source_key=key).values())
    if settled is not None:  # stored as it came: its raw hash is its text hash
        text = item.text
        text_sha = hashlib.sha256(settled).hexdigest()
        raw = raw_sha or text_sha
    else:
        text = normalize_text(item.text)
        text_sha = sha256_text(text)
        raw = raw_sha or hashlib.sha256(item.text.encode("utf-8", "surrogatepass")).hexdigest()
    if not text.strip():
        return None, "empty_text", "empty text"
    return (
        doc_id,
        bucket_of(doc_id),
        key,
        text,
        _clean(item.title),
        item.source,
        _clean(item.url),
        _clean(item.published),
        _clean(item.language),
        text_sha,
        raw,
        meta_json(item.meta),
        None,  # minhash
        None,  # near_dup_cluster
        None,  # imported_at
    )


_KINDS: dict[str, type] = {"raw": RawRecord, "article": Article}


def _pack(jobs: list[_Job]) -> list[tuple[Any, ...]]:
    """Jobs with their records as plain tuples: pickled twice as fast as dataclasses."""
    return [
        (seq, "article" if isinstance(item, Article) else "raw", tuple(item.__dict__.values()), doc_id, key, raw, where)
        for seq, item, doc_id, key, raw, where in jobs
    ]


def _unpack(packed: list[tuple[Any, ...]]) -> list[_Job]:
    return [
        (seq, _KINDS[kind](*values), doc_id, key, raw, where) for seq, kind, values, doc_id, key, raw, where in packed
    ]


def _worker_env() -> dict[str, str]:
    """The workers' environment: they must import this same ``corpus``. An installed package is
    found by the interpreter as it is; one imported from elsewhere (a checkout on ``sys.path``)
    gets its folder put first on ``PYTHONPATH``."""
    import site

    home = Path(__file__).resolve().parents[2]  # the folder holding the corpus package
    installed = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if home in installed:
        return dict(os.environ)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(home), os.environ.get("PYTHONPATH")]))}


def _workers() -> int:
    """Worker processes for normalizing and hashing: ``$CORPUS_IMPORT_WORKERS``, else one
    per CPU (at most 4); 0 or 1 = all in this process."""
    env = os.environ.get("CORPUS_IMPORT_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    return min(os.cpu_count() or 1, 4)


class _Builder:
    """Turns records into staged, admitted batches, in input order.

    A small import (less than one batch) is built here; in a big one, batches go to worker
    processes (``corpus.ingest.worker``) round robin, at most ``IN_FLIGHT`` per worker queued
    (on disk), so memory stays flat and they go on while this process reads and decides. A batch is either
    records (pickled to a file in the staging directory) or a shard of a big JSONL file, which
    the worker reads itself (then this process only cuts the file at line ends). Results come
    back in input order and are admitted (``_Admission``) as they do.
    """

    def __init__(
        self,
        staging: _Staging,
        admission: _Admission,
        ledger: Ledger | None = None,
        on_staged: Callable[[], None] | None = None,
    ) -> None:
        self.staging, self.admission, self.ledger, self.on_staged = staging, admission, ledger, on_staged
        self.jobs: list[_Job] = []
        self.batches = 0
        self.n_workers = _workers()
        self.procs: list[_Worker] = []
        self.template: subprocess.Popen[bytes] | None = None  # the process the workers are forked from
        # (worker, jobs file or None, output file, where-function, (first record number, lines) of a shard)
        self.pending: deque[tuple[_Worker, Path | None, Path, _Where, tuple[int, int] | None]] = deque()

    def add(self, job: _Job) -> None:
        self.jobs.append(job)
        if len(self.jobs) >= BATCH:
            self.start()  # a big import: worth starting workers (when there are to be any)
            self._submit()

    def add_shard(self, seq: int, shard: _Shard) -> None:
        """Lines of a JSONL file, records ``seq``... (one per line), read by a worker."""
        if self.jobs:
            self._submit()
        self.start()
        display, first = shard.display, shard.range.first_line

        def where(s: int) -> tuple[str | None, int | None, bool]:
            return display, first + s - seq, False

        self._send(f"shard\t{shard.to_json(seq)}", None, where, (seq, shard.range.lines))

    def start(self) -> None:
        """One worker process started, the others forked from it once it is ready (see
        ``corpus.ingest.worker``); each talks to this process through a pair of pipes. Once per
        import: called again, it does nothing."""
        if self.procs or self.n_workers < 2:
            return
        ours, theirs = [], []
        for _ in range(self.n_workers):
            jobs_r, jobs_w = os.pipe()
            out_r, out_w = os.pipe()
            theirs.append((jobs_r, out_w))
            ours.append((jobs_w, out_r))
        try:
            self.template = subprocess.Popen(
                [sys.executable, "-m", "corpus.ingest.worker", *(f"{a},{b}" for a, b in theirs)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=_worker_env(),
                pass_fds=[fd for pair in theirs for fd in pair],
            )
        finally:
            for pair in theirs:
                for fd in pair:
                    os.close(fd)
        self.procs = [_Worker(os.fdopen(w, "w", buffering=1), os.fdopen(r, "r")) for w, r in ours]

    def _submit(self) -> None:
        jobs, self.jobs = self.jobs, []
        places = {seq: (w["path"], w["line"], isinstance(item, Article)) for seq, item, _, _, _, w in jobs}
        if not self.procs:
            self._take(_build_rows(jobs), places.__getitem__)
            return
        jobs_path = self.staging.dir / f"jobs-{self.batches + 1:06d}.pickle"
        with open(jobs_path, "wb") as f:
            pickle.dump(_pack(jobs), f, protocol=pickle.HIGHEST_PROTOCOL)
        self._send(f"records\t{jobs_path}", jobs_path, places.__getitem__, None)

    def _send(self, what: str, jobs_path: Path | None, where: _Where, shard: tuple[int, int] | None) -> None:
        while len(self.pending) >= IN_FLIGHT * len(self.procs):
            self._take_remote()
        self.batches += 1
        proc = self.procs[self.batches % len(self.procs)]
        out = self.staging.dir / f"{self.batches:06d}.arrow"
        try:
            proc.stdin.write(f"{what}\t{out}\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise StoreError(_WORKER_FAILED, hint="run the import again") from None
        self.pending.append((proc, jobs_path, out, where, shard))

    def _take(self, built: _Built, where: _Where, out: Path | None = None) -> None:
        table = self.admission.take(built, where)
        if out is not None and table is not None and built.table is not None and table.num_rows == built.table.num_rows:
            self.staging.add_file(out, table.num_rows)  # all admitted: the worker's file as it is
        else:
            if table is not None:
                self.staging.write(table)
            if out is not None:
                out.unlink(missing_ok=True)
        if table is not None and self.procs and self.on_staged is not None:  # a big import: decide as we go
            self.on_staged()

    def _take_remote(self) -> None:
        proc, jobs_path, out, where, shard = self.pending.popleft()
        line = proc.stdout.readline()
        if not line:
            raise StoreError(_WORKER_FAILED, hint="run the import again")
        res = json.loads(line)
        if jobs_path is not None:
            jobs_path.unlink(missing_ok=True)
        table = None
        if res["rows"]:
            with pa.memory_map(str(out), "r") as src:
                table = pa.ipc.open_file(src).read_all()
        errors = [(seq, Problem.from_dict(err)) for seq, err in res["errors"]]
        built = _Built(table, errors, [(s, d, k) for s, d, k in res["failed"]])
        if shard is not None and self.ledger is not None and res["items"] < shard[1]:
            self.ledger.blank_lines(shard[0], shard[1] - res["items"])
        self._take(built, where, out)

    def finish(self) -> None:
        if self.jobs:
            self._submit()
        while self.pending:
            self._take_remote()
        for p in self.procs:  # no more work: let them exit while planning goes on
            p.stdin.close()

    def close(self) -> None:
        for p in self.procs:  # end of input: each worker stops after its batch
            try:
                p.stdin.close()
            except OSError:
                pass
        if self.template is not None:  # it exits once its forked workers have
            try:
                self.template.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.template.kill()
                self.template.wait()
            self.template = None
        for p in self.procs:
            p.stdout.close()
        self.procs = []


_WORKER_FAILED = "an import worker process failed (see its error above)"


@dataclass
class _Worker:
    """The pipes to one worker process: jobs in, results out (one line each)."""

    stdin: TextIO
    stdout: TextIO


def _clean(v: str | None) -> str | None:
    if v is None:
        return None
    v = normalize_text(str(v)).strip()
    return v or None


def _plan_and_commit(
    store: CorpusStore,
    staging: _Staging,
    index: dedup.DedupIndex | diskindex.TieredIndex | None,
    version: int | None,
    report: ImportReport,
    threshold: float,
    first: int = 1,
) -> list[int]:
    """Plan and commit, re-planning after a lost race (``first``: the attempt to start with;
    from the second on, the index is loaded again). Returns the record numbers of the exact
    duplicates (not stored)."""
    base = (report.unchanged, list(report.errors))
    for attempt in range(first, MAX_ATTEMPTS + 1):
        report.attempts = attempt
        if attempt > 1 or index is None:
            version = store.latest_version()
            index = _load_index(store, version, threshold, staging.rows)
        dup_seqs: list[int] = []
        try:
            plan = _plan(staging, index, report, base, dup_seqs)
        finally:
            if isinstance(index, diskindex.TieredIndex):
                index.close()
        report.version = version
        if plan is None:  # nothing to write: no empty version
            return dup_seqs
        masks, clusters, updated_ids = plan
        try:
            new_version = store.commit(
                _batches(staging, masks, clusters),
                read_version=version,
                message=report.message,
                counts=report.counts(),
                replace=updated_ids,
            )
        except ConcurrentCommit:
            time.sleep(random.uniform(0.05, 0.3) * min(attempt, 5))
            continue
        report.version = new_version
        report.created = True
        return dup_seqs
    raise StoreError(
        f"gave up after {MAX_ATTEMPTS} attempts: other imports kept committing first",
        hint="run the import again",
    )


class _Pipeline:
    """The first attempt of a big import, planned and written while it still reads.

    As soon as a round of rows is staged, a thread of its own decides it (``_Planner``) and
    writes its rows as data files in the table folder (``table.write_data_files``: the Parquet
    encoding releases the GIL), while this process goes on handing batches to the workers and
    admitting their results. The commit at the end only logs those files
    (``CorpusStore.commit_files``). If another import committed first, the files are deleted and
    the import is planned again from the staged rows (``_plan_and_commit``, second attempt on).
    Killed before the commit, the files are unreferenced leftovers: no version reads them, and
    ``corpus vacuum`` deletes them (the writers' lock, held meanwhile, keeps vacuum away from a
    live import's files).
    """

    def __init__(self, store: CorpusStore, staging: _Staging, version: int | None, threshold: float) -> None:
        import queue

        self.store, self.staging, self.version, self.threshold = store, staging, version, threshold
        self.planned = ImportReport(version=version)  # the plan's counts, until they are committed
        self.dup_seqs: list[int] = []
        self.planner: _Planner | None = None
        self.rounds: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self.pending: list[int] = []  # staged files of the round being filled
        self.pending_rows = 0
        self.thread: Any = None
        self.lock: Any = None
        self.files: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def staged(self, report: ImportReport) -> None:
        """The builder staged another file (in input order)."""
        i = len(self.staging.files) - 1
        if self.planner is None:
            self._start(report)
        assert self.planner is not None
        if self.pending and (not self.planner.tiered or self.pending_rows + self.staging.counts[i] > _round_rows()):
            self.rounds.put(self.pending)
            self.pending, self.pending_rows = [], 0
        self.pending.append(i)
        self.pending_rows += self.staging.counts[i]

    def _start(self, report: ImportReport) -> None:
        import threading

        from corpus.store.table import utc_now

        self.planned.doc_ids = report.doc_ids  # duplicates are remapped in the report's own map
        index = _load_index(self.store, self.version, self.threshold, staged=diskindex.RUN + 1)
        self.planner = _Planner(self.staging, index, self.planned, self.dup_seqs)
        self.lock = self.store.writers_lock()
        self.lock.__enter__()
        self.thread = threading.Thread(target=self._run, args=(utc_now(),), name="import-planner", daemon=True)
        self.thread.start()

    def _run(self, now: str) -> None:
        planner = self.planner
        assert planner is not None

        def batches() -> Iterator[pa.RecordBatch]:
            while (files := self.rounds.get()) is not None:
                planner.round(files)
                yield from _batches(self.staging, planner.masks, planner.clusters, files)

        try:
            self.files = write_data_files(self.store.uri, batches(), now, self.store.storage_options)
        except BaseException as e:  # raised in the importing thread by commit()
            self.error = e

    def _join(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            if self.pending:
                self.rounds.put(self.pending)
                self.pending = []
            self.rounds.put(None)
            self.thread.join()
        if self.planner is not None and isinstance(self.planner.index, diskindex.TieredIndex):
            self.planner.index.close()

    def commit(self, report: ImportReport, message: str) -> list[int] | None:
        """Decide the rest and commit. Returns the exact duplicates' record numbers, or None
        when there is no first attempt (a small import) or another import committed first."""
        if self.planner is None:
            return None
        self._join()
        if self.error is not None:
            raise self.error
        files, self.files = self.files, []
        p, before = self.planned, report.unchanged
        report.attempts, report.version = 1, self.version
        report.unchanged += p.unchanged
        report.added, report.updated, report.duplicates = p.added, p.updated, p.duplicates
        report.near_duplicates, report.duplicate_of, report.near_duplicate_of = (
            p.near_duplicates, p.duplicate_of, p.near_duplicate_of,
        )  # fmt: skip
        if self.planner.result() is None:  # nothing to write: no empty version
            self.store.discard_files(files)
            return self.dup_seqs
        try:
            report.version = self.store.commit_files(
                files, read_version=self.version, message=message, counts=report.counts(), replace=self.planner.updated
            )
        except ConcurrentCommit:  # the files are deleted; the caller plans again
            report.unchanged = before
            return None
        report.created = True
        return self.dup_seqs

    def close(self) -> None:
        """Stop; files of a commit that did not happen are deleted."""
        self.pending = []  # (after a failure: the round being filled is not worth deciding)
        self._join()
        if self.files:
            self.store.discard_files(self.files)
            self.files = []
        if self.lock is not None:
            self.lock.__exit__(None, None, None)
            self.lock = None


def _round_rows() -> int:
    """Rows decided at once (a round is never bigger than a run on disk)."""
    return min(diskindex.ROUND, diskindex.RUN)


def _rounds(counts: Sequence[int], tiered: bool) -> list[list[int]]:
    """Staged files (their row counts) grouped into rounds of at most ``diskindex.ROUND`` rows
    (decided at once)."""
    if not tiered:
        return [list(range(len(counts)))]
    rounds: list[list[int]] = [[]]
    rows = 0
    for i, n in enumerate(counts):
        if rounds[-1] and rows + n > _round_rows():
            rounds.append([])
            rows = 0
        rounds[-1].append(i)
        rows += n
    return rounds


def _plan(
    staging: _Staging,
    index: dedup.DedupIndex | diskindex.TieredIndex,
    report: ImportReport,
    base: tuple[int, list[Problem]],
    dup_seqs: list[int] | None = None,
) -> tuple[list[np.ndarray], list[list[str | None]], set[str]] | None:
    """Decide each staged row's outcome against ``index``: write masks, clusters, updated ids
    (None: nothing to write)."""
    report.unchanged, report.errors = base[0], list(base[1])
    report.added = report.updated = report.duplicates = report.near_duplicates = 0
    report.duplicate_of, report.near_duplicate_of = [], []
    planner = _Planner(staging, index, report, dup_seqs)
    for files in _rounds(staging.counts, planner.tiered):
        planner.round(files)
    return planner.result()


class _Planner:
    """Decides staged files round by round, in order (a row can duplicate an earlier row of the
    same import), so rounds can be decided while later rows are still being read.

    The near-duplicate candidates of a whole staged batch are looked up at once: against the
    index (``DedupIndex.candidates``; a ``TieredIndex`` looks up a whole round on disk at once)
    and against earlier rows of the batch (equal band keys)."""

    def __init__(
        self,
        staging: _Staging,
        index: dedup.DedupIndex | diskindex.TieredIndex,
        report: ImportReport,
        dup_seqs: list[int] | None,
    ) -> None:
        self.staging, self.index, self.report, self.dup_seqs = staging, index, report, dup_seqs
        self.tiered = isinstance(index, diskindex.TieredIndex)
        self.masks: list[np.ndarray] = []
        self.clusters: list[list[str | None]] = []
        self.updated: set[str] = set()

    def round(self, files: list[int]) -> None:
        index = self.index

        def staged(i: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
            """A staged file's small columns, read once, with its signatures and band keys."""
            t = self.staging.read(i, ["doc_id", "source_key", "text_sha256", "minhash", "_seq"])
            sigs = _signature_matrix(t.column("minhash"), index.num_perm)
            assert sigs is not None  # staged by this import
            return t, sigs, index._band_keys(sigs)

        parts: Iterable[tuple[pa.Table, np.ndarray, np.ndarray]] = map(staged, files)
        if isinstance(index, diskindex.TieredIndex):  # the whole round looked up on disk at once
            parts = list(parts)
            index.begin_round(
                [d for t, _, _ in parts for d in t.column("doc_id").to_pylist()],
                [h for t, _, _ in parts for h in t.column("text_sha256").to_pylist()],
                np.concatenate([m for _, m, _ in parts]),
                np.concatenate([k for _, _, k in parts]),
            )
        offset = 0
        for t, sigs, keys in parts:  # (in memory: the whole import is one round, read file by file)
            offset += _plan_batch(
                t, sigs, keys, index, self.report, self.updated, self.masks, self.clusters, self.dup_seqs, offset,
                self.tiered,
            )  # fmt: skip
        if isinstance(index, diskindex.TieredIndex):
            index.end_round()

    def result(self) -> tuple[list[np.ndarray], list[list[str | None]], set[str]] | None:
        if self.report.added + self.report.updated == 0:
            return None
        return self.masks, self.clusters, self.updated


def _plan_batch(
    t: pa.Table,
    staged_sigs: np.ndarray,
    staged_keys: np.ndarray,
    index: Any,
    report: ImportReport,
    updated: set[str],
    masks: list[np.ndarray],
    clusters: list[list[str | None]],
    dup_seqs: list[int] | None,
    offset: int,
    tiered: bool,
) -> int:
    """Decide the rows of a staged file (its small columns ``t``, signatures and band keys; rows
    ``offset``... of the round) in record order; returns its row count.

    Staged files hold their rows grouped by bucket (``_build_rows``), so the rows are decided
    in ``_seq`` order (the first record of a text is the one kept) and the decisions (mask,
    clusters) put back in staged order."""
    d = t.select(["doc_id", "source_key", "text_sha256", "_seq"]).to_pydict()
    seq_col = np.asarray(d["_seq"], dtype=np.int64)
    n = len(seq_col)
    order = np.argsort(seq_col, kind="stable")
    in_order = bool((order == np.arange(n)).all())
    if in_order:
        doc_ids, keys, shas, seqs = d["doc_id"], d["source_key"], d["text_sha256"], d["_seq"]
        sigs, band_keys = staged_sigs, staged_keys
    else:
        pick = order.tolist()
        doc_ids, keys, shas, seqs = ([d[c][o] for o in pick] for c in ("doc_id", "source_key", "text_sha256", "_seq"))
        sigs, band_keys = staged_sigs[order], staged_keys[order]
    mask = np.zeros(n, dtype=bool)
    cl: list[str | None] = [None] * n
    if tiered:
        stored = index.candidates(sigs, offset + order, keys=band_keys)
    else:
        stored = index.candidates(sigs, keys=band_keys)
    earlier = _earlier_in_batch(index, band_keys)
    if len(set(doc_ids)) == n and len(set(shas)) == n and index.all_new(doc_ids, shas):
        # the usual batch of a big import: new documents, new texts. Every row is added; only
        # the near-duplicate matches are decided one row at a time (in record order)
        mask[:] = True
        near_rows = sorted({j for j in range(n) if stored[j] is not None} | set(earlier))
        for j in near_rows:
            _near(j, doc_ids, sigs, stored, earlier, mask, cl, index, report, keys)
        report.added += n
        if report.doc_ids:
            for key, doc_id in zip(keys, doc_ids):
                if key in report.doc_ids:
                    report.doc_ids[key] = doc_id
        index.set_new_shas(doc_ids, shas)
        rows = range(0)
    else:
        rows = range(n)
    for j in rows:
        doc_id, key, sha = doc_ids[j], keys[j], shas[j]
        old = index.sha_of(doc_id)
        if old == sha:
            report.unchanged += 1
            continue
        if old is None:
            dup = index.doc_with_sha(sha)
            if dup is not None:
                report.duplicates += 1
                if dup_seqs is not None:
                    dup_seqs.append(seqs[j])
                report.duplicate_of.append({"source_key": key, "doc_id": doc_id, "duplicate_of": dup})
                report.doc_ids[key] = dup
                continue
        if key in report.doc_ids:  # (beyond DOC_IDS_KEPT only the remapped keys are kept)
            report.doc_ids[key] = doc_id
        _near(j, doc_ids, sigs, stored, earlier, mask, cl, index, report, keys)
        if old is None:
            report.added += 1
        else:
            report.updated += 1
            updated.add(doc_id)
        mask[j] = True
        index.set_sha(doc_id, sha)
    kept = np.flatnonzero(mask)
    index.add_signatures([doc_ids[j] for j in kept.tolist()], sigs[kept], [cl[j] for j in kept.tolist()])
    if not in_order:  # back in staged order
        staged_mask = np.zeros(n, dtype=bool)
        staged_mask[order] = mask
        staged_cl: list[str | None] = [None] * n
        for j, o in enumerate(order.tolist()):
            staged_cl[o] = cl[j]
        mask, cl = staged_mask, staged_cl
    masks.append(mask)
    clusters.append(cl)
    return n


def _near(
    j: int,
    doc_ids: list[str],
    sigs: np.ndarray,
    stored: list[Any],
    earlier: dict[int, list[int]],
    mask: np.ndarray,
    cl: list[str | None],
    index: Any,
    report: ImportReport,
    keys: list[str],
) -> None:
    """Row ``j``'s near-duplicate match, if any: the best of the index's candidates and of the
    earlier rows of the batch that are written (``mask``) sharing a band key with it."""
    near = None
    if stored[j] is not None:
        near = index.best_match(sigs[j], stored[j], exclude=doc_ids[j])
    for e in earlier.get(j, ()):
        if mask[e]:
            sim = float(np.count_nonzero(sigs[e] == sigs[j])) / index.num_perm
            if sim >= index.threshold and (near is None or sim > near.similarity):
                near = dedup.Match(doc_ids[e], cl[e] or doc_ids[e], sim)
    if near is not None:
        cl[j] = near.cluster
        report.near_duplicate(doc_ids[j], keys[j], near)


def _earlier_in_batch(index: dedup.DedupIndex, keys: np.ndarray) -> dict[int, list[int]]:
    """Row -> earlier rows of the same batch sharing a band key with it (the first few per key);
    ``keys``: the rows' band keys."""
    out: dict[int, list[int]] = {}
    if len(keys) < 2:
        return out
    flat = np.sort(keys, axis=None)  # one sort of every band's keys: usually no key repeats
    if not (flat[1:] == flat[:-1]).any():
        return out
    for b in range(index.bands):
        order = np.argsort(keys[:, b], kind="stable")
        k = keys[order, b]
        same = np.flatnonzero(k[1:] == k[:-1]) + 1  # sorted positions equal to their predecessor
        if not len(same):
            continue
        starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
        group_start = starts[np.searchsorted(starts, same, side="right") - 1]
        for p, g in zip(same.tolist(), group_start.tolist()):
            row = int(order[p])
            prev = order[g : min(p, g + index._PER_KEY)].tolist()
            out.setdefault(row, []).extend(prev)
    return out


def _batches(
    staging: _Staging, masks: list[np.ndarray], clusters: list[list[str | None]], files: Iterable[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows to write of staged ``files`` (default: all), with their clusters."""
    ci = SCHEMA.get_field_index("near_dup_cluster")
    for i in range(len(masks)) if files is None else files:
        mask = masks[i]
        if not mask.any():
            continue
        t = staging.read(i, SCHEMA.names)
        t = t.set_column(ci, SCHEMA.field(ci), string_array(clusters[i]))
        if not mask.all():  # (a filter copies every text, even when it keeps them all)
            t = t.filter(bool_array(mask))
        yield from t.to_batches()


class _progress:
    """A rich progress bar on stderr when asked for (the CLI asks only on a terminal).

    The bar counts input files; its label counts records, so a single big JSONL file still
    shows that the import is moving.
    """

    def __init__(self, enabled: bool, total: int | None):
        self.enabled, self.total = enabled, total
        self._p: Any = None
        self.records = 0

    def __enter__(self) -> _progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._p.start()
            self._task = self._p.add_task("importing", total=self.total)
        return self

    def __call__(self) -> None:
        """One input file (or one record, for records given directly) is done."""
        if self._p is not None:
            self._p.advance(self._task)

    def record(self) -> None:
        self.records += 1
        if self._p is not None and self.records % 500 == 0:
            self._p.update(self._task, description=f"importing ({self.records} records)")

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.stop()
