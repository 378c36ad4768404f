"""What annotators did with a pre-annotation: each predicted span kept, edited or deleted, and added spans.

Per layer (``agreement.layer_spans``: entities by label, event triggers by type, attribution
spans as Cue / Content / Source), comparing a submitted annotation with the prediction it
started from (Label Studio's ``parent_prediction``):

* **kept**: the annotation has the predicted span unchanged (same label, same fragments);
* **edited**: not unchanged, but an annotation span of the same layer overlaps it (boundaries or
  label changed); each annotation span can be the edit of one predicted span;
* **deleted**: no annotation span of the layer overlaps it;
* **added**: annotation spans that are neither kept nor an edit.

Counts by layer and label (the predicted label; for added spans the annotator's label).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from corpus.annotations.agreement import LAYERS, layer_spans, overlaps
from corpus.core.model import Annotation

OUTCOMES = ("kept", "edited", "deleted", "added")


def rate(counts: dict[str, Any]) -> float | None:
    """Share of predicted spans kept unchanged, from ``compare``'s counts (or their sums, with or
    without the card's ``regions_`` prefix); None when nothing was predicted."""
    kept = counts.get("kept", counts.get("regions_kept", 0))
    predicted = counts.get("predicted", counts.get("regions_predicted"))
    if predicted is None:
        predicted = sum(counts.get(k, 0) for k in ("kept", "edited", "deleted"))
    return round(kept / predicted, 4) if predicted else None


def compare(annotation: Annotation, prediction: Annotation) -> dict[str, Any]:
    """Totals (``kept``, ``edited``, ``deleted``, ``added``, ``predicted``, ``acceptance_rate``) and ``by_layer``."""
    totals: Counter[str] = Counter()
    by_layer: dict[str, dict[str, dict[str, int]]] = {}
    for layer in LAYERS:
        pred = sorted(layer_spans(prediction, layer))
        ann = sorted(layer_spans(annotation, layer))
        exact = set(pred) & set(ann)
        free = [s for s in ann if s not in exact]
        counts: dict[str, Counter[str]] = {}
        for lab, fr in pred:
            if (lab, fr) in exact:
                outcome = "kept"
            else:
                hit = next((s for s in free if overlaps(fr, s[1])), None)
                if hit is not None:
                    free.remove(hit)
                    outcome = "edited"
                else:
                    outcome = "deleted"
            counts.setdefault(lab, Counter())[outcome] += 1
        for lab, _fr in free:
            counts.setdefault(lab, Counter())["added"] += 1
        if counts:
            by_layer[layer] = {lab: {k: c[k] for k in OUTCOMES if c[k]} for lab, c in sorted(counts.items())}
            for c in counts.values():
                totals.update(c)
    predicted = totals["kept"] + totals["edited"] + totals["deleted"]
    return {
        **{k: totals[k] for k in OUTCOMES},
        "predicted": predicted,
        "acceptance_rate": rate({"kept": totals["kept"], "predicted": predicted}),
        "by_layer": by_layer,
    }


__all__ = ["OUTCOMES", "compare", "rate"]
