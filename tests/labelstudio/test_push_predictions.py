"""push --predictions with the spaCy pre-annotator against a real Label Studio; a document the model
fails on is reported and pushed without predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.ingest.importer import import_paths
from corpus.labelstudio.push import push
from corpus.predict.preannotate import load_preannotator
from corpus.store.table import CorpusStore

pytest.importorskip("spacy")
pytestmark = pytest.mark.labelstudio

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> CorpusStore:
    root = tmp_path_factory.mktemp("pushpred")
    docs = root / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Officials said the talks in Geneva would resume on Monday.\n", encoding="utf-8")
    (docs / "b.txt").write_text("The strike, he said, was a success. Nobody else commented.\n", encoding="utf-8")
    store = CorpusStore(str(root / "store"))
    assert not import_paths([SEEDS, docs], store, source="t", message="t").errors
    return store


class FailsOn:
    """The spaCy pre-annotator, except that it raises on one document."""

    def __init__(self, inner, doc_id):
        self.inner, self.doc_id = inner, doc_id
        self.name, self.model_version = inner.name, inner.model_version

    def predict(self, article):
        if article.doc_id == self.doc_id:
            raise RuntimeError("model crashed")
        return self.inner.predict(article)

    def predict_many(self, articles):
        return [self.predict(a) for a in articles]


def _predictions(client, project_id):
    out = {}
    for task_id, meta in client.task_meta(project_id):
        out[meta["doc_id"]] = client.predictions(task_id)
    return out


def test_a_document_the_model_fails_on_is_pushed_without_predictions(labelstudio, small_store):
    client = labelstudio.client
    arts = list(small_store.iter_articles())
    bad = next(a for a in arts if a.text.startswith("Officials"))
    pre = FailsOn(load_preannotator("spacy"), bad.doc_id)
    rep = push(client, small_store, "t-pred-fail", preannotator=pre)
    assert rep.pushed == len(arts) and rep.predictions_failed == 1
    assert [e.doc_id for e in rep.errors] == [bad.doc_id] and "model crashed" in rep.errors[0].message
    assert rep.errors[0].code == "preannotator_failed" and rep.errors[0].is_error
    preds = _predictions(client, rep.project_id)
    assert preds[bad.doc_id] == []
    others = [p for d, p in preds.items() if d != bad.doc_id]
    assert len(others) == len(arts) - 1 and all(len(p) == 1 for p in others)
    assert {p[0]["model_version"] for p in others} == {pre.model_version}


def test_cli_push_with_spacy_predictions_all_layers(labelstudio, small_store):
    res = CliRunner(env=labelstudio.env).invoke(
        main, ["push", "--project", "t-pred-spacy", "--store", small_store.uri, "--predictions", "spacy", "--json"]
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["predictions"] == rep["pushed"] == 3 and rep["predictions_invalid"] == 0
    preds = _predictions(labelstudio.client, rep["project_id"])
    seed = next(p for p in preds.values() if len(p[0]["result"]) > 50)[0]
    from_names = {r["from_name"] for r in seed["result"] if r["type"] == "labels"}
    assert len(from_names) == 3, from_names  # entities, events and attribution regions
    assert 0 < seed["score"] <= 1


def test_order_uncertainty_puts_the_least_sure_first(labelstudio, small_store, tmp_path):
    from corpus.core.errors import UsageError

    client = labelstudio.client
    with pytest.raises(UsageError):
        push(client, small_store, "t-pred-order", order="uncertainty")
    pre = load_preannotator("spacy")
    arts = list(small_store.iter_articles())
    expected = {a.doc_id: pre.predict(a) for a in arts}
    rep = push(client, small_store, "t-pred-order", preannotator=pre, order="uncertainty", batch_size=2)
    assert rep.pushed == 3 and not rep.errors
    by_id = sorted(client.task_meta(rep.project_id))
    scores = [expected[m["doc_id"]].score for _, m in by_id]
    assert scores == sorted(scores) and len(set(scores)) > 1, scores
    preds = _predictions(client, rep.project_id)
    assert [preds[m["doc_id"]][0]["score"] for _, m in by_id] == scores
