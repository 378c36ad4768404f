"""Exports made by other teams' Label Studio projects, and records of any size (issue 11)."""

from __future__ import annotations

import json

from corpus.annotations import validate
from corpus.core.model import Annotation, Entity, Span, sha256_text


def test_a_first_record_over_64_kib_is_read(tmp_path):
    text = "Reuters " + "x" * 100_000 + " Aleppo"
    ann = Annotation(
        doc_id="big",
        text_sha256=sha256_text(text),
        annotator="a",
        entities=[Entity("e1", "ORG", Span.from_offsets(text, [(0, 7)]))],
    )
    rec = {**ann.to_dict(), "text": text}
    p = tmp_path / "big.jsonl"
    p.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n", encoding="utf-8")
    rep = validate.validate_file(p)
    assert [f.code for f in rep.findings] == []
    assert rep.counts["records"] == 2


# ---------------------------------------------------------------- Label Studio exports of other projects
# Every export below is written here, in code, in the shape Label Studio produces; each plants a
# known set of problems, and validation against the project's own config must find exactly those.

from click.testing import CliRunner  # noqa: E402
from ls_exports import DA, DANISH, EN, NER_LABEL, NER_NER, RELATIONS, RELATIONS_UNLABELLED, rel, span, task  # noqa: E402

from corpus.cli import main  # noqa: E402
from corpus.core.scheme import scheme_taxonomy  # noqa: E402
from corpus.labelstudio.client import parse_label_config  # noqa: E402


def run(tmp_path, config: str, export, name: str = "export.json"):
    p = tmp_path / name
    p.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    tax = scheme_taxonomy(parse_label_config(config))
    rep = validate.validate_file(p, tax)
    return rep, sorted(((f.code, f.task_id, f.annotation_id, f.region_id) for f in rep.findings), key=str)


def test_ner_with_a_label_control(tmp_path):
    bad_text = span(EN, "Acme Corp", "ORG", rid="r2")
    bad_text["value"]["text"] = "Acme Inc"
    wrong_label = span(EN, "Berlin", "CITY", rid="r3")
    far = span(EN, "Maria", "PER", rid="r4")
    far["value"].update(start=90, end=95)
    export = [
        task(1, EN, [span(EN, "Maria Lopez", "PER", rid="r1"), bad_text, wrong_label]),
        task(2, EN, [span(EN, "Maria Lopez", "PER", rid="d"), span(EN, "Berlin", "LOC", rid="d"), far], aid=2),
    ]
    rep, got = run(tmp_path, NER_LABEL, export)
    assert got == [
        ("duplicate_region_id", 2, 2, "d"),
        ("offset_out_of_range", 2, 2, "r4"),
        ("text_mismatch", 1, 1, "r2"),
        ("unknown_label", 1, 1, "r3"),
    ]
    msgs = {f.code: f.message for f in rep.findings}
    assert "CITY" in msgs["unknown_label"] and "PER, ORG, LOC" in msgs["unknown_label"]
    # the same export against our own taxonomy fails at the schema stage: that is what the config fixes
    assert {f.code for f in validate.validate_file(tmp_path / "export.json").findings} == {"schema"}


def test_ner_control_json_min(tmp_path):
    rec = {
        "id": 5,
        "text": EN,
        "ner": [
            {"start": 0, "end": 11, "text": "Maria Lopez", "labels": ["PER"]},
            {"start": 22, "end": 31, "text": "Acme Corp", "labels": ["COMPANY"]},
        ],
        "annotator": "ann@example.org",
        "annotation_id": 9,
        "created_at": "2024-03-01T10:00:00Z",
        "updated_at": "2024-03-01T10:05:00Z",
        "lead_time": 12.5,
    }
    rep, got = run(tmp_path, NER_NER, [rec], "min.json")
    assert got == [("unknown_label", 5, 9, "9-1")]
    (f,) = rep.findings
    assert f.pointer == "/0/ner/1" and "ann@example.org" not in f.message
    assert rep.counts["format_json_min"] == 1


def test_relations_with_labels(tmp_path):
    res = [
        span(EN, "Maria Lopez", "PER", rid="p"),
        span(EN, "Acme Corp", "ORG", rid="o"),
        span(EN, "Berlin", "LOC", rid="l"),
        rel("p", "o", ["works_for"]),
        rel("o", "l", ["headquartered"]),  # not in the config
        rel("o", "gone", ["based_in"]),  # dangling
        rel("p", "l", []),  # no label, though the config has labels: said once
    ]
    rep, got = run(tmp_path, RELATIONS, [task(1, EN, res)])
    assert got == [
        ("dangling_relation", 1, 1, "o"),
        ("unknown_label", 1, 1, "o"),
        ("unknown_label", 1, 1, "p"),
    ]


def test_relations_without_labels(tmp_path):
    res = [
        span(EN, "Maria Lopez", "PER", rid="p"),
        span(EN, "Acme Corp", "ORG", rid="o"),
        rel("p", "o", []),  # how Label Studio writes a relation of a config without <Relation>s
        rel("o", "p", None),
        rel("p", "nowhere", []),
    ]
    _, got = run(tmp_path, RELATIONS_UNLABELLED, [task(1, EN, res)])
    assert got == [("dangling_relation", 1, 1, "p")]


def test_old_completions_format(tmp_path):
    bad = span(EN, "Berlin", "LOC", rid="b")
    bad["value"]["text"] = "Bonn"
    t = {
        "id": 3,
        "data": {"text": EN},
        "completions": [{"id": 30, "result": [span(EN, "Acme Corp", "ORG", rid="a"), bad]}],
    }
    rep, got = run(tmp_path, NER_LABEL, [t])
    assert got == [("old_format", 3, None, None), ("text_mismatch", 3, 30, "b")]
    assert all("required property" not in f.message for f in rep.findings)
    assert [f.pointer for f in rep.findings if f.code == "text_mismatch"] == ["/0/completions/0/result/1"]


def test_hosted_instance_export(tmp_path):
    user = {"id": 17, "email": "lead.annotator@newsroom.example", "first_name": "Lea", "last_name": "K"}
    noid = span(EN, "Berlin", "LOC")  # hosted exports may have regions without ids
    broken = span(EN, "Acme Corp", "ORG", rid="x9")
    broken["value"]["start"] = "22"  # a string offset: a schema finding, with its ids
    t = {
        "id": "tsk-81",
        "data": {"text": EN},
        "annotations": [
            {
                "id": "ann-1",
                "completed_by": user,
                "result": [span(EN, "Maria Lopez", "PER", rid="m"), noid, broken],
                "reviews": [{"id": 4, "accepted": True, "created_by": user}],
                "created_at": "2024-05-02T08:00:00.000Z",
            }
        ],
        "predictions": [],
        "total_annotations": 1,
    }
    rep, got = run(tmp_path, NER_LABEL, [t])
    assert got == [("schema", "tsk-81", "ann-1", "x9")]
    (f,) = rep.findings
    assert f.pointer == "/0/annotations/0/result/2/value/start"
    assert f.message == "start is a string, expected integer"
    assert "lead.annotator" not in str(f) and "{" not in f.message


def test_predictions_only(tmp_path):
    pred = {
        "id": 55,
        "model_version": "spacy-da",
        "score": 0.8,
        "result": [span(EN, "Maria Lopez", "PER", rid="p1"), span(EN, "Acme Corp", "COMPANY", rid="p2")],
    }
    t = {"id": 4, "data": {"text": EN}, "annotations": [], "predictions": [pred]}
    rep, got = run(tmp_path, NER_LABEL, [t])
    assert got == [("unknown_label", 4, 55, "p2")]
    assert rep.findings[0].pointer == "/0/predictions/0/result/1"


def test_danish_emoji_doc_text(tmp_path):
    per = span(DA, "Mette Frederiksen", "PER", "ner", "m", to="doc_text")
    assert per["value"]["start"] == 4  # code points: 3 emoji code points + a space
    org = span(DA, "Aarhus Universitet", "ORG", "ner", "o", to="doc_text")
    utf16 = dict(org, id="o16", value=dict(org["value"], start=org["value"]["start"] + 3, end=org["value"]["end"] + 3))
    choice = {
        "id": "m",
        "from_name": "sikkerhed",
        "to_name": "doc_text",
        "type": "choices",
        "value": {**per["value"], "choices": ["sikker"]},
    }
    doc_choice = {
        "id": "c1",
        "from_name": "emne",
        "to_name": "doc_text",
        "type": "choices",
        "value": {"choices": ["politik"]},
    }
    wrong_to = span(DA, "i går", "LOC", "ner", "w", to="text")
    rep, got = run(
        tmp_path, DANISH, [task(1, DA, [per, choice, org, doc_choice]), task(2, DA, [utf16, wrong_to], aid=2)]
    )
    assert got == [("schema", 2, 2, "w"), ("utf16_offsets", 2, 2, "o16")]
    f = next(f for f in rep.findings if f.code == "schema")
    assert f.pointer.endswith("/result/1/to_name") and "doc_text" in f.message


def test_escaped_newline_and_nbsp_in_region_text(tmp_path):
    text = "Aarhus\nUniversitet ligger i\u00a0Aarhus C."
    r1 = span(text, "Aarhus\nUniversitet", "ORG", rid="e1")
    r1["value"]["text"] = "Aarhus\\nUniversitet"
    r2 = span(text, "i\u00a0Aarhus", "LOC", rid="e2")
    r2["value"]["text"] = "i Aarhus"
    r3 = span(text, "ligger", "LOC", rid="e3")
    r3["value"]["text"] = "liggr"  # a real mismatch stays one
    rep, got = run(tmp_path, NER_LABEL, [task(1, text, [r1, r2, r3])])
    assert got == [("ls_escaped_text", 1, 1, "e1"), ("ls_escaped_text", 1, 1, "e2"), ("text_mismatch", 1, 1, "e3")]
    assert "escaping" in rep.findings[0].message


def test_cli_validate_with_label_config(tmp_path):
    cfg = tmp_path / "config.xml"
    cfg.write_text(NER_LABEL, encoding="utf-8")
    exp = tmp_path / "e.json"
    exp.write_text(json.dumps([task(1, EN, [span(EN, "Maria Lopez", "PER", rid="r1")])]), encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(exp), "--label-config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ok"] is True
    r = CliRunner().invoke(main, ["validate", str(exp)])
    assert r.exit_code == 1
