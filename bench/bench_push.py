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

With ``--vs-predictions NAME`` (``make bench``: ``--n 1000 --vs-predictions spacy``) it measures
instead, on the same server and store, a push without predictions and a push with ``NAME``'s
pre-annotations (run, validated, converted and sent with the tasks), each into a fresh project,
and reports the ratio with / without (no goal in the issue: the figure is the cost of
pre-annotation at push time) and the predictions sent.

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
    ap.add_argument(
        "--vs-predictions", default=None, metavar="NAME", help="push with NAME's predictions vs without, same run"
    )
    args = ap.parse_args()
    if args.vs_predictions:
        print(json.dumps(with_vs_without(args), indent=2))
        return

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


def with_vs_without(args: argparse.Namespace) -> dict:
    """Push N articles without predictions and with ``args.vs_predictions``, each into a fresh project."""
    import os

    from corpus.core import taxonomy
    from corpus.labelstudio import server as lsserver
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.push import push
    from corpus.predict.preannotate import load_preannotator
    from corpus.store.table import CorpusStore

    with tempfile.TemporaryDirectory(prefix="bench-push-pred-") as tmp:
        work = Path(tmp)
        store = CorpusStore(make_store(work / "store", args.n))
        creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "bench")
        info = lsserver.start(work / "ls", lsserver.free_port(), creds=creds)
        try:
            client = LSClient(info.url, creds.token)
            pre = load_preannotator(args.vs_predictions)  # loaded (and warmed) before the clock starts
            arts = list(store.iter_articles(store.resolve_version(None)))
            getattr(pre, "predict_many", lambda a: [pre.predict(x) for x in a])(arts[:10])
            warm = client.create_project("bench-warm-up", taxonomy.labelstudio_config(taxonomy.load()))
            client.import_tasks(warm["id"], [{"data": {"text": a.text}} for a in arts[:50]])
            without, with_, cpu_with, cpu_without, sent = [], [], [], [], 0
            for rnd in range(args.rounds):
                for label, p in (("without", None), ("with", pre)):
                    t, c = time.perf_counter(), time.process_time()
                    r = push(client, store, f"bench-{label}-{rnd}", batch_size=args.batch_size, preannotator=p)
                    dt, dc = time.perf_counter() - t, time.process_time() - c
                    assert r.pushed == args.n and not r.errors, r.to_dict()
                    (with_ if p else without).append(dt)
                    (cpu_with if p else cpu_without).append(dc)
                    if p:
                        sent = r.predictions
                    client.delete_project(r.project_id)
            client.close()
        finally:
            lsserver.stop(work / "ls")
    t_without, t_with = statistics.median(without), statistics.median(with_)
    return {
        "n": args.n,
        "rounds": args.rounds,
        "predictions": args.vs_predictions,
        "model_version": getattr(pre, "model_version", None),
        "predictions_sent": sent,
        "push_without_s": round(t_without, 2),
        "push_with_s": round(t_with, 2),
        "with_over_without": round(t_with / t_without, 3),
        # what the ratio is made of: the pre-annotation (run, validated, converted) per article
        "preannotation_s_per_article": round((t_with - t_without) / args.n, 4),
        "client_cpu_s": {
            "without": round(statistics.median(cpu_without), 2),
            "with": round(statistics.median(cpu_with), 2),
        },
        "all_s": {"without": [round(x, 2) for x in without], "with": [round(x, 2) for x in with_]},
        "load_average": os.getloadavg(),
    }


if __name__ == "__main__":
    main()
