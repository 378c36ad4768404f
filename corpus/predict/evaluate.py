"""One yardstick for models and people: a pre-annotator scored against gold with agreement's matching.

Every count comes from ``corpus.annotations.agreement`` (``layer_spans``, ``exact_counts``,
``overlap_counts``, ``attribution_matches``, ``event_triples``, ``PRF``): the model is one more
"annotator" B compared with the gold annotator A, so precision is the share of the model's spans
matched by gold and recall the share of gold's spans matched by the model.

Gold, per document (``gold``):

* ``pairs`` (default): the model against each human annotator of the document, counts pooled
  over those pairs, exactly as ``corpus agreement`` pools annotator pairs;
* ``pooled``: the union of all human annotations of the document as one gold (a model span
  counts when it matches any annotator's span).

``human`` adds ``agreement()`` of the human annotators on the same documents, for comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from corpus.annotations import agreement as ag
from corpus.core.model import Annotation

GOLD_MODES = ("pairs", "pooled")
HUMAN_EXCLUDED = ("prediction",)


@dataclass
class EvalReport:
    model_version: str | None
    gold: str
    documents: int
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    attribution: dict[str, Any] = field(default_factory=dict)
    event_triples: dict[str, Any] = field(default_factory=dict)
    human: dict[str, Any] | None = None
    documents_without_prediction: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "gold": self.gold,
            "documents": self.documents,
            "documents_without_prediction": self.documents_without_prediction,
            "layers": self.layers,
            "attribution": self.attribution,
            "event_triples": self.event_triples,
            "human": self.human,
            "skipped": self.skipped,
        }


def pooled_annotation(anns: list[Annotation]) -> Annotation:
    """The union of several annotations of one document (ids made unique per annotator)."""
    d: dict[str, Any] = {"doc_id": anns[0].doc_id, "text_sha256": anns[0].text_sha256, "annotator": "pooled"}
    ents, evs, atts = [], [], []
    for k, a in enumerate(anns):
        rec = a.to_dict()
        for e in rec["entities"]:
            ents.append({**e, "id": f"{k}:{e['id']}"})
        for ev in rec["events"]:
            args = [{**x, "entity_id": f"{k}:{x['entity_id']}"} for x in ev["arguments"]]
            evs.append({**ev, "id": f"{k}:{ev['id']}", "arguments": args})
        for at in rec["attributions"]:
            atts.append({**at, "id": f"{k}:{at['id']}"})
    return Annotation.from_dict({**d, "entities": ents, "events": evs, "attributions": atts})


def _gold_by_doc(gold: Iterable[Annotation]) -> dict[str, list[Annotation]]:
    docs, _ = ag.group_by_document(a for a in gold if a.origin not in HUMAN_EXCLUDED)
    return {d: [per[w] for w in sorted(per)] for d, per in docs.items()}


def evaluate(
    predictions: Mapping[str, Annotation | None],
    gold: Iterable[Annotation],
    *,
    gold_mode: str = "pairs",
    layers: Iterable[str] = ag.LAYERS,
    human: bool = False,
    texts: Mapping[str, str] | None = None,
    model_version: str | None = None,
) -> EvalReport:
    """Score ``predictions`` (doc_id -> the model's annotation, None when it proposed nothing)
    against the human annotations in ``gold`` on the documents both cover.

    A gold document with no entry in ``predictions`` is left out (listed in ``skipped``); one whose
    entry is None counts as an empty prediction."""
    if gold_mode not in GOLD_MODES:
        raise ValueError(f"unknown gold mode {gold_mode!r}; choose from {', '.join(GOLD_MODES)}")
    by_doc = _gold_by_doc(gold)
    layer_list = [x for x in ag.LAYERS if x in set(layers)]
    pairs: list[tuple[Annotation, Annotation]] = []  # (gold, prediction)
    used_docs: list[str] = []
    skipped: list[dict[str, Any]] = []
    empty = 0
    for doc_id, anns in sorted(by_doc.items()):
        if doc_id not in predictions:
            skipped.append({"doc_id": doc_id, "reason": "no prediction (document not in the store or the file)"})
            continue
        pred = predictions[doc_id]
        if pred is None:
            empty += 1
            pred = Annotation(doc_id, anns[0].text_sha256, "model", origin="prediction")
        stale = [a.annotator for a in anns if pred.text_sha256 and a.text_sha256 and a.text_sha256 != pred.text_sha256]
        if stale:
            skipped.append({"doc_id": doc_id, "reason": f"gold by {', '.join(stale)} annotates another text revision"})
            anns = [a for a in anns if a.annotator not in stale]
            if not anns:
                continue
        used_docs.append(doc_id)
        golds = [pooled_annotation(anns)] if gold_mode == "pooled" and len(anns) > 1 else anns
        pairs += [(g, pred) for g in golds]
    rep = EvalReport(model_version, gold_mode, len(used_docs), documents_without_prediction=empty, skipped=skipped)
    for layer in layer_list:
        rep.layers[layer] = _layer(layer, pairs)
    if "attribution" in layer_list:
        for mode in ag.AGR_MODES:
            rec = ag.PRF()
            for g, p in pairs:
                mg, ng = ag.attribution_matches(g, p, mode=mode)
                mp, np_ = ag.attribution_matches(p, g, mode=mode)
                rec.add(ag.PRF(mg, ng, mp, np_))
            rep.attribution[mode] = rec.to_dict()
    if "events" in layer_list:
        trip = ag.PRF()
        for g, p in pairs:
            trip.add(ag.exact_counts(ag.event_triples(g), ag.event_triples(p)))
        rep.event_triples = trip.to_dict()
    if human:
        humans = [a for d in used_docs for a in by_doc[d]]
        rep.human = ag.agreement(humans, texts, layers=layer_list).to_dict()
    return rep


def _layer(layer: str, pairs: list[tuple[Annotation, Annotation]]) -> dict[str, Any]:
    exact, overlap = ag.PRF(), ag.PRF()
    by_label: dict[str, dict[str, ag.PRF]] = {}
    for g, p in pairs:
        sg, sp = ag.layer_spans(g, layer), ag.layer_spans(p, layer)
        exact.add(ag.exact_counts(sg, sp))
        overlap.add(ag.overlap_counts(sg, sp))
        for lab in sorted({lab for lab, _ in sg | sp}):
            a = {s for s in sg if s[0] == lab}
            b = {s for s in sp if s[0] == lab}
            entry = by_label.setdefault(lab, {"exact": ag.PRF(), "overlap": ag.PRF()})
            entry["exact"].add(ag.exact_counts(a, b))
            entry["overlap"].add(ag.overlap_counts(a, b))
    return {
        "exact": exact.to_dict(),
        "overlap": overlap.to_dict(),
        "by_label": {lab: {k: v.to_dict() for k, v in e.items()} for lab, e in sorted(by_label.items())},
    }


__all__ = ["EvalReport", "GOLD_MODES", "evaluate", "pooled_annotation"]
