"""dedup: MinHash signatures (one-permutation hashing) and the near-duplicate index."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from corpus.ingest import dedup
from corpus.ingest.dedup import DedupIndex, jaccard, signature
from corpus.ingest.minhash import shingle_hashes, word_hashes

EXPECTED_PREFIX = [2990059405, 1825485219, 1201925018, 4125856419]


def text(seed: int, n: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(n))


def test_word_hashes_depend_on_the_word_only():
    h = word_hashes("Storm  hits\ncoast; storm\tHITS")
    assert len(h) == 5
    assert h[0] == h[3] and h[1] == h[4] and len({h[0], h[1], h[2]}) == 3


def reference_signature(t: str, num_perm: int = 128) -> list[int]:
    """The scheme in plain Python (the module docstring of corpus.ingest.minhash), slow and obvious."""
    m64 = 2**64 - 1
    words = [w for w in re.split("[\t\n\x0b\x0c\r\x1c-\x1f ]+", t.lower()) if w]
    wh = [
        sum(c * pow(1099511628211, i, 2**64) for i, c in enumerate(w.encode("utf-8", "surrogatepass"))) % 2**64
        for w in words
    ]
    m = [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9]
    if len(wh) >= 3:
        sh = [((a * m[0]) & m64) ^ ((b * m[1]) & m64) ^ ((c * m[2]) & m64) for a, b, c in zip(wh, wh[1:], wh[2:])]
    else:
        sh = wh or [0]

    def mix(x: int) -> int:
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & m64
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & m64
        return x ^ (x >> 31)

    empty = 1 << 32
    sig = [empty] * num_perm
    for h in sh:
        x = mix(h)
        j = ((x >> 32) * num_perm) >> 32
        sig[j] = min(sig[j], x & 0xFFFFFFFF)
    orig = list(sig)
    for j in range(num_perm):
        t_ = 1
        while orig[j] == empty and sig[j] == empty:
            c = ((mix(((j * m[0]) + t_) & m64) >> 32) * num_perm) >> 32
            if orig[c] != empty:
                sig[j] = orig[c]
            t_ += 1
    return sig


def test_signatures_follow_the_scheme():
    """The compiled kernel against the plain Python statement of the scheme, on hard cases."""
    rng = random.Random(5)
    texts = ["", "one", "Two words", "a b c", "ΟΔΟΣ ΣΟΦΟΣ", "İstanbul ǅemal ẞtraße", "Ꭰ 𐐀deseret", "\ud800 lone"]
    texts += [
        "".join(rng.choice("aZÉéΣσİıǅ 𐐀\u00a0\t\n—’\x1c\x08\r") for _ in range(rng.randrange(90))) for _ in range(60)
    ]
    texts.append(text(9, 3000))
    got = dedup.signatures(texts)
    for t, row in zip(texts, got):
        assert row.tolist() == reference_signature(t), t


def test_no_lower_case_above_the_table():
    from corpus.ingest import minhash

    assert all(chr(c).lower() == chr(c) for c in range(minhash.LOWER_LIMIT, 0x110000) if not 0xD800 <= c <= 0xDFFF)


def test_signatures_of_a_batch_are_the_signatures_of_each_text():
    texts = ["", "one", "Two words", text(7, 5000), "CAFÉ Zürich it’s\nnew", text(8), "  \t ", "ÉTAT état"]
    batch = signature_matrix = dedup.signatures(texts)
    assert batch.shape == (len(texts), dedup.NUM_PERM) and batch.dtype == np.uint32
    for t, row in zip(texts, signature_matrix):
        assert (signature(t) == row).all()
    assert (dedup.signatures(texts[::-1]) == batch[::-1]).all()  # batching changes nothing
    # lower-cased words, whitespace-insensitive; no word / one word texts still fill every slot
    assert (signature("café zürich IT’S new") == batch[4]).all()
    assert (batch[0] == batch[6]).all() and not (batch[1] == batch[2]).all()
    assert jaccard(signature("ÉTAT"), signature("état")) == 1.0


def test_signatures_are_fixed():
    """The stored signatures must not change silently (bump dedup.SCHEME when they do)."""
    sig = signature("The minister’s budget vote was postponed again on Tuesday")
    assert dedup.SCHEME == "oph-splitmix64-w3-v1"
    assert sig[:4].tolist() == EXPECTED_PREFIX


def test_band_split_is_datasketchs():
    from datasketch.lsh import _optimal_param

    for t in (0.5, 0.8, 0.9, 0.95):
        assert dedup.optimal_bands(t, 128) == _optimal_param(t, 128, 0.01, 0.99)


def test_jaccard_estimate_tracks_the_true_similarity():
    words = text(3, 400).split()
    for changed in (0, 4, 40, 200):
        other = list(words)
        for i in range(0, changed * 2, 2):
            other[i] = f"x{i}"
        a, b = set(shingle_hashes(" ".join(words))), set(shingle_hashes(" ".join(other)))
        true = len(a & b) / len(a | b)
        assert abs(jaccard(signature(" ".join(words)), signature(" ".join(other))) - true) < 0.12


def test_jaccard_estimate_is_unbiased_on_many_pairs():
    """One-permutation hashing with densification estimates like 128-permutation MinHash
    (standard error sqrt(J(1-J)/128) <= 0.044), for short and long texts."""
    rng = random.Random(11)
    errors = []
    for i in range(300):
        words = text(1000 + i, rng.choice([20, 60, 300, 1500])).split()
        other = list(words)
        for j in rng.sample(range(len(words)), rng.randrange(0, len(words) // 3 + 1)):
            other[j] = f"x{j}"
        a, b = set(shingle_hashes(" ".join(words))), set(shingle_hashes(" ".join(other)))
        true = len(a & b) / len(a | b)
        sa, sb = dedup.signatures([" ".join(words), " ".join(other)])
        errors.append(jaccard(sa, sb) - true)
    errors = np.array(errors)
    assert abs(errors.mean()) < 0.01
    assert np.sqrt((errors**2).mean()) < 0.045
    assert np.abs(errors).max() < 0.2


def test_index_finds_near_duplicates_only_above_threshold():
    idx = DedupIndex(threshold=0.9)
    base = text(4)
    idx.add("a", "00" * 32, signature(base), None)
    idx.add("b", "11" * 32, signature(text(5)), None)
    near = base.split()
    near[100] = "changed"
    m = idx.find_near(signature(" ".join(near)))
    assert m is not None and (m.doc_id, m.cluster) == ("a", "a") and m.similarity >= 0.9
    assert idx.find_near(signature(" ".join(near)), exclude="a") is None
    far = base.split()[:150] + text(6, 150).split()  # ~1/3 similar
    assert idx.find_near(signature(" ".join(far))) is None
    idx.add("c", "22" * 32, signature(" ".join(near)), "a")  # a member of a's cluster
    m2 = idx.find_near(signature(" ".join(near) + " tail"), exclude="a")
    assert m2 is not None and (m2.doc_id, m2.cluster) == ("c", "a")


def test_exact_lookups_and_bulk_load_agree_with_add():
    docs = {f"d{i}": text(10 + i) for i in range(30)}
    sigs = {k: dedup.to_bytes(signature(v)) for k, v in docs.items()}
    bulk = DedupIndex()
    bulk.add_many(list(docs), [f"{i:064x}" for i in range(30)], [sigs[k] for k in docs], [None] * 30)
    assert bulk.doc_with_sha(f"{3:064x}") == "d3" and bulk.sha_of("d4") == f"{4:064x}"
    one = DedupIndex()
    for i, k in enumerate(docs):
        one.add(k, f"{i:064x}", sigs[k])
    one._flush()
    for k, v in docs.items():
        q = signature(v + " extra")
        assert bulk.find_near(q).doc_id == one.find_near(q).doc_id == k


def test_near_duplicates_at_the_threshold_are_found():
    """Banding favours recall: pairs just above the threshold are (almost) never missed."""
    idx = DedupIndex(threshold=0.9)
    pairs = []
    for i in range(40):
        words = text(100 + i, 400).split()
        idx.add(f"d{i}", f"{i:064x}", signature(" ".join(words)))
        variant = list(words)
        for j in (50, 150, 250, 350):  # 4 words edited: 12 of ~400 shingles, Jaccard ~0.94
            variant[j] = f"edited{j}"
        pairs.append((f"d{i}", " ".join(variant)))
    found = sum(1 for doc_id, v in pairs if (m := idx.find_near(signature(v))) is not None and m.doc_id == doc_id)
    # datasketch's balanced banding (5 x 25) would find ~2/3 of these; ours nearly all
    assert found >= 36
    assert (idx.bands, idx.rows) == (11, 11)


def test_batched_word_hashing_lowercases_like_str_lower():
    """The kernel lowers code points as it reads them (and Python lowers the texts with the two
    context-dependent characters); every word must hash exactly as in the lower-cased text."""
    p, m = 1099511628211, 2**64

    def reference(t: str) -> list[int]:
        words = [w for w in re.split("[\t\n\x0b\x0c\r\x1c-\x1f ]+", t.lower()) if w]
        return [sum(c * pow(p, i, m) for i, c in enumerate(w.encode("utf-8", "surrogatepass"))) % m for w in words]

    texts = [
        "ΟΔΟΣ ΣΟΦΟΣ ς Σ",
        "İstanbul ǅemal ẞtraße ŁÓDŹ",
        "MiXeD Ünïcödé\u00a0NBSP x\u2028y",
        "\ud800 lone",
        "ＡＢＣ wide",
        "Ꭰ 𐐀deseret",
        "",
        "  ",
        "\x1c\x1dA\x1e\x1fB\x08C\x0eD",
    ]
    rng = random.Random(3)
    texts += [
        "".join(rng.choice("aZÉéΣσİıǅ 𐐀\u00a0\t\n—’\x1c\x08\r") for _ in range(rng.randrange(60))) for _ in range(300)
    ]
    for t in texts:
        assert word_hashes(t).tolist() == reference(t), t


# ------------------------------------------------------------------ the index on disk


def _planted(seed: int, n_base: int, prefix: str) -> list:
    """Records with planted near-duplicates (one to four words edited, some of an edited copy:
    chains), exact duplicates under other keys, and unrelated texts, shuffled."""
    from corpus.ingest.readers import RawRecord

    rng = random.Random(seed)
    recs = []
    bases = [text(10_000 + seed * 1000 + i) for i in range(n_base)]
    for i, b in enumerate(bases):
        recs.append(RawRecord(f"{prefix}b{i}", b))
        words = b.split()
        for v in range(rng.randrange(0, 4)):
            w = list(words)
            for _ in range(rng.randint(1, 4)):
                w[rng.randrange(len(w))] = f"edit{rng.randrange(10**6)}"
            recs.append(RawRecord(f"{prefix}b{i}v{v}", " ".join(w)))
            words = w if rng.random() < 0.5 else words  # chains
        if rng.random() < 0.15:
            recs.append(RawRecord(f"{prefix}b{i}dup", b))
    rng.shuffle(recs)
    return recs


@pytest.mark.parametrize("round_rows", [120, 40], ids=["round=run", "rounds-smaller-than-runs"])
def test_disk_index_decides_like_the_memory_index(tmp_path, monkeypatch, round_rows):
    """Same outcomes, duplicate and near-duplicate decisions (cluster and match) and stored rows,
    with many rounds and runs (small RUN and BATCH), an import into an existing store, updates.
    Rounds smaller than runs: the index in memory holds several rounds before it becomes a run."""
    from corpus.ingest import diskindex
    from corpus.ingest import importer as ingest
    from corpus.ingest.importer import import_articles
    from corpus.ingest.readers import RawRecord
    from corpus.store.table import CorpusStore

    monkeypatch.setattr(ingest, "BATCH", 37)
    monkeypatch.setattr(diskindex, "RUN", 120)
    monkeypatch.setattr(diskindex, "ROUND", round_rows)
    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "0")
    first = _planted(1, 120, "")
    second = _planted(2, 60, "n") + [
        RawRecord("b3", text(10_000 + 1000 + 3) + " updated"),  # an update (near its old text)
        RawRecord("b7", text(777)),  # an update to an unrelated text
        RawRecord("x1", text(10_000 + 1000 + 5)),  # exact duplicate of a stored text
    ]
    rounds, write_run = [], diskindex.DiskIndex._write_run
    monkeypatch.setattr(
        diskindex.DiskIndex, "_write_run", lambda self, *a: rounds.append(len(a[0])) or write_run(self, *a)
    )
    results = {}
    for mode in ("memory", "disk"):
        monkeypatch.setenv("CORPUS_IMPORT_INDEX", mode)
        store = CorpusStore(tmp_path / mode)
        reports = [import_articles(store, recs).to_dict() for recs in (first, second)]
        rows = sorted(
            (r["doc_id"], r["text_sha256"], r["near_dup_cluster"])
            for b in store.iter_batches(None, ["doc_id", "text_sha256", "near_dup_cluster"])
            for r in b.to_pylist()
        )
        results[mode] = (reports, rows)
    mem, disk = results["memory"], results["disk"]
    assert len(rounds) >= 6 and max(rounds) <= 120  # the disk index did run, in several rounds
    if round_rows < 120:
        assert max(rounds) > round_rows  # a run was written from several rounds' entries
    for a, b in zip(mem[0], disk[0]):
        assert {k: v for k, v in a.items() if k != "message"} == {k: v for k, v in b.items() if k != "message"}
    assert mem[1] == disk[1]
    r1, r2 = mem[0]
    assert r1["near_duplicates"] > 50 and r1["duplicates"] > 5 and r2["updated"] == 2
    assert r2["near_duplicates"] > 20 and r2["duplicates"] >= 1


def test_rows_staged_in_bucket_order_are_decided_in_record_order(tmp_path, monkeypatch):
    """A staged batch holds its rows grouped by bucket, not in record order; the decisions are
    still those of records taken one at a time (batches of one row): the first record of a
    text is kept, a near-duplicate joins the cluster of the earlier record."""
    from corpus.ingest import importer as ingest
    from corpus.ingest.importer import import_articles
    from corpus.store.table import CorpusStore

    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "0")
    recs = _planted(5, 40, "")
    staged_seqs = []
    write_ipc = ingest._write_ipc
    monkeypatch.setattr(
        ingest, "_write_ipc", lambda t, p: staged_seqs.append(t.column("_seq").to_pylist()) or write_ipc(t, p)
    )
    results = {}
    for batch in (1, 1000):
        monkeypatch.setattr(ingest, "BATCH", batch)
        store = CorpusStore(tmp_path / f"b{batch}")
        report = {k: v for k, v in import_articles(store, recs).to_dict().items() if k != "message"}
        rows = sorted(
            (r["doc_id"], r["text_sha256"], r["near_dup_cluster"])
            for b in store.iter_batches(None, ["doc_id", "text_sha256", "near_dup_cluster"])
            for r in b.to_pylist()
        )
        results[batch] = (report, rows)
    assert staged_seqs[-1] != sorted(staged_seqs[-1])  # the one big batch was staged out of record order
    assert results[1] == results[1000]
    report = results[1000][0]
    assert report["duplicates"] >= 3 and report["near_duplicates"] >= 20


def test_band_keys_in_chunks_and_runs_from_blocks(monkeypatch):
    """Band keys made a chunk of rows at a time are the keys of each row alone, and a run
    written from the memory index's blocks of signatures holds the same entries as one made
    from a single array, split at the same run boundaries."""
    from corpus.ingest import diskindex

    idx = DedupIndex()
    rng = np.random.default_rng(7)
    sigs = rng.integers(0, 2**32, size=(2 * idx._CHUNK + 5, idx.num_perm), dtype=np.uint32)
    keys = idx._band_keys(sigs)
    for i in (0, idx._CHUNK - 1, idx._CHUNK, len(sigs) - 1):
        assert (keys[i] == idx._band_keys(sigs[i : i + 1])[0]).all()
    mem = DedupIndex()
    ids = [f"d{i}" for i in range(len(sigs))]
    mem.add_signatures(ids, sigs, [None] * len(sigs))
    blocks = mem.signature_blocks()
    assert len(blocks) == 3 and sum(len(b) for b in blocks) == len(sigs)
    assert (np.concatenate(blocks) == sigs).all()
    assert (mem._sigs(np.arange(3, len(sigs) - 2)) == sigs[3:-2]).all()  # a range across blocks
    monkeypatch.setattr(diskindex, "RUN", idx._CHUNK + 100)  # runs cut inside a block
    shas = [f"{i:064x}" for i in range(len(sigs))]
    one, parts = diskindex.DiskIndex(idx), diskindex.DiskIndex(idx)
    try:
        one.add(ids, shas, sigs, [None] * len(sigs))
        parts.add(ids, shas, blocks, [None] * len(sigs))
        assert (
            [r.n for r in one.runs] == [r.n for r in parts.runs] == [idx._CHUNK + 100, len(sigs) - (idx._CHUNK + 100)]
        )
        every = np.arange(len(sigs), dtype=np.int64)
        s1, d1, _ = one.entries(every)
        s2, d2, _ = parts.entries(every)
        assert (s1 == sigs).all() and (s2 == sigs).all() and d1 == d2 == ids
        found = parts.lookup(ids[:50], shas[:50], sigs[:50])
        assert all(c is not None and i in c.tolist() for i, c in enumerate(found.cands))
    finally:
        one.close()
        parts.close()


def test_merged_key_runs_answer_like_separate_runs(monkeypatch):
    """Key runs merged (a binary counter over the runs) give the lookups of unmerged runs: the
    newest text hash of an updated document, the first document holding a hash, the same band
    candidates; and fewer key runs to search."""
    from corpus.ingest import diskindex

    idx = DedupIndex()
    rng = np.random.default_rng(11)
    monkeypatch.setattr(diskindex, "RUN", 40)
    n = 400
    base = rng.integers(0, 2**32, size=(n // 2, idx.num_perm), dtype=np.uint32)
    sigs = np.concatenate([base, base])  # every signature twice: band keys shared across runs
    sigs[n // 2 :, :3] += 1  # (near, not equal)
    ids = [f"d{i}" for i in range(n // 2)] + [f"d{i}" for i in range(0, n, 2)]  # d0, d2 ... updated
    shas = [f"{i % 150:064x}" for i in range(n)]  # texts held by several documents
    indexes = []
    for limit in (0, diskindex.MERGE_LIMIT):
        monkeypatch.setattr(diskindex, "MERGE_LIMIT", limit)
        d = diskindex.DiskIndex(idx)
        for s in range(0, n, 40):
            d.add(ids[s : s + 40], shas[s : s + 40], sigs[s : s + 40], [None] * 40)
        indexes.append(d)
    separate, merged = indexes
    try:
        assert len(separate.keys) == 10 and len(merged.keys) < 4
        queries = ids[::7] + ["absent"]
        qshas = [shas[i] for i in range(0, n, 7)] + [f"{999:064x}"]
        qsigs = np.concatenate([sigs[::7], sigs[:1] ^ 1])
        a, b = separate.lookup(queries, qshas, qsigs), merged.lookup(queries, qshas, qsigs)
        assert a.sha_by_doc == b.sha_by_doc and a.doc_by_sha == b.doc_by_sha
        assert a.sha_by_doc["d0"] == shas[n // 2]  # d0's newest entry (its update), not its first
        assert [None if c is None else c.tolist() for c in a.cands] == [
            None if c is None else c.tolist() for c in b.cands
        ]
        assert sum(c is not None and len(c) > 1 for c in b.cands) > 10  # candidates from several runs
        assert merged._newest_sha("d4") == separate._newest_sha("d4") == shas[n // 2 + 2]
    finally:
        separate.close()
        merged.close()


def test_doc_keys_do_not_depend_on_the_batch():
    """A doc id's key is the same alone and in any batch: 16 hex digits are read as the key (a
    whole batch at once), any other id (upper case, a space, 16 non-ASCII letters) is hashed."""
    from corpus.core.model import make_doc_id
    from corpus.ingest.diskindex import doc_keys

    odd = ["0123456789ABCDEF", "0123456789ab cde", "é" * 16, "", "abc"]
    hexes = [make_doc_id(str(i)) for i in range(20)]
    for batch in (hexes, hexes + odd, odd + hexes[:3]):
        keys = doc_keys(batch).tolist()
        assert keys == [doc_keys([d])[0] for d in batch]
    assert doc_keys(hexes[:1])[0] == int(hexes[0], 16)
    assert len(set(doc_keys(hexes + odd).tolist())) == len(hexes) + len(odd)


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_batches_of_new_texts_decided_at_once_like_row_by_row(tmp_path, monkeypatch, mode):
    """The planner's fast path (a batch of new documents with new, distinct texts: all added,
    only near-duplicates decided per row) gives the decisions of the row-by-row path: same
    reports (near-duplicate matches in order) and stored rows, on planted near-duplicates."""
    from corpus.ingest import diskindex
    from corpus.ingest import importer as ingest
    from corpus.ingest.importer import import_articles
    from corpus.store.table import CorpusStore

    monkeypatch.setattr(ingest, "BATCH", 37)
    monkeypatch.setattr(diskindex, "RUN", 120)
    monkeypatch.setattr(diskindex, "ROUND", 120)
    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "0")
    monkeypatch.setenv("CORPUS_IMPORT_INDEX", mode)
    fast_batches = []
    results = {}
    for fast in (True, False):
        with monkeypatch.context() as m:
            for cls in (DedupIndex, diskindex.TieredIndex):
                orig = cls.all_new
                m.setattr(
                    cls,
                    "all_new",
                    (lambda o: lambda self, *a: fast_batches.append(o(self, *a)) or fast_batches[-1])(orig)
                    if fast
                    else (lambda self, *a: False),
                )
            store = CorpusStore(tmp_path / f"{mode}-{fast}")
            reports = [import_articles(store, recs).to_dict() for recs in (_planted(1, 120, ""), _planted(3, 40, "m"))]
            rows = sorted(
                (r["doc_id"], r["text_sha256"], r["near_dup_cluster"])
                for b in store.iter_batches(None, ["doc_id", "text_sha256", "near_dup_cluster"])
                for r in b.to_pylist()
            )
            results[fast] = ([{k: v for k, v in r.items() if k != "message"} for r in reports], rows)
    assert any(fast_batches) and not all(fast_batches)  # both paths ran in the fast import
    assert results[True] == results[False]
    assert results[True][0][0]["near_duplicates"] > 50
