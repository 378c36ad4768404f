"""Lookup tables built from Unicode data, kept on disk between processes.

The text scan's and the MinHash lower-casing's tables take ~0.15 s each to build in Python
(one ``unicodedata`` call per code point), paid again by every process that imports them:
each import worker, each CLI command. Like numba's compiled kernels (``cache=True``), they are
saved next to their module in ``__pycache__``, under a name that changes with anything they
depend on: the module's source, Python and its Unicode database, numpy, and ``versions`` (the
libraries the builder reads, e.g. ftfy); a new table replaces the one of earlier inputs. Where
that folder is not writable (a read-only install), tables are built each time, as before.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cached(name: str, build: Callable[[], np.ndarray], *versions: str, folder: Path | None = None) -> np.ndarray:
    """``build()``, or the table it built earlier with the same inputs (kept in ``folder``,
    by default the ``__pycache__`` beside ``build``'s module)."""
    source = Path(build.__code__.co_filename)
    try:
        code = source.read_bytes()
    except OSError:  # (no source: a zipped install)
        return build()
    key = hashlib.sha256(
        repr((code, sys.version, unicodedata.unidata_version, versions, np.__version__)).encode()
    ).hexdigest()[:16]
    path = (folder or source.parent / "__pycache__") / f"{source.stem}.{name}-{key}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):  # not there yet, or unreadable: built again
        pass
    table = build()
    try:
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return table
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, table, allow_pickle=False)
        os.replace(tmp, path)  # whole or absent: a process reading it never sees half a table
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return table
    for old in path.parent.glob(f"{source.stem}.{name}-*.npy"):  # tables of earlier inputs
        if old != path:
            old.unlink(missing_ok=True)
    return table
