"""Train / validation / test assignment by a hash of the document id (pure).

Why a hash and not a shuffle: the split of a document must not depend on which other documents
are in the release, so adding articles in a later release never moves an existing one between
splits (no test document leaks into a later train split). The bucket is a fixed function of the
doc id alone; only changing the ratios moves documents, and the card records the ratios.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from corpus.core.errors import UsageError

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)
_SALT = b"newscorpus-split-v1:"


def parse_ratios(value: str | Sequence[float] | None) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> (0.8, 0.1, 0.1); three non-negative numbers summing to 1."""
    if value is None:
        return DEFAULT_RATIOS
    try:
        parts = [float(x) for x in (value.split(",") if isinstance(value, str) else value)]
    except ValueError:
        raise UsageError(f"split_ratios {value!r} is not three numbers", hint="Write e.g. 0.8,0.1,0.1.") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise UsageError(
            f"split_ratios {value!r} must be three non-negative numbers (train,validation,test) summing to 1",
            hint="Write e.g. 0.8,0.1,0.1.",
        )
    return parts[0], parts[1], parts[2]


def bucket(doc_id: str) -> float:
    """A number in [0, 1) fixed for ``doc_id`` (first 8 bytes of a salted SHA-256)."""
    digest = hashlib.sha256(_SALT + doc_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_split(doc_id: str, ratios: Sequence[float] = DEFAULT_RATIOS) -> str:
    b = bucket(doc_id)
    if b < ratios[0]:
        return "train"
    if b < ratios[0] + ratios[1]:
        return "validation"
    return "test"
