"""corpus evaluate: a pre-annotator scored against gold with exactly the matching of corpus agreement;
corpus predict: canonical prediction records that push and evaluate read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.annotations import agreement as ag
from corpus.cli import main
from corpus.core.model import Annotation, Article
from corpus.predict.evaluate import evaluate, pooled_annotation
from corpus.predict.preannotate import JsonlPredictions, RuleAttributionPreannotator

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
SEED_GOLD = REPO / "annotations" / "seed"
TEXT = "Rebels said the base in Aleppo was hit. Officials told reporters the talks would resume on Monday."


def _ann(annotator, *, entities=(), attributions=(), origin="labelstudio"):
    art = Article(doc_id="d1", text=TEXT)

    def span(s):
        i = TEXT.index(s)
        return {"fragments": [{"start": i, "end": i + len(s)}], "text": s}

    ents = [{"id": f"e{k}", "label": lab, **span(s)} for k, (lab, s) in enumerate(entities)]
    atts = [
        {"id": f"a{k}", "cue": span(c), "content": span(t), "source": span(s) if s else None, "flags": []}
        for k, (c, s, t) in enumerate(attributions)
    ]
    return Annotation.from_dict(
        {
            "doc_id": art.doc_id,
            "text_sha256": art.text_sha256,
            "annotator": annotator,
            "entities": ents,
            "attributions": atts,
            "origin": origin,
        }
    )


A = _ann(
    "ann-a",
    entities=[("GPE", "Aleppo"), ("TIME", "Monday"), ("PER", "Rebels")],
    attributions=[("said", "Rebels", "the base in Aleppo was hit"), ("told", "Officials", "the talks would resume")],
)
B = _ann(
    "ann-b",
    entities=[("GPE", "Aleppo"), ("TIME", "on Monday"), ("ORG", "Rebels")],
    attributions=[("said", "Rebels", "the base in Aleppo was hit")],
)


def test_model_vs_gold_uses_agreements_matching():
    """The model in B's place gets exactly the figures corpus agreement gives the pair (A, B)."""
    model = Annotation.from_dict({**B.to_dict(), "annotator": "model", "origin": "prediction"})
    rep = evaluate({"d1": model}, [A], human=False).to_dict()
    agr = ag.agreement([A, B]).to_dict()
    for layer in ("entities", "attribution"):
        assert rep["layers"][layer]["exact"] == agr["layers"][layer]["exact"]
        assert rep["layers"][layer]["overlap"] == agr["layers"][layer]["overlap"]
    ents = rep["layers"]["entities"]
    assert ents["exact"]["recall"] == pytest.approx(1 / 3, abs=1e-4) and ents["overlap"]["precision"] == pytest.approx(
        2 / 3, abs=1e-4
    )
    assert ents["by_label"]["TIME"]["overlap"]["f1"] == 1.0 and ents["by_label"]["TIME"]["exact"]["f1"] == 0.0
    # attribution-wise: recall = agr(gold || model), precision = agr(model || gold)
    cue = rep["attribution"]["cue"]
    assert (cue["recall"], cue["precision"]) == (0.5, 1.0)
    assert cue["recall"] == ag.attribution_matches(A, model)[0] / 2


def test_pairs_pool_over_annotators_and_pooled_gold_is_the_union():
    model = _ann("m", entities=[("PER", "Rebels"), ("ORG", "Rebels")], origin="prediction")
    pairs = evaluate({"d1": model}, [A, B], layers=["entities"]).to_dict()["layers"]["entities"]["exact"]
    assert (pairs["matched_a"], pairs["total_a"], pairs["matched_b"], pairs["total_b"]) == (2, 6, 2, 4)
    pooled = evaluate({"d1": model}, [A, B], layers=["entities"], gold_mode="pooled").to_dict()
    ex = pooled["layers"]["entities"]["exact"]
    assert (ex["matched_b"], ex["total_b"], ex["total_a"]) == (2, 2, 5)  # GPE Aleppo is in both: one span
    assert len(pooled_annotation([A, B]).entities) == 6


def test_human_agreement_beside_and_documents_without_prediction():
    rep = evaluate({"d1": None}, [A, B], human=True).to_dict()
    assert rep["documents_without_prediction"] == 1
    assert rep["layers"]["entities"]["overlap"]["recall"] == 0.0
    assert rep["human"]["documents"] == 1 and rep["human"]["annotators"] == ["ann-a", "ann-b"]
    assert evaluate({}, [A]).to_dict()["skipped"][0]["doc_id"] == "d1"


def test_predict_writes_records_push_and_evaluate_read_back(tmp_path, store_uri):
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(SEEDS), "--store", store_uri, "-m", "seed"]).exit_code == 0
    out = tmp_path / "rules.jsonl"
    res = runner.invoke(main, ["predict", "--predictions", "rules", "--store", store_uri, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["records"] == rep["documents"] == 1 and rep["model_version"] == "rules-attribution-1"
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["origin"] == "prediction" and rec["model_version"] == "rules-attribution-1" and rec["taxonomy_version"]
    back = JsonlPredictions(out)
    assert back.model_version == "rules-attribution-1" and not back.errors
    # evaluate the file and the built-in rules: the same figures
    args = ["--annotations", str(SEED_GOLD), "--store", store_uri, "--layer", "attribution", "--json"]
    from_file = json.loads(runner.invoke(main, ["evaluate", "--predictions", str(out), *args]).output)
    built_in = json.loads(runner.invoke(main, ["evaluate", "--predictions", "rules", *args]).output)
    assert from_file["layers"] == built_in["layers"] and from_file["documents"] == 1
    assert built_in["layers"]["attribution"]["overlap"]["f1"] > 0.5
    art = next(iter(__import__("corpus.store.table", fromlist=["x"]).CorpusStore(store_uri).iter_articles()))
    assert (
        back.predict(art).to_dict()["attributions"]
        == RuleAttributionPreannotator().predict(art).to_dict()["attributions"]
    )


def test_predict_reports_a_failing_document_and_exits_1(tmp_path, store_uri, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(SEEDS), "--store", store_uri, "-m", "seed"]).exit_code == 0

    def boom(self, article):
        raise ValueError("bad document")

    monkeypatch.setattr(RuleAttributionPreannotator, "predict", boom)
    out = tmp_path / "p.jsonl"
    res = runner.invoke(main, ["predict", "--predictions", "rules", "--store", store_uri, "--out", str(out), "--json"])
    assert res.exit_code == 1
    rep = json.loads(res.output)
    assert rep["problems"][0]["code"] == "preannotator_failed"
    assert rep["failed"] == 1 and "bad document" in rep["problems"][0]["message"] and out.read_text() == ""
