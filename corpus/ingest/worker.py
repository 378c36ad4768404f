"""Worker process of a big import (``corpus.ingest.importer``): build batches of staged rows.

Started as ``python -m corpus.ingest.worker FDS...`` by ``importer._Builder``, never forked from
the importing process (whose Arrow and Delta threads must not be copied) and never through
``multiprocessing`` (which re-imports the caller's ``__main__``). One process is started; once
it has imported its modules and loaded its compiled kernels (~0.6 CPU-s, before any thread of
its own exists) it forks the other workers, which start ready: a worker's start-up is paid once
per import, not once per worker. Each ``FDS`` is ``IN,OUT``, the pipe ends of one worker (the
importing process holds the other ends). Protocol, one line each:
stdin ``records<TAB>JOBS_PICKLE<TAB>OUT_ARROW`` (records read by the importer) or
``shard<TAB>SPEC_JSON<TAB>OUT_ARROW`` (lines of a JSONL file, read here); stdout
``{"rows": n, "errors": [[record number, problem as a dict]], "failed": [[record number,
doc_id, source key]], "items": records and problems read}``.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import pickle
import signal
import sys
from typing import IO, Any


class _NoPandas(importlib.abc.MetaPathFinder):
    """Refuses ``pandas`` (pyarrow then knows it is absent). ``sys.modules["pandas"] = None``
    would not do: pyarrow's compiled import takes the None for the module."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by import workers")
        return None


def main() -> None:
    # Ctrl-C is the importing process's to handle: it closes our stdin, and we stop after the batch
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # numba's first compiled call imports scipy.linalg (~0.5 s of each worker's start) only to
    # look for BLAS, which our kernels never call; nothing else here uses scipy
    sys.modules.setdefault("scipy", None)  # type: ignore[arg-type]
    # pyarrow imports pandas (~0.2 s) at its first array built from Python objects, only to
    # ask whether they are pandas objects: here they never are
    sys.meta_path.insert(0, _NoPandas())
    from corpus.core import textscan
    from corpus.ingest import dedup, importer  # noqa: F401  (imported once, before forking)

    textscan.settled_bytes([b"warm up"])  # the kernels' compiled code, loaded before forking
    dedup.signatures(["warm up the kernels"])
    pairs = [tuple(map(int, a.split(","))) for a in sys.argv[1:]]
    if not pairs:
        _serve(sys.stdin, sys.stdout)
        return
    children = []
    for k in range(1, len(pairs)):
        pid = os.fork()
        if pid == 0:  # a worker of its own: only its pipe ends stay open (EOF must reach both sides)
            _close(pairs[:k] + pairs[k + 1 :])
            code = 0
            try:
                _serve(os.fdopen(pairs[k][0], "r"), os.fdopen(pairs[k][1], "w"))
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    _close(pairs[1:])
    try:
        _serve(os.fdopen(pairs[0][0], "r"), os.fdopen(pairs[0][1], "w"))
    finally:
        for pid in children:  # the importer waits for this process: it waits for them
            os.waitpid(pid, 0)


def _close(pairs: list[tuple[int, ...]]) -> None:
    for fds in pairs:
        for fd in fds:
            os.close(fd)


def _serve(src: IO[str], dst: IO[str]) -> None:
    from corpus.ingest.importer import _build_rows, _Shard, _unpack, _write_ipc

    for line in src:
        kind, what, out_path = line.rstrip("\n").split("\t")
        if kind == "shard":
            built, items = _Shard.build(what)
        else:
            with open(what, "rb") as f:
                jobs = _unpack(pickle.load(f))
            built, items = _build_rows(jobs), len(jobs)
        if built.table is not None:
            _write_ipc(built.table, out_path)
        result = {
            "rows": built.table.num_rows if built.table is not None else 0,
            "errors": [[s, p.to_dict()] for s, p in built.errors],
            "failed": built.failed,
            "items": items,
        }
        dst.write(json.dumps(result) + "\n")
        dst.flush()


if __name__ == "__main__":
    main()
