"""Inter-annotator agreement over canonical annotations (pure: no I/O, no printing).

Only documents annotated by two or more annotators count. Definitions (the README repeats them):

* **span F1, exact**: for annotators A and B on a document, spans are (label, fragments); a true
  positive is a span both made. Pooled over every unordered pair of annotators of every
  document: ``F1 = 2·TP / (|A| + |B|)`` (symmetric, so no annotator is "gold").
* **span F1, overlap**: a span of A counts as matched when B has a span with the same label
  sharing at least one character (and vice versa); ``P = matched_B / |B|``,
  ``R = matched_A / |A|``, ``F1 = 2PR / (P + R)``, pooled like exact.
* **token alpha**: the text is cut into tokens (``\\w+`` or one non-space symbol); each
  annotator gives each token the label of the shortest span covering it, or ``O``. Krippendorff's
  alpha (nominal, the ``krippendorff`` package) over all tokens of all multiply-annotated
  documents, one row per annotator, missing where an annotator did not annotate the document.
  Per label: the same with the tokens recoded to label / not label.
* **attribution-wise agreement (agr)**, after PolNeAR (Newell, Margolin & Ruths, LREC 2018) and
  the ``agr`` measure it borrows (Wiebe et al. 2005): ``agr(A‖B)`` is the fraction of A's
  attributions matched by one of B's; an attribution is matched when the cue spans overlap
  (``cue``, the headline figure); ``cue_content`` also asks the contents to overlap; ``any``
  accepts an overlap of any of the two attributions' spans. Pooled over all ordered pairs:
  Σ matched / Σ attributions.
* **event triples**: (trigger fragments, event type, role, argument fragments, argument label),
  exact F1 pooled over pairs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from corpus.core import taxonomy as taxmod
from corpus.core.model import Annotation, Span
from corpus.core.taxonomy import ATTRIBUTION, ENTITIES, EVENTS, RELATIONS, Taxonomy

LAYERS = taxmod.LAYERS  # entities, events, attribution, relations (those the taxonomy has are measured)
_BETWEEN = ((-1, -1),)  # separates a relation's from and to fragments; overlaps nothing
TOKEN_RE = re.compile(r"\w+|[^\w\s]")
OUTSIDE = "O"

Frags = tuple[tuple[int, int], ...]


def frags(span: Span) -> Frags:
    return tuple((f.start, f.end) for f in span.fragments)


def overlaps(a: Frags, b: Frags) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


def layer_spans(ann: Annotation, layer: str, tax: Taxonomy | None = None) -> set[tuple[str, Frags]]:
    """The (label, fragments) spans of one layer; attribution spans carry their span labels.

    A relation is (label, from fragments + a separator + to fragments): exact match means same
    label and same two spans; overlap means same label and an endpoint overlapping.
    """
    if layer == ENTITIES:
        return {(e.label, frags(e.span)) for e in ann.entities}
    if layer == EVENTS:
        return {(ev.type, frags(ev.trigger)) for ev in ann.events}
    if layer == ATTRIBUTION:
        att = (tax or taxmod.load()).attribution_layer
        names = (att.cue, att.content, att.source) if att else taxmod.SPAN_ROLES
        out: set[tuple[str, Frags]] = set()
        for a in ann.attributions:
            out.add((names[0], frags(a.cue)))
            out.add((names[1], frags(a.content)))
            if a.source is not None:
                out.add((names[2], frags(a.source)))
        return {s for s in out if s[1]}
    if layer == RELATIONS:
        ents = {e.id: frags(e.span) for e in ann.entities}
        return {
            (r.label, ents[r.from_id] + _BETWEEN + ents[r.to_id])
            for r in ann.relations
            if r.from_id in ents and r.to_id in ents
        }
    raise ValueError(f"unknown layer {layer!r}; choose from {', '.join(LAYERS)}")


def event_triples(ann: Annotation) -> set[tuple]:
    ents = {e.id: e for e in ann.entities}
    out = set()
    for ev in ann.events:
        for arg in ev.arguments:
            ent = ents.get(arg.entity_id)
            if ent is not None:
                out.add((frags(ev.trigger), ev.type, arg.role, frags(ent.span), ent.label))
    return out


# ---------------------------------------------------------------- counters


@dataclass
class PRF:
    """Pooled counts for one comparison: matched on each side and totals on each side."""

    matched_a: int = 0
    total_a: int = 0
    matched_b: int = 0
    total_b: int = 0

    def add(self, other: PRF) -> None:
        self.matched_a += other.matched_a
        self.total_a += other.total_a
        self.matched_b += other.matched_b
        self.total_b += other.total_b

    @property
    def recall(self) -> float | None:
        return self.matched_a / self.total_a if self.total_a else None

    @property
    def precision(self) -> float | None:
        return self.matched_b / self.total_b if self.total_b else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None if (self.total_a + self.total_b) == 0 else 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": _r(self.precision),
            "recall": _r(self.recall),
            "f1": _r(self.f1),
            "matched_a": self.matched_a,
            "total_a": self.total_a,
            "matched_b": self.matched_b,
            "total_b": self.total_b,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def exact_counts(a: set, b: set) -> PRF:
    tp = len(a & b)
    return PRF(tp, len(a), tp, len(b))


def overlap_counts(a: Collection[tuple[str, Frags]], b: Collection[tuple[str, Frags]]) -> PRF:
    ma = sum(1 for la, fa in a if any(la == lb and overlaps(fa, fb) for lb, fb in b))
    mb = sum(1 for lb, fb in b if any(la == lb and overlaps(fa, fb) for la, fa in a))
    return PRF(ma, len(a), mb, len(b))


AGR_MODES = ("cue", "cue_content", "any")


def attribution_matches(a: Annotation, b: Annotation, *, mode: str = "cue") -> tuple[int, int]:
    """(attributions of ``a`` matched by one of ``b``'s, attributions of ``a``): agr(a‖b).

    ``mode``: ``cue`` — the cues overlap; ``cue_content`` — cues and contents both overlap;
    ``any`` — any span of one (cue, content or source) overlaps any span of the other.
    """
    if mode not in AGR_MODES:
        raise ValueError(f"unknown agr mode {mode!r}; choose from {', '.join(AGR_MODES)}")

    def parts(x: Any) -> list[Frags]:
        return [frags(s) for s in (x.cue, x.content, x.source) if s is not None]

    bs = [(frags(y.cue), frags(y.content), parts(y)) for y in b.attributions]
    matched = 0
    for x in a.attributions:
        cue, content, xp = frags(x.cue), frags(x.content), parts(x)
        for bc, bt, bp in bs:
            if mode == "any":
                hit = any(overlaps(p, q) for p in xp for q in bp)
            else:
                hit = overlaps(cue, bc) and (mode == "cue" or overlaps(content, bt))
            if hit:
                matched += 1
                break
    return matched, len(a.attributions)


# ---------------------------------------------------------------- tokens and alpha


def tokenize(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def token_labels(tokens: list[tuple[int, int]], spans: Iterable[tuple[str, Frags]]) -> list[str]:
    """Each token gets the label of the shortest span overlapping it (nested spans win), or O."""
    labels = [OUTSIDE] * len(tokens)
    best: list[int | None] = [None] * len(tokens)
    starts = [s for s, _ in tokens]
    import bisect

    for label, fr in sorted(spans, key=lambda s: (sum(e - b for b, e in s[1]), s[0])):
        size = sum(e - b for b, e in fr)
        for b, e in fr:
            i = max(bisect.bisect_right(starts, b) - 1, 0)
            while i < len(tokens) and tokens[i][0] < e:
                ts, te = tokens[i]
                shortest = best[i]
                if ts < e and b < te and (shortest is None or size < shortest):
                    labels[i], best[i] = label, size
                i += 1
    return labels


def krippendorff_alpha(rows: list[list[Any]]) -> float | None:
    """Nominal alpha of a coders x units table (None = missing), via the ``krippendorff`` package."""
    import krippendorff

    if not rows or not rows[0]:
        return None
    values = sorted({v for r in rows for v in r if v is not None}, key=str)
    if len(values) < 2:
        return 1.0 if values else None  # perfect agreement on a single value; alpha is undefined
    code = {v: i for i, v in enumerate(values)}
    data = np.array([[np.nan if v is None else code[v] for v in r] for r in rows], dtype=float)
    # units coded by fewer than two coders carry no information; drop them first
    keep = (~np.isnan(data)).sum(axis=0) >= 2
    if not keep.any():
        return None
    try:
        return float(krippendorff.alpha(reliability_data=data[:, keep], level_of_measurement="nominal"))
    except ValueError:
        return None


# ---------------------------------------------------------------- the report


@dataclass
class LayerReport:
    layer: str
    spans: int = 0
    exact: PRF = field(default_factory=PRF)
    overlap: PRF = field(default_factory=PRF)
    by_label: dict[str, dict[str, Any]] = field(default_factory=dict)
    pairwise: list[dict[str, Any]] = field(default_factory=list)
    alpha: float | None = None
    alpha_tokens: int = 0
    alpha_documents: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "spans": self.spans,
            "exact": self.exact.to_dict(),
            "overlap": self.overlap.to_dict(),
            "alpha": _r(self.alpha),
            "alpha_tokens": self.alpha_tokens,
            "alpha_documents": self.alpha_documents,
            "by_label": self.by_label,
            "pairwise": self.pairwise,
            **self.extra,
        }


@dataclass
class AgreementReport:
    documents: int
    annotators: list[str]
    pairs: int
    layers: dict[str, LayerReport]
    skipped_single: int = 0
    duplicates: int = 0
    missing_text: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "annotators": self.annotators,
            "pairs": self.pairs,
            "documents_with_one_annotator": self.skipped_single,
            "duplicate_records_ignored": self.duplicates,
            "documents_without_text": len(self.missing_text),
            "layers": {k: v.to_dict() for k, v in self.layers.items()},
        }


def group_by_document(annotations: Iterable[Annotation]) -> tuple[dict[str, dict[str, Annotation]], int]:
    """doc_id -> annotator -> annotation (the last one read wins); and how many were replaced."""
    docs: dict[str, dict[str, Annotation]] = {}
    dup = 0
    for ann in annotations:
        per = docs.setdefault(ann.doc_id, {})
        if ann.annotator in per:
            dup += 1
        per[ann.annotator] = ann
    return docs, dup


def agreement(
    annotations: Iterable[Annotation],
    texts: Mapping[str, str] | None = None,
    *,
    layers: Iterable[str] = LAYERS,
    by_label: bool = True,
    exclude_origins: Iterable[str] = ("prediction", "adjudicated"),
    tax: Taxonomy | None = None,
) -> AgreementReport:
    """All figures for the documents that two or more annotators annotated.

    ``texts`` (doc_id -> stored text) is needed only for token alpha; documents without text
    (or whose text hash differs from the annotations') are left out of alpha and counted.
    Model predictions and adjudicated gold are not annotators (``exclude_origins``).
    """
    skip = set(exclude_origins)
    docs, dup = group_by_document(a for a in annotations if a.origin not in skip)
    multi = {d: per for d, per in docs.items() if len(per) >= 2}
    annotators = sorted({a for per in multi.values() for a in per})
    tax = tax or taxmod.load()
    layer_list = [name for name in LAYERS if name in set(layers) and tax.has(name)]
    report = AgreementReport(
        documents=len(multi),
        annotators=annotators,
        pairs=sum(len(per) * (len(per) - 1) // 2 for per in multi.values()),
        layers={},
        skipped_single=len(docs) - len(multi),
        duplicates=dup,
    )
    from corpus.core.model import sha256_text

    usable_text: dict[str, str] = {}
    for d, per in multi.items():
        t = (texts or {}).get(d)
        if t is not None and all(not a.text_sha256 or a.text_sha256 == sha256_text(t) for a in per.values()):
            usable_text[d] = t
        else:
            report.missing_text.append(d)
    for layer in layer_list:
        # token alpha is for span layers; a relation has no tokens of its own
        texts_for = {} if layer == RELATIONS else usable_text
        report.layers[layer] = _layer(layer, multi, texts_for, annotators, by_label, tax)
    return report


def _layer(
    layer: str,
    multi: dict[str, dict[str, Annotation]],
    texts: dict[str, str],
    annotators: list[str],
    by_label: bool,
    tax: Taxonomy,
) -> LayerReport:
    rep = LayerReport(layer)
    spans = {d: {who: layer_spans(a, layer, tax) for who, a in per.items()} for d, per in multi.items()}
    labels = sorted({lab for per in spans.values() for ss in per.values() for lab, _ in ss})
    rep.spans = sum(len(ss) for per in spans.values() for ss in per.values())
    pair_stats: dict[tuple[str, str], dict[str, Any]] = {}
    label_exact = {lab: PRF() for lab in labels}
    label_overlap = {lab: PRF() for lab in labels}
    for per in spans.values():
        for a, b in itertools.combinations(sorted(per), 2):
            ex, ov = exact_counts(per[a], per[b]), overlap_counts(per[a], per[b])
            rep.exact.add(ex)
            rep.overlap.add(ov)
            ps = pair_stats.setdefault((a, b), {"documents": 0, "exact": PRF(), "overlap": PRF()})
            ps["documents"] += 1
            ps["exact"].add(ex)
            ps["overlap"].add(ov)
            if by_label:
                for lab in labels:
                    sa = {s for s in per[a] if s[0] == lab}
                    sb = {s for s in per[b] if s[0] == lab}
                    label_exact[lab].add(exact_counts(sa, sb))
                    label_overlap[lab].add(overlap_counts(sa, sb))
    rep.pairwise = [
        {"a": a, "b": b, "documents": v["documents"], "exact_f1": _r(v["exact"].f1), "overlap_f1": _r(v["overlap"].f1)}
        for (a, b), v in sorted(pair_stats.items())
    ]
    # token alpha
    rows: dict[str, list[str | None]] = {who: [] for who in annotators}
    for d, per in spans.items():
        if d not in texts:
            continue
        toks = tokenize(texts[d])
        rep.alpha_documents += 1
        rep.alpha_tokens += len(toks)
        for who in annotators:
            rows[who].extend(token_labels(toks, per[who]) if who in per else [None] * len(toks))
    table = [rows[w] for w in annotators]
    rep.alpha = krippendorff_alpha(table) if rep.alpha_tokens else None
    if by_label:
        for lab in labels:
            entry: dict[str, Any] = {"exact_f1": _r(label_exact[lab].f1), "overlap_f1": _r(label_overlap[lab].f1)}
            entry["spans"] = sum(1 for per in spans.values() for ss in per.values() for s in ss if s[0] == lab)
            if rep.alpha_tokens:
                entry["alpha"] = _r(krippendorff_alpha([[None if v is None else v == lab for v in r] for r in table]))
            rep.by_label[lab] = entry
    if layer == ATTRIBUTION:
        rep.extra["attribution_agreement"] = _attribution_agreement(multi)
    if layer == EVENTS:
        trip = PRF()
        for by_annotator in multi.values():
            for a, b in itertools.combinations(sorted(by_annotator), 2):
                trip.add(exact_counts(event_triples(by_annotator[a]), event_triples(by_annotator[b])))
        rep.extra["triples"] = trip.to_dict()
    return rep


def _attribution_agreement(multi: dict[str, dict[str, Annotation]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pairwise: dict[tuple[str, str], list[int]] = {}
    for mode in AGR_MODES:
        matched = total = 0
        for per in multi.values():
            for a, b in itertools.permutations(sorted(per), 2):
                m, n = attribution_matches(per[a], per[b], mode=mode)
                matched += m
                total += n
                if mode == "cue":
                    acc = pairwise.setdefault((min(a, b), max(a, b)), [0, 0])
                    acc[0] += m
                    acc[1] += n
        out[mode] = {"agr": _r(matched / total) if total else None, "matched": matched, "attributions": total}
    out["pairwise"] = [{"a": a, "b": b, "agr": _r(m / n) if n else None} for (a, b), (m, n) in sorted(pairwise.items())]
    out["definition"] = (
        "agr(A||B) = share of A's attributions matched by one of B's, pooled over all ordered annotator pairs "
        "of every multiply-annotated document; matched = cues overlap (cue), cues and contents overlap "
        "(cue_content), any span of one overlaps any span of the other (any)"
    )
    return out
