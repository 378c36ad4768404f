"""Benchmark: `corpus release build` on N generated documents vs the naive in-memory way.

    .venv/bin/python bench/bench_release.py            # 100k documents
    .venv/bin/python bench/bench_release.py --n 20000  # smaller

Both sides start from the same Delta store and annotation snapshot and produce the same rows
(same gold choice, same ``corpus.release.rows`` builder, same features):

* release: ``corpus.release.build.build_release`` (streamed: spill by doc-id range, buffered
  ParquetWriter per config/split, card);
* naive: every article and annotation in memory, rows in lists, then
  ``Dataset.from_list(rows, features).to_parquet(...)`` per config and split.

Each measurement runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. The release
build is also run at N/4 and N/2 to show that its memory does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEOPLE = ["Sean Parnell", "Maria Lopez", "John Kirby", "Anna Weber", "Omar Haddad", "Lena Fischer", "Paul Martin"]
OUTLETS = ["Al Hadath TV", "Reuters", "Sky News", "Al Jazeera", "CNN", "AFP"]
PLACES = ["Damascus", "Aleppo", "Raqqa", "Homs", "Idlib", "Deir ez-Zor", "Hasakah", "Palmyra"]
FILLER = [
    "The situation remained tense throughout the day.",
    "Residents described hearing several loud explosions overnight.",
    "Aid groups warned that supplies were running low in the area.",
    "Local markets reopened briefly before closing again in the afternoon.",
    "Analysts said the escalation could affect negotiations planned for next week.",
]


def generate(k: int):
    """One article (about 1 KB) and its annotation: entities, an event, two attributions."""
    from corpus.core.model import Annotation, Argument, Article, Attribution, Entity, Event, Span, make_doc_id

    rnd = random.Random(k)
    person, outlet, place = rnd.choice(PEOPLE), rnd.choice(OUTLETS), rnd.choice(PLACES)
    head = (
        f"{outlet} reported that the attack near {place} destroyed a military depot. "
        f"{person}, a Pentagon spokesman, said the strikes, which began at dawn, hit weapons stores. "
    )
    body = " ".join(rnd.choice(FILLER) for _ in range(rnd.randint(4, 10)))
    text = head + "\n" + body + f" (report {k})"
    doc_id = make_doc_id(f"bench:{k}")
    art = Article(doc_id=doc_id, text=text, title=f"Report {k}", source="bench", published="2025-01-20")

    def sp(piece: str, occ: int = 0) -> Span:
        i = -1
        for _ in range(occ + 1):
            i = text.index(piece, i + 1)
        return Span.from_offsets(text, [(i, i + len(piece))])

    s = text.index("the strikes")
    h = text.index("hit weapons stores")
    ann = Annotation(
        doc_id,
        art.text_sha256,
        rnd.choice(["alice", "bob"]),
        entities=[
            Entity("T1", "ORG", sp(outlet)),
            Entity("T2", "GPE", sp(place)),
            Entity("T3", "PER", sp(person)),
            Entity("T4", "ORG", sp("Pentagon")),
            Entity("T5", "FAC", sp("military depot")),
        ],
        events=[
            Event(
                "E1",
                "Conflict:Attack",
                sp("strikes"),
                [Argument("Target", "T5")],
                {"realis": "actual", "polarity": "positive"},
            )
        ],
        attributions=[
            Attribution(
                "A1",
                sp("reported"),
                sp(f"the attack near {place} destroyed a military depot"),
                sp(outlet),
                "T1",
                {"quote_type": "indirect", "source_type": "media outlet", "commitment": "reported"},
            ),
            Attribution(
                "A2",
                sp("said"),
                Span.from_offsets(text, [(s, s + 11), (h, h + 18)]),
                sp(f"{person}, a Pentagon spokesman"),
                "T3",
                {"quote_type": "indirect", "source_type": "named person", "commitment": "asserted"},
            ),
        ],
        taxonomy_version="1.0.0",
        updated_at="2025-02-01T00:00:00Z",
    )
    return art, ann


def prepare(work: Path, n: int) -> tuple[str, str]:
    """The store (through the real import workflow) and one annotation snapshot."""
    from corpus.ingest.importer import import_articles
    from corpus.store.table import CorpusStore

    store = CorpusStore(str(work / "store"))
    snap = work / "annotations.jsonl"
    with open(snap, "w", encoding="utf-8") as fh:

        def articles():
            for k in range(n):
                art, ann = generate(k)
                fh.write(json.dumps(ann.to_dict()) + "\n")
                yield art

        import_articles(store, articles(), message="bench")
    return store.uri, str(snap)


def child_release(store_uri: str, snap: str, out: str, n: int) -> dict:
    from corpus.release.build import BuildOptions, build_release, label_set
    from corpus.store.table import CorpusStore

    labels = label_set()
    t = time.perf_counter()
    rep = build_release(
        BuildOptions(version="1.0.0", annotations=[snap], out=out, force=True), CorpusStore(store_uri), labels
    )
    return {"seconds": time.perf_counter() - t, "docs": sum(rep.documents.values()), "rows": rep.rows}


def child_naive(store_uri: str, snap: str, out: str, n: int) -> dict:
    from datasets import Dataset

    from corpus.core.model import Annotation
    from corpus.release import gold
    from corpus.release.build import dataset_features, label_set
    from corpus.release.rows import CONFIGS, RowBuilder
    from corpus.release.splits import SPLITS, assign_split
    from corpus.store.table import CorpusStore

    labels = label_set()
    t = time.perf_counter()
    articles = {a.doc_id: a for a in CorpusStore(store_uri).iter_articles()}
    by_doc: dict[str, list[dict]] = {}
    with open(snap, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            by_doc.setdefault(d["doc_id"], []).append(d)
    files = [Path(snap)]
    idx, _, _ = gold.index_snapshots(files)
    chosen, _ = gold.select_gold(idx, "default")  # one annotation per document in this benchmark
    builder = RowBuilder(labels)
    rows = {c: {s: [] for s in SPLITS} for c in CONFIGS}
    for choice in chosen.to_pylist():
        doc_id = choice["doc_id"]
        art = articles[doc_id]
        ann = Annotation.from_dict(by_doc[doc_id][0])
        gold.anchor(ann, art.text, art.text_sha256)
        extra = {
            "annotator": ann.annotator,
            "annotation_origin": ann.origin,
            "annotation_policy": choice["policy"],
            "reanchored": False,
        }
        split = assign_split(doc_id)
        rows["documents"][split].append(builder.document_row(art, ann, extra))
        ner, attr = builder.token_rows(art, ann)
        rows["ner"][split] += ner
        rows["attribution"][split].append(attr)
    features = dataset_features(labels)
    for c in CONFIGS:
        for s in SPLITS:
            Dataset.from_list(rows[c][s], features=features[c]).to_parquet(f"{out}/{c}-{s}.parquet")
    return {"seconds": time.perf_counter() - t, "docs": chosen.num_rows}


def run_child(kind: str, store_uri: str, snap: str, out: str, n: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--store", store_uri, "--snap", snap, "--out", out, "--n", str(n)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        sys.exit(f"{kind} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--child", choices=["release", "naive"])
    ap.add_argument("--store")
    ap.add_argument("--snap")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child:
        import logging
        import os

        os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
        logging.disable(logging.WARNING)
        fn = child_release if a.child == "release" else child_naive
        r = fn(a.store, a.snap, a.out, a.n)
        r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(r))
        return

    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_release_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = {}
        for n in sorted({max(1, a.n // 4), max(1, a.n // 2), a.n}):
            sub = work / f"n{n}"
            sub.mkdir()
            t = time.perf_counter()
            store_uri, snap = prepare(sub, n)
            prep = time.perf_counter() - t
            (sub / "dist").mkdir()
            (sub / "naive").mkdir()
            rel = run_child("release", store_uri, snap, str(sub / "dist"), n)
            entry = {"prepare_s": round(prep, 1), "release": rel}
            if n == a.n:
                entry["naive"] = run_child("naive", store_uri, snap, str(sub / "naive"), n)
            results[n] = entry
            shutil.rmtree(sub)
        big = results[a.n]
        ratio = big["release"]["seconds"] / big["naive"]["seconds"]
        print(f"release build, {a.n} documents ({sum(big['release']['rows']['ner'].values())} ner rows):")
        for n, e in results.items():
            print(
                f"  n={n:>7}: release {e['release']['seconds']:7.1f} s, peak RSS {e['release']['peak_rss_mb']:7.0f} MB"
            )
        print(
            f"  naive Dataset.from_list + to_parquet, n={a.n}: {big['naive']['seconds']:.1f} s, peak RSS {big['naive']['peak_rss_mb']:.0f} MB"
        )
        mems = [e["release"]["peak_rss_mb"] for e in results.values()]
        print(f"  time ratio release/naive = {ratio:.2f} (goal <= 1.5)")
        print(
            f"  release peak RSS from n={min(results)} to n={a.n}: x{mems[-1] / mems[0]:.2f} "
            f"(naive/release memory at n={a.n}: x{big['naive']['peak_rss_mb'] / big['release']['peak_rss_mb']:.2f})"
        )
        print(json.dumps({"n": a.n, "ratio": round(ratio, 3), "results": results}))
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
