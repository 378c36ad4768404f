"""The Ray engine: ``corpus import --engine ray`` and a Ray Data reader of a pinned version
(``corpus release build --engine ray``). The ONLY module that imports ``ray``.

An import on a Ray cluster makes the same decisions as the local engine
(``corpus.ingest.importer``), from the same pure functions:

1. **read, normalize, sign** (workers): Ray Data maps the input files to record rows; each file
   is read by one task with the local readers, its records normalized and MinHash-signed by
   ``importer._build_rows`` in chunks. Reader and record problems become rows too, numbered by
   ``(file number << 32) + record number``, so they sort into input order.
2. **band join** (workers): every signed row of the import and every stored row of the version
   planned against is exploded into its LSH band keys (``DedupIndex._band_keys``); a distributed
   group-by counts each key's members, and only keys shared by two or more members, one of them
   new, come back (near-duplicate candidates: a few per planted duplicate).
3. **decide** (driver): the order-dependent rule (repeated keys, unchanged, exact duplicate,
   the best near-duplicate match and its cluster name) is applied in input order over compact
   per-row facts (ids and hashes; no texts), reproducing ``importer._plan_batch``: the same
   batches of ``importer.BATCH`` records, candidates of the index (stored rows and earlier
   batches: most similar, ties to the earliest entry) before those of the same batch (strictly
   more similar only, ties to the first shared band). Known limit: the local index looks at the
   first ``DedupIndex._PER_KEY`` (50) members of a band key per run; here a key's first 50
   members in entry order are used, so decisions can differ only when more than 50 documents
   share one band key.
4. **write** (workers): the admitted rows, grouped by bucket, are written as Parquet files into
   the table folder by ``store.table.write_data_files``; the driver makes the ONE Delta commit
   (``CorpusStore.commit_files``) holding the writers' lock from before the first file is
   written, so vacuum never mistakes them for orphans while the import lives. A driver killed
   at any point leaves the store at its previous version; the files of a commit that never
   happened are orphans that ``corpus vacuum`` deletes, and a rerun writes its own.

The cluster: ``address`` (``--ray-address``), else ``$RAY_ADDRESS``, else a Ray started for the
run on this machine (127.0.0.1) and stopped after it. When ``corpus`` is not an installed
package the workers get this checkout as a ``py_modules`` runtime environment; everything else
(pyarrow, deltalake, numpy, ftfy, ...) must be installed on every node, and the inputs and the
store must be reachable from every node under the same path or URI (a shared file system, or
an object store URI such as ``s3://bucket/corpus`` for the store).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.errors import StoreError, UsageError, on_disk_full
from corpus.core.problems import Problem
from corpus.ingest import dedup, importer
from corpus.ingest.fingerprints import Ledger, options_digest
from corpus.ingest.readers import (
    DEFAULT_MAX_BYTES,
    FORMATS,
    MetadataTable,
    RawRecord,
    ReadOptions,
    load_metadata,
    plan_files,
)
from corpus.store.table import N_BUCKETS, SCHEMA, ConcurrentCommit, CorpusStore, utc_now, write_data_files

CRASH_ENV = "CORPUS_TEST_CRASH_AT"  # test hook: SIGKILL the driver at this stage (see _stage)
STAGES = ("read", "band_join", "decided", "written", "committed")
_CHUNK = 2000  # records normalized and signed together by a reading task
_SHIFT = 32  # row number = (file number << _SHIFT) + record number
_MAX_ATTEMPTS = 10

# A row of stage 1: the staged row of the local engine, plus its number and its problem (if any).
_ROWS = pa.schema(
    [pa.field("_seq", pa.int64()), pa.field("_problem", pa.string())]
    + [pa.field("_file", pa.string()), pa.field("_line", pa.int64())]
    + [pa.field(f.name, f.type, nullable=True, metadata=f.metadata) for f in SCHEMA]
)
_FACTS = ["_seq", "_problem", "_file", "_line", "doc_id", "source_key", "text_sha256", "raw_sha256"]


def _stage(name: str) -> None:
    """A named point of the driver's work; ``$CORPUS_TEST_CRASH_AT`` kills it there (tests)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------- the cluster


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise UsageError(
            "the Ray engine needs Ray Data, which is not installed",
            hint='pip install "newscorpus[ray]" (or use the local engine)',
        ) from e
    return ray


def _runtime_env() -> dict[str, Any]:
    """Workers must import this same ``corpus``: shipped as a py_modules runtime environment
    unless it is an installed package (then every node has it installed)."""
    import site

    pkg = Path(__file__).resolve().parents[1]
    installed = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if pkg.parent in installed:
        return {}
    return {"py_modules": [str(pkg)], "excludes": ["__pycache__", "*.pyc"]}


@contextlib.contextmanager
def cluster(address: str | None = None) -> Iterator[Any]:
    """Connected to a Ray cluster for the duration (see the module docstring for which)."""
    ray = _ray()
    if ray.is_initialized():  # a driver already connected (a program or a test using this module)
        _quiet(ray)
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False, "runtime_env": _runtime_env()}
    if address is None:  # a Ray of our own, on this machine only
        mb = int(os.environ.get("CORPUS_RAY_OBJECT_STORE_MB", "0") or 0)
        kwargs.update(include_dashboard=False, _node_ip_address="127.0.0.1")
        if mb:
            kwargs["object_store_memory"] = mb * 1024 * 1024
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise StoreError(
            f"cannot connect to the Ray cluster at {address or 'a local Ray'}: {e}",
            hint="start the cluster's head node first, or check the address (RAY_ADDRESS)",
        ) from e
    _quiet(ray)
    try:
        yield ray
    finally:
        ray.shutdown()


def _quiet(ray: Any) -> None:
    """Ray Data's progress lines would drown the report."""
    import logging

    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_stats_logs = False


# ---------------------------------------------------------------------------- stage 1: rows


def _read_files(batch: pa.Table, opts: ReadOptions, md: MetadataTable | None, num_perm: int) -> Iterator[pa.Table]:
    """Ray task: the files of ``batch`` read, normalized and signed (``importer._build_rows``)."""
    for f in batch.to_pylist():
        base = int(f["k"]) << _SHIFT
        path = Path(f["path"])
        jobs: list[importer._Job] = []
        problems: list[tuple[int, Problem]] = []
        n = 0
        for rec in FORMATS[f["fmt"]][0](path, f["rel"], opts, f["display"]):
            seq = base + n
            n += 1
            if isinstance(rec, Problem):
                problems.append((seq, rec))
                continue
            if md is not None and isinstance(rec, RawRecord):
                md.apply(rec, path)
            jobs.append(importer._job(seq, rec))
            if len(jobs) >= _CHUNK:
                yield _rows(jobs, problems)
                jobs, problems = [], []
        if jobs or problems:
            yield _rows(jobs, problems)


def _rows(jobs: list[importer._Job], problems: list[tuple[int, Problem]]) -> pa.Table:
    """Stage-1 rows of a chunk: the signed rows, then the problems (reader's: no doc_id)."""
    built = importer._build_rows(jobs)
    table, errors = built.table, built.errors
    by_seq = {j[0]: j for j in jobs}
    extra: list[tuple[int, Problem, str | None, str | None]] = [(seq, p, None, None) for seq, p in problems]
    extra += [(seq, p, by_seq[seq][2], by_seq[seq][3]) for seq, p in errors]
    parts = []
    if table is not None:
        wh = [by_seq[s][5] for s in table.column("_seq").to_pylist()]
        t = table.append_column("_problem", pa.nulls(table.num_rows, pa.string()))
        t = t.append_column("_file", pa.array([w["path"] for w in wh], pa.string()))
        t = t.append_column("_line", pa.array([w["line"] for w in wh], pa.int64()))
        parts.append(t.select(_ROWS.names).cast(_ROWS))
    if extra:
        cols: dict[str, Any] = {n: pa.nulls(len(extra), _ROWS.field(n).type) for n in _ROWS.names}
        cols["_seq"] = pa.array([e[0] for e in extra], pa.int64())
        cols["_problem"] = pa.array([json.dumps(e[1].to_dict()) for e in extra], pa.string())
        cols["doc_id"] = pa.array([e[2] for e in extra], pa.string())
        cols["source_key"] = pa.array([e[3] for e in extra], pa.string())
        wh = [by_seq[e[0]][5] if e[0] in by_seq else {"path": None, "line": None} for e in extra]
        cols["_file"] = pa.array([w["path"] for w in wh], pa.string())
        cols["_line"] = pa.array([w["line"] for w in wh], pa.int64())
        parts.append(pa.table(cols, schema=_ROWS))
    return pa.concat_tables(parts)


# ---------------------------------------------------------------------------- stage 2: bands

_BAND_ROWS = pa.schema(
    [pa.field("band", pa.int16()), pa.field("key", pa.uint64()), pa.field("new", pa.int64()), ("order", pa.int64())]
)


def _band_rows(sigs: np.ndarray, order: np.ndarray, new: int, threshold: float) -> pa.Table:
    idx = dedup.DedupIndex(threshold=threshold)
    n = len(sigs)
    if n == 0:
        return _BAND_ROWS.empty_table()
    keys = idx._band_keys(sigs)  # (n, bands)
    return pa.table(
        {
            "band": np.tile(np.arange(idx.bands, dtype=np.int16), n),
            "key": keys.ravel(),
            "new": np.full(n * idx.bands, new, np.int64),
            "order": np.repeat(order, idx.bands),
        },
        schema=_BAND_ROWS,
    )


_INDEXED = pa.schema(
    [
        ("order", pa.int64()),
        ("new", pa.int64()),
        ("doc_id", pa.string()),
        ("near_dup_cluster", pa.string()),
        ("minhash", pa.binary()),
    ]
)


def _band_parts(
    block: pa.Table | None, uri: str | None, k: int, recompute: bool, parts: int, threshold: float
) -> list[pa.Table]:
    """Ray task (map side of the band join): the band rows of a block of new rows, or of stored
    data file number ``k`` (rows numbered ``(k << 32) + row``, the order the local engine loads
    them in), cut into ``parts`` by key; last, the rows it indexed (order, signature, ...)."""
    if block is not None:
        t = block.filter(pc.is_null(block.column("_problem")))
        order = t.column("_seq").combine_chunks()
        new = 1
    else:
        import pyarrow.parquet as pq

        assert uri is not None
        cols = ["doc_id", "minhash", "near_dup_cluster"] + (["text"] if recompute else [])
        t = pq.read_table(uri, columns=cols)
        if recompute:  # a store of another MinHash scheme: signed again from its texts
            t = t.set_column(1, "minhash", importer._binary_column(dedup.signatures(t.column("text").to_pylist())))
        order = pa.array((k << _SHIFT) + np.arange(t.num_rows, dtype=np.int64))
        lens = pc.binary_length(t.column("minhash").cast(pa.binary()))
        ok = pc.fill_null(pc.equal(lens, 4 * dedup.NUM_PERM), False)
        t, order = t.filter(ok), order.filter(pc.fill_null(ok.combine_chunks(), False))
        new = 0
    mh = t.column("minhash").cast(pa.binary())
    indexed = pa.table(
        {
            "order": order,
            "new": pa.array(np.full(t.num_rows, new, np.int64)),
            "doc_id": t.column("doc_id").cast(pa.string()),
            "near_dup_cluster": t.column("near_dup_cluster").cast(pa.string()),
            "minhash": mh,
        },
        schema=_INDEXED,
    )
    sigs = importer._signature_matrix(mh, dedup.NUM_PERM)
    assert sigs is not None  # all of the one length
    bands = _band_rows(sigs, order.to_numpy(), new, threshold)
    part = (bands.column("key").to_numpy() % np.uint64(parts)).astype(np.int64)
    out = [bands.filter(pa.array(part == p)) for p in range(parts)]
    return [*out, indexed]


def _band_reduce(*parts: pa.Table) -> pa.Table:
    """Ray task (reduce side): the members of the band keys shared by two or more rows, one of
    them new: the near-duplicate candidates (everything else never leaves the task)."""
    t = pa.concat_tables([_BAND_ROWS.empty_table(), *parts])
    if not t.num_rows:
        return t
    g = t.group_by(["band", "key"]).aggregate([("new", "count"), ("new", "sum")])
    g = g.filter(pc.and_(pc.greater_equal(g.column("new_count"), 2), pc.greater_equal(g.column("new_sum"), 1)))
    if not g.num_rows:
        return _BAND_ROWS.empty_table()
    return t.join(g.select(["band", "key"]), ["band", "key"], join_type="inner").select(_BAND_ROWS.names)


def _facts(block: pa.Table) -> pa.Table:
    """Ray task: what the driver decides on (no texts, no signatures)."""
    return block.select(_FACTS)


def _pick(indexed: pa.Table, orders: pa.Array) -> pa.Table:
    """Ray task: the indexed rows with these numbers (the candidates' signatures)."""
    return indexed.filter(pc.is_in(indexed.column("order"), value_set=orders))


# ---------------------------------------------------------------------------- stage 4: write


def _bucket_parts(block: pa.Table, keep: tuple[np.ndarray, np.ndarray]) -> list[pa.Table]:
    """Ray task (map side of the write): a block's admitted rows, with their clusters, by bucket."""
    seqs, clusters = keep
    s = block.column("_seq").to_numpy()
    pos = np.minimum(np.searchsorted(seqs, s), max(len(seqs) - 1, 0))
    hit = (seqs[pos] == s) if len(seqs) else np.zeros(len(s), bool)
    hit &= pc.is_null(block.column("_problem")).to_numpy(zero_copy_only=False)
    kept = block.filter(pa.array(hit))
    cl = pa.array([clusters[p] for p in pos[hit].tolist()], pa.string())
    kept = kept.set_column(kept.schema.get_field_index("near_dup_cluster"), _ROWS.field("near_dup_cluster"), cl)
    buckets = kept.column("bucket").to_pylist()
    return [kept.filter(pa.array([b == format(i, "x") for b in buckets], pa.bool_())) for i in range(N_BUCKETS)]


def _write_bucket(uri: str, now: str, storage: dict[str, str] | None, *parts: pa.Table) -> list[dict[str, Any]]:
    """Ray task (reduce side): one bucket's admitted rows written as data files (not committed)."""
    t = pa.concat_tables(parts).sort_by("_seq")
    if not t.num_rows:
        return []
    t = t.select(SCHEMA.names).cast(SCHEMA)
    return write_data_files(uri, t.to_batches(max_chunksize=2048), now, storage)


# ---------------------------------------------------------------------------- the import


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
    address: str | None = None,
) -> importer.ImportReport:
    """``importer.import_paths`` on a Ray cluster: the same report and the same new version."""
    files = [Path(p) for p in paths]
    opts = ReadOptions(source=source, field_map=dict(field_map or {}), max_bytes=max_bytes)
    md = load_metadata(metadata) if isinstance(metadata, (str, Path)) else metadata
    msg = message or "import " + " ".join(str(p) for p in files)
    with on_disk_full("importing", store.display_uri), cluster(address) as ray:
        report = _Import(ray, store, threshold).run(files, fmt, opts, md, metadata, msg)
    return report


class _Import:
    def __init__(self, ray: Any, store: CorpusStore, threshold: float) -> None:
        self.ray, self.store, self.threshold = ray, store, threshold
        self.blocks: list[Any] = []  # the object refs of the read, normalized and signed rows
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.partitions = max(2, 2 * cpus)  # shuffle partitions: a few per CPU of the cluster

    def run(
        self,
        paths: list[Path],
        fmt: str,
        opts: ReadOptions,
        md: MetadataTable | None,
        metadata: Any,
        message: str,
    ) -> importer.ImportReport:
        store, rd = self.store, self.ray.data
        version = store.latest_version()
        ledger = Ledger(options_digest(fmt, opts, metadata))
        ledger.load(store, version)
        planned: list[Any] = list(plan_files(paths, fmt))
        plan_errors: list[tuple[int, Problem]] = []
        files: list[dict[str, Any]] = []
        for k, entry in enumerate(planned):
            if isinstance(entry, Problem):
                plan_errors.append((k << _SHIFT, entry))
                continue
            path, rel, f, display = entry
            if ledger.begin(path, rel, f, k << _SHIFT):
                continue
            files.append({"k": k, "path": str(path), "rel": rel, "fmt": f, "display": display})
            ledger.end((k + 1) << _SHIFT)  # (set to the true end below, once the records are counted)
        report = importer.ImportReport(version=version, message=message)
        rows = None
        facts = pa.table({n: pa.array([], _ROWS.field(n).type) for n in _FACTS})
        if files:
            rows = (
                rd.from_items(files, override_num_blocks=min(len(files), 200))
                .map_batches(
                    _read_files,
                    batch_size=1,
                    batch_format="pyarrow",
                    fn_kwargs={"opts": opts, "md": md, "num_perm": dedup.NUM_PERM},
                )
                .materialize()
            )
            self.blocks = rows.to_arrow_refs()
            facts = pa.concat_tables([facts, *self.ray.get([self.ray.remote(_facts).remote(b) for b in self.blocks])])
            facts = facts.sort_by("_seq")
        _stage("read")
        seqs = facts.column("_seq").to_numpy()
        ends: dict[int, int] = {}
        for s in seqs.tolist():
            k = s >> _SHIFT
            ends[k] = max(ends.get(k, 0), s + 1)
        for fp in ledger.read:
            fp.end = ends.get(fp.start >> _SHIFT, fp.start)
        report.unchanged += ledger.skipped_records
        self.unchanged0 = report.unchanged
        report.files_skipped = len(ledger.skipped)
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            report.attempts = attempt
            if attempt > 1:
                version = store.latest_version()
            kept_seqs, kept_clusters, updated_ids, dup_seqs = self._decide(report, facts, plan_errors, rows, version)
            _stage("decided")
            if report.added + report.updated == 0:  # nothing to write: no empty version
                break
            try:
                self._write_and_commit(rows, kept_seqs, kept_clusters, updated_ids, version, report)
            except ConcurrentCommit:
                continue
            break
        else:
            raise StoreError(
                f"gave up after {_MAX_ATTEMPTS} attempts: other imports kept committing first",
                hint="run the import again",
            )
        if report.version is not None:
            for seq in self._error_seqs + dup_seqs:
                ledger.problem(seq)
            got = ledger.result(updated_any=report.updated > 0)
            if report.created or got != ledger.known:
                store.write_fingerprints(report.version, got)
        return report

    # ------------------------------------------------------------------ band join

    def _pairs(self, rows: Any, version: int | None) -> tuple[dict[int, list[tuple[int, int, int]]], dict, dict]:
        """Near-duplicate candidates: new row -> [(kind 0 stored / 1 new, order, band)], with the
        stored candidates' (doc_id, cluster, signature) and the new candidates' signatures.

        A shuffle of plain Ray tasks: each block of new rows and each stored data file is cut
        into ``partitions`` parts by band key (map), each part gathered by one task that keeps
        the keys shared by two or more members, one of them new (reduce)."""
        ray, P, thr = self.ray, self.partitions, self.threshold
        mapper = ray.remote(_band_parts).options(num_returns=P + 1)
        maps = [mapper.remote(ref, None, 0, False, P, thr) for ref in self.blocks]
        if version is not None:
            recompute = self.store.minhash_scheme(version) != dedup.SCHEME
            uris = self.store.version_files(version)
            maps += [mapper.remote(None, u, k, recompute, P, thr) for k, u in enumerate(uris)]
        maps = [m if isinstance(m, list) else [m] for m in maps]
        index_refs = [m[P] for m in maps]  # per map task: the (order, doc_id, cluster, minhash) it indexed
        reducer = ray.remote(_band_reduce)
        members_parts = ray.get([reducer.remote(*[m[p] for m in maps]) for p in range(P)])
        members = pa.concat_tables([_BAND_ROWS.empty_table(), *members_parts])
        _stage("band_join")
        # groups: (band, key) -> members in entry order (stored first, then new rows in input order)
        cands: dict[int, dict[tuple[int, int], int]] = {}
        if members.num_rows:
            m = members.sort_by(
                [("band", "ascending"), ("key", "ascending"), ("new", "ascending"), ("order", "ascending")]
            )
            band = m.column("band").to_numpy()
            key = m.column("key").to_numpy()
            new = m.column("new").to_numpy()
            order = m.column("order").to_numpy()
            cut = np.flatnonzero((band[1:] != band[:-1]) | (key[1:] != key[:-1])) + 1
            cap = dedup.DedupIndex._PER_KEY
            for lo, hi in zip([0, *cut.tolist()], [*cut.tolist(), len(band)]):
                stored_m = [int(o) for o, w in zip(order[lo:hi], new[lo:hi]) if w == 0][:cap]
                new_m = [int(o) for o, w in zip(order[lo:hi], new[lo:hi]) if w == 1]
                b = int(band[lo])
                for p, j in enumerate(new_m):
                    c = cands.setdefault(j, {})
                    for o in stored_m:
                        c.setdefault((0, o), b)
                    for o in new_m[: min(p, cap)]:
                        c.setdefault((1, o), b)
        stored_orders = sorted({o for c in cands.values() for (kind, o) in c if kind == 0})
        want_new = sorted({o for c in cands.values() for (kind, o) in c if kind == 1} | set(cands))
        picker = ray.remote(_pick)
        new_sigs: dict[int, np.ndarray] = {}
        stored_info: dict[int, tuple[str, str | None, np.ndarray]] = {}
        if want_new or stored_orders:
            want = ray.put(pa.array(sorted(set(want_new) | set(stored_orders)), pa.int64()))
            for t in ray.get([picker.remote(r, want) for r in index_refs]):
                for r in t.to_pylist():
                    sig = dedup.from_bytes(r["minhash"])
                    if r["new"]:
                        new_sigs[r["order"]] = sig
                    else:
                        stored_info[r["order"]] = (r["doc_id"], r["near_dup_cluster"], sig)
        out: dict[int, list[tuple[int, int, int]]] = {
            j: [(kind, o, b) for (kind, o), b in c.items()] for j, c in cands.items()
        }
        return out, stored_info, new_sigs

    # ------------------------------------------------------------------ decide

    def _decide(
        self,
        report: importer.ImportReport,
        facts: pa.Table,
        plan_errors: list[tuple[int, Problem]],
        rows: Any,
        version: int | None,
    ) -> tuple[np.ndarray, np.ndarray, set[str], list[int]]:
        """The local engine's decisions (``importer._admit`` then ``importer._plan_batch``), in
        input order. Returns the admitted rows (numbers, clusters), the updated ids and the
        numbers of the exact duplicates."""
        store = self.store
        report.added = report.updated = report.duplicates = report.near_duplicates = 0
        report.duplicate_of, report.near_duplicate_of = [], []
        report.doc_ids, report.doc_ids_complete = {}, True
        report.unchanged = self.unchanged0
        self._doc_of: dict[int, str] = {}
        index = dedup.DedupIndex(threshold=self.threshold)  # exact part only (text hashes)
        raw_by_doc: dict[str, bytes] = {}
        if version is not None:
            for batch in store.iter_batches(version, columns=["doc_id", "text_sha256", "raw_sha256"], batch_size=50000):
                d = batch.to_pydict()
                for doc_id, sha, raw in zip(d["doc_id"], d["text_sha256"], d["raw_sha256"]):
                    index.set_sha(doc_id, sha)
                    if raw:
                        raw_by_doc[doc_id] = bytes.fromhex(raw)
        pairs, stored_info, new_sigs = self._pairs(rows, version) if rows is not None else ({}, {}, {})
        num_perm, thr = index.num_perm, index.threshold
        errors: list[tuple[int, Problem]] = list(plan_errors)
        d = facts.to_pydict()
        seen: set[str] = set()
        jobs = 0  # records admitted so far (importer._Builder's batches of BATCH)
        batch_of: dict[int, int] = {}
        cluster_of: dict[int, str | None] = {}
        kept_seqs: list[int] = []
        kept_clusters: list[str | None] = []
        updated: set[str] = set()
        dup_seqs: list[int] = []
        for seq, prob, path, line, doc_id, key, sha, raw in zip(
            d["_seq"],
            d["_problem"],
            d["_file"],
            d["_line"],
            d["doc_id"],
            d["source_key"],
            d["text_sha256"],
            d["raw_sha256"],
        ):
            if doc_id is None:  # a reader's problem
                errors.append((seq, Problem.from_dict(json.loads(prob))))
                continue
            if doc_id in seen:
                errors.append(
                    (
                        seq,
                        Problem(
                            "repeated_source_key",
                            f"source key {key!r} appears more than once in this import; first kept",
                            file=path,
                            line=line,
                        ),
                    )
                )
                continue
            seen.add(doc_id)
            if len(report.doc_ids) < importer.DOC_IDS_KEPT:
                report.doc_ids[key] = doc_id
            else:
                report.doc_ids_complete = False
            known = raw_by_doc.get(doc_id)
            if known is not None and prob is None and raw is not None and known.hex() == raw:
                report.unchanged += 1  # same bytes as stored (the local engine never normalizes it)
                continue
            b = jobs // importer.BATCH
            jobs += 1
            if prob is not None:
                errors.append((seq, Problem.from_dict(json.loads(prob))))
                continue
            old = index.sha_of(doc_id)
            if old == sha:
                report.unchanged += 1
                continue
            if old is None:
                dup = index.doc_with_sha(sha)
                if dup is not None:
                    report.duplicates += 1
                    dup_seqs.append(seq)
                    report.duplicate_of.append({"source_key": key, "doc_id": doc_id, "duplicate_of": dup})
                    report.doc_ids[key] = dup
                    continue
            near = self._near(
                seq, doc_id, b, pairs.get(seq, ()), stored_info, new_sigs, batch_of, cluster_of, num_perm, thr
            )
            cl = near.cluster if near is not None else None
            if near is not None:
                report.near_duplicate(doc_id, key, near)
            if old is None:
                report.added += 1
            else:
                report.updated += 1
                updated.add(doc_id)
            index.set_sha(doc_id, sha)
            batch_of[seq] = b
            cluster_of[seq] = cl
            self._doc_of[seq] = doc_id
            kept_seqs.append(seq)
            kept_clusters.append(cl)
        self._error_seqs = [s for s, _ in errors]
        report.errors = [e for _, e in sorted(errors, key=lambda x: x[0])]
        report.version = version
        return np.array(kept_seqs, np.int64), np.array(kept_clusters, object), updated, dup_seqs

    def _near(
        self,
        seq: int,
        doc_id: str,
        b: int,
        cands: Iterable[tuple[int, int, int]],
        stored_info: dict[int, tuple[str, str | None, np.ndarray]],
        new_sigs: dict[int, np.ndarray],
        batch_of: dict[int, int],
        cluster_of: dict[int, str | None],
        num_perm: int,
        thr: float,
    ) -> dedup.Match | None:
        """``importer._plan_batch``'s choice: the index (stored rows, admitted rows of earlier
        batches; most similar, ties to the earliest entry), then admitted rows of the same batch
        (strictly more similar; ties to the first shared band, then the earlier row)."""
        sig = new_sigs.get(seq)
        if sig is None:
            return None
        best: tuple[float, tuple[int, int], dedup.Match] | None = None
        in_batch: list[tuple[int, int, float, dedup.Match]] = []
        for kind, o, band in cands:
            if kind == 0:
                info = stored_info.get(o)
                if info is None or info[0] == doc_id:
                    continue
                sim = float(np.count_nonzero(info[2] == sig)) / num_perm
                match = dedup.Match(info[0], info[1] or info[0], sim)
                rank = (0, o)
            else:
                if o not in batch_of:  # not admitted
                    continue
                other = new_sigs.get(o)
                if other is None:
                    continue
                sim = float(np.count_nonzero(other == sig)) / num_perm
                match = dedup.Match(self._doc_of[o], cluster_of[o] or self._doc_of[o], sim)
                if batch_of[o] == b:
                    if sim >= thr:
                        in_batch.append((band, o, sim, match))
                    continue
                rank = (1, o)
            if sim >= thr and (best is None or sim > best[0] or (sim == best[0] and rank < best[1])):
                best = (sim, rank, match)
        near = best[2] if best is not None else None
        for _, _, sim, match in sorted(in_batch, key=lambda x: (x[0], x[1])):
            if near is None or sim > near.similarity:
                near = match
        return near

    # ------------------------------------------------------------------ write + commit

    def _write_and_commit(
        self,
        rows: Any,
        kept_seqs: np.ndarray,
        kept_clusters: np.ndarray,
        updated_ids: set[str],
        version: int | None,
        report: importer.ImportReport,
    ) -> None:
        store = self.store
        order = np.argsort(kept_seqs)
        seqs, clusters = kept_seqs[order], kept_clusters[order]
        now = utc_now()
        ray = self.ray
        with store.writers_lock():
            written: list[dict[str, Any]] = []
            try:
                keep = ray.put((seqs, clusters))
                parts = [
                    ray.remote(_bucket_parts).options(num_returns=N_BUCKETS).remote(ref, keep) for ref in self.blocks
                ]
                writer = ray.remote(_write_bucket)
                uri, opts = store.uri, store.storage_options
                for files in ray.get([writer.remote(uri, now, opts, *[p[b] for p in parts]) for b in range(N_BUCKETS)]):
                    written.extend(files)
                _stage("written")
                new_version = store.commit_files(
                    written,
                    read_version=version,
                    message=report.message,
                    counts=report.counts(),
                    replace=updated_ids,
                )
            except BaseException:
                store.discard_files(written)
                raise
        _stage("committed")
        report.version = new_version
        report.created = True


# ---------------------------------------------------------------------------- reading a version


class RaySource:
    """A corpus store whose ``iter_batches`` reads the data files of a pinned version with Ray
    Data (``corpus release build --engine ray``); everything else is the store's."""

    def __init__(self, store: CorpusStore, ray: Any) -> None:
        self.store, self.ray = store, ray

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def iter_batches(
        self, version: int | str | None = None, columns: list[str] | None = None, batch_size: int = 1000, filter=None
    ) -> Iterator[pa.RecordBatch]:
        if filter is not None:
            yield from self.store.iter_batches(version, columns, batch_size, filter)
            return
        n = self.store.resolve_version(version)
        uris = self.store.version_files(n)
        if not uris:
            return
        ds = self.ray.data.read_parquet(uris)
        if columns is not None:
            ds = ds.select_columns(columns)
        for b in ds.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
            for rb in pa.table(b).to_batches():
                if rb.num_rows:
                    yield rb
