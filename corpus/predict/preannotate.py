"""Pre-annotators: machines that propose annotations, shown to annotators as Label Studio predictions.

A pre-annotator is anything with ``name``, ``model_version`` and ``predict(article)`` returning a
canonical ``Annotation`` (``origin="prediction"``) or ``None``. ``push`` converts what it returns
with ``lsformat`` and validates it before sending; a pre-annotator never talks to Label Studio.

Built in:

* ``RuleAttributionPreannotator`` (``--predictions rules``): finds reporting verbs and phrases
  (said, told, confirmed, warned, according to ...) and guesses source and content from the
  sentence around them. Precision over recall: one attribution per sentence, only when the
  sentence has the shape "SOURCE said CONTENT", "CONTENT, SOURCE said" or "according to SOURCE".
  It works for a taxonomy with an attribution layer only (it predicts nothing otherwise). Its
  rules guess a quoting style (direct / indirect / mixed), a kind of source and a degree of
  commitment; each guess is set on the taxonomy's attribution attribute that has that value
  among its values (and dropped when none has), so no attribute name is wired in.
* ``JsonlPredictions`` (``--predictions FILE.jsonl``): canonical annotation records made
  elsewhere, matched to articles by ``doc_id`` (and checked against ``text_sha256``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from corpus.core import taxonomy as taxmod
from corpus.core.errors import UsageError
from corpus.core.model import Annotation, Article, Attribution, Span
from corpus.core.problems import Problem
from corpus.core.taxonomy import ATTRIBUTION, Taxonomy


@runtime_checkable
class PreAnnotator(Protocol):
    name: str
    model_version: str

    def predict(self, article: Article) -> Annotation | None: ...


# ---------------------------------------------------------------- rule-based attribution

# Reporting verbs (past, present, and a few participles) and multiword cues. Ordered longest first
# so "according to" wins over shorter overlaps.
CUE_VERBS = (
    "said",
    "says",
    "say",
    "told",
    "tells",
    "confirmed",
    "confirms",
    "reported",
    "reports",
    "warned",
    "warns",
    "stated",
    "states",
    "announced",
    "announces",
    "added",
    "adds",
    "claimed",
    "claims",
    "denied",
    "denies",
    "explained",
    "noted",
    "insisted",
    "argued",
    "acknowledged",
    "admitted",
    "alleged",
    "declared",
    "revealed",
    "asserted",
    "disclosed",
    "suggested",
    "indicated",
    "wrote",
    "tweeted",
    "posted",
)
CUE_PHRASES = ("according to", "quoted as saying", "citing")

# Case-sensitive on purpose ("the United States" is not a cue); a phrase may open a sentence.
_CUE_RE = re.compile(
    r"\b(?:"
    + "|".join(f"[{p[0]}{p[0].upper()}]{re.escape(p[1:])}" for p in CUE_PHRASES)
    + r"|"
    + "|".join(CUE_VERBS)
    + r")\b"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[\"“‘'A-Z0-9])|\n+")
_EDGE = " \t\n\"“”‘’'.,;:!?()—–-"
_OFFICIAL = re.compile(
    r"\b(officials?|spokes(?:man|woman|person)|minister|ministry|secretary|president|governor|"
    r"commander|general|ambassador|police|department|agency|senator|mayor|chief)\b",
    re.I,
)
_MEDIA = re.compile(r"\b(TV|News|Times|Post|Agency|Reuters|AP|AFP|BBC|CNN|Journal|Press|Radio|media|outlet)\b")
_ANON = re.compile(r"\b(sources?|people familiar|witness(?:es)?|residents?|activists?|someone)\b", re.I)
_DOCUMENT = re.compile(r"\b(report|statement|document|study|memo|letter|filing|survey|data)\b", re.I)
_UNCONFIRMED = re.compile(r"\b(unconfirmed|reportedly|allegedly|alleged|rumou?r)", re.I)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past spaces, quotes and punctuation at both edges."""
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; a simple splitter, good enough for cue finding."""
    out, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return out


@dataclass
class _Guess:
    cue: tuple[int, int]
    content: tuple[int, int]
    source: tuple[int, int] | None
    score: float


class RuleAttributionPreannotator:
    """Reporting-verb rules for the attribution layer (cue, source, content + attributes)."""

    name = "rules-attribution"
    model_version = "rules-attribution-1"

    def __init__(self, min_content_chars: int = 12, tax: Taxonomy | None = None):
        self.min_content_chars = min_content_chars
        self.tax = tax or taxmod.load()

    def _attributes(self, guesses: list[str]) -> dict[str, str | None]:
        """The taxonomy's attribution attributes, each set to the guess found among its values."""
        out = self.tax.attribute_slots(ATTRIBUTION)
        for a in self.tax.attributes_on(ATTRIBUTION):
            out[a.name] = next((g for g in guesses if g in a.values), None)
        return out

    def predict(self, article: Article) -> Annotation | None:
        if self.tax.attribution_layer is None:
            return None
        text = article.text
        attributions: list[Attribution] = []
        scores: list[float] = []
        for s_start, s_end in sentences(text):
            guess = self._guess(text, s_start, s_end)
            if guess is None:
                continue
            cue = Span.from_offsets(text, [guess.cue])
            content = Span.from_offsets(text, [guess.content])
            source = Span.from_offsets(text, [guess.source]) if guess.source else None
            attributions.append(
                Attribution(
                    id=f"a{len(attributions) + 1}",
                    cue=cue,
                    content=content,
                    source=source,
                    attributes=self._attributes(
                        [
                            self._quote_style(text, guess.content),
                            self._source_kind(source.text if source else ""),
                            self._certainty(text[s_start:s_end], cue.text),
                        ]
                    ),
                )
            )
            scores.append(guess.score)
        if not attributions:
            return None
        return Annotation(
            doc_id=article.doc_id,
            text_sha256=article.text_sha256,
            annotator=f"model:{self.name}",
            attributions=attributions,
            origin="prediction",
            model_version=self.model_version,
            score=round(sum(scores) / len(scores), 3),
        )

    def _guess(self, text: str, s_start: int, s_end: int) -> _Guess | None:
        sent = text[s_start:s_end]
        m = _CUE_RE.search(sent)
        if not m:
            return None
        c0, c1 = s_start + m.start(), s_start + m.end()
        cue_word = m.group(0).lower()
        if cue_word in ("according to", "citing"):
            # "according to SOURCE, CONTENT." or "CONTENT, according to SOURCE."
            after_comma = text.find(",", c1, s_end)
            if m.start() <= 2 or sent[: m.start()].strip() == "":
                if after_comma == -1:
                    return None
                src = _trim(text, c1, after_comma)
                content = _trim(text, after_comma + 1, s_end)
            else:
                src = _trim(text, c1, after_comma if after_comma != -1 else s_end)
                content = _trim(text, s_start, c0)
            return self._checked(text, (c0, c1), content, src, 0.7)
        before = text[s_start:c0]
        # "CONTENT," SOURCE said.  /  "CONTENT," said SOURCE.
        last_sep = max(before.rfind(","), before.rfind("”"), before.rfind('"'))
        tail = text[c1:s_end].strip(_EDGE)
        if last_sep > 0 and len(before[last_sep:].split()) <= 6 and len(tail.split()) <= 6:
            content = _trim(text, s_start, s_start + last_sep)
            src_region = (s_start + last_sep + 1, c0) if before[last_sep + 1 :].strip(_EDGE) else (c1, s_end)
            return self._checked(text, (c0, c1), content, _trim(text, *src_region), 0.6)
        # SOURCE said (that) CONTENT.
        source = _trim(text, s_start + (before.rfind(",") + 1 if "," in before else 0), c0)
        k = c1
        rest = text[c1:s_end]
        that = re.match(r"\s*(?:(?:on|in) \w+\s*)?(?:,\s*)?(?:that\b)?", rest)
        if that:
            k = c1 + that.end()
        content = _trim(text, k, s_end)
        if len(text[source[0] : source[1]].split()) > 8:  # a long stretch before the verb is not a source
            return self._checked(text, (c0, c1), content, None, 0.4)
        return self._checked(text, (c0, c1), content, source, 0.55)

    def _checked(
        self, text: str, cue: tuple[int, int], content: tuple[int, int], source: tuple[int, int] | None, score: float
    ) -> _Guess | None:
        if content[1] - content[0] < self.min_content_chars:
            return None
        if source is not None and (source[1] <= source[0] or _overlaps(source, content) or _overlaps(source, cue)):
            source = None
        if _overlaps(cue, content):
            return None
        return _Guess(cue, content, source, score)

    @staticmethod
    def _quote_style(text: str, content: tuple[int, int]) -> str:
        left = text[max(0, content[0] - 2) : content[0]]
        inside = text[content[0] : content[1]]
        if any(q in left for q in '"“') or inside.startswith(('"', "“")):
            return "direct"
        return "mixed" if any(q in inside for q in '"“”') else "indirect"

    @staticmethod
    def _source_kind(source: str) -> str:
        if not source:
            return "anonymous"
        if _MEDIA.search(source):
            return "media outlet"
        if _OFFICIAL.search(source):
            return "official role"
        if _ANON.search(source):
            return "anonymous"
        if _DOCUMENT.search(source):
            return "document"
        words = source.split()
        if words and all(w[:1].isupper() for w in words if w[:1].isalpha()) and len(words) <= 4:
            return "named person"
        return "organization"

    @staticmethod
    def _certainty(sentence: str, cue: str) -> str:
        cue = cue.lower()
        if cue.startswith("confirm"):
            return "confirmed"
        if cue.startswith("den"):
            return "denied"
        if _UNCONFIRMED.search(sentence):
            return "unconfirmed"
        return "reported"


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# ---------------------------------------------------------------- predictions made elsewhere


@dataclass
class JsonlPredictions:
    """Canonical annotation records from a JSONL file, served per article.

    Bad lines are collected in ``errors`` (file and line named) and skipped; a record whose
    ``text_sha256`` differs from the article's is reported, not used (its offsets would be wrong).
    """

    path: Path
    name: str = ""
    model_version: str = ""
    errors: list[Problem] = field(default_factory=list)
    _by_doc: dict[str, list[Annotation]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise UsageError(f"predictions file not found: {self.path}")
        self.name = self.name or self.path.stem
        versions = set()
        with open(self.path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    ann = Annotation.from_dict(rec)
                except (ValueError, KeyError, TypeError) as e:
                    self.errors.append(
                        Problem("bad_prediction", f"not a canonical annotation: {e}", file=str(self.path), line=lineno)
                    )
                    continue
                ann.origin = "prediction"
                ann.meta = {**ann.meta, "line": lineno}
                if ann.model_version:
                    versions.add(ann.model_version)
                self._by_doc.setdefault(ann.doc_id, []).append(ann)
        self.model_version = self.model_version or (versions.pop() if len(versions) == 1 else self.name)

    def predict(self, article: Article) -> Annotation | None:
        found = self.predict_all(article)
        return found[0] if found else None

    def predict_all(self, article: Article) -> list[Annotation]:
        out = []
        for ann in self._by_doc.get(article.doc_id, []):
            if ann.text_sha256 and ann.text_sha256 != article.text_sha256:
                self.errors.append(
                    Problem(
                        "stale_prediction",
                        "prediction was made for another revision of the text (text_sha256 differs)",
                        file=str(self.path),
                        line=ann.meta.get("line"),
                        doc_id=article.doc_id,
                    )
                )
                continue
            ann.model_version = ann.model_version or self.model_version
            out.append(ann)
        return out

    @property
    def doc_ids(self) -> set[str]:
        return set(self._by_doc)


def load_preannotator(spec: str | None, tax: Taxonomy | None = None) -> PreAnnotator | None:
    """``--predictions`` value -> pre-annotator.

    ``rules`` (the regex attribution rules), ``spacy`` (the default spaCy pipeline, all three
    layers), ``spacy:PIPELINE`` (another installed pipeline or a pipeline folder), ``model:PATH``
    (a model made by ``corpus train``), or a canonical annotations ``.jsonl`` file.
    """
    if not spec:
        return None
    if spec == "rules":
        tax = tax or taxmod.load()
        if tax.attribution_layer is None:
            raise UsageError(
                f"the rules pre-annotator predicts attributions, and taxonomy {tax.name} {tax.version} "
                "has no attribution layer",
                hint="push without predictions, or give predictions made elsewhere as a .jsonl file",
            )
        return RuleAttributionPreannotator(tax=tax)
    if spec == "spacy" or spec.startswith("spacy:"):
        from corpus.predict.spacy_model import DEFAULT_PIPELINE, SpacyPreannotator

        pipeline = spec.partition(":")[2] or DEFAULT_PIPELINE
        return SpacyPreannotator(pipeline, tax=tax)
    if spec.startswith("model:"):
        from corpus.predict.train import TrainedPreannotator

        return TrainedPreannotator(Path(spec.partition(":")[2]))
    path = Path(spec)
    if path.suffix.lower() in (".jsonl", ".json") or path.exists():
        return JsonlPredictions(path)
    raise UsageError(
        f"unknown predictions source {spec!r}",
        hint="use `rules`, `spacy`, `spacy:PIPELINE`, `model:PATH` or a canonical annotations .jsonl file",
    )


__all__ = ["PreAnnotator", "RuleAttributionPreannotator", "JsonlPredictions", "load_preannotator", "sentences"]
