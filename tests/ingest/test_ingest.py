"""ingest: the five outcomes, id stability, hostile input, concurrent imports, the seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import REPO, SEED

from corpus.core.model import Article, make_doc_id, sha256_text
from corpus.ingest import dedup
from corpus.ingest.importer import import_articles, import_paths
from corpus.ingest.readers import RawRecord
from corpus.store.table import CorpusStore

WORDS = (
    "minister parliament budget vote coalition strike harbour storm police court river market school "
    "hospital election council energy price farmer railway bridge museum festival border treaty"
).split()


def article_text(seed: int, n: int = 220) -> str:
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n)) + "."


def write(p: Path, text: str, encoding: str = "utf-8") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode(encoding))
    return p


@pytest.fixture
def store(store_uri):
    return CorpusStore(store_uri)


def test_seed_is_stored_as_nfc_of_the_file(store):
    r = import_paths([SEED.parent], store, message="seeds")
    assert (r.added, r.errors, r.version, r.created) == (1, [], 0, True)
    doc_id = make_doc_id(SEED.name)
    assert r.doc_ids == {SEED.name: doc_id}
    a = store.get(doc_id)
    expected = unicodedata.normalize("NFC", SEED.read_text("utf-8"))
    assert a.text == expected and a.text_sha256 == sha256_text(expected)
    assert a.title == expected.splitlines()[0].strip()
    assert store.history()[0].message == "seeds"


def test_five_outcomes_and_id_stability(store, tmp_path):
    src = tmp_path / "in"
    base = article_text(1)
    write(src / "a.txt", "Title A\n" + base)
    write(src / "b.txt", "Title B\n" + article_text(2))
    write(src / "c.txt", "Title C\n" + article_text(3))
    r1 = import_paths([src], store, source="wire")
    assert (r1.added, r1.updated, r1.unchanged, r1.duplicates, r1.near_duplicates) == (3, 0, 0, 0, 0)
    ids = {k: v for k, v in r1.doc_ids.items()}
    assert ids["wire:a.txt"] == make_doc_id("wire:a.txt")

    # unchanged: same keys, same text -> nothing written, no empty version
    r2 = import_paths([src], store, source="wire")
    assert (r2.added, r2.unchanged, r2.created, r2.version) == (0, 3, False, 0)
    assert store.latest_version() == 0

    # same text re-encoded (BOM + CRLF): raw bytes differ, stored text is the same -> unchanged
    write(src / "c.txt", "\ufeff" + ("Title C\n" + article_text(3)).replace("\n", "\r\n"))
    r2b = import_paths([src], store, source="wire")
    assert (r2b.unchanged, r2b.updated, r2b.created) == (3, 0, False)

    # updated + duplicate + near-duplicate + added in one import
    write(src / "b.txt", "Title B\n" + article_text(22))  # updated (same key)
    write(src / "dup.txt", "Title A\n" + base)  # exact duplicate of a
    near = ("Title A\n" + base).split(" ")
    near[40] = "CHANGED"
    write(src / "near.txt", " ".join(near))  # near-duplicate of a
    write(src / "new.txt", "Title N\n" + article_text(4))  # added
    r3 = import_paths([src], store, source="wire", message="second")
    assert (r3.added, r3.updated, r3.unchanged, r3.duplicates, r3.near_duplicates) == (2, 1, 2, 1, 1)
    assert r3.version == 1 and r3.created
    a_id, b_id, near_id = ids["wire:a.txt"], ids["wire:b.txt"], make_doc_id("wire:near.txt")
    assert r3.duplicate_of == [
        {"source_key": "wire:dup.txt", "doc_id": make_doc_id("wire:dup.txt"), "duplicate_of": a_id}
    ]
    assert r3.doc_ids["wire:dup.txt"] == a_id
    (nd,) = r3.near_duplicate_of
    assert (nd["doc_id"], nd["cluster"], nd["similar_to"]) == (near_id, a_id, a_id) and nd["similarity"] >= 0.9
    # ids stable, texts versioned, duplicate not stored, near-dup stored with its cluster
    assert store.get(make_doc_id("wire:dup.txt")) is None
    assert store.get(near_id).meta["near_dup_cluster"] == a_id
    assert store.get(b_id).text.endswith(article_text(22))
    assert store.get(b_id, 0).text.endswith(article_text(2))
    d = store.diff(0, 1)
    assert d.updated == [b_id] and sorted(d.added) == sorted([near_id, make_doc_id("wire:new.txt")])
    h = store.history()[-1]
    assert (h.message, h.counts["added"], h.counts["updated"], h.counts["duplicates"]) == ("second", 2, 1, 1)

    # a second near-duplicate joins the same cluster (named after its first member)
    near2 = ("Title A\n" + base).split(" ")
    near2[41] = "OTHER"
    write(src / "near2.txt", " ".join(near2))
    r4 = import_paths([src / "near2.txt"], store, source="wire")
    assert r4.near_duplicate_of[0]["cluster"] == a_id


def test_duplicates_within_one_import_and_repeated_keys(store, tmp_path):
    text = article_text(9)
    recs = [RawRecord("k1", text), RawRecord("k2", text), RawRecord("k1", "other text entirely")]
    r = import_articles(store, recs, message="m")
    assert (r.added, r.duplicates) == (1, 1)
    assert len(r.errors) == 1 and r.errors[0].code == "repeated_source_key" and "more than once" in r.errors[0].message


def test_import_articles_keeps_normalized_text_and_id(store):
    a = Article(doc_id="fixedid00000001", text="Caf\u00e9 text.", title="T", meta={"source_key": "x:1"})
    r = import_articles(store, [a, Article(doc_id="bad", text="Cafe\u0301 NFD")])
    assert r.added == 1 and len(r.errors) == 1 and "not normalized" in r.errors[0].message
    got = store.get("fixedid00000001")
    assert got.text == "Caf\u00e9 text." and got.meta["source_key"] == "x:1"


def test_normalization_applies_to_all_readers(store, tmp_path):
    nfd = unicodedata.normalize("NFD", "Zürich café ") + article_text(5, 30)
    write(tmp_path / "n.txt", "T\r\n" + nfd)
    write(
        tmp_path / "m.jsonl",
        json.dumps({"id": "1", "text": "The minister\u00e2\u20ac\u2122s plan " + article_text(6, 30)}) + "\n",
    )
    r = import_paths([tmp_path], store)
    assert r.added == 2
    t = store.get(make_doc_id("n.txt")).text
    assert t.startswith("T\nZürich café") and unicodedata.is_normalized("NFC", t)
    assert store.get(make_doc_id("1")).text.startswith("The minister\u2019s plan")


def test_hostile_inputs_do_not_stop_the_import(store, tmp_path):
    src = tmp_path / "in"
    write(src / "good1.txt", "Good\n" + article_text(11))
    (src / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    (src / "empty.txt").write_bytes(b"")
    (src / "invalid.txt").write_bytes(bytes(range(0x80, 0xFF)) * 3)
    write(src / "big.txt", "x" * 5000)
    write(src / "rows.jsonl", json.dumps({"id": "j1", "text": article_text(12)}) + "\n{broken\n")
    write(src / "rows.csv", "id,text\nc1," + article_text(13, 20) + "\nc2,\n")
    (src / "escape.txt").symlink_to(SEED)
    r = import_paths([src], store, max_bytes=4000)
    assert (r.added, r.created, r.version) == (3, True, 0)
    errs = {(Path(e.file).name, e.line) for e in r.errors}
    assert errs == {
        ("binary.txt", None),
        ("empty.txt", None),
        ("invalid.txt", None),
        ("big.txt", None),
        ("rows.jsonl", 2),
        ("rows.csv", 3),
        ("escape.txt", None),
    }
    assert store.count() == 3


def test_everything_bad_creates_no_version(store, tmp_path):
    (tmp_path / "x.txt").write_bytes(b"\x00")
    r = import_paths([tmp_path], store)
    assert r.version is None and not r.created and len(r.errors) == 1
    assert not store.exists()


def test_signature_is_stored_and_reused(store, tmp_path):
    write(tmp_path / "a.txt", "A\n" + article_text(1))
    import_paths([tmp_path], store)
    (batch,) = list(store.read_index(0))
    sig = dedup.from_bytes(batch.column("minhash")[0].as_py())
    assert len(sig) == dedup.NUM_PERM
    assert (sig == dedup.signature(store.get(make_doc_id("a.txt")).text)).all()


CHILD = """
import sys, json
from corpus.ingest.importer import import_paths
from corpus.store.table import CorpusStore
r = import_paths([sys.argv[2]], CorpusStore(sys.argv[1]), source=sys.argv[3], message=sys.argv[3])
print(json.dumps({"version": r.version, "added": r.added, "attempts": r.attempts, "errors": r.errors}))
"""


@pytest.mark.slow
def test_concurrent_imports_lose_nothing(store, tmp_path):
    n_proc, n_files = 4, 30
    dirs = []
    for p in range(n_proc):
        d = tmp_path / f"in{p}"
        for i in range(n_files):
            write(d / f"{i}.txt", f"P{p} doc {i}\n" + article_text(1000 * p + i, 60))
        dirs.append(d)
    # all at once, racing on the creation of the table and on every later commit
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, store.uri, str(d), f"s{p}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p, d in enumerate(dirs)
    ]
    results = []
    for pr in procs:
        out, err = pr.communicate(timeout=300)
        assert pr.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["added"] == n_files and not r["errors"] for r in results)
    print("attempts", [r["attempts"] for r in results])
    assert sorted(r["version"] for r in results) == list(range(n_proc))  # sequential, one each
    assert store.count() == n_proc * n_files
    assert [v.version for v in store.history()] == list(range(n_proc))
    assert sorted(v.message for v in store.history()) == [f"s{p}" for p in range(n_proc)]


def test_store_with_another_minhash_scheme_gets_signatures_recomputed(store, monkeypatch):
    """A store written before the scheme was recorded (datasketch MinHash) is not compared
    slot by slot with ours: its signatures are recomputed from the stored texts."""
    import pyarrow as pa

    from corpus.store import table as store_mod
    from corpus.store.table import LEGACY_MINHASH_SCHEME, article_to_row

    legacy = store_mod.SCHEMA.set(store_mod.SCHEMA.get_field_index("minhash"), pa.field("minhash", pa.binary()))
    monkeypatch.setattr(store_mod, "SCHEMA", legacy)
    base = "Title A\n" + article_text(1)
    rows = [article_to_row(Article(make_doc_id("a.txt"), base), source_key="a.txt", minhash=bytes(512))]
    store.commit([pa.RecordBatch.from_pylist(rows, schema=legacy)], read_version=None, message="old", counts={})
    monkeypatch.undo()
    assert store.minhash_scheme() == LEGACY_MINHASH_SCHEME != dedup.SCHEME
    near = base.split(" ")
    near[40] = "CHANGED"
    r = import_articles(store, [RawRecord("near.txt", " ".join(near)), RawRecord("b.txt", article_text(2))])
    assert (r.added, r.near_duplicates) == (2, 1)
    assert r.near_duplicate_of[0]["similar_to"] == make_doc_id("a.txt")
    fresh = CorpusStore(store.uri + "-new")
    import_articles(fresh, [RawRecord("x", article_text(3))])
    assert fresh.minhash_scheme() == dedup.SCHEME


def test_worker_processes_give_the_same_import(tmp_path, monkeypatch):
    """A big import normalizes and hashes in worker processes: same outcome, order and rows."""
    from corpus.ingest import importer as ingest

    base = article_text(77)
    near = base.split(" ")
    near[30] = "CHANGED"
    recs = []
    for i in range(67):
        recs.append(RawRecord(f"k{i}", f"Title {i}\n" + article_text(500 + i), title=f" T{i} ", meta={"i": i}))
    recs[5] = RawRecord("k5", base)
    recs[40] = RawRecord("k40", " ".join(near))  # near-duplicate of k5, another batch
    recs[41] = RawRecord("k41", base)  # exact duplicate of k5
    recs[50] = RawRecord("k50", "  \n ")  # empty after normalization
    recs.append(RawRecord("k3", "repeated key"))  # repeated key
    recs.append(Article(doc_id="a1", text="Cafe\u0301", meta={"source_key": "art"}))  # not normalized
    monkeypatch.setattr(ingest, "BATCH", 20)
    started, start = [], ingest._Builder.start

    def spy(self):
        before = bool(self.procs)
        start(self)
        if self.procs and not before:  # this call started the workers
            started.append(self.n_workers)

    monkeypatch.setattr(ingest._Builder, "start", spy)
    reports, stores = [], []
    for workers in ("0", "2"):
        monkeypatch.setenv("CORPUS_IMPORT_WORKERS", workers)
        s = CorpusStore(tmp_path / f"store{workers}")
        reports.append(import_articles(s, recs, message="m").to_dict())
        stores.append(s)
    assert reports[0] == reports[1]
    r = reports[1]
    assert started == [2]  # workers ran in the second import only
    assert (r["added"], r["duplicates"], r["near_duplicates"]) == (65, 1, 1)
    assert [e["code"] for e in r["errors"]] == ["empty_text", "repeated_source_key", "not_normalized"]
    rows = [
        sorted((a.doc_id, a.text, a.title, a.meta.get("near_dup_cluster")) for a in s.iter_articles()) for s in stores
    ]
    assert rows[0] == rows[1] and len(rows[0]) == 65
    sigs = [
        sorted((b.column("doc_id").to_pylist(), b.column("minhash").to_pylist()) for b in s.read_index(0))
        for s in stores
    ]
    assert sigs[0] == sigs[1]


def test_repeated_keys_are_found_across_the_merged_runs():
    """The admitted ids go to sorted 8-byte runs merged as a binary counter: few runs, still exact."""
    from corpus.ingest.importer import _Seen

    seen = _Seen()
    ids = [make_doc_id(f"k{i}") for i in range(1000)]
    assert all(seen.add_many(ids[i : i + 10]) == [True] * 10 for i in range(0, 1000, 10))
    assert len(seen.runs) <= 7 and sum(map(len, seen.runs)) == 1000  # 100 batches: log2 runs
    assert not any(seen.add(d) for d in ids[::3])
    assert seen.add_many([ids[5], make_doc_id("new"), make_doc_id("new")]) == [False, True, False]
    assert seen.add("brat-doc-1") and not seen.add("brat-doc-1")
    assert seen.add("ABCDEF0123456789") and not seen.add("ABCDEF0123456789")  # not our hex: kept as text


def test_doc_ids_beyond_the_kept_limit_are_derived(store, monkeypatch):
    from corpus.ingest import importer as ingest

    monkeypatch.setattr(ingest, "DOC_IDS_KEPT", 3)
    recs = [RawRecord(f"k{i}", article_text(900 + i)) for i in range(6)] + [RawRecord("dup", article_text(901))]
    r = import_articles(store, recs)
    assert (r.added, r.duplicates, r.doc_ids_complete) == (6, 1, False)
    assert len(r.doc_ids) == 4 and r.doc_ids["dup"] == make_doc_id("k1")  # 3 kept + the remapped one
    assert [r.doc_id_of(f"k{i}") for i in range(6)] == [make_doc_id(f"k{i}") for i in range(6)]
    assert r.doc_id_of("dup") == make_doc_id("k1")


def test_workers_import_the_same_corpus_package(tmp_path, monkeypatch):
    """From a checkout the workers get its folder on PYTHONPATH; an installed package needs nothing
    (tests/test_wheel.py runs workers from a wheel)."""
    import site

    from corpus.ingest import importer as ingest

    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    home = str(Path(ingest.__file__).resolve().parents[2])
    assert ingest._worker_env()["PYTHONPATH"] == os.pathsep.join([home, "/elsewhere"])
    monkeypatch.setattr(site, "getsitepackages", lambda: [home])
    assert ingest._worker_env()["PYTHONPATH"] == "/elsewhere"
