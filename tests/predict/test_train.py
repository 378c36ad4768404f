"""corpus train on a small gold set made here: beats the untrained baseline, respects the release split,
writes a model card, and its predictions round-trip push -> pull with exact offsets (real Label Studio)."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.model import Annotation, Article
from corpus.predict import spacy_model as sm
from corpus.predict.evaluate import evaluate
from corpus.predict.train import TrainedPreannotator, assemble_attributions, attribution_sentences
from corpus.release.splits import assign_split

pytest.importorskip("spacy")

NAMES = [
    "Anna Berg",
    "Omar Haddad",
    "Li Wei",
    "Maria Costa",
    "John Okafor",
    "Sara Nilsson",
    "Pedro Alves",
    "Yuki Tanaka",
    "Ivan Petrov",
    "Fatima Noor",
    "Lena Vogel",
    "Tom Reyes",
]
ORGS = ["the ministry", "the army", "the police", "Reuters", "the council", "the agency"]
VERBS = ["said", "told reporters", "claimed", "stated", "warned", "insisted"]
CLAUSES = [
    "the bridge was closed for repairs",
    "prices would rise again next year",
    "the talks had failed",
    "nobody was hurt in the fire",
    "the border would stay open",
    "the vote was postponed",
    "troops had left the city",
    "the report was wrong",
    "the factory will reopen soon",
]
FILLER = ["The weather was cold on Monday.", "Markets opened higher.", "Traffic was heavy in the morning."]


def make_doc(
    rng: random.Random, k: int
) -> tuple[str, list[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]]]]:
    """A short article with two or three attributions; returns the text and (kind, cue, source, content)."""
    parts, atts, pos = [], [], 0

    def add(s: str) -> int:
        nonlocal pos
        start = pos
        parts.append(s + " ")
        pos += len(s) + 1
        return start

    for _ in range(rng.randint(2, 3)):
        name, verb, clause = rng.choice(NAMES), rng.choice(VERBS), rng.choice(CLAUSES)
        if rng.random() < 0.5:
            s = f"{name} {verb} that {clause}."
            b = add(s)
            atts.append(
                (
                    (b + len(name) + 1, b + len(name) + 1 + len(verb)),
                    (b, b + len(name)),
                    (b + len(name) + len(verb) + 7, b + len(s) - 1),
                )
            )
        else:
            org = rng.choice(ORGS)
            s = f"According to {org}, {clause}."
            b = add(s)
            atts.append(((b, b + 12), (b + 13, b + 13 + len(org)), (b + 15 + len(org), b + len(s) - 1)))
        add(rng.choice(FILLER))
    return "".join(parts).strip(), atts


def gold_record(doc_id: str, text: str, atts) -> Annotation:
    art = Article(doc_id=doc_id, text=text)

    def span(r):
        return {"fragments": [{"start": r[0], "end": r[1]}], "text": text[r[0] : r[1]]}

    return Annotation.from_dict(
        {
            "doc_id": doc_id,
            "text_sha256": art.text_sha256,
            "annotator": "gold-maker",
            "attributions": [
                {
                    "id": f"a{i}",
                    "cue": span(c),
                    "source": span(s),
                    "content": span(t),
                    "quote_type": "indirect",
                    "source_type": "named person",
                    "commitment": "reported",
                    "flags": [],
                }
                for i, (c, s, t) in enumerate(atts)
            ],
        }
    )


@pytest.fixture(scope="module")
def gold_set(tmp_path_factory):
    rng = random.Random(7)
    root = tmp_path_factory.mktemp("train")
    docs = root / "docs"
    docs.mkdir()
    texts = {}
    for k in range(60):
        text, atts = make_doc(rng, k)
        (docs / f"d{k:03d}.txt").write_text(text + "\n", encoding="utf-8")
        texts[f"d{k:03d}.txt"] = (text, atts)
    store = str(root / "store")
    assert CliRunner().invoke(main, ["import", str(docs), "--store", store, "-m", "synthetic"]).exit_code == 0
    from corpus.store.table import CorpusStore

    by_text = {a.text: a for a in CorpusStore(store).iter_articles()}
    by_text.update({t.rstrip("\n"): a for t, a in list(by_text.items())})
    records = [gold_record(by_text[t].doc_id, by_text[t].text, atts) for t, atts in texts.values() if t in by_text]
    assert len(records) >= 50  # exact and near duplicates are not imported
    snap = root / "gold.jsonl"
    snap.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    return root, store, snap, records, by_text


@pytest.fixture(scope="module")
def trained(gold_set):
    root, store, snap, records, _ = gold_set
    out = root / "models" / "tiny"
    res = CliRunner().invoke(
        main,
        ["train", "--annotations", str(snap), "--store", store, "--out", str(out), "--epochs", "12", "--ensemble", "2"]
        + ["--json"],
    )
    assert res.exit_code == 0, res.output
    return out, json.loads(res.output)


def test_training_respects_the_split_and_writes_a_card(trained, gold_set):
    out, rep = trained
    _, _, snap, records, _ = gold_set
    card = json.loads((out / "card.json").read_text())
    assert card["layers"] == ["attribution"] == rep["layers"]
    held = set(card["held_out_documents"])
    assert held == {r.doc_id for r in records if assign_split(r.doc_id) == "test"} and held
    n_train = sum(1 for r in records if assign_split(r.doc_id) == "train")
    assert card["documents"]["train"] == n_train == card["training"]["attribution"]["documents"]
    assert card["snapshots"][0]["sha256"] and len(card["snapshots"][0]["sha256"]) == 64
    assert card["taxonomy_version"] and card["corpus_version"] == 0 and card["seed"] == 0
    assert card["training_seconds"] > 0 and "held_out" in card and (out / "README.md").is_file()
    assert card["model_version"].startswith("model:tiny-")
    # two models (seeds 0 and 1), trained in parallel processes, stored side by side
    assert card["ensemble"] == {"attribution": 2} and (out / "attribution.2" / "config.cfg").is_file()
    seeds = [m["epochs"][0]["loss"] for m in card["training"]["attribution"]["ensemble"]]
    assert len(seeds) == 2 and seeds[0] != seeds[1]  # different seeds, different runs
    assert [len(m) for m in TrainedPreannotator(out).pipelines.values()] == [2]


def test_an_ensemble_keeps_the_first_model_s_spans_and_adds_the_others_where_free():
    from corpus.predict.train import combine_spans

    first = [(0, 4, "source"), (5, 9, "cue"), (10, 30, "content")]
    second = [(0, 3, "source"), (5, 9, "source"), (31, 35, "cue"), (12, 14, "cue")]
    third = [(40, 44, "cue"), (32, 34, "cue")]
    assert combine_spans([first, second, third]) == sorted(first + [(31, 35, "cue"), (40, 44, "cue")])
    assert combine_spans([first]) == sorted(first) and combine_spans([]) == []


def test_trained_model_beats_the_untrained_baseline(trained):
    out, _ = trained
    rng = random.Random(99)  # new documents, never seen
    fresh, texts = [], {}
    for k in range(12):
        text, atts = make_doc(rng, k)
        fresh.append(gold_record(f"new{k}", text, atts))
        texts[f"new{k}"] = text
    arts = [Article(doc_id=d, text=t) for d, t in texts.items()]
    model = TrainedPreannotator(out)
    base = TrainedPreannotator(
        out, pipelines={"attribution": [sm.untrained_ner(["cue", "source", "content"])]}, card=model.card
    )
    score = {}
    for name, pre in (("trained", model), ("baseline", base)):
        preds = dict(zip(texts, pre.predict_many(arts)))
        rep = evaluate(preds, fresh, layers=["attribution"]).to_dict()
        score[name] = {lab: v["overlap"]["f1"] or 0.0 for lab, v in rep["layers"]["attribution"]["by_label"].items()}
    for lab in ("Cue", "Source", "Content"):
        assert score["trained"][lab] >= 0.8 and score["trained"][lab] > score["baseline"].get(lab, 0.0) + 0.5, score


def test_assembly_gives_each_cue_its_sentence_pieces():
    text = "Anna said that the bridge was closed. Markets opened. According to Reuters, the vote failed."
    sp = lambda s, lab: (text.index(s), text.index(s) + len(s), lab)  # noqa: E731
    got = assemble_attributions(
        text,
        [
            sp("said", "cue"),
            sp("Anna", "source"),
            sp("the bridge was closed", "content"),
            sp("According to", "cue"),
            sp("Reuters", "source"),
            sp("the vote failed", "content"),
        ],
    )
    assert [(text[g.cue[0][0] : g.cue[0][1]], text[g.source[0][0] : g.source[0][1]]) for g in got] == [
        ("said", "Anna"),
        ("According to", "Reuters"),
    ]
    assert text[slice(*got[1].content[0])] == "the vote failed"


@pytest.mark.labelstudio
def test_model_predictions_round_trip_push_pull_with_exact_offsets(trained, gold_set, labelstudio, tmp_path):
    from corpus.labelstudio.pull import pull
    from corpus.labelstudio.push import accept_predictions, push
    from corpus.predict.preannotate import load_preannotator
    from corpus.store.snapshot import load_annotations
    from corpus.store.table import CorpusStore

    out, _ = trained
    _, store, _, _, _ = gold_set
    st = CorpusStore(store)
    pre = load_preannotator(f"model:{out}")
    rep = push(labelstudio.client, st, "t-model-roundtrip", preannotator=pre, limit=8)
    assert rep.pushed == 8 and rep.predictions >= 1 and not rep.errors, rep.to_dict()
    assert accept_predictions(labelstudio.client, "t-model-roundtrip")["accepted"] == rep.predictions
    prep = pull(labelstudio.client, "t-model-roundtrip", out=tmp_path / "snap")
    pulled = {a.doc_id: a for a in load_annotations([prep.snapshot])}
    assert len(pulled) == rep.predictions
    arts = st.get_many(list(pulled))
    for doc_id, got in pulled.items():
        want = pre.predict(arts[doc_id])
        key = lambda a: (a.cue.to_dict(), a.source.to_dict() if a.source else None, a.content.to_dict())  # noqa: E731
        assert sorted(map(json.dumps, map(key, got.attributions))) == sorted(
            map(json.dumps, map(key, want.attributions))
        )
        for a in got.attributions:
            for s in (a.cue, a.content, a.source):
                if s is not None:
                    assert s.text == s.expected_text(arts[doc_id].text)


def _sp(text: str, s: str, lab: str, nth: int = 0) -> tuple[int, int, str]:
    start = -1
    for _ in range(nth + 1):
        start = text.index(s, start + 1)
    return start, start + len(s), lab


def test_a_cue_the_model_gave_no_content_gets_the_longer_side_of_its_sentence():
    text = "Markets opened. Anna Berg said the bridge was closed for repairs. Tom Reyes agreed."
    spans = [
        _sp(text, "said", "cue"),
        _sp(text, "Anna Berg", "source"),
        _sp(text, "agreed", "cue"),
        _sp(text, "Tom Reyes", "source"),
    ]
    got = assemble_attributions(text, spans)
    # "agreed" has no side of two words in its sentence: no guess rather than a made-up content
    assert [(text[slice(*g.cue[0])], text[slice(*g.source[0])], text[slice(*g.content[0])]) for g in got] == [
        ("said", "Anna Berg", "the bridge was closed for repairs")
    ]
    with_content = assemble_attributions(text, spans + [_sp(text, "the bridge was closed for repairs", "content")])
    assert got[0].score < with_content[0].score  # the guess is marked less sure (push --order uncertainty)
    assert assemble_attributions(text, spans, fallback_content=False) == []


def test_a_content_piece_goes_to_the_nearest_cue_it_does_not_contain():
    text = "Nobody knew what he said, Anna later told reporters."
    spans = [
        _sp(text, "said", "cue"),
        _sp(text, "told", "cue"),
        _sp(text, "Anna", "source"),
        _sp(text, "Nobody knew what he said", "content"),
    ]
    got = assemble_attributions(text, spans, fallback_content=False)
    assert [(text[slice(*g.cue[0])], text[slice(*g.content[0])]) for g in got] == [("told", "Nobody knew what he said")]


def test_a_title_before_a_name_does_not_end_the_sentence_of_its_cue():
    text = "Markets fell. Sen. Marco Rubio said that taxes would rise. Gov. J. Smith agreed with him."
    got = assemble_attributions(
        text,
        [
            _sp(text, "said", "cue"),
            _sp(text, "Sen. Marco Rubio", "source"),
            _sp(text, "taxes would rise", "content"),
            _sp(text, "agreed", "cue"),
            _sp(text, "Gov. J. Smith", "source"),
            _sp(text, "with him", "content"),
        ],
    )
    assert [text[slice(*g.source[0])] for g in got if g.source] == ["Sen. Marco Rubio", "Gov. J. Smith"]
    assert [text[s:e] for s, e in attribution_sentences(text)] == [
        "Markets fell.",
        "Sen. Marco Rubio said that taxes would rise.",
        "Gov. J. Smith agreed with him.",
    ]
