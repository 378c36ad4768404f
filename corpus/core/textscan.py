"""Which texts ``normalize_text`` cannot change, decided for a whole batch in one compiled pass.

``normalize_text`` returns a text unchanged when it has no ``\\r``, nothing ftfy could repair
(``normalize.maybe_mojibake``: no two adjacent non-ASCII characters and no non-ASCII character
among ftfy's isolated triggers) and is NFC. In Python those checks cost ~12 us per 2 KB
article (two scans: a regex and ``unicodedata.is_normalized``), the biggest part of building
an imported row; here one pass over the UTF-8 bytes costs well under a microsecond.

The NFC part is Unicode's quick check, made conservative: a text all of whose code points are
starters (canonical combining class 0) with ``NFC_Quick_Check=Yes`` is NFC. The table marks the
others, read off this interpreter's ``unicodedata`` (so the answer is its Unicode version's):
combining marks; characters NFC rewrites (singletons, exclusions); characters that can be the
second of a canonical pair (the quick check's "Maybe", e.g. the Hangul vowel and trailing
jamo); and, to keep the table small, every code point beyond the BMP. A marked text is not
necessarily changed: it just takes the full path (``normalize_text``), so a mark too many costs
time, never a different stored text (``tests/core/test_normalize.py`` compares both paths on
hypothesis-generated hard cases).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
from numba import njit

from corpus.core import normalize, tablecache

_MOJIBAKE = 1  # a non-ASCII character that is an ftfy trigger on its own (C1, surrogates, ...)
_NOT_NFC_SAFE = 2  # not a starter with NFC_Quick_Check=Yes (or not known to be)
_HANGUL_V = range(0x1161, 0x1176)  # jamo composed with a preceding L (or LV) jamo
_HANGUL_T = range(0x11A8, 0x11C3)


def _table() -> np.ndarray:
    table = np.zeros(0x10000, np.uint8)
    singles = normalize._SINGLES
    for c in range(0x80, 0x10000):
        ch = chr(c)
        if singles is None or ch in singles or 0x80 <= c <= 0x9F or 0xD800 <= c <= 0xDFFF:
            table[c] |= _MOJIBAKE
        if 0xD800 <= c <= 0xDFFF:
            continue
        if unicodedata.combining(ch) or unicodedata.normalize("NFC", ch) != ch:
            table[c] |= _NOT_NFC_SAFE
        parts = unicodedata.decomposition(ch).split()
        if len(parts) == 2 and not parts[0].startswith("<"):  # canonical pair: its second is "Maybe"
            second = int(parts[1], 16)
            if second < 0x10000:
                table[second] |= _NOT_NFC_SAFE
    for c in (*_HANGUL_V, *_HANGUL_T):
        table[c] |= _NOT_NFC_SAFE
    return table


_TABLE: np.ndarray | None = None


@njit(cache=True, nogil=True)
def _scan(buf, offsets, table):
    """Per text: True when it has no ``\\r``, no two adjacent non-ASCII characters and no
    marked code point (see the module docstring)."""
    n = len(offsets) - 1
    out = np.ones(n, np.bool_)
    for d in range(n):
        i, end = offsets[d], offsets[d + 1]
        prev = False  # the previous character was non-ASCII
        while i < end:
            c = buf[i]
            if c < 0x80:
                if c == 13:
                    out[d] = False
                    break
                prev = False
                i += 1
                continue
            if prev or c >= 0xF0:  # two non-ASCII in a row, or beyond the BMP
                out[d] = False
                break
            if c >= 0xE0:
                cp = ((c & 0x0F) << 12) | ((buf[i + 1] & 0x3F) << 6) | (buf[i + 2] & 0x3F)
                i += 3
            else:
                cp = ((c & 0x1F) << 6) | (buf[i + 1] & 0x3F)
                i += 2
            if table[cp] != 0:
                out[d] = False
                break
            prev = True
    return out


def settled(texts: Sequence[str]) -> np.ndarray:
    """Per text, True when ``normalize_text`` certainly returns it unchanged (False: maybe not;
    call it)."""
    return settled_bytes([t.encode("utf-8", "surrogatepass") for t in texts])


def settled_bytes(raw: Sequence[bytes]) -> np.ndarray:
    """``settled`` of texts given as their UTF-8 (``surrogatepass``) bytes."""
    global _TABLE
    if _TABLE is None:
        _TABLE = tablecache.cached("table", _table, normalize.ftfy.__version__)
    offsets = np.zeros(len(raw) + 1, np.int64)
    np.cumsum(np.fromiter((len(b) for b in raw), np.int64, len(raw)), out=offsets[1:])
    return _scan(np.frombuffer(b"".join(raw), np.uint8), offsets, _TABLE)
