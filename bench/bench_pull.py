"""Benchmark: `corpus pull` and `corpus status` of a large annotated project, time and peak RSS.

    .venv/bin/python bench/bench_pull.py                 # 5,000 and 20,000 tasks
    .venv/bin/python bench/bench_pull.py --sizes 2000    # smaller

Starts its own Label Studio (127.0.0.1, free port), and for each size makes a project whose
tasks (generated ~2 KB articles) each carry one annotation with a few entity regions, imported in
bulk (tasks with their annotations, as Label Studio's import API takes them). Then it runs
``corpus pull`` and ``corpus status`` as subprocesses and reads their peak RSS from the kernel
(``RUSAGE_CHILDREN`` of a fresh child each), so the figure is the command's own.

Prints one JSON object: seconds, peak RSS (MB), records pulled per size, and the RSS ratio of the
largest size to the smallest (flat memory: close to 1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = str(Path(sys.executable).with_name("corpus"))
WORDS = (
    "coalition strike forces province officials said reported ministry attack city government military "
    "council election vote parliament minister talks agreement border troops region security spokesman"
).split()


def text_of(k: int) -> str:
    rnd = random.Random(k)
    sents = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 20))).capitalize() + "." for _ in range(20)]
    return f"Sean Parnell spoke in Syria on day {k}. " + " ".join(sents)


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds and peak RSS (MB) of one command run in a child that only waits for it."""
    probe = (
        "import resource, subprocess, sys, json, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'rc': p.returncode, 's': dt, 'rss': rss, 'out': p.stdout[-4000:], 'err': p.stderr[-2000:]}))\n"
    )
    r = json.loads(subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, env=env).stdout)
    if r["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r['rc']}): {r['err']}")
    return r["s"], r["rss"], r["out"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5000,20000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from corpus.core import taxonomy
    from corpus.labelstudio import server as lsserver
    from corpus.labelstudio.client import LSClient

    tax = taxonomy.load()
    label = tax.entity_labels()[0]
    control = tax.control(taxonomy.ENTITIES)
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        work = Path(tmp)
        creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "bench")
        info = lsserver.start(work / "ls", lsserver.free_port(), creds=creds, timeout=600)
        env = {**os.environ, "LABEL_STUDIO_URL": info.url, "LABEL_STUDIO_API_KEY": creds.token}
        results = {}
        try:
            client = LSClient(info.url, creds.token)
            for n in sizes:
                title = f"bench-pull-{n}"
                proj = client.create_project(title, taxonomy.labelstudio_config(tax))
                t = time.perf_counter()
                for lo in range(0, n, 2000):
                    batch = []
                    for k in range(lo, min(n, lo + 2000)):
                        text = text_of(k)
                        batch.append(
                            {
                                "data": {"text": text, "doc_id": f"{k:016x}", "text_sha256": ""},
                                "annotations": [
                                    {
                                        "result": [
                                            {
                                                "id": f"r{k}",
                                                "from_name": control,
                                                "to_name": "text",
                                                "type": "labels",
                                                "value": {"start": 0, "end": 12, "text": text[:12], "labels": [label]},
                                            },
                                        ]
                                    }
                                ],
                            }
                        )
                    client.import_tasks(int(proj["id"]), batch)
                t_import = time.perf_counter() - t
                out = work / f"snap-{n}"
                s_pull, rss_pull, _ = measured([CORPUS, "pull", "--project", title, "--out", str(out), "--json"], env)
                pulled = sum(1 for f in out.glob("*.jsonl") if not f.name.endswith(".errors.jsonl") for _ in open(f))
                s_status, rss_status, status_out = measured([CORPUS, "status", "--project", title, "--json"], env)
                results[n] = {
                    "import_s": round(t_import, 1),
                    "pull_s": round(s_pull, 1),
                    "pull_peak_rss_mb": round(rss_pull),
                    "records": pulled,
                    "status_s": round(s_status, 1),
                    "status_peak_rss_mb": round(rss_status),
                    "status_tasks": json.loads(status_out)["tasks"],
                }
            client.close()
        finally:
            lsserver.stop(work / "ls")
    lo, hi = min(sizes), max(sizes)
    out = {"sizes": results}
    if hi != lo:
        out[f"pull_rss_{hi}_vs_{lo}"] = round(results[hi]["pull_peak_rss_mb"] / results[lo]["pull_peak_rss_mb"], 2)
        out[f"status_rss_{hi}_vs_{lo}"] = round(
            results[hi]["status_peak_rss_mb"] / results[lo]["status_peak_rss_mb"], 2
        )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
