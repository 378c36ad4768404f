"""Attribution from a dependency parse: cue, source and content, from a parsed spaCy ``Doc``.

Rules, per sentence (the lexicon is the taxonomy's ``attribution.cues``):

* **phrase cues** ("according to X"): the cue is the phrase, the source the object of its last
  word, the content what the phrase is attached to, less the phrase ("The strike destroyed
  depots, according to local sources").
* **reporting verbs** (a token whose lemma is in ``verbs``: "said", "reported", "confirmed"):
  the source is the verb's subject (or the agent of a passive, or the subject of the verb it is
  conjoined to); the content is its clausal complement without the "that" ("X reported that
  ..."), or, when the verb interrupts a clause ("The strike, he said, was a success"), that
  clause less the cue and its subject: two fragments, one discontinuous span; failing both, a
  quotation in the sentence, then the verb's direct object.

Offsets come from the tokens (code points into the text spaCy was given, the stored text).
Each guess carries a score in [0, 1] (how sure the rule is), used for ordering tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from corpus.predict.lexicon import Lexicon

EDGE = " \t\n\"“”‘’'.,;:!?()—–-"
_QUOTE_RE = re.compile(r"[\"“]([^\"“”]{12,}?)[\"”]")
_CONTENT_DEPS = ("ccomp",)
_SUBJECT_DEPS = ("nsubj", "nsubjpass", "csubj")

Frags = list[tuple[int, int]]


@dataclass
class AttributionGuess:
    cue: Frags
    content: Frags
    source: Frags | None
    score: float
    cue_lemma: str


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in EDGE:
        start += 1
    while end > start and text[end - 1] in EDGE:
        end -= 1
    return start, end


def token_fragments(doc: Any, indices: set[int] | list[int], text: str | None = None) -> Frags:
    """Token indices -> character fragments: one per run of consecutive tokens, edges trimmed.

    ``text`` is ``doc.text`` (give it when calling often: spaCy rebuilds it from every token)."""
    text = doc.text if text is None else text
    out: Frags = []
    run: list[int] = []
    for i in sorted(set(indices)):
        if run and i != run[-1] + 1:
            out.append(_run(doc, run))
            run = []
        run.append(i)
    if run:
        out.append(_run(doc, run))
    frags = [trim(text, s, e) for s, e in out]
    return [(s, e) for s, e in frags if e > s]


def _run(doc: Any, run: list[int]) -> tuple[int, int]:
    first, last = doc[run[0]], doc[run[-1]]
    return first.idx, last.idx + len(last.text)


def _subtree(tok: Any) -> set[int]:
    return {t.i for t in tok.subtree}


def _words(text: str, frags: Frags) -> int:
    return sum(len(text[s:e].split()) for s, e in frags)


def _overlap(a: Frags, b: Frags) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


def find_attributions(doc: Any, lex: Lexicon) -> list[AttributionGuess]:
    """Every attribution the rules find in a parsed ``Doc`` (one per cue)."""
    guesses: list[AttributionGuess] = []
    used: set[int] = set()
    text = doc.text  # once: spaCy rebuilds it from the tokens on every access
    for sent in doc.sents:
        toks = list(sent)
        lowered = [t.lower_ for t in toks]
        for k in range(len(toks)):
            for phrase in lex.cue_phrases:
                if tuple(lowered[k : k + len(phrase)]) == phrase:
                    g = _phrase_cue(doc, text, sent, toks[k : k + len(phrase)])
                    used.update(t.i for t in toks[k : k + len(phrase)])
                    if g is not None:
                        guesses.append(g)
                    break
        for tok in toks:
            if tok.i in used or tok.lemma_.lower() not in lex.cue_verbs or tok.pos_ not in ("VERB", "AUX"):
                continue
            if tok.dep_ in ("amod", "compound", "acl") and not any(c.dep_ in _CONTENT_DEPS for c in tok.children):
                continue  # "reported attacks", "the so-called ..."
            g = _verb_cue(doc, text, sent, tok)
            if g is not None:
                used.add(tok.i)
                guesses.append(g)
    return guesses


def _phrase_cue(doc: Any, text: str, sent: Any, cue_toks: list[Any]) -> AttributionGuess | None:
    cue_idx = {t.i for t in cue_toks}
    last = cue_toks[-1]
    obj = next((c for c in last.children if c.dep_ in ("pobj", "dobj", "obj")), None)
    source_idx = _subtree(obj) - cue_idx if obj is not None else set()
    head = cue_toks[0].head
    if head.i in cue_idx or head == cue_toks[0]:
        content_idx = {t.i for t in sent} - cue_idx - source_idx
    else:
        content_idx = _subtree(head) - _subtree(cue_toks[0]) - cue_idx - source_idx
    return _guess(doc, text, cue_idx, source_idx, content_idx, 0.7, cue_toks[0].lemma_.lower(), contiguous=True)


def _verb_cue(doc: Any, text: str, sent: Any, verb: Any) -> AttributionGuess | None:
    cue_idx = {verb.i}
    cue_idx |= {c.i for c in verb.children if c.dep_ == "prt"}  # "pointed out"
    subj = next((c for c in verb.children if c.dep_ in _SUBJECT_DEPS), None)
    if subj is not None and subj.dep_ == "nsubjpass":
        agent = next((c for c in verb.children if c.dep_ == "agent"), None)
        pobj = next((c for c in agent.children if c.dep_ == "pobj"), None) if agent is not None else None
        subj = pobj  # "it was reported by X": X; the passive subject is the content, not the source
    if subj is None and verb.dep_ in ("conj", "xcomp"):
        subj = next((c for c in verb.head.children if c.dep_ == "nsubj"), None)
    source_idx = _subtree(subj) if subj is not None else set()
    comp = next((c for c in verb.children if c.dep_ in _CONTENT_DEPS), None)
    score = 0.8
    if comp is not None:
        content_idx = _subtree(comp) - cue_idx - source_idx
        first = doc[min(content_idx)] if content_idx else None
        if first is not None and first.dep_ == "mark" and first.lower_ in ("that", "whether", "if"):
            content_idx.discard(first.i)
    elif verb.dep_ in ("parataxis", "ccomp", "advcl") and verb.head.i != verb.i and verb.head.pos_ in ("VERB", "AUX"):
        # "The strike, he said, was a success": the clause the cue interrupts, less "he said".
        content_idx = _subtree(verb.head) - _subtree(verb)
        score = 0.7
    else:
        content_idx = _quoted(text, sent, verb)
        score = 0.6
        if not content_idx:
            obj = next((c for c in verb.children if c.dep_ == "dobj" and c.pos_ != "PRON"), None)
            if obj is None:
                return None
            content_idx = _subtree(obj)
            score = 0.45
    if subj is None:
        score -= 0.15
    return _guess(doc, text, cue_idx, source_idx - content_idx, content_idx - cue_idx, score, verb.lemma_.lower())


def _quoted(text: str, sent: Any, verb: Any) -> set[int]:
    """Tokens of the quotations in the sentence that do not contain the verb."""
    out: set[int] = set()
    for m in _QUOTE_RE.finditer(text, sent.start_char, sent.end_char):
        s, e = m.start(1), m.end(1)
        if s <= verb.idx < e:
            continue
        out |= {t.i for t in sent if t.idx >= s and t.idx + len(t.text) <= e}
    return out


def _guess(
    doc: Any,
    text: str,
    cue_idx: set[int],
    source_idx: set[int],
    content_idx: set[int],
    score: float,
    lemma: str,
    *,
    contiguous: bool = False,
) -> AttributionGuess | None:
    cue = token_fragments(doc, cue_idx, text)
    if contiguous and len(cue) > 1:
        cue = [(cue[0][0], cue[-1][1])]
    content = token_fragments(doc, content_idx, text)
    if not cue or not content or _words(text, content) < 2:
        return None
    source = token_fragments(doc, source_idx, text) or None
    if source is not None and len(source) > 1:
        source = (
            [(source[0][0], source[-1][1])] if not _overlap([(source[0][0], source[-1][1])], content + cue) else None
        )
    if source is not None and (_overlap(source, content) or _overlap(source, cue)):
        source = None
    if _overlap(cue, content):
        return None
    return AttributionGuess(cue, content, source, round(max(0.05, min(score, 1.0)), 3), lemma)


__all__ = ["AttributionGuess", "find_attributions", "token_fragments", "trim"]
