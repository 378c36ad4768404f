"""MinHash signatures of texts (scheme ``oph-splitmix64-w3-v1``), compiled with numba.

The scheme (see ``corpus.ingest.dedup`` for why): the text is lower-cased (``str.lower``) and
cut into words at ASCII whitespace (space, ``\\t \\n \\v \\f \\r``, ``\\x1c``-``\\x1f``); a word's
hash is the polynomial ``sum(byte_i * P**i) mod 2**64`` over its UTF-8 bytes (surrogatepass);
a shingle is three consecutive words, ``(a*M0) ^ (b*M1) ^ (c*M2)`` (texts of one or two words:
the words, texts without words: one shingle 0); each shingle is finalized with splitmix64, whose
top 32 bits pick one of ``num_perm`` bins and whose low 32 bits are the value; a bin keeps its
minimum; an empty bin borrows the value of the first non-empty bin of a fixed probe sequence.

Why numba: this loop touches every byte of every imported text. As numpy array passes it cost
~40 us per 2 KB article, the biggest part of an import; compiled, one pass costs ~10 us. The
lower-casing happens inside the pass too (a code point table built from ``str.lower``, so the
result is ``str.lower``'s), except for texts holding the two characters whose lower case
depends on their context or is two characters (U+0130, U+03A3): those are lowered by Python.
Compiled code is cached next to this module (``cache=True``), so a process pays the compile
(~4 s) once per installation and later processes load it in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from corpus.core import tablecache

_P = np.uint64(1099511628211)
_M0 = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xC2B2AE3D27D4EB4F)
_M2 = np.uint64(0x165667B19E3779F9)
_M32 = np.uint64(0xFFFFFFFF)
_EMPTY = np.uint64(1 << 32)
_S32 = np.uint64(32)
_PROBES = 4096  # densification tries before the cyclic fallback: (1 - 1/128) ** 4096 ~ 1e-14
# No code point at or above this has a lower case other than itself (tests/ingest/test_dedup.py).
LOWER_LIMIT = 0x20000
_PYTHON_LOWERS = ("\u0130", "\u03a3")  # İ -> i + U+0307, and Σ (final sigma depends on context)


def _lower_table() -> np.ndarray:
    table = np.arange(LOWER_LIMIT, dtype=np.int32)
    for c in range(0x80, LOWER_LIMIT):
        low = chr(c).lower()
        if len(low) == 1 and low != chr(c):
            table[c] = ord(low)
    return table


_LOWER = tablecache.cached("lower", _lower_table)


@njit(cache=True, nogil=True)
def _mix(x: np.uint64) -> np.uint64:  # splitmix64 finalizer
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def _words(buf, start, end, lower, lowered, out):
    """Hashes of the lower-cased words of ``buf[start:end]`` into ``out``; returns their count."""
    n = 0
    h = np.uint64(0)
    pw = np.uint64(1)
    inword = False
    i = start
    while i < end:
        c = buf[i]
        if c < 0x80:
            i += 1
            if c == 32 or (9 <= c <= 13) or (28 <= c <= 31):
                if inword:
                    out[n] = h
                    n += 1
                    h = np.uint64(0)
                    pw = np.uint64(1)
                    inword = False
                continue
            if not lowered and 65 <= c <= 90:
                c += 32
            h += np.uint64(c) * pw
            pw *= _P
            inword = True
            continue
        if c >= 0xF0:
            k, cp = 4, np.int64(c & 0x07)
        elif c >= 0xE0:
            k, cp = 3, np.int64(c & 0x0F)
        else:
            k, cp = 2, np.int64(c & 0x1F)
        for q in range(1, k):
            cp = (cp << 6) | np.int64(buf[i + q] & 0x3F)
        low = cp
        if not lowered and cp < len(lower):
            low = np.int64(lower[cp])
        if low == cp:  # the bytes as they are
            for q in range(k):
                h += np.uint64(buf[i + q]) * pw
                pw *= _P
        else:  # the UTF-8 bytes of the lower-case code point
            if low < 0x80:
                h += np.uint64(low) * pw
                pw *= _P
            elif low < 0x800:
                h += np.uint64(0xC0 | (low >> 6)) * pw
                pw *= _P
                h += np.uint64(0x80 | (low & 0x3F)) * pw
                pw *= _P
            elif low < 0x10000:
                h += np.uint64(0xE0 | (low >> 12)) * pw
                pw *= _P
                h += np.uint64(0x80 | ((low >> 6) & 0x3F)) * pw
                pw *= _P
                h += np.uint64(0x80 | (low & 0x3F)) * pw
                pw *= _P
            else:
                h += np.uint64(0xF0 | (low >> 18)) * pw
                pw *= _P
                h += np.uint64(0x80 | ((low >> 12) & 0x3F)) * pw
                pw *= _P
                h += np.uint64(0x80 | ((low >> 6) & 0x3F)) * pw
                pw *= _P
                h += np.uint64(0x80 | (low & 0x3F)) * pw
                pw *= _P
        inword = True
        i += k
    if inword:
        out[n] = h
        n += 1
    return n


@njit(cache=True, nogil=True)
def _shingles(words, n, out):
    """Shingle hashes of ``words[:n]`` into ``out``; returns their count."""
    if n >= 3:
        for i in range(n - 2):
            out[i] = (words[i] * _M0) ^ (words[i + 1] * _M1) ^ (words[i + 2] * _M2)
        return n - 2
    if n == 0:
        out[0] = np.uint64(0)
        return 1
    for i in range(n):
        out[i] = words[i]
    return n


@njit(cache=True, nogil=True)
def _sign(buf, offsets, lowered, lower, num_perm):
    n_docs = len(offsets) - 1
    out = np.empty((n_docs, num_perm), np.uint32)
    longest = 0
    for d in range(n_docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    words = np.empty(longest // 2 + 2, np.uint64)
    sh = np.empty(longest // 2 + 2, np.uint64)
    sig = np.empty(num_perm, np.uint64)
    orig = np.empty(num_perm, np.uint64)
    k = np.uint64(num_perm)
    for d in range(n_docs):
        nw = _words(buf, offsets[d], offsets[d + 1], lower, lowered[d], words)
        ns = _shingles(words, nw, sh)
        sig[:] = _EMPTY
        for i in range(ns):
            x = _mix(sh[i])
            j = ((x >> _S32) * k) >> _S32
            v = x & _M32
            if v < sig[j]:
                sig[j] = v
        orig[:] = sig
        for j in range(num_perm):
            if orig[j] != _EMPTY:
                continue
            jj = np.uint64(j) * _M0
            found = False
            for t in range(1, _PROBES + 1):
                c = ((_mix(jj + np.uint64(t)) >> _S32) * k) >> _S32
                if orig[c] != _EMPTY:
                    sig[j] = orig[c]
                    found = True
                    break
            if not found:  # the next non-empty bin, cyclically
                for q in range(1, num_perm):
                    if orig[(j + q) % num_perm] != _EMPTY:
                        sig[j] = orig[(j + q) % num_perm]
                        break
        for j in range(num_perm):
            out[d, j] = np.uint32(sig[j])
    return out


def _prepare(text: str, data: bytes | None = None) -> tuple[bytes, bool]:
    """The bytes the kernels read, and whether they are lower-cased already (``data``: the
    text's UTF-8, when the caller has it)."""
    if "\u0130" in text or "\u03a3" in text:  # _PYTHON_LOWERS (a generator per text cost ~1 us)
        return text.lower().encode("utf-8", "surrogatepass"), True
    return (data if data is not None else text.encode("utf-8", "surrogatepass")), False


def signatures(texts: Sequence[str], num_perm: int, encoded: Sequence[bytes | None] | None = None) -> np.ndarray:
    """Signatures of many texts at once: (len(texts), num_perm) uint32. Row i depends on
    ``texts[i]`` only, so batching changes nothing but speed. ``encoded[i]``: the UTF-8 of
    ``texts[i]`` (surrogatepass) when the caller has it, else None."""
    prepared = [_prepare(t, e) for t, e in zip(texts, encoded)] if encoded is not None else [_prepare(t) for t in texts]
    offsets = np.zeros(len(prepared) + 1, np.int64)
    np.cumsum(np.fromiter((len(b) for b, _ in prepared), np.int64, len(prepared)), out=offsets[1:])
    buf = np.frombuffer(b"".join(b for b, _ in prepared), np.uint8)
    lowered = np.fromiter((low for _, low in prepared), np.bool_, len(prepared))
    return _sign(buf, offsets, lowered, _LOWER, num_perm)


def word_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the lower-cased, whitespace-separated words of ``text``."""
    raw, lowered = _prepare(text)
    out = np.empty(len(raw) // 2 + 2, np.uint64)
    return out[: _words(np.frombuffer(raw, np.uint8), 0, len(raw), _LOWER, lowered, out)].copy()


def shingle_hashes(text: str) -> list[int]:
    """64-bit hashes of the lower-cased word 3-grams (single words for very short texts)."""
    w = word_hashes(text)
    out = np.empty(len(w) + 1, np.uint64)
    return out[: _shingles(w, len(w), out)].tolist()
