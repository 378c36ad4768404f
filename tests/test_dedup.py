"""dedup: MinHash signatures (datasketch) and the near-duplicate index."""

from __future__ import annotations

import random

import numpy as np
from datasketch import MinHash

from corpus import dedup
from corpus.dedup import DedupIndex, jaccard, shingle_hashes, signature, word_hashes


def text(seed: int, n: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(n))


def test_word_hashes_depend_on_the_word_only():
    h = word_hashes("Storm  hits\ncoast; storm\tHITS")
    assert len(h) == 5
    assert h[0] == h[3] and h[1] == h[4] and len({h[0], h[1], h[2]}) == 3


def test_long_texts_hash_like_short_ones(monkeypatch):
    t = text(1, 2000)
    expected = word_hashes(t)
    monkeypatch.setattr(dedup, "_VECTOR_LIMIT", 1000)
    assert (word_hashes(t) == expected).all()


def test_signature_is_datasketch_minhash_of_the_shingles():
    t = text(2)
    m = MinHash(num_perm=dedup.NUM_PERM, seed=1, scheme="affine32", hashfunc=int)
    m.update_batch(shingle_hashes(t))
    assert (signature(t) == m.hashvalues.astype(np.uint32)).all()


def test_jaccard_estimate_tracks_the_true_similarity():
    words = text(3, 400).split()
    for changed in (0, 4, 40, 200):
        other = list(words)
        for i in range(0, changed * 2, 2):
            other[i] = f"x{i}"
        a, b = set(shingle_hashes(" ".join(words))), set(shingle_hashes(" ".join(other)))
        true = len(a & b) / len(a | b)
        assert abs(jaccard(signature(" ".join(words)), signature(" ".join(other))) - true) < 0.12


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
