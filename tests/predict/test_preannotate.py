"""Pre-annotators: the rule-based attribution guesser and predictions from a JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.core.errors import UsageError
from corpus.core.model import Annotation, Article, Attribution, Span
from corpus.predict.preannotate import (
    JsonlPredictions,
    PreAnnotator,
    RuleAttributionPreannotator,
    load_preannotator,
    sentences,
)

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_b18206fd37d6bce2.txt"


@pytest.fixture(scope="module")
def seed_article() -> Article:
    return Article(doc_id="b18206fd37d6bce2", text=SEED.read_text(encoding="utf-8"))


def test_rules_find_the_seed_attributions(seed_article):
    pre = RuleAttributionPreannotator()
    assert isinstance(pre, PreAnnotator)
    ann = pre.predict(seed_article)
    assert ann is not None and ann.origin == "prediction"
    assert ann.model_version == pre.model_version and 0 < ann.score <= 1
    assert ann.doc_id == seed_article.doc_id and ann.text_sha256 == seed_article.text_sha256
    by_cue = {a.cue.text: a for a in ann.attributions}
    acc = by_cue["According to"]
    assert acc.source.text == "Al Hadath TV"
    assert acc.content.text.startswith("the attack originated from the Ash Shaddadi military base")
    assert acc.attributes.get("source_type") == "media outlet" and acc.attributes.get("quote_type") == "indirect"
    conf = by_cue["confirmed"]
    assert conf.source.text == "Pentagon spokesperson Sean Parnell" and conf.attributes.get("commitment") == "confirmed"
    assert by_cue["reported"].source.text == "The New York Times"
    # The "unconfirmed reports from local sources" sentence is marked as such.
    assert by_cue["according to"].attributes.get("commitment") == "unconfirmed"


def test_rule_spans_are_exact_and_disjoint(seed_article):
    text = seed_article.text
    ann = RuleAttributionPreannotator().predict(seed_article)
    assert len(ann.attributions) >= 4
    for a in ann.attributions:
        spans = [a.cue, a.content] + ([a.source] if a.source else [])
        for s in spans:
            assert s.text == s.expected_text(text) and s.text == s.text.strip()
            assert all(0 <= f.start < f.end <= len(text) for f in s.fragments)
        ranges = sorted((s.start, s.end) for s in spans)
        assert all(x[1] <= y[0] for x, y in zip(ranges, ranges[1:])), ranges
        assert a.attributes.get("quote_type") and a.attributes.get("source_type") and a.attributes.get("commitment")


def test_rules_are_case_sensitive_and_quiet_without_cues():
    art = Article(doc_id="d", text="The United States sent ships. Nothing else happened here at all.")
    assert RuleAttributionPreannotator().predict(art) is None


def test_rules_handle_fronted_quotes():
    text = '"We will not back down from this fight," the minister said on Tuesday.'
    ann = RuleAttributionPreannotator().predict(Article(doc_id="d", text=text))
    a = ann.attributions[0]
    assert a.cue.text == "said" and a.source.text == "the minister"
    assert a.content.text == "We will not back down from this fight" and a.attributes.get("quote_type") == "direct"
    assert a.attributes.get("source_type") == "official role"


def test_sentences_cover_the_text():
    text = "One sentence. Another one! A third?\nA line."
    spans = sentences(text)
    assert [text[s:e] for s, e in spans] == ["One sentence.", "Another one!", "A third?", "A line."]


def _prediction(doc: Article, start: int, end: int, **kw) -> dict:
    cue = Span.from_offsets(doc.text, [(start, end)])
    content = Span.from_offsets(doc.text, [(0, 3)])
    return Annotation(
        doc.doc_id,
        doc.text_sha256,
        "model:x",
        attributions=[Attribution("a1", cue, content)],
        origin="prediction",
        model_version="ext-7",
        **kw,
    ).to_dict()


def test_jsonl_predictions_match_docs_and_report_bad_lines(tmp_path):
    doc = Article(doc_id="d1", text="Foo said so.")
    other = Article(doc_id="d2", text="Other text.")
    path = tmp_path / "preds.jsonl"
    stale = _prediction(doc, 4, 8)
    stale["doc_id"], stale["text_sha256"] = "d2", "0" * 64
    path.write_text("\n".join([json.dumps(_prediction(doc, 4, 8, score=0.9)), "{not json", json.dumps(stale)]) + "\n")
    src = load_preannotator(str(path))
    assert isinstance(src, JsonlPredictions) and src.model_version == "ext-7"
    got = src.predict_all(doc)
    assert len(got) == 1 and got[0].attributions[0].cue.text == "said" and got[0].score == 0.9
    assert src.predict_all(other) == []
    assert sorted((e.line, e.code) for e in src.errors) == [(2, "bad_prediction"), (3, "stale_prediction")]
    assert all(e.file == str(path) for e in src.errors)


def test_load_preannotator_choices(tmp_path):
    assert load_preannotator(None) is None
    assert isinstance(load_preannotator("rules"), RuleAttributionPreannotator)
    with pytest.raises(UsageError):
        load_preannotator(str(tmp_path / "missing.jsonl"))
    with pytest.raises(UsageError):
        load_preannotator("magic")


def test_rule_predictions_validate_and_convert(seed_article):
    """What the rules propose passes corpus.annotations.validate and becomes a Label Studio result."""
    from corpus.annotations import lsformat, validate
    from corpus.core import taxonomy

    tax = taxonomy.load()
    ann = RuleAttributionPreannotator().predict(seed_article)
    ann.taxonomy_version = tax.version
    errors = [f for f in validate.validate_record(ann.to_dict(), seed_article.text, tax) if f.is_error]
    assert errors == []
    result = lsformat.to_labelstudio(ann, seed_article.text, tax)
    back, findings = lsformat.ls_result_to_annotation(result, seed_article.text, tax)
    assert [f for f in findings if f.is_error] == []
    assert [a.to_dict() for a in back.attributions] == [a.to_dict() for a in ann.attributions]


def test_rules_need_an_attribution_layer():
    from conftest import REPO

    from corpus.core import taxonomy

    kbp = taxonomy.load(REPO / "tests" / "taxonomies" / "kbp.yaml")
    with pytest.raises(UsageError, match="has no attribution layer"):
        load_preannotator("rules", kbp)
    text = 'Officials said the bridge was closed for repairs, "for safety".'
    assert RuleAttributionPreannotator(tax=kbp).predict(Article(doc_id="d", text=text)) is None
    ann = RuleAttributionPreannotator().predict(Article(doc_id="d", text=text))
    # each guess lands on the attribute whose values hold it; every attribute of the layer is a key
    assert set(ann.attributions[0].attributes) == {a.name for a in taxonomy.load().attribution_attributes}
