"""Worker process of a big import (``corpus.ingest.importer``): normalize + hash batches of records.

Started as ``python -m corpus.ingest.worker DIR`` by ``ingest._Builder``, never forked from
the importing process (whose Arrow and Delta threads must not be copied) and never through
``multiprocessing`` (which re-imports the caller's ``__main__``). Protocol, one line each:
stdin ``JOBS_PICKLE OUT_ARROW``; stdout ``{"rows": n, "errors": [[record number, problem as a dict]]}``.
"""

from __future__ import annotations

import json
import pickle
import signal
import sys


def main() -> None:
    # Ctrl-C is the importing process's to handle: it closes our stdin, and we stop after the batch
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from corpus.ingest.importer import _build_rows, _unpack, _write_ipc

    for line in sys.stdin:
        jobs_path, out_path = line.rstrip("\n").split("\t")
        with open(jobs_path, "rb") as f:
            jobs = _unpack(pickle.load(f))
        table, errors = _build_rows(jobs)
        if table is not None:
            _write_ipc(table, out_path)
        sys.stdout.write(
            json.dumps(
                {"rows": table.num_rows if table is not None else 0, "errors": [[s, p.to_dict()] for s, p in errors]}
            )
            + "\n"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
