"""Label Studio conversion, validation, agreement, adjudication, brat and release rows on the second
taxonomy (tests/taxonomies/kbp.yaml): relations, entity attributes, other controls and text field."""

from __future__ import annotations

import pytest
from conftest import REPO

from corpus.annotations import adjudicate, agreement, lsformat, validate
from corpus.annotations.brat.convert import annotation_conf, annotation_to_brat, brat_to_annotation
from corpus.annotations.brat.mapping import load_mapping
from corpus.core import taxonomy
from corpus.core.model import Annotation, Argument, Entity, Event, Relation, Span, sha256_text
from corpus.ingest.readers.brat import parse_ann, write_ann
from corpus.release.features import dataset_features
from corpus.release.rows import LabelSet, RowBuilder

KBP = REPO / "tests" / "taxonomies" / "kbp.yaml"
TEXT = "Jane Doe joined Acme Corp as chief executive in Ontario."


@pytest.fixture(scope="module")
def tax() -> taxonomy.Taxonomy:
    return taxonomy.load(KBP)


def sp(s: str) -> Span:
    i = TEXT.index(s)
    return Span.from_offsets(TEXT, [(i, i + len(s))])


def record(who: str = "alice", title_kind: str | None = "business") -> Annotation:
    return Annotation(
        "d1",
        sha256_text(TEXT),
        who,
        entities=[
            Entity("T1", "PER", sp("Jane Doe"), {"mention": "name"}),
            Entity("T2", "ORG", sp("Acme Corp"), {"mention": "name"}),
            Entity("T3", "TITLE", sp("chief executive"), {"mention": "nominal", "title_kind": title_kind}),
            Entity("T4", "STATE/PROVINCE", sp("Ontario"), {"mention": "name"}),
        ],
        events=[
            Event(
                "E1",
                "Personnel.StartPosition",
                sp("joined"),
                [Argument("Person", "T1"), Argument("Employer", "T2"), Argument("Place", "T4")],
                {"modality": "asserted"},
            )
        ],
        relations=[
            Relation("T1>T3:per:title", "per:title", "T1", "T3"),
            Relation("T1>T2:per:employee_of", "per:employee_of", "T1", "T2"),
            Relation("T2>T4:org:stateorprovince_of_headquarters", "org:stateorprovince_of_headquarters", "T2", "T4"),
        ],
        taxonomy_version="0.3.0",
    )


def test_label_studio_round_trip(tax):
    ann = record()
    result = lsformat.to_labelstudio(ann, TEXT, tax)
    labels = [r for r in result if r["type"] == "labels"]
    assert {r["from_name"] for r in labels} == {"ner", "evt"} and {r["to_name"] for r in labels} == {"body"}
    choices = {(r["id"], r["from_name"]): r["value"]["choices"] for r in result if r["type"] == "choices"}
    assert choices[("T3", "title_kind")] == ["business"] and ("T1", "title_kind") not in choices
    rels = {(r["from_id"], r["to_id"]): r["labels"] for r in result if r["type"] == "relation"}
    assert rels[("T1", "T3")] == ["per:title"] and rels[("E1", "T1")] == ["Person"]
    conv = lsformat.from_labelstudio(result, TEXT, tax, doc_id="d1", annotator="alice", taxonomy_version="0.3.0")
    assert conv.findings == []
    assert conv.annotation.to_dict() == ann.to_dict()
    task = {"id": 1, "data": {"body": TEXT, "doc_id": "d1"}, "annotations": [{"id": 2, "result": result}]}
    assert validate.validate_ls_task(task, tax) == []


def test_label_studio_relation_endpoints_checked(tax):
    result = lsformat.to_labelstudio(record(), TEXT, tax)
    for r in result:
        if r["type"] == "relation" and r["labels"] == ["per:title"]:
            r["from_id"] = "E1"  # from an event trigger: not an entity
    conv = lsformat.from_labelstudio(result, TEXT, tax)
    assert [f.code for f in conv.findings] == ["relation_not_allowed"]
    assert "goes from an entity to an entity" in conv.findings[0].message


def test_validation_of_relations_and_attributes(tax):
    good = record()
    assert validate.validate_annotation(good, TEXT, tax) == []
    bad = record()
    bad.relations.append(Relation("x", "per:title", "T2", "T3"))  # from an ORG
    bad.relations.append(Relation("y", "per:title", "T1", "T9"))  # to nothing
    bad.relations.append(Relation("z", "has_source", "T1", "T2"))  # not a relation of this taxonomy
    bad.entities[0].attributes["title_kind"] = "business"  # only on TITLE
    bad.entities[1].attributes["mention"] = None  # required
    bad.entities[3].attributes["mention"] = "acronym"  # not a value
    bad.events[0].attributes["modality"] = None
    found = {(f.code, f.pointer) for f in validate.validate_annotation(bad, TEXT, tax)}
    assert found == {
        ("relation_not_allowed", "/relations/3/from_id"),
        ("dangling_relation", "/relations/4/to_id"),
        ("unknown_label", "/relations/5/label"),
        ("invalid_choice", "/entities/0/title_kind"),
        ("missing_choice", "/entities/1/mention"),
        ("invalid_choice", "/entities/3/mention"),
        ("missing_choice", "/events/0/modality"),
    }
    # the JSON Schema of this taxonomy accepts the good record and types the relation labels
    assert validate.validate_record(good.to_dict(), TEXT, tax) == []
    d = good.to_dict()
    d["relations"][0]["label"] = "per:age"
    assert {f.code for f in validate.validate_record(d, None, tax)} & {"schema", "unknown_label"}


def test_default_taxonomy_refuses_what_it_has_no_layer_for(tax):
    default = taxonomy.load()
    codes = {f.code for f in validate.validate_annotation(record(), TEXT, default)}
    assert "unknown_label" in codes  # PER-only labels aside: relations and entity attributes are not its own
    assert "relations" not in validate.validator_for(default).annotation.schema["properties"]


def test_agreement_compares_relations_by_label_and_spans(tax):
    a, b = record("alice"), record("bob")
    b.relations = b.relations[:2] + [Relation("other", "per:title", "T1", "T4")]
    # the same relation under other ids still matches
    b.relations[0] = Relation("R7", "per:title", "T1", "T3")
    rep = agreement.agreement([a, b], {"d1": TEXT}, tax=tax)
    assert set(rep.layers) == {"entities", "events", "relations"}
    rel = rep.layers["relations"]
    assert (rel.exact.matched_a, rel.exact.total_a, rel.exact.matched_b) == (2, 3, 2)
    assert (rel.overlap.matched_b, rel.overlap.total_b) == (3, 3)  # T1->T4 per:title overlaps T1->T3 at T1
    assert rel.alpha is None
    assert rep.layers["entities"].to_dict()["exact"]["f1"] == 1.0


def test_adjudication_votes_attributes_and_relations_generically(tax):
    a, b, c = record("a"), record("b", title_kind="other"), record("c")
    c.relations = c.relations[:1]
    gold, conflicts = adjudicate.adjudicate_document("d1", {"a": a, "b": b, "c": c}, tax=tax)
    title = next(e for e in gold.entities if e.label == "TITLE")
    assert title.attributes == {"mention": "nominal", "title_kind": "business"}  # 2 of 3
    assert sorted(r.label for r in gold.relations) == [
        "org:stateorprovince_of_headquarters",
        "per:employee_of",
        "per:title",
    ]
    assert {c["field"] for c in conflicts if c["kind"] == "attribute"} == {"title_kind"}
    assert {c["layer"] for c in conflicts if c["kind"] == "relation"} == {"relations"}
    assert validate.validate_annotation(gold, TEXT, tax) == []


def test_brat_round_trip_keeps_relations_and_entity_attributes(tax, monkeypatch):
    monkeypatch.setenv("CORPUS_TAXONOMY", str(KBP))
    mapping = load_mapping({"name": "kbp"}, tax)
    ann = record()
    doc = annotation_to_brat(ann, TEXT, mapping)
    text = write_ann(doc)
    assert "\tper:title Arg1:T1 Arg2:T3\n" in text
    back, issues = brat_to_annotation(
        parse_ann(text),
        raw_text=TEXT,
        stored_text=TEXT,
        offset_map=None,
        mapping=mapping,
        doc_id="d1",
        annotator="alice",
        text_sha256=sha256_text(TEXT),
    )
    assert issues == []
    assert sorted((r.label, r.from_id, r.to_id) for r in back.relations) == sorted(
        (r.label, r.from_id, r.to_id) for r in ann.relations
    )
    assert {e.id: e.attributes for e in back.entities} == {e.id: e.attributes for e in ann.entities}
    conf = annotation_conf(mapping)
    assert "per:title\tArg1:PER, Arg2:TITLE" in conf and "mention\tArg:" in conf


def test_release_rows_and_features(tax):
    labels = LabelSet.from_taxonomy(tax)
    assert labels.configs == ("documents", "ner") and labels.relations[0] == "per:title"
    feats = dataset_features(labels)
    assert set(feats) == {"documents", "ner"}
    docs = feats["documents"]
    assert docs["relations"].feature["label"].names == list(labels.relations)
    assert docs["entities"].feature["title_kind"].names == ["business", "government", "other"]
    assert docs["events"].feature["modality"].names == ["asserted", "hypothetical"]
    from corpus.core.model import Article

    art = Article("d1", TEXT)
    row = RowBuilder(labels).document_row(art, record(), {})
    assert row["relations"][0] == {"id": "T1>T3:per:title", "label": 0, "from_id": "T1", "to_id": "T3"}
    assert row["entities"][0]["title_kind"] is None and row["entities"][2]["title_kind"] == 0
    docs.encode_example(
        {**row, "annotator": "a", "annotation_origin": "x", "annotation_policy": "p", "reanchored": False}
    )
    default = dataset_features(LabelSet.from_taxonomy(taxonomy.load()))
    assert set(default) == {"documents", "ner", "attribution"} and "relations" not in default["documents"]
