"""Arrow arrays built from their buffers, for the import's hot paths.

``pa.array`` of Python objects (or of a numpy array) first asks whether they are pandas objects,
and that question imports pandas (~0.4 CPU-s) in a process that never uses it: the importing
process of ``corpus import`` spent that on its first cluster column. These build the same arrays
from numpy buffers, without the question.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def bool_array(mask: np.ndarray) -> pa.Array:
    """A boolean array of a numpy mask (no nulls)."""
    mask = np.asarray(mask, dtype=bool)
    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)], null_count=0)


def string_array(values: Sequence[str | None]) -> pa.Array:
    """A string array of Python strings and Nones."""
    n = len(values)
    valid = np.fromiter((v is not None for v in values), bool, n)
    data = [v.encode("utf-8") for v in values if v is not None]
    offsets = np.zeros(n + 1, np.int64)
    if data:
        lengths = np.zeros(n, np.int64)
        lengths[valid] = np.fromiter(map(len, data), np.int64, len(data))
        np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        return pa.array(values, pa.string())  # (more than 2 GB of text: Arrow's own chunking)
    nulls = n - int(valid.sum())
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    buffers = [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), n, buffers, null_count=nulls)


def repeat_string(value: str, n: int) -> pa.Array:
    """``n`` times the same string."""
    b = value.encode("utf-8")
    offsets = (np.arange(n + 1, dtype=np.int64) * len(b)).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(b * n)], null_count=0)


def int64_array(values: np.ndarray) -> pa.Array:
    """An int64 array of a numpy array (no nulls)."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)], null_count=0)
