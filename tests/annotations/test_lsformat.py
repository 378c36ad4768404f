"""corpus.annotations.lsformat: canonical <-> Label Studio result, the UTF-16 border, export records."""

from __future__ import annotations

import copy

import pytest
from annotation_strategies import TAX, annotations
from conftest import SEED
from hypothesis import HealthCheck, given, settings
from label_studio_sdk.label_interface import LabelInterface

from corpus.annotations import lsformat, validate
from corpus.core import taxonomy
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text


@pytest.fixture(scope="module")
def seed() -> tuple[Annotation, str]:
    text = SEED.read_text(encoding="utf-8")

    def sp(s: str) -> Span:
        i = text.index(s)
        return Span.from_offsets(text, [(i, i + len(s))])

    strike, destroyed = (
        sp("The strike"),
        sp("destroyed multiple weapons storage facilities and disrupted IS supply lines"),
    )
    ann = Annotation(
        "b18206fd37d6bce2",
        sha256_text(text),
        "tester",
        entities=[
            Entity("T1", "ORG", sp("Al Hadath TV")),
            Entity("T2", "FAC", sp("Ash Shaddadi military base")),
            Entity("T3", "PER", sp("Sean Parnell")),
            Entity("T4", "PER", sp("an IS militant")),
        ],
        events=[
            Event(
                "E1",
                "Conflict:Attack",
                sp("attack"),
                [Argument("Attacker", "T4"), Argument("Place", "T2"), Argument("Target", "T2")],
                {"realis": "actual", "polarity": "positive"},
            )
        ],
        attributions=[
            Attribution(
                "A1",
                sp("According to"),
                Span.from_offsets(text, [(sp("the attack originated").start, sp("Deir ez-Zor region").end)]),
                sp("Al Hadath TV"),
                "T1",
                {"quote_type": "indirect", "source_type": "media outlet", "commitment": "reported"},
            ),
            Attribution(
                "A2",
                sp("reportedly"),
                Span.from_offsets(text, [(strike.start, strike.end), (destroyed.start, destroyed.end)]),
                None,
                None,
                {"quote_type": "indirect", "source_type": "anonymous", "commitment": "reported"},
                ["Discuss"],
            ),
            Attribution(
                "A3",
                sp("confirmed"),
                sp("the attack was carried out by an IS militant"),
                sp("Pentagon spokesperson Sean Parnell"),
                "T3",
                {"quote_type": "indirect", "source_type": "named person", "commitment": "confirmed"},
            ),
        ],
        notes=[{"target": "A2", "text": "nested in A-according"}],
        taxonomy_version=TAX.version,
    )
    return ann, text


def roundtrip(ann: Annotation, text: str) -> Annotation:
    result = lsformat.to_labelstudio(ann, text, TAX)
    conv = lsformat.from_labelstudio(
        result, text, TAX, doc_id=ann.doc_id, annotator=ann.annotator, taxonomy_version=ann.taxonomy_version
    )
    assert [f for f in conv.findings] == []
    return conv.annotation


def test_seed_round_trip_is_identity(seed):
    ann, text = seed
    assert roundtrip(ann, text).to_dict() == ann.to_dict()


def test_seed_result_follows_the_conventions(seed):
    ann, text = seed
    res = lsformat.to_labelstudio(ann, text, TAX)
    by_id = {r["id"]: r for r in res if r["type"] == "labels"}
    rels = [(r["from_id"], r["to_id"], r["labels"]) for r in res if r["type"] == "relation"]
    # event argument: trigger -> entity, label = role; two roles of one entity share one relation
    assert ("E1", "T4", ["Attacker"]) in rels and ("E1", "T2", ["Place", "Target"]) in rels
    # attribution: cue -> source, cue -> each content region, source -> entity
    assert by_id["A1"]["value"]["labels"] == ["Cue"] and by_id["A1"]["from_name"] == "attribution"
    assert ("A1", "A1-source", ["has_source"]) in rels and ("A1-source", "T1", ["source_entity"]) in rels
    content_rels = [r for r in rels if r[0] == "A2" and r[2] == ["has_content"]]
    assert len(content_rels) == 2  # discontinuous content = two Content regions
    # per-region choices carry the region's id and offsets
    choices = {(r["id"], r["from_name"]): r["value"]["choices"] for r in res if r["type"] == "choices"}
    assert choices[("E1", "realis")] == ["actual"] and choices[("A3", "commitment")] == ["confirmed"]
    assert by_id["A2"]["meta"] == {"flags": ["Discuss"], "text": ["nested in A-according"]}
    for r in res:
        if r["type"] == "labels":
            assert text[r["value"]["start"] : r["value"]["end"]] == r["value"]["text"]


def test_label_studio_sdk_accepts_generated_results(seed):
    ann, text = seed
    li = LabelInterface(taxonomy.labelstudio_config(TAX))
    assert li.validate_prediction({"result": lsformat.to_labelstudio(ann, text, TAX)}, return_errors=True) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotations())
def test_round_trip_property(case):
    ann, text = case
    assert roundtrip(ann, text).to_dict() == ann.to_dict()


def test_discontinuous_entity_uses_continues():
    text = "the U.S. and , later , coalition forces"
    ann = Annotation(
        "d",
        sha256_text(text),
        "a",
        entities=[Entity("T1", "ORG", Span.from_offsets(text, [(4, 8), (text.index("coalition"), len(text))]))],
    )
    res = lsformat.to_labelstudio(ann, text, TAX)
    assert [r["value"]["labels"] for r in res if r["type"] == "labels"] == [["ORG"], ["ORG"]]
    assert [(r["from_id"], r["labels"]) for r in res if r["type"] == "relation"] == [("T1", ["continues"])]
    assert roundtrip(ann, text).entities[0].span.text == "U.S. coalition forces"


# ---------------------------------------------------------------- the UTF-16 border

EMOJI_TEXT = "😀😀 Trump warned 🇺🇸 officials 😀 of consequences"


def _labels(rid, start, end, text, label="PER", control="entity"):
    return {
        "id": rid,
        "from_name": control,
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text, "labels": [label]},
    }


def test_utf16_offsets_are_converted_with_a_warning():
    cp = EMOJI_TEXT.index("officials")
    u16 = len(EMOJI_TEXT[:cp].encode("utf-16-le")) // 2
    assert u16 != cp
    conv = lsformat.from_labelstudio([_labels("r1", u16, u16 + 9, "officials")], EMOJI_TEXT, TAX)
    assert [f.code for f in conv.findings] == ["utf16_offsets"]
    assert conv.findings[0].severity == "warning" and conv.repairs == 1
    f = conv.annotation.entities[0].span.fragments[0]
    assert (f.start, f.end) == (cp, cp + 9)
    assert conv.fixed_result[0]["value"]["start"] == cp
    assert validate.validate_annotation(conv.annotation, EMOJI_TEXT, TAX) == []


def test_code_point_offsets_pass_untouched():
    cp = EMOJI_TEXT.index("officials")
    conv = lsformat.from_labelstudio([_labels("r1", cp, cp + 9, "officials")], EMOJI_TEXT, TAX)
    assert conv.findings == [] and conv.repairs == 0 and conv.fixed_result is None


def test_unrepairable_mismatch_is_left_for_validate():
    conv = lsformat.from_labelstudio([_labels("r1", 3, 8, "nothing like it")], EMOJI_TEXT, TAX)
    assert conv.findings == []
    codes = [f.code for f in validate.validate_annotation(conv.annotation, EMOJI_TEXT, TAX)]
    assert codes == ["text_mismatch"]


def test_utf16_map_inverse():
    m = lsformat.Utf16Map(EMOJI_TEXT)
    for cp in range(len(EMOJI_TEXT) + 1):
        assert m.to_cp(m.to_utf16(cp)) == cp
    assert m.to_cp(1) is None  # inside the first surrogate pair


# ---------------------------------------------------------------- what the converter reports


def _result(seed):
    ann, text = seed
    return lsformat.to_labelstudio(ann, text, TAX), text


def _codes(result, text):
    return sorted(f.code for f in lsformat.from_labelstudio(result, text, TAX).findings)


def test_converter_findings(seed):
    res, text = _result(seed)
    assert _codes(res, text) == []

    r = copy.deepcopy(res)
    r.append({"from_id": "E1", "to_id": "nowhere", "type": "relation", "labels": ["Place"]})
    assert _codes(r, text) == ["dangling_relation"]

    r = copy.deepcopy(res)
    r[0]["from_name"] = "ner"
    assert _codes(r, text) == ["unknown_label"]

    r = copy.deepcopy(res)
    r.append({"from_id": "E1", "to_id": "T1", "type": "relation", "labels": []})
    assert _codes(r, text) == ["unknown_label"]

    r = copy.deepcopy(res)  # a Content region no cue links to
    r.append(_labels("orphan", 0, 5, text[0:5], "Content", "attribution"))
    assert _codes(r, text) == ["missing_cue"]

    r = copy.deepcopy(res)  # continues between different labels
    r.append({"from_id": "T1", "to_id": "T2", "type": "relation", "labels": ["continues"]})
    assert _codes(r, text) == ["relation_not_allowed"]

    r = copy.deepcopy(res)  # a role drawn from an entity
    r.append({"from_id": "T1", "to_id": "T2", "type": "relation", "labels": ["Place"]})
    assert _codes(r, text) == ["relation_not_allowed"]

    r = copy.deepcopy(res)  # an event attribute on an entity region
    r.append(
        {
            "id": "T1",
            "from_name": "realis",
            "to_name": "text",
            "type": "choices",
            "value": {"start": 0, "end": 1, "choices": ["actual"]},
        }
    )
    assert _codes(r, text) == ["invalid_choice"]

    r = copy.deepcopy(res)
    r.append(dict(r[0]))
    assert _codes(r, text) == ["duplicate_region_id"]

    r = copy.deepcopy(res)
    r[0]["value"]["start"] = -4
    assert _codes(r, text) == ["offset_out_of_range"]


def test_bad_shapes_never_raise(seed):
    _, text = seed
    for bad in [
        None,
        {},
        "x",
        [1, "a", None],
        [{"type": "labels"}],
        [{"type": "labels", "id": "a", "value": []}],
        [{"type": "relation", "from_id": ["x"], "to_id": {}, "labels": "Place"}],
        [{"type": "choices", "id": "a", "from_name": "realis", "value": {"choices": "actual"}}],
        [{"type": "labels", "id": "a", "from_name": "entity", "value": {"start": "0", "end": 3, "labels": ["PER"]}}],
    ]:
        conv = lsformat.from_labelstudio(bad, text, TAX)
        assert isinstance(conv.annotation, Annotation)


# ---------------------------------------------------------------- export records


def test_ls_annotation_record_metadata(seed):
    ann, text = seed
    task = {
        "id": 7,
        "data": {"text": text, "doc_id": ann.doc_id, "text_sha256": ann.text_sha256},
        "meta": {"corpus_version": 3, "taxonomy_version": "1.0.0"},
    }
    rec = {
        "id": 70,
        "result": lsformat.to_labelstudio(ann, text, TAX),
        "ground_truth": True,
        "lead_time": 12.5,
        "created_at": "2025-01-01T10:00:00Z",
        "updated_at": "2025-01-01T10:05:00Z",
        "completed_by": {"id": 4, "email": "ann@example.com"},
    }
    conv = lsformat.ls_annotation_record(task, rec, TAX)
    a = conv.annotation
    assert (a.doc_id, a.annotator, a.task_id, a.annotation_id, a.ground_truth, a.lead_time) == (
        ann.doc_id,
        "ann@example.com",
        7,
        70,
        True,
        12.5,
    )
    assert (a.created_at, a.updated_at, a.origin, a.meta["corpus_version"]) == (
        "2025-01-01T10:00:00Z",
        "2025-01-01T10:05:00Z",
        "labelstudio",
        3,
    )
    assert a.entities == ann.entities and a.attributions == ann.attributions
    assert lsformat.ls_annotation_record(task, {**rec, "completed_by": 4}, TAX).annotation.annotator == "4"
    draft = lsformat.ls_annotation_record(task, {"id": 9, "result": [], "user": "x@y.z"}, TAX, draft=True).annotation
    assert draft.annotation_id is None and draft.annotator == "x@y.z" and draft.meta["draft"] is True
