"""The dedup index of a big import on disk: memory bounded by the round size, not the corpus.

``DiskIndex`` keeps index entries (doc_id, text hash, MinHash signature, cluster) in runs of at
most ``RUN`` entries in a temporary directory: the entries' text hashes, signatures and ids in
entry order (read back only for the few candidates), and their keys sorted (doc-id hash,
text-hash prefix, one row of band keys per band) next to the entry numbers. The sorted keys of
consecutive runs are merged (``_KeyRun``: the newest two while the newer is at least half the
older, up to ``MERGE_LIMIT`` entries), so a lookup searches a few key runs, not every run: at
a million entries 20 runs but 3 key runs (each round searched all 20 before: the lookups grew
with the square of the corpus). A key run's band keys are mapped one band at a time (a band
of 400k entries is 3 MB of page cache).

``TieredIndex`` is what the importer plans with (``corpus.ingest.importer._plan``): the rows
of one round (up to ``ROUND`` staged rows) are looked up in every key run at once, in one pass
over them (a key run's arrays are memory-mapped, searched with ``searchsorted`` for all the
round's keys and unmapped: page cache, not this process's heap); decisions inside the round
use an in-memory ``DedupIndex`` of the latest rounds' rows, which becomes a run of its own when
it holds ``RUN`` entries. The answers are the in-memory index's: disk entries are all older
than the memory's, so "earliest entry wins" ties and "first document with this text" keep
their meaning (``tests/ingest/test_dedup.py`` compares both on planted near-duplicates).
"""

from __future__ import annotations

import bisect
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash

from corpus.core.arrays import int64_array, string_array
from corpus.ingest import dedup

RUN = 50_000  # entries per run on disk
# entries of a merged key run at most: its merge holds ~40 bytes per entry in memory for a moment
MERGE_LIMIT = 500_000
_KEY_FILES = ("dkeys.npy", "dpos.npy", "skeys.npy", "spos.npy", "bkeys.npy", "bpos.npy")
ROUND = 10_000  # rows decided at once (at most RUN): what is still to decide when reading ends


_HEX = re.compile("[0-9a-f]*")
_HEX16 = re.compile("[0-9a-f]{16}")


def _doc_key(d: str) -> int:
    return int(d, 16) if _HEX16.fullmatch(d) else xxhash.xxh3_64_intdigest(d.encode("utf-8", "surrogatepass"))


def doc_keys(doc_ids: list[str]) -> np.ndarray:
    """64-bit keys of doc ids: a doc id of 16 hex digits (``make_doc_id``'s) is its own key,
    read for a whole batch at once; another id is hashed (equal keys are checked by id)."""
    joined = "".join(doc_ids)
    if len(joined) == 16 * len(doc_ids) and _HEX.fullmatch(joined) and set(map(len, doc_ids)) <= {16}:
        return np.frombuffer(bytes.fromhex(joined), ">u8").astype(np.uint64)
    return np.fromiter(map(_doc_key, doc_ids), np.uint64, len(doc_ids))


def _digests(shas: list[str] | list[bytes]) -> np.ndarray:
    """SHA-256 digests (hex strings, or their 32 bytes) -> (n, 32) uint8."""
    if not shas:
        return np.empty((0, 32), np.uint8)
    raw = b"".join(shas) if isinstance(shas[0], bytes) else bytes.fromhex("".join(shas))
    return np.frombuffer(raw, np.uint8).reshape(len(shas), 32)


def _sha_keys(dig: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(dig[:, :8]).view("<u8").reshape(-1).astype(np.uint64)


def _header(f: Any, dtype: Any, shape: tuple[int, ...]) -> None:
    """The ``.npy`` header of an array whose data the caller writes after it."""
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(f, d)


def _band_row(path: Path, band: int) -> np.ndarray:
    """Row ``band`` of a (bands, n) ``.npy`` file, memory-mapped (only it)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        (_, n), _, dtype = read(f)
        offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset + band * n * dtype.itemsize, shape=(n,))


@dataclass
class _Run:
    """Entries ``first`` .. ``first + n - 1`` (global numbers): text hashes, signatures, ids."""

    path: Path
    first: int  # global number of its first entry
    n: int


@dataclass
class _KeyRun:
    """The sorted keys of entries ``first`` .. ``first + n - 1`` (one run's, or several
    consecutive runs' merged), each next to its entry number counted from ``first``; equal keys
    in entry order."""

    path: Path
    first: int
    n: int


@dataclass
class Prefetched:
    """Answers of the disk runs for the rows of one round."""

    sha_by_doc: dict[str, str] = field(default_factory=dict)  # newest text hash of each queried doc
    doc_by_sha: dict[str, str] = field(default_factory=dict)  # first document with each queried hash
    cands: list[np.ndarray | None] = field(default_factory=list)  # global entry numbers per row


class DiskIndex:
    def __init__(self, template: dedup.DedupIndex) -> None:
        self.t = template  # band layout, threshold, num_perm
        self.dir = Path(tempfile.mkdtemp(prefix="corpus-index-"))
        self.runs: list[_Run] = []
        self.keys: list[_KeyRun] = []
        self.n = 0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __len__(self) -> int:
        return self.n

    # -- writing
    def add(
        self,
        doc_ids: list[str],
        shas: list[str] | list[bytes],
        sigs: np.ndarray | list[np.ndarray],
        clusters: list[str | None],
    ) -> None:
        """Entries in order, each with its signature (runs of at most ``RUN``); ``sigs``: one
        array, or blocks of rows (the index in memory's, not copied into one array)."""
        blocks = [sigs] if isinstance(sigs, np.ndarray) else sigs
        starts = np.cumsum([0] + [len(b) for b in blocks])
        for s in range(0, len(doc_ids), RUN):
            e = min(s + RUN, len(doc_ids))
            part = [
                b[max(s - a, 0) : e - a]
                for b, a, z in zip(blocks, starts[:-1].tolist(), starts[1:].tolist())
                if a < e and z > s
            ]
            self._write_run(doc_ids[s:e], shas[s:e], part, clusters[s:e])

    def _write_run(
        self, doc_ids: list[str], shas: list[str] | list[bytes], sigs: list[np.ndarray], clusters: list[str | None]
    ) -> None:
        """One run of ``len(doc_ids)`` entries; ``sigs``: their signatures in blocks of rows."""
        n = len(doc_ids)
        if n == 0:
            return
        p = self.dir / f"run-{len(self.runs):05d}"
        p.mkdir()
        dk = doc_keys(doc_ids)
        dig = _digests(shas)
        sk = _sha_keys(dig)
        bk = np.concatenate([self.t._band_keys(b) for b in sigs])
        local = np.arange(n, dtype=np.int32)
        o = np.argsort(dk, kind="stable")
        np.save(p / "dkeys.npy", dk[o])
        np.save(p / "dpos.npy", local[o])
        o = np.argsort(sk, kind="stable")
        np.save(p / "skeys.npy", sk[o])
        np.save(p / "spos.npy", local[o])
        o = np.argsort(bk, axis=0, kind="stable")
        # one row per band (bands x entries): a band's sorted keys are contiguous, and
        # ``searchsorted`` on a strided column costs ~3x as much
        np.save(p / "bkeys.npy", np.ascontiguousarray(np.take_along_axis(bk, o, axis=0).T))
        np.save(p / "bpos.npy", np.ascontiguousarray(o.T, np.int32))
        np.save(p / "sha.npy", dig)
        with open(p / "sigs.npy", "wb") as f:  # written, not mapped: no msync, no dirty mapped pages
            _header(f, np.uint32, (n, self.t.num_perm))
            for b in sigs:
                np.ascontiguousarray(b, np.uint32).tofile(f)
        meta = pa.table({"doc_id": string_array(doc_ids), "cluster": string_array(clusters)})
        with pa.OSFile(str(p / "meta.arrow"), "wb") as f, pa.ipc.new_file(f, meta.schema) as w:
            w.write_table(meta)
        self.runs.append(_Run(p, self.n, n))
        self.keys.append(_KeyRun(p, self.n, n))
        self.n += n
        self._merge_keys()

    def _merge_keys(self) -> None:
        """Merge the newest two key runs while the newer holds at least half as many entries as
        the older (a binary counter: log2(runs) key runs), up to ``MERGE_LIMIT`` entries."""
        while len(self.keys) > 1:
            a, b = self.keys[-2], self.keys[-1]
            if 2 * b.n < a.n or a.n + b.n > MERGE_LIMIT:
                return
            p = self.dir / f"keys-{a.first:012d}-{a.n + b.n}"
            p.mkdir()
            for k, pos in (("dkeys.npy", "dpos.npy"), ("skeys.npy", "spos.npy")):
                keys = np.concatenate((np.load(a.path / k), np.load(b.path / k)))
                at = np.concatenate((np.load(a.path / pos), np.load(b.path / pos) + np.int32(a.n)))
                o = np.argsort(keys, kind="stable")  # two sorted runs: timsort merges them
                np.save(p / k, keys[o])
                np.save(p / pos, at[o])
                del keys, at, o
            n = a.n + b.n
            bands = self.t.bands
            with open(p / "bkeys.npy", "wb") as fk, open(p / "bpos.npy", "wb") as fp:
                _header(fk, np.uint64, (bands, n))
                _header(fp, np.int32, (bands, n))
                for band in range(bands):  # one band in memory at a time, written as it is done
                    keys = np.concatenate(
                        (_band_row(a.path / "bkeys.npy", band), _band_row(b.path / "bkeys.npy", band))
                    )
                    o = np.argsort(keys, kind="stable")
                    keys[o].tofile(fk)
                    at = np.concatenate(
                        (_band_row(a.path / "bpos.npy", band), _band_row(b.path / "bpos.npy", band) + np.int32(a.n))
                    )
                    at[o].tofile(fp)
                    del keys, o, at
            for old in (a, b):
                self._drop_keys(old)
            self.keys[-2:] = [_KeyRun(p, a.first, n)]

    @staticmethod
    def _drop_keys(kr: _KeyRun) -> None:
        if kr.path.name.startswith("keys-"):
            shutil.rmtree(kr.path, ignore_errors=True)
        else:  # a run's own folder: its entries stay
            for name in _KEY_FILES:
                (kr.path / name).unlink(missing_ok=True)

    def _run_of(self, g: int) -> _Run:
        """The run holding global entry ``g``."""
        r = bisect.bisect_right(self._starts, g) - 1
        return self.runs[r]

    @property
    def _starts(self) -> list[int]:
        return [r.first for r in self.runs]

    # -- reading
    def _meta(self, run: _Run, pos: np.ndarray) -> tuple[list[str], list[str | None]]:
        with pa.memory_map(str(run.path / "meta.arrow"), "r") as src:
            t = pa.ipc.open_file(src).read_all().take(int64_array(pos))
        return t.column("doc_id").to_pylist(), t.column("cluster").to_pylist()

    def entries(self, ids: np.ndarray) -> tuple[np.ndarray, list[str], list[str | None]]:
        """Signatures, doc ids and clusters of global entries ``ids`` (few: candidates)."""
        sigs = np.empty((len(ids), self.t.num_perm), np.uint32)
        docs: list[str] = [""] * len(ids)
        clusters: list[str | None] = [None] * len(ids)
        starts = np.array([r.first for r in self.runs], np.int64)
        which = np.searchsorted(starts, ids, side="right") - 1
        for r in np.unique(which).tolist():
            run = self.runs[r]
            sel = np.flatnonzero(which == r)
            pos = (ids[sel] - run.first).astype(np.int64)
            sigs[sel] = np.load(run.path / "sigs.npy", mmap_mode="r")[pos]
            d, c = self._meta(run, pos)
            for k, j in enumerate(sel.tolist()):
                docs[j], clusters[j] = d[k], c[k]
        return sigs, docs, clusters

    def lookup(
        self, doc_ids: list[str], shas: list[str], sigs: np.ndarray, keys: np.ndarray | None = None
    ) -> Prefetched:
        """One pass over the runs for a round's rows: stored text hash of each doc id (newest
        run wins), first document holding each text hash, band candidates of each signature
        (``keys``: their band keys, when the caller has them)."""
        out = Prefetched(cands=[None] * len(doc_ids))
        if not self.runs or not doc_ids:
            return out
        dk = doc_keys(doc_ids)
        dq_order = np.argsort(dk)
        dq = dk[dq_order]
        dig = _digests(shas)
        sk = _sha_keys(dig)
        sq_order = np.argsort(sk)
        sq = sk[sq_order]
        bk = self.t._band_keys(sigs) if keys is None else keys
        border = np.argsort(bk, axis=0)
        # per band: the query rows in key order and their keys (the same for every run)
        by_band = [(border[:, b], np.ascontiguousarray(bk[border[:, b], b])) for b in range(self.t.bands)]
        per_key = self.t._PER_KEY
        newest_sha: dict[int, bytes] = {}  # query row -> digest of its newest entry
        sha_hits: dict[int, list[int]] = {}  # query row -> entries holding its hash, in entry order
        cand: list[list[np.ndarray]] = [[] for _ in doc_ids]
        run_docs: dict[int, list[str]] = {}  # a run's doc ids, read at its first doc-key hit

        def entry(g: int) -> tuple[_Run, int]:
            run = self._run_of(g)
            return run, g - run.first

        for kr in self.keys:  # oldest first; within one, equal keys in entry order: newest last
            keys = np.load(kr.path / "dkeys.npy", mmap_mode="r")
            lo = np.searchsorted(keys, dq, side="left")
            hit = np.flatnonzero(keys[np.minimum(lo, len(keys) - 1)] == dq)
            if len(hit):
                pos = np.load(kr.path / "dpos.npy", mmap_mode="r")
                for h in hit.tolist():
                    q = int(dq_order[h])
                    e = int(lo[h])
                    while e < len(keys) and keys[e] == dq[h]:  # hash collisions: check the id
                        run, p = entry(kr.first + int(pos[e]))
                        if run.first not in run_docs:
                            run_docs[run.first] = self._meta(run, np.arange(run.n))[0]
                        if run_docs[run.first][p] == doc_ids[q]:
                            newest_sha[q] = bytes(np.load(run.path / "sha.npy", mmap_mode="r")[p])
                        e += 1
            keys = np.load(kr.path / "skeys.npy", mmap_mode="r")
            lo = np.searchsorted(keys, sq, side="left")
            hit = np.flatnonzero(keys[np.minimum(lo, len(keys) - 1)] == sq)
            if len(hit):
                pos = np.load(kr.path / "spos.npy", mmap_mode="r")
                for h in hit.tolist():
                    q = int(sq_order[h])
                    e = int(lo[h])
                    while e < len(keys) and keys[e] == sq[h]:
                        g = kr.first + int(pos[e])
                        run, p = entry(g)
                        if bytes(np.load(run.path / "sha.npy", mmap_mode="r")[p]) == dig[q].tobytes():
                            sha_hits.setdefault(q, []).append(g)
                        e += 1
            del keys
            for b, (qo, qs) in enumerate(by_band):
                col = _band_row(kr.path / "bkeys.npy", b)  # page cache, not this process's heap
                lo = np.searchsorted(col, qs, side="left")
                hit = np.flatnonzero(col[np.minimum(lo, len(col) - 1)] == qs)
                bpos = None
                for h in hit.tolist():
                    start = int(lo[h])
                    end = start + 1
                    while end < min(len(col), start + per_key) and col[end] == col[start]:
                        end += 1
                    if bpos is None:
                        bpos = _band_row(kr.path / "bpos.npy", b)
                    cand[int(qo[h])].append(bpos[start:end].astype(np.int64) + kr.first)
                del col, bpos
        for q, d in newest_sha.items():
            out.sha_by_doc[doc_ids[q]] = d.hex()
        # first document holding each hash: in entry order, an entry whose document still has it
        for q, hits in sha_hits.items():
            for g in hits:
                run, p = entry(g)
                doc = self._meta(run, np.array([p]))[0][0]
                now = self._newest_sha(doc)
                if now == shas[q]:
                    out.doc_by_sha.setdefault(shas[q], doc)
                    break
        out.cands = [np.unique(np.concatenate(c)) if c else None for c in cand]
        return out

    def _newest_sha(self, doc_id: str) -> str | None:
        """Text hash of the newest entry of ``doc_id`` (rare: exact duplicates only)."""
        k = doc_keys([doc_id])[0]
        for kr in reversed(self.keys):
            keys = np.load(kr.path / "dkeys.npy", mmap_mode="r")
            lo = int(np.searchsorted(keys, k))
            hi = int(np.searchsorted(keys, k, side="right"))
            if lo == hi:
                continue
            pos = np.load(kr.path / "dpos.npy", mmap_mode="r")
            for e in range(hi - 1, lo - 1, -1):  # equal keys in entry order: the newest last
                g = kr.first + int(pos[e])
                run = self._run_of(g)
                if self._meta(run, np.array([g - run.first]))[0][0] == doc_id:
                    return bytes(np.load(run.path / "sha.npy", mmap_mode="r")[g - run.first]).hex()
        return None


class TieredIndex:
    """The runs on disk plus the current round in memory, with ``DedupIndex``'s interface
    (as ``_plan`` uses it): call ``begin_round`` with the round's rows, then per staged batch
    ``candidates(sigs, rows)`` with the batch's row numbers in the round."""

    def __init__(self, disk: DiskIndex) -> None:
        self.disk = disk
        t = disk.t
        self.threshold, self.num_perm, self.bands, self.rows = t.threshold, t.num_perm, t.bands, t.rows
        self._PER_KEY = t._PER_KEY
        self._band_keys = t._band_keys
        self.mem = self._new_mem()
        self.pf = Prefetched()
        self._disk_sig_cache: dict[int, tuple[np.ndarray, str, str | None]] = {}
        self._entry_shas: list[bytes] = []  # text hash (digest) of each entry of the round

    def _new_mem(self) -> dedup.DedupIndex:
        return dedup.DedupIndex(threshold=self.threshold, num_perm=self.num_perm)

    def close(self) -> None:
        self.disk.close()

    def begin_round(
        self, doc_ids: list[str], shas: list[str], sigs: np.ndarray, keys: np.ndarray | None = None
    ) -> None:
        self.pf = self.disk.lookup(doc_ids, shas, sigs, keys)
        self._disk_sig_cache = {}

    def end_round(self) -> None:
        """The entries in memory become a run (in entry order) once there are ``RUN`` of them:
        rounds stay small (little left to decide when reading ends), runs big (few to search)."""
        m = self.mem
        n = len(m._ids)
        if n >= RUN:
            self.disk.add(list(m._ids), self._entry_shas, m.signature_blocks(), list(m._clusters))
            self.mem = self._new_mem()
            self._entry_shas = []

    # -- exact
    def sha_of(self, doc_id: str) -> str | None:
        s = self.mem.sha_of(doc_id)
        return s if s is not None else self.pf.sha_by_doc.get(doc_id)

    def doc_with_sha(self, sha: str) -> str | None:
        d = self.pf.doc_by_sha.get(sha)
        if d is not None:
            now = self.mem.sha_of(d)
            if now is None or now == sha:  # not re-hashed in this round
                return d
        return self.mem.doc_with_sha(sha)

    def set_sha(self, doc_id: str, sha: str) -> None:
        self.mem.set_sha(doc_id, sha)

    def all_new(self, doc_ids: list[str], shas: list[str]) -> bool:
        pf = self.pf
        return (
            not any(map(pf.sha_by_doc.__contains__, doc_ids))
            and not any(map(pf.doc_by_sha.__contains__, shas))
            and self.mem.all_new(doc_ids, shas)
        )

    def set_new_shas(self, doc_ids: list[str], shas: list[str]) -> None:
        self.mem.set_new_shas(doc_ids, shas)

    # -- near
    def candidates(
        self, sigs: np.ndarray, rows: np.ndarray | None = None, keys: np.ndarray | None = None
    ) -> list[tuple[np.ndarray | None, np.ndarray | None] | None]:
        """Per signature: (disk candidates, memory candidates), None when it has neither."""
        mem = self.mem.candidates(sigs, keys)
        disk = [self.pf.cands[int(r)] for r in rows] if rows is not None else [None] * len(sigs)
        return [(d, m) if d is not None or m is not None else None for d, m in zip(disk, mem)]

    def best_match(self, sig: np.ndarray, cands: tuple, exclude: str | None = None) -> dedup.Match | None:
        disk_c, mem_c = cands
        best: dedup.Match | None = None
        if disk_c is not None and len(disk_c):
            need = [int(i) for i in disk_c.tolist() if int(i) not in self._disk_sig_cache]
            if need:
                s, d, c = self.disk.entries(np.array(need, np.int64))
                for k, i in enumerate(need):
                    self._disk_sig_cache[i] = (s[k], d[k], c[k])
            ents = [self._disk_sig_cache[int(i)] for i in disk_c.tolist()]
            ents = [e for e in ents if e[1] != exclude] if exclude is not None else ents
            if ents:
                sims = np.count_nonzero(np.stack([e[0] for e in ents]) == sig[None, :], axis=1) / self.num_perm
                k = int(np.argmax(sims))  # ties: the earliest entry
                if sims[k] >= self.threshold:
                    best = dedup.Match(ents[k][1], ents[k][2] or ents[k][1], float(sims[k]))
        if mem_c is not None:
            m = self.mem.best_match(sig, mem_c, exclude=exclude)
            if m is not None and (best is None or m.similarity > best.similarity):
                best = m
        return best

    def add_signatures(self, doc_ids: list[str], sigs: np.ndarray, clusters: list[str | None]) -> None:
        self._entry_shas.extend(map(self.mem._sha_by_doc.__getitem__, doc_ids))  # set just before (digests)
        self.mem.add_signatures(doc_ids, sigs, clusters)
