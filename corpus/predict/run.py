"""Run a pre-annotator over articles in batches; a document it fails on is reported, never fatal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from corpus.core.model import Annotation, Article
from corpus.core.problems import Problem
from corpus.predict.preannotate import JsonlPredictions


@dataclass
class Outcome:
    article: Article
    annotations: list[Annotation]
    error: Problem | None = None


def _failure(pre: Any, article: Article, e: Exception) -> Problem:
    return Problem(
        "preannotator_failed",
        f"{getattr(pre, 'model_version', None)} failed on this document ({type(e).__name__}: {e})",
        doc_id=article.doc_id,
    )


def _one(pre: Any, article: Article) -> Outcome:
    try:
        if isinstance(pre, JsonlPredictions):
            return Outcome(article, pre.predict_all(article))
        ann = pre.predict(article)
        return Outcome(article, [ann] if ann is not None else [])
    except Exception as e:  # reported; the document goes on without predictions
        return Outcome(article, [], _failure(pre, article, e))


def predict_batch(pre: Any, articles: list[Article], taxonomy_version: str | None = None) -> list[Outcome]:
    """Outcomes in the order of ``articles``; ``predict_many`` when the pre-annotator has it."""
    many = getattr(pre, "predict_many", None)
    outcomes: list[Outcome] | None = None
    if many is not None and not isinstance(pre, JsonlPredictions):
        try:
            found = list(many(articles))
            if len(found) == len(articles):
                outcomes = [Outcome(a, [p] if p is not None else []) for a, p in zip(articles, found)]
        except Exception:  # one bad document must not fail the batch: one by one finds it
            outcomes = None
    if outcomes is None:
        outcomes = [_one(pre, a) for a in articles]
    for o in outcomes:
        for ann in o.annotations:
            ann.origin = "prediction"
            ann.model_version = ann.model_version or getattr(pre, "model_version", None)
            ann.taxonomy_version = ann.taxonomy_version or taxonomy_version
    return outcomes


def run(
    pre: Any, articles: Iterable[Article], *, batch_size: int = 64, taxonomy_version: str | None = None
) -> Iterator[Outcome]:
    batch: list[Article] = []
    for art in articles:
        batch.append(art)
        if len(batch) >= batch_size:
            yield from predict_batch(pre, batch, taxonomy_version)
            batch = []
    if batch:
        yield from predict_batch(pre, batch, taxonomy_version)


__all__ = ["Outcome", "predict_batch", "run"]
