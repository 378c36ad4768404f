"""Tokens, sentences and BIO tags for the token-level dataset configs (pure, no models).

Why our own: a release must be reproducible anywhere without downloading a tokenizer model or
NLTK data, and the offsets must be exactly the corpus' code-point offsets. The rules are small
and fixed, so a token or sentence boundary only moves when this file changes:

* a token is a run of word characters (``\\w+``, Unicode aware) or one other non-space character,
  so "ez-Zor" is ``ez`` ``-`` ``Zor`` and "U.S." is ``U`` ``.`` ``S`` ``.``;
* a sentence ends at a line break, or after ``. ! ? …`` (plus closing quotes/brackets) followed by
  white space and an upper-case letter, digit or opening quote, unless the word before the period
  is a known abbreviation or a single letter (initials, "U.S.");
* a sentence boundary never falls inside a protected span (the entity fragments), so sentence
  rows never cut an entity in two.

BIO encoding is strict: a span is tagged only when every fragment starts on a token start and
ends on a token end; otherwise it is counted as misaligned and left out (never shifted). Spans
of one tag layer cannot overlap in BIO: the first span in (start, longest) order wins and the
others are counted as overlapping. Each fragment of a discontinuous span is tagged as its own
``B- I-*`` run, so decoding gives back exactly the fragments of the tagged spans.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_END_RE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?(\w))")
_NEWLINES_RE = re.compile(r"\n+")
_WORD_BEFORE_RE = re.compile(r"(\w+)$")

# Words that end with a period without ending a sentence (lower-cased, without the period).
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gen col lt sgt capt cmdr adm maj gov sen rep rev st jr sr vs etc no nos
    inc ltd corp co dept est fig jan feb mar apr jun jul aug sep sept oct nov dec approx""".split()
)

OUTSIDE = "O"


@dataclass(frozen=True)
class Tokens:
    """A document's tokens: parallel lists of strings and code-point offsets into the text."""

    text: list[str]
    starts: list[int]
    ends: list[int]

    def __len__(self) -> int:
        return len(self.starts)

    def slice(self, i: int, j: int) -> Tokens:
        return Tokens(self.text[i:j], self.starts[i:j], self.ends[i:j])


def tokenize(text: str, start: int = 0, end: int | None = None) -> Tokens:
    """Tokens of ``text[start:end]`` with offsets into ``text``."""
    matches = list(TOKEN_RE.finditer(text, start, len(text) if end is None else end))
    return Tokens([m.group() for m in matches], [m.start() for m in matches], [m.end() for m in matches])


def _merge(intervals: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if starts and s < ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def _inside(pos: int, starts: list[int], ends: list[int]) -> bool:
    i = bisect.bisect_right(starts, pos - 1) - 1  # last interval starting before pos
    return i >= 0 and pos < ends[i]


def split_sentences(text: str, protected: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets, white space trimmed, empty sentences dropped."""
    p_starts, p_ends = _merge(protected)
    cuts = {0, len(text)}
    for m in _NEWLINES_RE.finditer(text):
        cuts.add(m.start())
        cuts.add(m.end())
    for m in _END_RE.finditer(text):
        nxt = m.group(1)
        if not (nxt.isupper() or nxt.isdigit()):
            continue
        dot = m.start()
        w = _WORD_BEFORE_RE.search(text, 0, dot)
        if text[dot] == "." and w and (len(w.group(1)) == 1 or w.group(1).lower() in ABBREVIATIONS):
            continue
        cuts.add(m.end())
    sentences = []
    edges = sorted(c for c in cuts if not _inside(c, p_starts, p_ends))
    for s, e in zip(edges, edges[1:]):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            sentences.append((s, e))
    return sentences


def sentence_token_ranges(tokens: Tokens, sentences: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each sentence, the [i, j) range of the tokens inside it (empty ranges dropped)."""
    out = []
    for s, e in sentences:
        i = bisect.bisect_left(tokens.starts, s)
        j = bisect.bisect_left(tokens.starts, e)
        if i < j:
            out.append((i, j))
    return out


def bio_names(labels: Sequence[str]) -> list[str]:
    """Tag names for a label set: ``O`` first, then ``B-X``, ``I-X`` per label (CoNLL order)."""
    names = [OUTSIDE]
    for label in labels:
        names += [f"B-{label}", f"I-{label}"]
    return names


@dataclass
class TagReport:
    """Spans left out of a BIO layer, by reason and label: the card reports these counts."""

    tagged: Counter = field(default_factory=Counter)
    misaligned: Counter = field(default_factory=Counter)
    overlapping: Counter = field(default_factory=Counter)

    def update(self, other: TagReport) -> None:
        self.tagged.update(other.tagged)
        self.misaligned.update(other.misaligned)
        self.overlapping.update(other.overlapping)


def bio_encode(
    tokens: Tokens,
    spans: Iterable[tuple[str, Sequence[tuple[int, int]]]],
    label_ids: dict[str, int],
    report: TagReport | None = None,
) -> list[int]:
    """BIO tag ids for ``tokens`` from ``(label, fragments)`` spans.

    ``label_ids`` maps a label to the id of its ``B-`` tag (``I-`` is the next id, ``O`` is 0), as
    laid out by :func:`bio_names`. Misaligned and overlapping spans are counted in ``report``.
    """
    tags = [0] * len(tokens)
    starts, ends = tokens.starts, tokens.ends
    ordered = sorted(
        ((min(s for s, _ in frags), -max(e for _, e in frags), label, sorted(frags)) for label, frags in spans),
        key=lambda t: (t[0], t[1], t[2]),
    )
    for _, _, label, frags in ordered:
        runs: list[tuple[int, int]] = []
        aligned = True
        for s, e in frags:
            i = bisect.bisect_left(starts, s)
            j = bisect.bisect_left(ends, e)
            if i >= len(starts) or starts[i] != s or j >= len(ends) or ends[j] != e or j < i:
                aligned = False
                break
            runs.append((i, j))
        if not aligned:
            if report is not None:
                report.misaligned[label] += 1
            continue
        if any(tags[k] for i, j in runs for k in range(i, j + 1)):
            if report is not None:
                report.overlapping[label] += 1
            continue
        b = label_ids[label]
        for i, j in runs:
            tags[i] = b
            for k in range(i + 1, j + 1):
                tags[k] = b + 1
        if report is not None:
            report.tagged[label] += 1
    return tags


def bio_decode(
    tags: Sequence[int], starts: Sequence[int], ends: Sequence[int], names: Sequence[str]
) -> list[tuple[int, int, str]]:
    """Fragments ``(start, end, label)`` from BIO tag ids; an ``I-`` without its ``B-`` opens a fragment."""
    out: list[tuple[int, int, str]] = []
    cur: list | None = None
    for k, t in enumerate(tags):
        name = names[t]
        if name == OUTSIDE:
            cur = None
            continue
        prefix, label = name[:1], name[2:]
        if prefix == "I" and cur is not None and cur[2] == label:
            cur[1] = ends[k]
            out[-1] = (cur[0], cur[1], label)
            continue
        cur = [starts[k], ends[k], label]
        out.append((cur[0], cur[1], label))
    return out
