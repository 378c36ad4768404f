"""The corpus store: a Delta Lake table. The ONLY module that imports ``deltalake``.

One import is one atomic Delta commit, so a Delta version *is* a corpus version. The table:

* is partitioned by ``bucket`` (16 buckets from a hash of ``doc_id``) with files of ~16 MB,
  written by pyarrow and committed as Delta add/remove actions: an import streams new files
  (memory flat), and correcting one article rewrites only the one file that held it;
* keeps every version by default (log and deleted-file retention of 100 years, expired-log
  cleanup off), has the change data feed on (``diff`` reads it) and deletion vectors off;
* carries the commit message and the import counts in each commit's info (``log`` shows them);
* keeps tags in ``_corpus_tags.json`` inside the table directory (Delta ignores files whose
  name starts with ``_``; written atomically). Tags are not Delta table properties because
  setting a property would itself create a new version.

Writers pass the version they planned against; if another import committed meanwhile the
commit fails with ``ConcurrentCommit`` and the caller re-reads and re-plans (see ``ingest``).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

if TYPE_CHECKING:
    import pyarrow.dataset as pads

from corpus.core import atomic
from corpus.core.arrays import repeat_string
from corpus.core.errors import (
    StoreError,
    StoreUnreadable,
    UnknownVersion,
    UsageError,
    disk_full,
    is_disk_full,
    on_disk_full,
)
from corpus.core.model import Article

DEFAULT_URI = "data/corpus"
# The MinHash signatures of corpus.ingest.dedup, named here because the table schema records the
# scheme in the minhash field metadata; change it whenever the signatures change.
MINHASH_SCHEME = "oph-splitmix64-w3-v1"
N_BUCKETS = 16
TAGS_FILE = "_corpus_tags.json"
FINGERPRINTS_DIR = "_corpus_fingerprints"  # one JSON file per version (see read_fingerprints)
WRITERS_LOCK = "_corpus_writers.lock"  # flock: commits shared, vacuum exclusive
_FOREVER = "interval 36500 days"
TARGET_FILE_SIZE = 16 * 1024 * 1024

TABLE_CONFIG = {
    "delta.enableChangeDataFeed": "true",
    "delta.enableDeletionVectors": "false",
    "delta.logRetentionDuration": _FOREVER,
    "delta.deletedFileRetentionDuration": _FOREVER,
    "delta.enableExpiredLogCleanup": "false",
    # Files of ~16 MB: an update rewrites whole files, so small files keep rewrites cheap.
    "delta.targetFileSize": str(TARGET_FILE_SIZE),
    # File statistics only for the key columns: min/max of article texts would bloat the log.
    "delta.dataSkippingStatsColumns": "doc_id,bucket,text_sha256,imported_at",
}

SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("bucket", pa.string(), nullable=False),
        pa.field("source_key", pa.string()),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("source", pa.string()),
        pa.field("url", pa.string()),
        pa.field("published", pa.string()),
        pa.field("language", pa.string()),
        pa.field("text_sha256", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string()),
        pa.field("meta", pa.string()),  # JSON object
        # MinHash signature, uint32 little-endian; the field metadata names the scheme (corpus.ingest.dedup)
        pa.field("minhash", pa.binary(), metadata={"minhash_scheme": MINHASH_SCHEME}),
        pa.field("near_dup_cluster", pa.string()),  # doc_id of the first member of its cluster
        pa.field("imported_at", pa.string()),  # UTC ISO 8601, when this revision was committed
    ]
)
ARTICLE_COLUMNS = [n for n in SCHEMA.names if n not in ("bucket", "minhash")]
INDEX_COLUMNS = ["doc_id", "text_sha256", "minhash", "near_dup_cluster"]
# Stores created before the scheme was recorded hold datasketch MinHash (affine32, 128 permutations).
LEGACY_MINHASH_SCHEME = "datasketch-affine32-128"
_TAG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")


class VacuumResult(list):
    """The files vacuum deleted (or would delete), relative to the table folder; ``bytes`` freed."""

    bytes: int = 0


class ConcurrentCommit(StoreError):
    """Another writer committed first; re-read the table and plan again."""

    code = "E102"


def bucket_of(doc_id: str) -> str:
    """Partition of a document: a stable hash of its id, as one hex digit."""
    return format(zlib.crc32(doc_id.encode("utf-8")) % N_BUCKETS, "x")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> Path:
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


@dataclass
class VersionInfo:
    version: int
    timestamp: str
    operation: str
    message: str | None
    counts: dict[str, int] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "timestamp": self.timestamp,
            "operation": self.operation,
            "message": self.message,
            **self.counts,
            "tags": self.tags,
        }


@dataclass
class Diff:
    version_a: int
    version_b: int
    added: list[str]
    updated: list[str]
    removed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.version_a,
            "to": self.version_b,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
        }


def row_to_article(row: dict[str, Any]) -> Article:
    meta = json.loads(row["meta"]) if row.get("meta") else {}
    if row.get("source_key") is not None:
        meta.setdefault("source_key", row["source_key"])
    if row.get("near_dup_cluster") is not None:
        meta["near_dup_cluster"] = row["near_dup_cluster"]
    if row.get("imported_at") is not None:
        meta.setdefault("imported_at", row["imported_at"])
    return Article(
        doc_id=row["doc_id"],
        text=row["text"],
        title=row.get("title"),
        source=row.get("source"),
        url=row.get("url"),
        published=row.get("published"),
        language=row.get("language"),
        text_sha256=row.get("text_sha256") or "",
        raw_sha256=row.get("raw_sha256") or "",
        meta=meta,
    )


# one encoder for every row: ``json.dumps`` with options builds a new one per call (3x the cost)
_META_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


_COLUMN_KEYS = ("source_key", "near_dup_cluster", "imported_at")  # in meta, never stored there


def meta_json(meta: dict[str, Any]) -> str | None:
    """The stored ``meta`` column of a record's meta: JSON, keys sorted (None: nothing left once
    the keys the store keeps as columns are lifted out)."""
    if any(k in meta for k in _COLUMN_KEYS):
        meta = {k: v for k, v in meta.items() if k not in _COLUMN_KEYS}
    return _META_JSON.encode(meta) if meta else None


def article_to_row(
    a: Article, *, source_key: str | None = None, minhash: bytes | None = None, cluster: str | None = None
) -> dict[str, Any]:
    """The stored row for an article (``meta`` keys the store keeps as columns are lifted out)."""
    return {
        "doc_id": a.doc_id,
        "bucket": bucket_of(a.doc_id),
        "source_key": source_key if source_key is not None else a.meta.get("source_key"),
        "text": a.text,
        "title": a.title,
        "source": a.source,
        "url": a.url,
        "published": a.published,
        "language": a.language,
        "text_sha256": a.text_sha256,
        "raw_sha256": a.raw_sha256 or None,
        "meta": meta_json(a.meta),
        "minhash": minhash,
        "near_dup_cluster": cluster,
        "imported_at": None,
    }


class CorpusStore:
    """A corpus at ``uri`` (None: ``$CORPUS_STORE`` or ``data/corpus``); any URI deltalake accepts."""

    def __init__(self, uri: str | os.PathLike[str] | None = None, storage_options: dict[str, str] | None = None):
        uri = str(uri) if uri is not None else (os.environ.get("CORPUS_STORE") or DEFAULT_URI)
        self.display_uri = uri
        self.uri = str(_local_path(uri).resolve()) if _is_local(uri) else uri
        self.storage_options = storage_options

    def __repr__(self) -> str:
        return f"CorpusStore({self.display_uri!r})"

    # ------------------------------------------------------------------ reading

    def exists(self) -> bool:
        return DeltaTable.is_deltatable(self.uri, storage_options=self.storage_options)

    def _require(self) -> None:
        if not self.exists():
            raise StoreError(
                f"no corpus at {self.display_uri}",
                hint="import something first (corpus import), or check the store URI",
            )

    def table(self, version: int | None = None) -> DeltaTable:
        """The Delta table at ``version`` (None: latest)."""
        self._require()
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.storage_options)
        except TableNotFoundError as e:  # pragma: no cover - raced with a deletion
            raise StoreError(f"no corpus at {self.display_uri}: {e}") from e
        except DeltaError as e:
            reason = (str(e).splitlines() or [""])[0]  # the rest is the Rust backtrace
            if version is None:
                raise StoreUnreadable(
                    f"cannot read the corpus at {self.display_uri}: {reason}",
                    hint="check the store URI, its permissions and that its _delta_log is intact",
                ) from e
            raise UnknownVersion(f"cannot load version {version} of {self.display_uri}: {reason}") from e

    def table_id(self, version: int | str | None = None) -> str:
        """The Delta table's id (``metaData.id``): names this table whatever its location."""
        return str(self.table(self.resolve_version(version)).metadata().id)

    def latest_version(self) -> int | None:
        """Latest version number, or None when the store does not exist yet."""
        if not self.exists():
            return None
        return self.table().version()

    def resolve_version(self, v: int | str | None) -> int:
        """None -> latest; an int or digit string -> that version (checked); else a tag name."""
        latest = self.latest_version()
        if latest is None:
            self._require()
        assert latest is not None
        if v is None or v == "":
            return latest
        if isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit()):
            n = int(v)
            if not 0 <= n <= latest:
                raise UnknownVersion(
                    f"version {n} does not exist in {self.display_uri}", hint=f"versions are 0..{latest} (corpus log)"
                )
            return n
        tags = self.tags()
        if v in tags:
            return tags[v]
        known = ", ".join(sorted(tags)) or "none"
        raise UnknownVersion(f"unknown version or tag {v!r}", hint=f"tags: {known}; versions: 0..{latest}")

    def dataset(self, version: int | str | None = None) -> pads.Dataset:
        """A pyarrow dataset of a version. Filter on ``bucket`` only: other columns may be
        ``string_view`` in MERGE-written files, which pyarrow scan filters cannot compare.

        A local table is read through Arrow's own local file system. deltalake's default, a
        Python file system over its object store, keeps Arrow I/O threads calling into Python;
        at interpreter exit they met a torn-down interpreter and about one process in 15-30
        aborted ("terminate called without an active exception", exit 134)."""
        return self._dataset(self.resolve_version(version))

    def _dataset(self, n: int) -> pads.Dataset:
        fs = None
        if _is_local(self.uri):
            fs = pafs.SubTreeFileSystem(str(_local_path(self.uri).resolve()), pafs.LocalFileSystem())
        return self.table(n).to_pyarrow_dataset(filesystem=fs)

    def iter_batches(
        self, version: int | str | None = None, columns: list[str] | None = None, batch_size: int = 1000, filter=None
    ) -> Iterator[pa.RecordBatch]:
        """Stream the table at a version (only ``columns``), batch by batch (see ``dataset``);
        the scan's reader is closed when the iteration ends or is abandoned, so its read-ahead
        threads never outlive it."""
        n = self.resolve_version(version)
        scanner = self._dataset(n).scanner(columns=columns, batch_size=batch_size, filter=filter)
        reader = scanner.to_reader()
        try:
            for batch in reader:
                if batch.num_rows:
                    yield batch
        except (OSError, pa.ArrowException) as e:
            raise _unreadable(n, e) from e
        finally:
            reader.close()

    def iter_articles(self, version: int | str | None = None, batch_size: int = 1000) -> Iterator[Article]:
        for batch in self.iter_batches(version, columns=ARTICLE_COLUMNS, batch_size=batch_size):
            for row in batch.to_pylist():
                yield row_to_article(row)

    def get(self, doc_id: str, version: int | str | None = None) -> Article | None:
        return self.get_many([doc_id], version).get(doc_id)

    def get_many(self, doc_ids: Iterable[str], version: int | str | None = None) -> dict[str, Article]:
        """Articles by id. Reads only the buckets (partitions) that can hold them.

        The doc_id test runs on the read batches, not as a scan filter: files written by
        MERGE carry ``string_view`` columns, and pyarrow cannot compare their statistics
        with a plain string literal ("no kernel matching (string, string_view)").
        """
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        n = self.resolve_version(version)
        wanted = pa.array(ids, pa.string())
        buckets = sorted({bucket_of(i) for i in ids})
        out: dict[str, Article] = {}
        import pyarrow.dataset as pads  # (with pandas: 0.4 s an import worker never needs)

        for batch in self.iter_batches(n, ARTICLE_COLUMNS, 2000, filter=pads.field("bucket").isin(buckets)):
            hit = batch.filter(pc.is_in(batch.column("doc_id").cast(pa.string()), value_set=wanted))
            for row in hit.to_pylist():
                out[row["doc_id"]] = row_to_article(row)
        return out

    def count(self, version: int | str | None = None) -> int:
        return self.dataset(version).count_rows()

    def list_docs(self, version: int | str | None = None) -> Iterator[dict[str, Any]]:
        """doc_id, title, source, source_key, near_dup_cluster of every document (streamed)."""
        cols = ["doc_id", "title", "source", "source_key", "near_dup_cluster", "text_sha256"]
        for batch in self.iter_batches(version, columns=cols, batch_size=5000):
            yield from batch.to_pylist()

    def read_index(self, version: int, with_text: bool = False) -> Iterator[pa.RecordBatch]:
        """Only the columns dedup needs (no texts unless asked), for planning an import against
        ``version``."""
        cols = INDEX_COLUMNS + ["text"] if with_text else INDEX_COLUMNS
        return self.iter_batches(version, columns=cols, batch_size=5000 if with_text else 20000)

    def minhash_scheme(self, version: int | str | None = None) -> str:
        """The MinHash scheme of the table's ``minhash`` column (``corpus.ingest.dedup.SCHEME`` when
        written by this version of the toolkit). The table schema carries it as field metadata,
        set when the table is created; signatures of another scheme cannot be compared."""
        field = next(
            (f for f in self.table(self.resolve_version(version)).schema().fields if f.name == "minhash"), None
        )
        meta = (field.metadata or {}) if field is not None else {}
        return str(meta.get("minhash_scheme") or LEGACY_MINHASH_SCHEME)

    # ------------------------------------------------------------------ history

    def history(self) -> list[VersionInfo]:
        """Every version, oldest first, with message, counts and tags."""
        self._require()
        tags_by_version: dict[int, list[str]] = {}
        for name, v in self.tags().items():
            tags_by_version.setdefault(v, []).append(name)
        out = []
        for h in self.table().history():
            v = int(h["version"])
            ts = datetime.fromtimestamp(h.get("timestamp", 0) / 1000, timezone.utc)
            corpus_meta = h.get("corpus") or {}
            out.append(
                VersionInfo(
                    version=v,
                    timestamp=ts.isoformat(timespec="seconds").replace("+00:00", "Z"),
                    operation=h.get("operation", ""),
                    message=h.get("userMetadata"),
                    counts={k: int(x) for k, x in corpus_meta.items() if isinstance(x, int)},
                    tags=sorted(tags_by_version.get(v, [])),
                )
            )
        return sorted(out, key=lambda i: i.version)

    def diff(self, a: int | str, b: int | str | None = None) -> Diff:
        """Doc ids added, updated (text changed) and removed between versions ``a`` and ``b``,
        from the change data feed (so only the changed rows are read)."""
        va, vb = self.resolve_version(a), self.resolve_version(b)
        lo, hi = min(va, vb), max(va, vb)
        first: dict[str, tuple[int, str, str]] = {}
        last: dict[str, tuple[int, str, str]] = {}
        if hi > lo:
            dt = self.table(hi)
            cols = ["doc_id", "text_sha256", "_change_type", "_commit_version"]
            try:
                reader = dt.load_cdf(starting_version=lo + 1, ending_version=hi, columns=cols)
            except DeltaError as e:
                raise StoreError(f"cannot read the change data feed {lo + 1}..{hi}: {e}") from e
            rows: list[tuple[int, int, str, str, str]] = []
            for batch in pa.RecordBatchReader.from_stream(reader):
                d = batch.to_pydict()
                for doc_id, sha, ct, cv in zip(d["doc_id"], d["text_sha256"], d["_change_type"], d["_commit_version"]):
                    # within one commit, "before" images come first
                    order = 0 if ct in ("update_preimage", "delete") else 1
                    rows.append((int(cv), order, doc_id, ct, sha))
            rows.sort()
            for cv, _, doc_id, ct, sha in rows:
                first.setdefault(doc_id, (cv, ct, sha))
                last[doc_id] = (cv, ct, sha)
        added, updated, removed = [], [], []
        for doc_id, (_, ct0, sha0) in first.items():
            _, ct1, sha1 = last[doc_id]
            before = ct0 in ("update_preimage", "delete")
            after = ct1 in ("update_postimage", "insert")
            if not before and after:
                added.append(doc_id)
            elif before and not after:
                removed.append(doc_id)
            elif before and after and sha0 != sha1:
                updated.append(doc_id)  # (a row copied unchanged into a rewritten file is not)
        if va > vb:
            added, removed = removed, added
        return Diff(va, vb, sorted(added), sorted(updated), sorted(removed))

    # ------------------------------------------------------------------ writing

    def version_files(self, version: int | str | None = None) -> list[str]:
        """The data files of a version, as URIs any Parquet reader opens (other engines read
        them directly: ``corpus.ingest.ray_engine``)."""
        return list(self.table(self.resolve_version(version)).file_uris())

    def writers_lock(self) -> Any:
        """The writers' lock, shared (see ``commit``): held by an engine whose workers write data
        files before the driver commits them (``commit_files``), so vacuum never takes them for
        orphans while the import lives."""
        return self._writers_lock(exclusive=False)

    def commit_files(self, files: list[dict[str, Any]], **kwargs: Any) -> int:
        """``commit`` of data files already written into the table folder by ``write_data_files``
        (on other machines); ``kwargs`` as for ``_commit``. On failure the files are deleted."""
        with on_disk_full("writing the new version", self.display_uri), self._writers_lock(exclusive=False):
            version = self._commit([], written=files, **kwargs)
        return version

    def discard_files(self, files: list[dict[str, Any]]) -> None:
        """Delete data files written by ``write_data_files`` that will not be committed."""
        fs, root = self._filesystem()
        for f in files:
            try:
                fs.delete_file(f"{root}/{f['path']}" if root else f["path"])
            except OSError:
                pass

    def commit(self, batches: Iterable[pa.RecordBatch], **kwargs: Any) -> int:
        """``_commit`` (below) under the writers' shared lock: vacuum waits for commits in flight,
        so the files a commit has written but not yet logged are never taken for orphans."""
        with on_disk_full("writing the new version", self.display_uri), self._writers_lock(exclusive=False):
            return self._commit(batches, **kwargs)

    def _writers_lock(self, *, exclusive: bool) -> Any:
        """``flock`` on ``WRITERS_LOCK`` in a local table folder (shared: commits; exclusive:
        vacuum); a no-op for remote stores. A killed process releases its lock."""
        import contextlib
        import fcntl

        @contextlib.contextmanager
        def held() -> Iterator[None]:
            if not _is_local(self.uri):
                yield
                return
            root = _local_path(self.uri)
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(root / WRITERS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
            finally:
                os.close(fd)

        return held()

    def _commit(
        self,
        batches: Iterable[pa.RecordBatch],
        *,
        read_version: int | None,
        message: str | None,
        counts: dict[str, int],
        replace: Iterable[str] | None = None,
        written: list[dict[str, Any]] | None = None,
    ) -> int:
        """Write rows as ONE commit on top of ``read_version`` (None: create the table).

        ``written``: data files already written (``write_data_files``) that join the commit.

        The rows go to new Parquet files (pyarrow, streamed: one open file per bucket, rotated
        at ``TARGET_FILE_SIZE``). Documents in ``replace`` get new revisions: the files that
        hold their current rows are rewritten without them (copy-on-write, only in their
        buckets) and the old files are removed in the same commit, so older versions still
        read them. Raises ``ConcurrentCommit`` when ``read_version`` is no longer the latest,
        so the caller can re-plan instead of committing stale decisions.
        """
        now, now_ms = utc_now(), int(time.time() * 1000)
        props = CommitProperties(
            custom_metadata={"userMetadata": message or "", "corpus": dict(counts)}, max_commit_retries=0
        )
        fs, root = self._filesystem()
        files = _FileSet(fs, root)
        try:
            for batch in batches:
                files.write(_stamp(batch, now))
            removes: list[RemoveAction] = []
            if replace and read_version is not None:
                dt = DeltaTable(self.uri, version=read_version, storage_options=self.storage_options)
                removes = self._rewrite_without(dt, set(replace), files, now_ms)
            adds = files.close() + [_add_action(f) for f in written or []]
            if read_version is None:
                if self.exists():
                    raise ConcurrentCommit("the store was created by another writer meanwhile")
                create_table_with_add_actions(
                    self.uri,
                    DeltaSchema.from_arrow(SCHEMA),
                    adds,
                    mode="error",
                    partition_by=["bucket"],
                    configuration=TABLE_CONFIG,
                    storage_options=self.storage_options,
                    commit_properties=props,
                )
            else:
                dt = DeltaTable(self.uri, version=read_version, storage_options=self.storage_options)
                dt.create_write_transaction([*adds, *removes], "append", SCHEMA, ["bucket"], commit_properties=props)
        except (CommitFailedError, ConcurrentCommit) as e:
            files.discard()
            self.discard_files(written or [])
            raise ConcurrentCommit(f"another import committed first ({e})") from e
        except DeltaError as e:
            files.discard()
            self.discard_files(written or [])
            if is_disk_full(e):
                raise disk_full("writing the new version", self.display_uri, e) from None
            if "already exists" in str(e).lower() or "version" in str(e).lower() and "exist" in str(e).lower():
                raise ConcurrentCommit(f"another import committed first ({e})") from e
            raise StoreError(f"writing to {self.display_uri} failed: {e}") from e
        except BaseException:
            files.discard()
            self.discard_files(written or [])
            raise
        return DeltaTable(self.uri, storage_options=self.storage_options).version()

    def _filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the table root in it (local disk, or deltalake's object store)."""
        if _is_local(self.uri):
            Path(self.uri).mkdir(parents=True, exist_ok=True)
            return pafs.LocalFileSystem(), self.uri
        from deltalake.fs import DeltaStorageHandler

        return pafs.PyFileSystem(DeltaStorageHandler(self.uri, self.storage_options)), ""

    def _rewrite_without(self, dt: DeltaTable, doc_ids: set[str], files: _FileSet, now_ms: int) -> list[RemoveAction]:
        """Copy-on-write: files holding any of ``doc_ids`` are rewritten without those rows."""
        buckets = {bucket_of(d) for d in doc_ids}
        wanted = pa.array(sorted(doc_ids), pa.string())
        actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        removes = []
        for act in actions:
            bucket = act.get("partition.bucket") or (act.get("partition_values") or {}).get("bucket")
            if bucket not in buckets:
                continue
            path = act["path"]
            full = f"{files.root}/{path}" if files.root else path
            ids = pq.read_table(full, columns=["doc_id"], filesystem=files.fs).column("doc_id").cast(pa.string())
            hit = pc.is_in(ids, value_set=wanted)
            if not pc.any(hit).as_py():
                continue
            keep = pq.read_table(full, filesystem=files.fs).filter(pc.invert(hit))
            if keep.num_rows:
                keep = keep.append_column("bucket", pa.array([bucket] * keep.num_rows, pa.string()))
                keep = keep.select(SCHEMA.names).cast(SCHEMA)
                for b in keep.to_batches(max_chunksize=2048):
                    files.write(b)
            removes.append(RemoveAction(path, True, now_ms, int(act["size_bytes"]), {"bucket": bucket}))
        return removes

    # ------------------------------------------------------------------ tags

    def tags(self) -> dict[str, int]:
        data = self._read_tags()
        return {name: int(t["version"]) for name, t in data.get("tags", {}).items()}

    def tag(self, name: str, version: int | str | None = None, *, force: bool = False) -> int:
        if not _TAG_NAME.match(name or ""):
            raise UsageError(
                f"invalid tag name {name!r}",
                hint="start with a letter or _, then letters, digits, _ . - (a bare number would be a version)",
            )
        v = self.resolve_version(version)
        data = self._read_tags()
        tags = data.setdefault("tags", {})
        if name in tags and int(tags[name]["version"]) != v and not force:
            raise UsageError(
                f"tag {name!r} already points to version {tags[name]['version']}",
                hint="choose another name, or move it with force",
            )
        tags[name] = {"version": v, "created_at": utc_now()}
        self._write_tags(data)
        return v

    def untag(self, name: str) -> None:
        data = self._read_tags()
        if name not in data.get("tags", {}):
            raise UnknownVersion(f"no tag {name!r}")
        del data["tags"][name]
        self._write_tags(data)

    def _read_tags(self) -> dict[str, Any]:
        self._require()
        try:
            if _is_local(self.uri):
                p = Path(self.uri) / TAGS_FILE
                return json.loads(p.read_text("utf-8")) if p.exists() else {"tags": {}}
            from deltalake.fs import DeltaStorageHandler

            fs = DeltaStorageHandler(self.uri, self.storage_options)
            info = fs.get_file_info([TAGS_FILE])[0]
            if info.type.name == "NotFound":
                return {"tags": {}}
            with fs.open_input_file(TAGS_FILE) as f:
                return json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError) as e:
            raise StoreError(f"cannot read tags of {self.display_uri}: {e}") from e

    def _write_tags(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8")
        if _is_local(self.uri):
            atomic.write_bytes(Path(self.uri) / TAGS_FILE, payload)
            return
        from deltalake.fs import DeltaStorageHandler  # object stores: a PUT is atomic

        fs = DeltaStorageHandler(self.uri, self.storage_options)
        with fs.open_output_stream(TAGS_FILE) as f:
            f.write(payload)

    # ------------------------------------------------------------------ input fingerprints

    def read_fingerprints(self, version: int) -> dict[str, dict[str, Any]]:
        """Fingerprints of the input files whose records ``version`` holds exactly as read
        (written by ``corpus.ingest``); empty when that version has none (the table was made
        elsewhere, or the import stopped between its commit and this file)."""
        # the file of the latest version that changed data (vacuum commits change none)
        neutral = {
            int(h["version"]): str(h.get("operation", "")).startswith("VACUUM") for h in self.table().history(50)
        }
        v = version
        while v > 0 and neutral.get(v) and not self._side_exists(f"{FINGERPRINTS_DIR}/v{v:010d}.json"):
            v -= 1
        data = self._read_side(f"{FINGERPRINTS_DIR}/v{v:010d}.json")
        if not data or data.get("version") != v or data.get("table_id") != self._table_id(version):
            return {}
        return dict(data.get("files") or {})

    def write_fingerprints(self, version: int, files: dict[str, dict[str, Any]]) -> None:
        """Record ``files`` for ``version``, atomically (one small file per version: a writer
        that lost a race only writes beside a version that is no longer the latest)."""
        payload = {"version": version, "table_id": self._table_id(version), "files": files}
        self._write_side(
            f"{FINGERPRINTS_DIR}/v{version:010d}.json", json.dumps(payload, sort_keys=True).encode("utf-8")
        )

    def _table_id(self, version: int) -> str:
        return str(self.table(version).metadata().id)

    def _side_exists(self, name: str) -> bool:
        if _is_local(self.uri):
            return (Path(self.uri) / name).exists()
        return self._read_side(name) is not None

    def _read_side(self, name: str) -> dict[str, Any] | None:
        """A JSON file inside the table folder (Delta ignores names starting with ``_``)."""
        try:
            if _is_local(self.uri):
                p = Path(self.uri) / name
                return json.loads(p.read_text("utf-8")) if p.exists() else None
            from deltalake.fs import DeltaStorageHandler

            fs = DeltaStorageHandler(self.uri, self.storage_options)
            if fs.get_file_info([name])[0].type.name == "NotFound":
                return None
            with fs.open_input_file(name) as f:
                return json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):
            return None  # unreadable fingerprints only cost a full re-read

    def _write_side(self, name: str, payload: bytes) -> None:
        if _is_local(self.uri):
            atomic.write_bytes(Path(self.uri) / name, payload)
            return
        from deltalake.fs import DeltaStorageHandler  # object stores: a PUT is atomic

        fs = DeltaStorageHandler(self.uri, self.storage_options)
        with fs.open_output_stream(name) as f:
            f.write(payload)

    # ------------------------------------------------------------------ maintenance

    def vacuum(self, retain_hours: float | None = None, dry_run: bool = False) -> VacuumResult:
        """Delete data files no version needs any more: files in the table folder that no version
        references (written by a commit that was killed before its log entry), whatever their
        age; and, with ``retain_hours``, files of old versions removed longer ago than that
        (by default those stay: retention is 100 years). Tagged versions stay readable.

        Returns the files (relative paths) with ``bytes`` freed. Runs under the writers' lock
        (exclusive), so a commit in flight is waited for, never mistaken for orphans."""
        if retain_hours is not None and retain_hours < 0:
            raise UsageError("retain_hours must be >= 0")
        with self._writers_lock(exclusive=True):
            dt = self.table()
            keep = sorted(set(self.tags().values()) | {dt.version()})
            kwargs: dict[str, Any] = {"keep_versions": keep}
            if retain_hours is not None:
                kwargs.update(retention_hours=int(retain_hours), enforce_retention_duration=False)
            try:
                old = list(dt.vacuum(dry_run=True, **kwargs)) if retain_hours is not None else []
                orphans = self._orphans()
                result = VacuumResult(sorted(set(old) | set(orphans)))
                result.bytes = sum(self._size(f) for f in result)
                if not dry_run:
                    if old:
                        dt.vacuum(dry_run=False, **kwargs)
                    root = _local_path(self.uri)
                    for f in orphans:
                        (root / f).unlink(missing_ok=True)
            except DeltaError as e:
                raise StoreError(f"vacuum failed: {e}") from e
        return result

    def _size(self, rel: str) -> int:
        if not _is_local(self.uri):
            return 0
        try:
            return (_local_path(self.uri) / rel).stat().st_size
        except OSError:
            return 0

    def _orphans(self) -> list[str]:
        """Data files of a local table folder that no version mentions (in any log entry or
        checkpoint), like Delta's own rule: names starting with ``_`` or ``.`` are not data."""
        if not _is_local(self.uri):
            return []
        from urllib.parse import unquote

        root = _local_path(self.uri)
        log = root / "_delta_log"
        refs: set[str] = set()
        for f in sorted(log.glob("*.json")):
            with open(f, encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    d = json.loads(line)
                    for kind in ("add", "remove"):
                        if isinstance(d.get(kind), dict) and d[kind].get("path"):
                            refs.add(unquote(d[kind]["path"]))
        for cp in sorted(log.glob("*.checkpoint*.parquet")):
            t = pq.read_table(cp)
            for kind in ("add", "remove"):
                if kind in t.column_names:
                    col = t.column(kind).combine_chunks()
                    refs.update(unquote(p) for p in col.field("path").to_pylist() if p)
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
            for name in filenames:
                if name.startswith(("_", ".")):
                    continue
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if rel not in refs:
                    out.append(rel)
        return sorted(out)

    # ------------------------------------------------------------------ export

    def export(self, out: str | os.PathLike[str], version: int | str | None = None, fmt: str | None = None) -> int:
        """Stream the articles of a version to ``out`` (.jsonl or .parquet), atomically."""
        out = Path(out)
        fmt = fmt or out.suffix.lstrip(".").lower()
        if fmt not in ("jsonl", "parquet"):
            raise UsageError(f"cannot export to {out.name!r}", hint="use an .jsonl or .parquet file name, or give fmt")
        n = self.resolve_version(version)
        count = 0
        if fmt == "jsonl":
            with atomic.atomic_open(out) as f:
                for a in self.iter_articles(n, batch_size=2000):
                    f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
                    count += 1
        else:
            schema = pa.schema([SCHEMA.field(c) for c in ARTICLE_COLUMNS])
            with atomic.atomic_open(out, "wb") as f, pq.ParquetWriter(f, schema, compression="zstd") as w:
                for batch in self.iter_batches(n, columns=ARTICLE_COLUMNS, batch_size=5000):
                    w.write_batch(batch.cast(schema) if batch.schema != schema else batch)
                    count += batch.num_rows
        return count


_FILE_SCHEMA = pa.schema([f for f in SCHEMA if f.name != "bucket"])
_STATS_COLUMNS = ("doc_id", "text_sha256", "imported_at")
_ROW_GROUP = 2048
# Snappy, Parquet's and Delta's default codec: the Parquet encoding of the texts is the biggest
# serial step of an import, and snappy takes about half zstd level 1's CPU for files ~40% bigger
# on news text (1.2 of an import's 14 CPU-s at 100k generated articles; readers decompress
# either as fast). Signatures are random bytes: not compressed. Dictionaries only where values
# repeat (on unique texts and hashes the writer builds one and drops it); no min/max of texts
# and signatures. Together ~15% less encoding CPU.
_FILE_OPTIONS: dict[str, Any] = {
    "compression": {f.name: "none" if f.name == "minhash" else "snappy" for f in _FILE_SCHEMA},
    "use_dictionary": ["source", "published", "language", "near_dup_cluster", "imported_at"],
    "write_statistics": [f.name for f in _FILE_SCHEMA if f.name not in ("text", "minhash")],
}


class _FileSet:
    """Parquet files being written into the table: one open writer per bucket, rotated by size.

    Each closed file becomes a Delta ``AddAction`` with exact statistics (row count, min/max
    and null count of the key columns): readers use them to skip files, so they must be right.

    Row groups are encoded and compressed on a few threads (pyarrow releases the GIL), at most
    one per file at a time, so a commit uses the machine's cores: the Parquet encoding of the
    texts is the biggest serial step of an import.
    """

    def __init__(self, fs: pafs.FileSystem, root: str):
        self.fs, self.root = fs, root
        self.open: dict[str, dict[str, Any]] = {}
        self.done: list[AddAction] = []
        self.paths: list[str] = []
        self.pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="parquet")

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}" if self.root else rel

    def write(self, batch: pa.RecordBatch) -> None:
        # zero-copy slices of rows grouped by bucket (the import's workers group them); other
        # batches get one stable sort by bucket first (a filter per bucket scanned the whole
        # batch, texts included, sixteen times)
        keys = batch.column("bucket").to_pylist()
        runs = 1 + sum(1 for a, b in zip(keys, keys[1:]) if a != b) if keys else 0
        if runs > len(set(keys)):
            batch = batch.take(pc.sort_indices(batch.column("bucket")))
            keys = batch.column("bucket").to_pylist()
        rows = batch.drop_columns(["bucket"])
        if not rows.schema.equals(_FILE_SCHEMA, check_metadata=True):  # (a cast per slice cost ~2 s at 1M rows)
            rows = rows.cast(_FILE_SCHEMA)
        start = 0
        for i in range(1, len(keys) + 1):
            if i == len(keys) or keys[i] != keys[start]:
                self._write_bucket(keys[start], rows.slice(start, i - start))
                start = i

    def _write_bucket(self, bucket: str, part: pa.RecordBatch) -> None:
        f = self.open.get(bucket)
        if f is None:
            rel = f"bucket={bucket}/part-{uuid.uuid4()}-c000.snappy.parquet"
            if self.root:
                self.fs.create_dir(self._full(f"bucket={bucket}"), recursive=True)
            self.paths.append(rel)
            writer = pq.ParquetWriter(self._full(rel), _FILE_SCHEMA, filesystem=self.fs, **_FILE_OPTIONS)
            f = self.open[bucket] = {
                "rel": rel,
                "writer": writer,
                "rows": 0,
                "bytes": 0,
                "min": {},
                "max": {},
                "nulls": dict.fromkeys(_STATS_COLUMNS, 0),
                "pending": [],
                "pending_rows": 0,
            }
        # buffer up to one row group: each write call would otherwise make its own tiny group
        f["pending"].append(part)
        f["pending_rows"] += part.num_rows
        if f["pending_rows"] >= _ROW_GROUP:
            self._flush_rows(f)
        f["rows"] += part.num_rows
        f["bytes"] += part.nbytes
        for c in _STATS_COLUMNS:
            col = part.column(c)
            f["nulls"][c] += col.null_count
            mm = pc.min_max(col).as_py()
            if mm["min"] is not None:
                f["min"][c] = mm["min"] if c not in f["min"] else min(f["min"][c], mm["min"])
                f["max"][c] = mm["max"] if c not in f["max"] else max(f["max"][c], mm["max"])
        if f["bytes"] >= 2 * TARGET_FILE_SIZE:  # snappy: ~2x compression on news text
            self._close(bucket)

    def _flush_rows(self, f: dict[str, Any]) -> None:
        if f["pending"]:
            self._wait(f)  # one write per file at a time: row groups stay in order
            table = pa.Table.from_batches(f["pending"])
            f["future"] = self.pool.submit(f["writer"].write_table, table, row_group_size=_ROW_GROUP)
            f["pending"], f["pending_rows"] = [], 0

    @staticmethod
    def _wait(f: dict[str, Any]) -> None:
        future = f.pop("future", None)
        if future is not None:
            future.result()  # its error (a full disk...) is raised here

    def _close(self, bucket: str) -> None:
        f = self.open.pop(bucket)
        self._flush_rows(f)
        self._wait(f)
        f["writer"].close()
        size = self.fs.get_file_info(self._full(f["rel"])).size
        stats = {"numRecords": f["rows"], "minValues": f["min"], "maxValues": f["max"], "nullCount": f["nulls"]}
        self.done.append(
            AddAction(
                f["rel"], size, {"bucket": bucket}, int(time.time() * 1000), True, json.dumps(stats, ensure_ascii=False)
            )
        )

    def close(self) -> list[AddAction]:
        try:
            for b in sorted(self.open):
                self._close(b)
        finally:
            self.pool.shutdown()
        return self.done

    def discard(self) -> None:
        """Delete the files of a commit that did not happen (they would be orphans)."""
        self.pool.shutdown(cancel_futures=True)  # waits for the writes under way
        for f in self.open.values():
            try:
                f["writer"].close()
            except Exception:  # pragma: no cover - best effort
                pass
        self.open = {}
        for rel in self.paths:
            try:
                self.fs.delete_file(self._full(rel))
            except OSError:
                pass


def write_data_files(
    uri: str, batches: Iterable[pa.RecordBatch], now: str, storage_options: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Write rows (``SCHEMA``) as new data files of the table at ``uri`` without committing them
    (a worker's part of a distributed import; the driver commits with ``commit_files``).
    Returns the files as plain dicts (picklable, no deltalake types); ``now`` stamps ``imported_at``."""
    store = CorpusStore(uri, storage_options)
    fs, root = store._filesystem()
    files = _FileSet(fs, root)
    try:
        for batch in batches:
            files.write(_stamp(batch, now))
        adds = files.close()
    except BaseException:
        files.discard()
        raise
    return [
        {
            "path": a.path,
            "size": a.size,
            "partition_values": dict(a.partition_values),
            "modification_time": a.modification_time,
            "stats": a.stats,
        }
        for a in adds
    ]


def _add_action(f: dict[str, Any]) -> AddAction:
    return AddAction(f["path"], f["size"], f["partition_values"], f["modification_time"], True, f["stats"])


def _stamp(batch: pa.RecordBatch, now: str) -> pa.RecordBatch:
    """Set imported_at on every row (the commit time of this revision)."""
    i = batch.schema.get_field_index("imported_at")
    return batch.set_column(i, "imported_at", repeat_string(now, batch.num_rows))


def _unreadable(version: int, e: Exception) -> StoreError:
    if "not found" in str(e).lower() or "no such file" in str(e).lower():
        return UnknownVersion(
            f"version {version} is no longer readable: its data files were vacuumed",
            hint="tag the versions you need (corpus tag) before vacuuming with retain_hours",
        )
    return StoreError(f"cannot read version {version}: {e}")


def rows_to_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
