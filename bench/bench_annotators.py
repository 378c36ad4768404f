"""Load: a team of simulated annotators submitting through the API at once, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_annotators.py                      # 20 annotators, 300 s per database
    .venv/bin/python bench/bench_annotators.py --seconds 30         # shorter
    .venv/bin/python bench/bench_annotators.py --databases postgresql

For each database it starts its own Label Studio on 127.0.0.1 (SQLite: a copy of the cached
template data dir; PostgreSQL: a cluster under the data dir, see corpus.labelstudio.postgres),
pushes ``--tasks`` generated articles, creates ``--annotators`` users and lets each of them, in its
own thread, annotate tasks (one entity region per annotation, a task at most once per annotator)
for ``--seconds`` seconds. Then it pulls the project and checks that every annotation the API
acknowledged is in the snapshot exactly once.

Prints one JSON object: submissions, submissions/s, errors (by kind), p50/p95 latency, and the
exactly-once check, per database; and the PostgreSQL / SQLite throughput ratio of the same run.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(database: str, args: argparse.Namespace) -> dict:
    from corpus.annotations import lsformat
    from corpus.core import taxonomy
    from corpus.core.errors import CorpusError
    from corpus.core.model import Annotation, Entity, Span
    from corpus.ingest.importer import import_paths
    from corpus.labelstudio import server as lsserver
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.pull import pull
    from corpus.labelstudio.push import push
    from corpus.store.snapshot import iter_snapshot_records
    from corpus.store.table import CorpusStore

    root = Path(tempfile.mkdtemp(prefix=f"bench-annotators-{database}-", dir="/tmp"))
    root.chmod(0o711)  # as root, PostgreSQL's own system user must walk down to the cluster
    try:
        src = root / "src"
        src.mkdir()
        for i in range(args.tasks):
            (src / f"a{i:05d}.txt").write_text(
                f"Report {i}. Sean Parnell said the convoy reached the border near Deir ez-Zor on day {i}.\n",
                encoding="utf-8",
            )
        store = CorpusStore(str(root / "store"))
        import_paths([src], store, source="bench")
        creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "bench")
        info = lsserver.start(root / "ls", lsserver.free_port(), creds=creds, database=database, timeout=600)
        try:
            admin = LSClient(info.url, creds.token)
            rep = push(admin, store, "bench-annotators")
            tasks = list(admin.task_data(rep.project_id))
            users = [
                admin.create_user(f"ann{k}@example.com", f"pw-ann{k}-123456")["id"] for k in range(args.annotators)
            ]
            tax = taxonomy.load()
            label = tax.entity_labels()[0]
            results = [tasks_result(t, tax, label, lsformat, Annotation, Entity, Span) for t in tasks]
            acked: list[int] = []
            errors: Counter = Counter()
            latencies: list[float] = []
            lock = threading.Lock()
            stop_at = time.monotonic() + args.seconds

            def annotator(k: int) -> None:
                client = LSClient(info.url, creds.token)
                try:
                    i = k * 7919 % len(tasks)
                    for _ in range(len(tasks)):
                        if time.monotonic() >= stop_at:
                            return
                        t0 = time.perf_counter()
                        try:
                            made = client.create_annotation(tasks[i]["id"], results[i], completed_by=users[k])
                            with lock:
                                acked.append(made["id"])
                                latencies.append(time.perf_counter() - t0)
                        except CorpusError as e:
                            with lock:
                                errors[type(e).__name__] += 1
                        i = (i + 1) % len(tasks)
                finally:
                    client.close()

            t0 = time.perf_counter()
            threads = [threading.Thread(target=annotator, args=(k,)) for k in range(args.annotators)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            elapsed = time.perf_counter() - t0
            out = root / "snap"
            pull(admin, "bench-annotators", out=out)
            pulled = Counter(r["annotation_id"] for _f, _no, r in iter_snapshot_records(out))
            missing = [a for a in acked if pulled[a] == 0]
            doubled = [a for a, n in pulled.items() if n > 1]
            admin.close()
        finally:
            lsserver.stop(root / "ls")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lat = sorted(latencies)
    return {
        "database": database,
        "annotators": args.annotators,
        "seconds": round(elapsed, 1),
        "submissions": len(acked),
        "submissions_per_s": round(len(acked) / elapsed, 2),
        "errors": dict(errors),
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(lat[int(0.95 * (len(lat) - 1))], 3) if lat else None,
        "pulled": sum(pulled.values()),
        "missing": len(missing),
        "duplicated": len(doubled),
        "exactly_once": not missing and not doubled and sum(pulled.values()) == len(acked),
    }


def tasks_result(task, tax, label, lsformat, Annotation, Entity, Span) -> list:
    text = task["data"]["text"]
    start = text.index("Sean Parnell")
    ann = Annotation(
        task["data"]["doc_id"],
        "",
        "bench",
        entities=[Entity("e1", label, Span.from_offsets(text, [(start, start + 12)]))],
    )
    return lsformat.to_labelstudio(ann, text, tax)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--tasks", type=int, default=2000, help="enough that no annotator runs out during --seconds")
    ap.add_argument("--databases", default="sqlite,postgresql")
    args = ap.parse_args()
    runs = {db: run(db, args) for db in args.databases.split(",")}
    out: dict = {"runs": runs}
    if {"sqlite", "postgresql"} <= runs.keys() and runs["sqlite"]["submissions_per_s"]:
        out["postgresql_vs_sqlite_throughput"] = round(
            runs["postgresql"]["submissions_per_s"] / runs["sqlite"]["submissions_per_s"], 2
        )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
