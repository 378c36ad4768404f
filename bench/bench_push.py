"""Benchmark: `corpus push` of N articles vs one raw SDK import of the same tasks, and a re-push.

    .venv/bin/python bench/bench_push.py            # 5,000 articles
    .venv/bin/python bench/bench_push.py --n 1000   # smaller

Starts its own Label Studio (127.0.0.1, free port, copy of the cached template data dir), builds
a Delta store of N generated articles (~2-3 KB each), then measures in the same run:

* raw:    ONE ``projects.import_tasks`` call with all N tasks (exactly the dicts push sends)
          into a fresh project: the floor for getting these tasks into Label Studio;
* push:   ``corpus.labelstudio.push.push`` into another fresh project (reads the store, lists the project,
          batches, our retry bookkeeping). Goal: push / raw <= 1.5;
* repush: the same push again (everything is skipped). Goal: repush / push <= 0.10.

Prints one JSON object with the figures and the ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = (
    "coalition strike forces province officials said reported ministry attack city government military "
    "council election vote parliament minister talks agreement border troops region security spokesman "
    "statement according sources confirmed warned residents aid convoy supplies week month during after"
).split()


def make_store(path: Path, n: int) -> str:
    """N generated articles (distinct texts, ~2-3 KB), imported with corpus.ingest.importer."""
    from corpus.core.model import Article, make_doc_id
    from corpus.ingest.importer import import_articles
    from corpus.store.table import CorpusStore

    store = CorpusStore(str(path))

    def articles():
        for k in range(n):
            rnd = random.Random(k)
            sents = []
            for _ in range(rnd.randint(15, 30)):
                words = [rnd.choice(WORDS) for _ in range(rnd.randint(8, 20))]
                sents.append(" ".join(words).capitalize() + ".")
            if k % 3 == 0:
                sents.insert(1, f"The spokesman said the convoy reached the border on day {k}.")
            yield Article(
                doc_id=make_doc_id(f"bench:{k}"),
                text=" ".join(sents),
                title=f"Bench article {k}",
                source="bench",
                published="2025-01-20",
                url=f"https://example.org/{k}",
            )

    rep = import_articles(store, articles(), message="bench push")
    assert rep.added + rep.near_duplicates == n, rep.counts()
    return store.uri


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3, help="repeat and report medians (the machine may be busy)")
    ap.add_argument("--predictions", default=None, help="also measure with pre-annotations (e.g. rules)")
    args = ap.parse_args()

    from corpus.core import taxonomy
    from corpus.labelstudio import server as lsserver
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.push import Predictor, PushReport, make_task, push
    from corpus.predict.preannotate import load_preannotator
    from corpus.store.table import CorpusStore

    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        store = CorpusStore(make_store(work / "store", args.n))
        t_store = time.perf_counter() - t
        creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "bench")
        info = lsserver.start(work / "ls", lsserver.free_port(), creds=creds)
        try:
            client = LSClient(info.url, creds.token)
            tax = taxonomy.load()
            config = taxonomy.labelstudio_config(tax)
            version = store.resolve_version(None)

            # The raw side sends exactly the task dicts push sends (with the same predictions, if any),
            # made before the clock starts.
            pre = load_preannotator(args.predictions)
            predictor = Predictor(pre, tax, PushReport(0)) if pre is not None else None
            tasks = []
            for a in store.iter_articles(version):
                task = make_task(a, version, str(tax.version))
                if predictor is not None:
                    task["predictions"] = predictor.predictions_for(a)
                tasks.append(task)
            # warm-up: Django loads the import machinery on first use; neither side should pay it
            warm = client.create_project("bench-warm-up", config)
            client.import_tasks(warm["id"], tasks[:50])
            raws, pushes, repushes = [], [], []
            for rnd in range(args.rounds):
                # raw: one SDK call with the very same task dicts, into a fresh project
                raw_project = client.create_project(f"bench-raw-{rnd}", config)
                t = time.perf_counter()
                ids = client.import_tasks(raw_project["id"], tasks)
                raws.append(time.perf_counter() - t)
                assert len(ids) == args.n, len(ids)

                t = time.perf_counter()
                r1 = push(client, store, f"bench-push-{rnd}", batch_size=args.batch_size, preannotator=pre)
                pushes.append(time.perf_counter() - t)
                assert r1.pushed == args.n and not r1.errors, r1.to_dict()

                t = time.perf_counter()
                r2 = push(client, store, f"bench-push-{rnd}", batch_size=args.batch_size, preannotator=pre)
                repushes.append(time.perf_counter() - t)
                assert r2.pushed == 0 and r2.skipped == args.n, r2.to_dict()
                for p in (raw_project["id"], r1.project_id):
                    client.delete_project(p)
            client.close()
        finally:
            lsserver.stop(work / "ls")

    t_raw, t_push, t_repush = (statistics.median(x) for x in (raws, pushes, repushes))
    result = {
        "n": args.n,
        "rounds": args.rounds,
        "batch_size": args.batch_size,
        "predictions": args.predictions,
        "store_build_s": round(t_store, 2),
        "raw_import_s": round(t_raw, 2),
        "push_s": round(t_push, 2),
        "repush_s": round(t_repush, 2),
        "push_over_raw": round(t_push / t_raw, 3),
        "repush_over_push": round(t_repush / t_push, 3),
        "all_s": {
            "raw": [round(x, 2) for x in raws],
            "push": [round(x, 2) for x in pushes],
            "repush": [round(x, 2) for x in repushes],
        },
        "goals": {"push_over_raw": 1.5, "repush_over_push": 0.10},
    }
    result["ok"] = result["push_over_raw"] <= 1.5 and result["repush_over_push"] <= 0.10
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
