"""Text normalization, done once at import: bytes -> str -> the immutable stored text.

Every offset in the project is a code point into the text this module returns, so the steps
are fixed and deterministic: decode (UTF-8 with or without BOM; another encoding only when
charset-normalizer is confident, and then it is recorded), mojibake repair with ftfy (encoding
fixes only: quotes, dashes, ligatures and widths are left as written), newlines to ``\\n``, NFC.

``normalize_with_map`` also returns where each raw code point went, for readers (brat) whose
annotations carry offsets into the raw text.
"""

from __future__ import annotations

import codecs
import difflib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import ftfy
from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES

from corpus.core.errors import InputError

# ftfy's encoding repairs only. Everything else ftfy can do (uncurl quotes, fix ligatures and
# character widths, unescape HTML, drop control characters) would rewrite legitimate text.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)

# Minimum confidence for a non-UTF-8 guess: charset-normalizer's "chaos" (mess ratio) of the
# decoded text must stay below this, else the file is reported instead of guessed.
MAX_CHAOS = 0.1

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]

# --- fast mojibake pre-check -------------------------------------------------------------
# ftfy's badness regex costs ~0.1 ms per KB, which dominated import time. Every alternative
# of that regex contains at least one character of the classes below: the frequent ones
# (curly quotes, dashes, apostrophe, Greek/Cyrillic lower case) only ever match next to one of
# these. No match is longer than 7 characters, so the regex only needs to run in a small
# window around each such character; tests/test_normalize.py checks the equivalence.
_TRIGGER_CLASSES = [
    MOJIBAKE_CATEGORIES[k]
    for k in ("c1", "bad", "law", "currency", "numeric", "box", "lower_accented", "upper_accented")
]
_TRIGGER_RE = re.compile(
    "[" + "".join(_TRIGGER_CLASSES) + "\u0152\u0153\u0402\u00b0\u00d8\u00d9\u201a"
    "\u0412\u0413\u0420\u0421\u0392\u0393\u039e\u039f\ud800-\udfff]"
)
_WINDOW = 8


def _isolated_triggers(pattern: re.Pattern[str]) -> str | None:
    """Characters one of which every match of ``pattern`` without two adjacent non-ASCII
    characters contains, read off the parsed regex (None: the regex has a shape this proof
    does not cover, and the pre-filter is off).

    ``pattern`` must be one alternation of plain sequences. In each sequence, an item that
    always matches exactly one non-ASCII character is "N". A sequence with two consecutive
    N items only matches text with two adjacent non-ASCII characters; any other sequence
    contributes the characters of its first N item (it has to have one). So text with
    neither two adjacent non-ASCII characters nor a returned character cannot match.
    """
    try:
        import re._parser as sre  # the stdlib's own regex parser
    except ImportError:  # Python 3.10
        import sre_parse as sre

    def chars(item: tuple[Any, Any]) -> list[int] | None:
        op, av = item
        if op is sre.LITERAL:
            return [av]
        if op is sre.IN:
            out: list[int] = []
            for sub_op, sub_av in av:
                if sub_op is sre.LITERAL:
                    out.append(sub_av)
                elif sub_op is sre.RANGE:
                    out.extend(range(sub_av[0], sub_av[1] + 1))
                else:  # a category (\s, \w), a negation: may match ASCII
                    return None
            return out
        return None

    def non_ascii(item: tuple[Any, Any]) -> list[int] | None:
        c = chars(item)
        return c if c and min(c) >= 0x80 else None

    if pattern.flags & re.IGNORECASE:  # literals would stand for more characters than listed
        return None
    parsed = sre.parse(pattern.pattern, pattern.flags)
    if len(parsed.data) != 1 or parsed.data[0][0] is not sre.BRANCH:
        return None
    singles: set[int] = set()
    for seq in parsed.data[0][1][1]:
        items = list(seq.data)
        n = [non_ascii(it) for it in items]
        if any(a is not None and b is not None for a, b in zip(n, n[1:])):
            continue
        first = next((c for c in n if c is not None), None)
        if first is None:
            return None
        singles.update(first)
    return "".join(sorted(chr(c) for c in singles))


_SINGLES = _isolated_triggers(BADNESS_RE)
# A segment this does not match is not bad and has no C1 control or surrogate: ftfy (with
# FTFY_CONFIG) returns it unchanged (proof in ``_isolated_triggers``; tests check it too).
# One scan for non-ASCII characters, each followed by another or itself a trigger (the
# lookbehind): an alternation would cost five times as much.
_FAST_RE = (
    re.compile("[^\x00-\x7f](?:[^\x00-\x7f]|(?<=[" + re.escape(_SINGLES) + "\x80-\x9f\ud800-\udfff]))")
    if _SINGLES is not None
    else None
)


def maybe_mojibake(s: str) -> bool:
    """False only when ftfy cannot change ``s`` or any of its lines (see ``_FAST_RE``)."""
    if s.isascii():
        return False
    return _FAST_RE is None or _FAST_RE.search(s) is not None


def looks_like_mojibake(segment: str) -> bool:
    """Same answer as ``ftfy.badness.is_bad`` (plus C1 controls and surrogates), much faster."""
    if not maybe_mojibake(segment):
        return False
    for m in _TRIGGER_RE.finditer(segment):
        p = m.start()
        ch = segment[p]
        if "\x80" <= ch <= "\x9f" or "\ud800" <= ch <= "\udfff":
            return True
        if BADNESS_RE.search(segment, max(0, p - _WINDOW), p + _WINDOW):
            return True
    return False


def _fix_line(line: str) -> str:
    """ftfy on one line (ftfy itself works line by line, so results match a whole-text call)."""
    if not looks_like_mojibake(line):
        return line
    return ftfy.fix_text(line, FTFY_CONFIG)


# --- decoding ----------------------------------------------------------------------------


def decode(raw: bytes) -> tuple[str, dict[str, Any]]:
    """Bytes -> str. Returns the text and meta to record (empty for plain UTF-8).

    Raises ``InputError`` for binary data (NUL bytes outside UTF-16/32), undecodable bytes
    whose encoding cannot be detected with confidence, and empty (whitespace-only) input.
    """
    meta: dict[str, Any] = {}
    text: str | None = None
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError as e:
                raise InputError(
                    f"starts with a {enc} byte order mark but is not valid {enc}: {e.reason}",
                    code="bad_byte_order_mark",
                ) from e
            text = text.lstrip("\ufeff")
            meta = {"encoding": enc, "bom": True}
            break
    if text is None:
        if b"\x00" in raw:
            raise InputError("binary file (contains NUL bytes)", code="binary_file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            text, meta = _detect(raw, e)
    if not text.strip():
        raise InputError("empty (no text after decoding)", code="empty_text")
    return text, meta


# When several encodings explain the bytes equally well (cp1250 and cp1252 often do), the
# Western ones win: legacy news archives are overwhelmingly cp1252 / Latin-1.
_PREFERRED = ("cp1252", "latin_1", "iso8859_15", "utf_16", "utf_32")


def _detect(raw: bytes, err: UnicodeDecodeError) -> tuple[str, dict[str, Any]]:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if matches:
        # ties on chaos only: coherence (language fit) is too noisy on short texts to decide
        best_chaos = min(m.chaos for m in matches)
        tied = [m for m in matches if m.chaos <= best_chaos + 0.005]
        best = min(tied, key=lambda m: _PREFERRED.index(m.encoding) if m.encoding in _PREFERRED else len(_PREFERRED))
    else:
        best = None
    if best is None or best.chaos > MAX_CHAOS:
        found = f" (best guess {best.encoding}, {best.chaos:.0%} noise)" if best is not None else ""
        raise InputError(
            f"not valid UTF-8 (byte {err.start}: {err.reason}) and no other encoding detected with confidence{found}",
            code="unknown_encoding",
        )
    meta: dict[str, Any] = {"encoding": best.encoding, "encoding_chaos": round(float(best.chaos), 4)}
    others = [m.encoding for m in tied if m is not best]
    if others:
        meta["encoding_tied_with"] = others
    return str(best), meta


# --- normalization -----------------------------------------------------------------------

_NEWLINES = re.compile(r"\r\n?")


# Passes of the whole pipeline before giving up on a fixed point: a mojibake layer can become
# fixable only after NFC has composed it (seen in 20 PolNeAR texts: "rÃƒÂ©sumÃƒÂ©").
_MAX_PASSES = 4


def normalize_text(s: str) -> str:
    """The stored form of a decoded text: newlines to ``\\n``, mojibake fixed, NFC.

    A fixed point: ``normalize_text(normalize_text(s)) == normalize_text(s)``, so re-importing
    a stored text never looks like an update.
    """
    for _ in range(_MAX_PASSES):
        out = _normalize_once(s)
        if out == s:
            break
        s = out
    return s


def normalize_many(texts: Sequence[str]) -> list[str]:
    """``normalize_text`` of each text; the texts a compiled scan proves unchanged
    (``corpus.core.textscan``: most news text) skip the Python checks."""
    from corpus.core.textscan import settled

    return [t if ok else normalize_text(t) for t, ok in zip(texts, settled(texts).tolist())]


def _normalize_once(s: str) -> str:
    if "\r" in s:
        s = _NEWLINES.sub("\n", s)
    if not s.isascii():
        if maybe_mojibake(s):  # else no line can change (a match in a line is one in the text)
            s = "".join(_fix_line(line) for line in _lines(s)) if "\n" in s else _fix_line(s)
        if not unicodedata.is_normalized("NFC", s):
            s = unicodedata.normalize("NFC", s)
    return s


def _lines(s: str) -> list[str]:
    """Lines ending at ``\n`` only (``str.splitlines`` also cuts at NEL, U+2028 and other
    separators, which would fix mojibake differently from ftfy on the whole text)."""
    parts = s.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def normalize_with_map(s: str) -> tuple[str, list[int]]:
    """``normalize_text`` plus the raw -> normalized offset map (see ``_normalize_once_with_map``),
    passes composed until the text is a fixed point."""
    out, omap = _normalize_once_with_map(s)
    for _ in range(_MAX_PASSES - 1):
        if _normalize_once(out) == out:
            break
        nxt, m2 = _normalize_once_with_map(out)
        out, omap = nxt, [m2[i] for i in omap]
    return out, omap


def _normalize_once_with_map(s: str) -> tuple[str, list[int]]:
    """Like ``normalize_text`` and also ``offset_map``: ``offset_map[i]`` is the offset in the
    normalized text of raw code point ``i`` (``len(s) + 1`` entries, monotonic).

    A raw offset inside a rewritten stretch (e.g. between ``e`` and a combining accent that
    NFC merges) maps into the rewritten stretch, clamped to its end.
    """
    maps: list[list[int]] = []
    # 1. newlines
    edits = [(m.start(), m.end(), 0, 1) for m in _NEWLINES.finditer(s)]
    t = _NEWLINES.sub("\n", s) if edits else s
    maps.append(_piecewise(len(s), _absolute(edits)))
    # 2. mojibake, line by line; alignment by difflib inside changed lines only
    edits2: list[tuple[int, int, int, int]] = []
    out: list[str] = []
    pos = newpos = 0
    for line in _lines(t):
        fixed = _fix_line(line)
        if fixed != line:
            sm = difflib.SequenceMatcher(None, line, fixed, autojunk=False)
            for tag, i1, i2, j1, j2 in sm.get_opcodes():
                if tag != "equal":
                    edits2.append((pos + i1, pos + i2, newpos + j1, newpos + j2))
        out.append(fixed)
        pos += len(line)
        newpos += len(fixed)
    u = "".join(out)
    maps.append(_piecewise(len(t), edits2))
    # 3. NFC, segment by segment
    v, edits3 = _nfc_edits(u)
    maps.append(_piecewise(len(u), edits3))
    composed = maps[0]
    for m in maps[1:]:
        composed = [m[i] for i in composed]
    return v, composed


def _absolute(edits: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(raw_start, raw_end, _, new_len) -> absolute (i1, i2, j1, j2) edits."""
    result = []
    delta = 0
    for i1, i2, _, new_len in edits:
        j1 = i1 + delta
        result.append((i1, i2, j1, j1 + new_len))
        delta += new_len - (i2 - i1)
    return result


def _piecewise(n: int, edits: list[tuple[int, int, int, int]]) -> list[int]:
    """Offset map for a text of length ``n`` rewritten at sorted ``edits`` (i1, i2, j1, j2)."""
    result = list(range(n + 1))
    if not edits:
        return result
    delta = 0
    prev = 0
    for i1, i2, j1, j2 in edits:
        for p in range(prev, i1):
            result[p] = p + delta
        for p in range(i1, i2):
            result[p] = j1 + min(p - i1, j2 - j1)
        delta = j2 - i2
        prev = i2
    for p in range(prev, n + 1):
        result[p] = p + delta
    return result


def _nfc_edits(u: str) -> tuple[str, list[tuple[int, int, int, int]]]:
    if unicodedata.is_normalized("NFC", u):
        return u, []
    # Split before each starter (combining class 0) unless NFC joins it to what precedes
    # (Hangul syllables, a few Indic vowel signs): checked, not assumed.
    starts = [i for i, ch in enumerate(u) if i == 0 or unicodedata.combining(ch) == 0]
    starts.append(len(u))
    segments: list[tuple[int, int]] = []
    cur_start, cur_end = starts[0], starts[1]
    for a, b in zip(starts[1:], starts[2:]):
        cur, nxt = u[cur_start:cur_end], u[a:b]
        if unicodedata.normalize("NFC", cur + nxt) == unicodedata.normalize("NFC", cur) + unicodedata.normalize(
            "NFC", nxt
        ):
            segments.append((cur_start, cur_end))
            cur_start, cur_end = a, b
        else:
            cur_end = b
    segments.append((cur_start, cur_end))
    edits = []
    out = []
    newpos = 0
    for i1, i2 in segments:
        seg = u[i1:i2]
        norm = unicodedata.normalize("NFC", seg)
        if norm != seg:
            edits.append((i1, i2, newpos, newpos + len(norm)))
        out.append(norm)
        newpos += len(norm)
    v = "".join(out)
    if v != unicodedata.normalize("NFC", u):  # never seen; keep the stored text exact regardless
        v = unicodedata.normalize("NFC", u)
        sm = difflib.SequenceMatcher(None, u, v, autojunk=False)
        edits = [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]
    return v, edits
