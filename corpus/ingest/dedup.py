"""Exact and near-duplicate detection for imports.

Exact duplicates share ``text_sha256``. Near-duplicates are found with MinHash signatures
of the lower-cased word 3-grams, an LSH banding index, and confirmation by the estimated
Jaccard similarity (share of equal signature slots) >= threshold (default 0.9).

Signatures use one-permutation hashing with optimal densification (Li, Owen & Zhang 2012;
Shrivastava 2017), scheme ``SCHEME``: each shingle is hashed once (64 bits, splitmix64
finalizer); the top bits pick one of 128 bins, the low 32 bits are the value, and each bin
keeps its minimum. Empty bins borrow the value of a non-empty bin chosen by a fixed
bin-dependent probe sequence, so equal shingle sets give equal signatures and the share of
equal slots still estimates Jaccard similarity. That is O(shingles) per text instead of
O(shingles x 128) for classic MinHash (which cost half the import time), computed in one
compiled pass over the bytes of a batch of texts (``corpus.ingest.minhash``). Stores written with another
scheme are recognised by ``store.minhash_scheme`` and their signatures recomputed
(see ``corpus.ingest.importer``).

The band/row split is the one datasketch's ``MinHashLSH`` would pick for the threshold,
weighted for recall (~98% of pairs at the threshold become candidates; computed here, so
importing datasketch, which imports scipy, is not needed).

The band index is compact (per band: sorted numpy runs of band keys) rather than
``MinHashLSH``, whose per-band Python sets cost ~2.5 KB per document: in memory a document
costs its id, its text hash, a 512-byte signature and 11 band keys. Signatures are stored
in the table (``minhash`` column), so later imports never recompute them for the corpus.

A near-duplicate cluster is named after its first member's doc_id; that member keeps no
cluster value of its own (rewriting it would make it look updated in ``diff``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.store.table import MINHASH_SCHEME

NUM_PERM = 128
THRESHOLD = 0.9
SCHEME = MINHASH_SCHEME  # named in the store's schema (corpus.store.table); change it whenever signatures change


# The kernels (corpus.ingest.minhash) are imported when first used: numba costs a process
# about half a second to load, which only processes that sign texts should pay.
def signatures(
    texts: Sequence[str], num_perm: int = NUM_PERM, *, encoded: Sequence[bytes | None] | None = None
) -> np.ndarray:
    """Signatures of many texts at once: (len(texts), num_perm) uint32 (see the module docstring).
    ``encoded``: the texts' UTF-8 where the caller has it already (None entries are encoded here)."""
    from corpus.ingest import minhash

    return minhash.signatures(texts, num_perm, encoded=encoded)


def _false_positive(threshold: float, b: int, r: int) -> float:
    s = np.linspace(0.0, threshold, 1001)
    return float(np.trapezoid(1 - (1 - s**r) ** b, s))


def _false_negative(threshold: float, b: int, r: int) -> float:
    s = np.linspace(threshold, 1.0, 1001)
    return float(np.trapezoid(1 - (1 - (1 - s**r) ** b), s))


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.01, fn_weight: float = 0.99) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false positive + false negative areas, as
    datasketch's ``_optimal_param`` (same search, trapezoid integration instead of scipy)."""
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = _false_positive(threshold, b, r) * fp_weight + _false_negative(threshold, b, r) * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


def signature(text: str, num_perm: int = NUM_PERM) -> np.ndarray:
    """Signature of one text: ``num_perm`` uint32 values (see ``signatures``)."""
    return signatures([text], num_perm)[0]


def to_bytes(sig: np.ndarray) -> bytes:
    return sig.astype("<u4", copy=False).tobytes()


def from_bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<u4")


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


@dataclass
class Match:
    doc_id: str
    cluster: str  # cluster id: the first member's doc_id
    similarity: float


class DedupIndex:
    """doc_id -> text hash, text hash -> doc_id, and the band index, in memory.

    Signatures live in fixed-size numpy chunks (entry i belongs to ``_ids[i]``); per band the
    keys are sorted runs (numpy key + entry arrays): a bulk load or one planned batch becomes
    one run, runs are merged when they pile up, and a query is a ``searchsorted`` per band
    and run for a whole batch of signatures.
    """

    _CHUNK = 8192
    _MAX_RUNS = 6
    _PER_KEY = 50  # a big cluster needs only a few representatives per band key

    def __init__(self, threshold: float = THRESHOLD, num_perm: int = NUM_PERM):
        if not 0 < threshold <= 1:
            raise ValueError("near-duplicate threshold must be in (0, 1]")
        self.threshold = threshold
        self.num_perm = num_perm
        # datasketch's band/row optimizer, weighted towards recall: every candidate is verified
        # by its estimated similarity, so a false candidate costs one comparison, while the
        # balanced default (5 bands x 25 rows) misses ~40% of pairs at Jaccard 0.93.
        self.bands, self.rows = _bands_for(threshold, num_perm)
        rng = np.random.default_rng(12345)
        self._band_mult = rng.integers(1, 2**63, size=(self.bands, self.rows), dtype=np.uint64) | np.uint64(1)
        self._sha_by_doc: dict[str, bytes] = {}
        self._doc_by_sha: dict[bytes, str] = {}
        self._ids: list[str] = []
        self._clusters: list[str | None] = []
        self._sig_chunks: list[np.ndarray] = []
        # runs: (keys (m, bands) sorted per band, entries (m, bands)); pending: entries not in a run yet
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_from = 0

    def __len__(self) -> int:
        return len(self._sha_by_doc)

    # -- exact
    def sha_of(self, doc_id: str) -> str | None:
        s = self._sha_by_doc.get(doc_id)
        return s.hex() if s is not None else None

    def doc_with_sha(self, text_sha256: str) -> str | None:
        return self._doc_by_sha.get(bytes.fromhex(text_sha256))

    def all_new(self, doc_ids: Sequence[str], shas: Sequence[str]) -> bool:
        """True when none of ``doc_ids`` is indexed and no text hash of ``shas`` is (the caller
        checks that they are distinct among themselves)."""
        return not any(map(self._sha_by_doc.__contains__, doc_ids)) and not any(
            map(self._doc_by_sha.__contains__, _sha_bytes(shas))
        )

    def set_new_shas(self, doc_ids: Sequence[str], shas: Sequence[str]) -> None:
        """``set_sha`` of documents and texts ``all_new`` said are new (and distinct)."""
        digests = _sha_bytes(shas)
        self._sha_by_doc.update(zip(doc_ids, digests))
        self._doc_by_sha.update(zip(digests, doc_ids))

    def set_sha(self, doc_id: str, text_sha256: str) -> None:
        """Record (or change) the text hash of a document (exact dedup only)."""
        sha = bytes.fromhex(text_sha256)
        old = self._sha_by_doc.get(doc_id)
        if old is not None and self._doc_by_sha.get(old) == doc_id:
            del self._doc_by_sha[old]
        self._sha_by_doc[doc_id] = sha
        self._doc_by_sha.setdefault(sha, doc_id)

    # -- near
    def _band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, num_perm) uint32 -> (n, bands) uint64 band hashes, a chunk of rows at a time (the
        64-bit products of a whole 50k-entry run would take ~100 MB for a moment)."""
        n, used = len(sigs), self.bands * self.rows
        out = np.empty((n, self.bands), np.uint64)
        for s in range(0, n, self._CHUNK):
            part = sigs[s : s + self._CHUNK, :used].astype(np.uint64).reshape(-1, self.bands, self.rows)
            part *= self._band_mult[None, :, :]
            part.sum(axis=2, dtype=np.uint64, out=out[s : s + self._CHUNK])
        return out

    def signature_blocks(self, start: int = 0, end: int | None = None) -> list[np.ndarray]:
        """The signatures of entries ``start:end`` (default: all) in entry order, as views of
        the blocks they are kept in (not copied into one array)."""
        end, c = len(self._ids) if end is None else end, self._CHUNK
        return [
            b[max(start - k * c, 0) : min(c, end - k * c)]
            for k, b in enumerate(self._sig_chunks)
            if k * c < end and (k + 1) * c > start
        ]

    def _sig(self, i: int) -> np.ndarray:
        return self._sig_chunks[i // self._CHUNK][i % self._CHUNK]

    def _sigs(self, idx: np.ndarray) -> np.ndarray:
        c = self._CHUNK
        if len(self._sig_chunks) == 1:
            return self._sig_chunks[0][idx]
        out = np.empty((len(idx), self.num_perm), np.uint32)
        for n, i in enumerate(idx.tolist()):
            out[n] = self._sig_chunks[i // c][i % c]
        return out

    def candidates(self, sigs: np.ndarray, keys: np.ndarray | None = None) -> list[np.ndarray | None]:
        """Indexed entries sharing a band key with each signature (None: no candidate);
        ``keys``: the signatures' band keys, when the caller has them."""
        self._flush()
        n = len(sigs)
        out: list[list[np.ndarray] | None] = [None] * n
        if not self._runs or n == 0:
            return [None] * n
        if keys is None:
            keys = self._band_keys(sigs)
        for b in range(self.bands):
            order = np.argsort(keys[:, b])
            q_sorted = keys[order, b]  # sorted needles: numpy's binary search reuses the last bound
            for rk, ri in self._runs:
                col = rk[:, b]
                lo = np.searchsorted(col, q_sorted, side="left")
                hit = np.flatnonzero(col[np.minimum(lo, len(col) - 1)] == q_sorted)
                for h in hit.tolist():
                    q, start = int(order[h]), int(lo[h])
                    end = start + 1
                    while end < min(len(col), start + self._PER_KEY) and col[end] == col[start]:
                        end += 1
                    found = ri[start:end, b]
                    lst = out[q]
                    if lst is None:
                        out[q] = [found]
                    else:
                        lst.append(found)
        return [None if c is None else np.unique(np.concatenate(c)) for c in out]

    def best_match(self, sig: np.ndarray, cands: np.ndarray, exclude: str | None = None) -> Match | None:
        """The most similar of the entries ``cands`` with similarity >= threshold, if any."""
        if exclude is not None:
            cands = np.array([i for i in cands.tolist() if self._ids[i] != exclude], np.int64)
        if not len(cands):
            return None
        sims = np.count_nonzero(self._sigs(cands) == sig[None, :], axis=1) / self.num_perm
        k = int(np.argmax(sims))  # ties: the earliest entry, as a sequential scan would keep
        if sims[k] < self.threshold:
            return None
        i = int(cands[k])
        return Match(self._ids[i], self._clusters[i] or self._ids[i], float(sims[k]))

    def find_near(self, sig: np.ndarray, exclude: str | None = None) -> Match | None:
        """The most similar indexed document with similarity >= threshold, if any."""
        (c,) = self.candidates(sig[None, :])
        return None if c is None else self.best_match(sig, c, exclude)

    # -- adding
    def _append(self, doc_id: str, sig: np.ndarray, cluster: str | None) -> int:
        i = len(self._ids)
        self._ids.append(doc_id)
        self._clusters.append(cluster)
        if i % self._CHUNK == 0:
            self._sig_chunks.append(np.empty((self._CHUNK, self.num_perm), np.uint32))
        self._sig_chunks[-1][i % self._CHUNK] = sig
        return i

    def add(self, doc_id: str, text_sha256: str, sig: np.ndarray | bytes | None, cluster: str | None = None) -> None:
        """Index one document. Its band keys are indexed lazily (at the next query or flush)."""
        self.set_sha(doc_id, text_sha256)
        if sig is None:
            return
        if isinstance(sig, (bytes, bytearray)):
            sig = from_bytes(sig)
        if len(sig) != self.num_perm:
            return  # a signature from another configuration: exact dedup still works
        self._append(doc_id, sig, cluster)

    def add_many(
        self, doc_ids: list[str], shas: list[str], sigs: list[bytes | None], clusters: list[str | None]
    ) -> None:
        """Bulk load (the existing corpus), vectorized."""
        for d, s in zip(doc_ids, shas):
            b = bytes.fromhex(s)
            self._sha_by_doc[d] = b
            self._doc_by_sha.setdefault(b, d)
        ok = [(j, s) for j, s in enumerate(sigs) if s is not None and len(s) == 4 * self.num_perm]
        if not ok:
            return
        mat = np.frombuffer(b"".join(s for _, s in ok), dtype="<u4").reshape(len(ok), self.num_perm)
        self.add_signatures([doc_ids[j] for j, _ in ok], mat, [clusters[j] for j, _ in ok])

    def add_signatures(self, doc_ids: list[str], sigs: np.ndarray, clusters: list[str | None]) -> None:
        """Index signatures (text hashes are recorded separately, with ``set_sha``)."""
        start, n, c = len(self._ids), len(doc_ids), self._CHUNK
        self._ids.extend(doc_ids)
        self._clusters.extend(clusters)
        done = 0
        while done < n:
            i = start + done
            if i % c == 0:
                self._sig_chunks.append(np.empty((c, self.num_perm), np.uint32))
            take = min(n - done, c - i % c)
            self._sig_chunks[-1][i % c : i % c + take] = sigs[done : done + take]
            done += take

    def _flush(self) -> None:
        """Put the entries added since the last flush into a run of their own."""
        start, end = self._pending_from, len(self._ids)
        if end == start:
            return
        idx = np.arange(start, end, dtype=np.int64)
        keys = np.concatenate([self._band_keys(b) for b in self.signature_blocks(start, end)])
        idx = idx.astype(np.int32 if end < 2**31 else np.int64)  # entry numbers: 4 bytes per band suffice
        self._pending_from = end
        self._runs.append(self._sorted_run(keys, np.repeat(idx[:, None], self.bands, axis=1)))
        # merge the newest runs while they are not much smaller than the one before (few runs, log merges)
        while len(self._runs) > 1 and (
            len(self._runs) > self._MAX_RUNS or 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0])
        ):
            (k2, i2), (k1, i1) = self._runs.pop(), self._runs.pop()
            self._runs.append(self._sorted_run(np.concatenate((k1, k2)), np.concatenate((i1, i2))))
            del k1, k2, i1, i2

    @staticmethod
    def _sorted_run(keys: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sort each band column by key; equal keys keep entry order (stable)."""
        order = np.argsort(keys, axis=0, kind="stable")
        return np.take_along_axis(keys, order, axis=0), np.take_along_axis(idx, order, axis=0)


def _sha_bytes(shas: Sequence[str]) -> list[bytes]:
    """Hex SHA-256 strings -> their 32 bytes each, converted at once."""
    raw = bytes.fromhex("".join(shas))
    if len(raw) != 32 * len(shas):
        return [bytes.fromhex(s) for s in shas]  # (not all 64 hex digits: one at a time, as set_sha)
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


_BANDS: dict[tuple[float, int], tuple[int, int]] = {}


def _bands_for(threshold: float, num_perm: int) -> tuple[int, int]:
    if (threshold, num_perm) not in _BANDS:
        _BANDS[threshold, num_perm] = optimal_bands(threshold, num_perm)
    return _BANDS[threshold, num_perm]
