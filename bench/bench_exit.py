"""Clean exits: ``corpus validate --store ... --json`` run N times in fresh processes; every run
must exit 0 (an abort at interpreter exit is 134: "terminate called without an active exception",
a pyarrow scan thread outliving its reader). Prints one JSON object: runs, exit codes, ok.

    .venv/bin/python bench/bench_exit.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.ingest.importer import import_paths  # noqa: E402
from corpus.store.table import CorpusStore  # noqa: E402

CLI = [sys.executable, "-c", "from corpus.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "a.txt").write_text("Title\nThe mayor said the old bridge was unsafe for traffic.\n")
        st = CorpusStore(str(tmp / "store"))
        import_paths([tmp / "a.txt"], st)
        art = next(iter(st.iter_articles()))
        rec = {"doc_id": art.doc_id, "text_sha256": art.text_sha256, "annotator": "a@example.com"}
        rec.update(entities=[], events=[], attributions=[])
        (tmp / "recs.jsonl").write_text(json.dumps(rec) + "\n")
        codes: Counter = Counter()
        for _ in range(args.runs):
            r = subprocess.run(
                [*CLI, "validate", str(tmp / "recs.jsonl"), "--store", st.uri, "--json"],
                capture_output=True,
                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            )
            codes[r.returncode] += 1
    print(json.dumps({"runs": args.runs, "exit_codes": dict(codes), "ok": set(codes) == {0}}))
    sys.exit(0 if set(codes) == {0} else 1)


if __name__ == "__main__":
    main()
