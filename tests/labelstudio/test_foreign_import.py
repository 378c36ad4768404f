"""corpus import-labelstudio: another project's export -> store + canonical snapshot, then
agreement, release build and push --annotations on the result (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ls_exports import DA, DANISH, EN, NER_LABEL, NER_NER, RELATIONS, RELATIONS_UNLABELLED, rel, span, task

from corpus.annotations import validate
from corpus.cli import main
from corpus.core.scheme import scheme_taxonomy
from corpus.labelstudio.client import parse_label_config
from corpus.labelstudio.foreign import import_labelstudio
from corpus.store.snapshot import iter_snapshot_records
from corpus.store.table import CorpusStore

MAPPING = {"labels": {"PER": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": None}, "relations": {"works_for": None}}


def _run(tmp_path: Path, config: str, export, mapping=MAPPING):
    p = tmp_path / "export.json"
    p.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    store = CorpusStore(str(tmp_path / "store"))
    rep = import_labelstudio(p, scheme_taxonomy(parse_label_config(config)), store, tmp_path / "snap", mapping=mapping)
    recs = [d for _, _, d in iter_snapshot_records(rep.snapshot)] if rep.snapshot else []
    return rep, recs, store


def _texts(store):
    return lambda ids: {k: a.text for k, a in store.get_many(ids).items()}


def _assert_valid(recs, store):
    arts = store.get_many(sorted({r["doc_id"] for r in recs}))
    for r in recs:
        errs = [f for f in validate.validate_record(r, arts[r["doc_id"]].text) if f.is_error]
        assert errs == [], errs


def test_ner_project_with_unmapped_label(tmp_path):
    res = [
        span(EN, "Maria Lopez", "PER", rid="p"),
        span(EN, "Acme Corp", "MISC", rid="m"),
        span(EN, "Berlin", "LOC", rid="l"),
    ]
    export = [
        task(1, EN, res, aid=11, who={"id": 3, "email": "a@example.org"}, created_at="x"),
        task(2, "A second text about Berlin.", [span("A second text about Berlin.", "Berlin", "LOC", rid="b")], aid=12),
    ]
    export[0]["annotations"][0].update(
        created_at="2024-01-02T03:04:05Z", updated_at="2024-01-03T00:00:00Z", lead_time=7.5
    )
    export[1]["annotations"].append({"id": 13, "was_cancelled": True, "result": []})
    rep, recs, store = _run(tmp_path, NER_LABEL, export)
    assert rep.annotations_in == 3 == rep.records_out + rep.rejected + rep.skipped
    assert (rep.records_out, rep.skipped, rep.rejected) == (2, 1, 0)
    first = next(r for r in recs if r["annotation_id"] == 11)
    assert first["annotator"] == "a@example.org" and first["task_id"] == 1
    assert (first["created_at"], first["updated_at"], first["lead_time"]) == (
        "2024-01-02T03:04:05Z",
        "2024-01-03T00:00:00Z",
        7.5,
    )
    assert sorted(e["id"] for e in first["entities"]) == ["l", "p"]
    (kept,) = first["meta"]["labelstudio"]["unmapped"]
    assert (kept["id"], kept["label"], kept["fragments"]) == ("m", "MISC", [[22, 31]])
    (p,) = [p for p in rep.problems if p.code == "unknown_label"]
    assert (p.task_id, p.annotation_id, p.region_id) == (1, 11, "m")
    _assert_valid(recs, store)


def test_texts_match_stored_articles_by_hash(tmp_path):
    res = [span(EN, "Maria Lopez", "PER", rid="p")]
    rep1, recs1, store = _run(tmp_path, NER_LABEL, [task(1, EN, res)])
    p = tmp_path / "again.json"
    p.write_text(json.dumps([task(99, EN, res, aid=5)]), encoding="utf-8")
    rep2 = import_labelstudio(
        p, scheme_taxonomy(parse_label_config(NER_LABEL)), store, tmp_path / "snap2", mapping=MAPPING
    )
    (rec2,) = [d for _, _, d in iter_snapshot_records(rep2.snapshot)]
    assert rec2["doc_id"] == recs1[0]["doc_id"]  # the same text is the same article


def test_relations_and_danish_and_agreement_and_release(tmp_path):
    res = [span(EN, "Maria Lopez", "PER", rid="p"), span(EN, "Acme Corp", "ORG", rid="o"), rel("p", "o", ["works_for"])]
    other = [span(EN, "Maria Lopez", "PER", rid="q"), span(EN, "Acme Corp", "LOC", rid="r")]
    t = task(1, EN, res, aid=1, who=1)
    t["annotations"].append({"id": 2, "completed_by": 2, "result": other})
    rep, recs, store = _run(tmp_path, RELATIONS, [t])
    assert rep.records_out == 2 and rep.rejected == 0
    assert any(
        u["kind"] == "relation"
        for u in recs[0]["meta"]["labelstudio"]["unmapped"] + recs[1]["meta"].get("labelstudio", {}).get("unmapped", [])
    )
    _assert_valid(recs, store)
    r = CliRunner().invoke(main, ["agreement", rep.snapshot, "--store", store.uri, "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        main,
        [
            "release",
            "build",
            "--version",
            "1.0.0",
            "--store",
            store.uri,
            "--annotations",
            rep.snapshot,
            "--out",
            str(tmp_path / "dist"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output


def test_cli_import_danish(tmp_path):
    per = span(DA, "Mette Frederiksen", "PER", "ner", "m", to="doc_text")
    cfg = tmp_path / "c.xml"
    cfg.write_text(DANISH, encoding="utf-8")
    exp = tmp_path / "e.json"
    exp.write_text(json.dumps([task(1, DA, [per])], ensure_ascii=False), encoding="utf-8")
    mp = tmp_path / "m.yaml"
    mp.write_text("labels: {PER: PER, ORG: ORG, LOC: LOC}\nattributes: {sikkerhed: null}\n", encoding="utf-8")
    args = [
        "import-labelstudio",
        str(exp),
        "--label-config",
        str(cfg),
        "--mapping",
        str(mp),
        "--store",
        str(tmp_path / "s"),
        "--out",
        str(tmp_path / "o"),
        "--json",
    ]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["records_out"] == 1 and d["annotations_in"] == 1
    (rec,) = [x for _, _, x in iter_snapshot_records(d["snapshot"])]
    (e,) = rec["entities"]
    assert e["text"] == "Mette Frederiksen" and e["fragments"][0]["start"] == 4


def test_push_annotations_of_the_import(labelstudio, tmp_path):
    from corpus.labelstudio.push_annotations import push_annotations

    res = [span(EN, "Maria Lopez", "PER", rid="p"), span(EN, "Acme Corp", "ORG", rid="o")]
    rep, recs, store = _run(tmp_path, NER_LABEL, [task(1, EN, res, who={"id": 3, "email": "a@example.org"})])
    prep = push_annotations(labelstudio.client, store, "t-foreign-import", [rep.snapshot])
    assert prep.errors == [] and prep.sent == len(recs) == 1


def _shapes():
    hosted_user = {"id": 17, "email": "lead@newsroom.example"}
    bad = span(EN, "Acme Corp", "ORG", rid="x9")
    bad["value"]["start"] = "22"
    escaped = "Aarhus\nUniversitet ligger i Aarhus."
    esc = span(escaped, "Aarhus\nUniversitet", "ORG", rid="e1")
    esc["value"]["text"] = "Aarhus\\nUniversitet"
    return {
        "ner": (
            NER_LABEL,
            [task(1, EN, [span(EN, "Maria Lopez", "PER", rid="p"), span(EN, "Berlin", "CITY", rid="c")])],
        ),
        "json-min": (
            NER_NER,
            [
                {
                    "id": 5,
                    "text": EN,
                    "ner": [{"start": 0, "end": 11, "text": "Maria Lopez", "labels": ["PER"]}],
                    "annotation_id": 9,
                }
            ],
        ),
        "relations": (
            RELATIONS,
            [
                task(
                    1,
                    EN,
                    [
                        span(EN, "Maria Lopez", "PER", rid="p"),
                        span(EN, "Acme Corp", "ORG", rid="o"),
                        rel("p", "o", ["works_for"]),
                    ],
                )
            ],
        ),
        "unlabelled": (
            RELATIONS_UNLABELLED,
            [
                task(
                    1,
                    EN,
                    [span(EN, "Maria Lopez", "PER", rid="p"), span(EN, "Acme Corp", "ORG", rid="o"), rel("p", "o", [])],
                )
            ],
        ),
        "completions": (
            NER_LABEL,
            [
                {
                    "id": 3,
                    "data": {"text": EN},
                    "completions": [{"id": 30, "result": [span(EN, "Acme Corp", "ORG", rid="a")]}],
                }
            ],
        ),
        "hosted": (
            NER_LABEL,
            [
                {
                    "id": "t-1",
                    "data": {"text": EN},
                    "annotations": [
                        {
                            "id": "a-1",
                            "completed_by": hosted_user,
                            "result": [span(EN, "Berlin", "LOC")],
                            "reviews": [{"accepted": True}],
                        },
                        {"id": "a-2", "completed_by": hosted_user, "result": [bad]},
                    ],
                }
            ],
        ),
        "predictions-only": (
            NER_LABEL,
            [
                {
                    "id": 4,
                    "data": {"text": EN},
                    "annotations": [],
                    "predictions": [{"id": 1, "result": [span(EN, "Berlin", "LOC", rid="b")]}],
                }
            ],
        ),
        "danish": (DANISH, [task(1, DA, [span(DA, "Mette Frederiksen", "PER", "ner", "m", to="doc_text")])]),
        "escaped": (NER_LABEL, [task(1, escaped, [esc])]),
    }


@pytest.mark.parametrize("shape", sorted(_shapes()))
def test_nothing_dropped(tmp_path, shape):
    """records in = records out + reported; every record out validates against the taxonomy."""
    config, export = _shapes()[shape]
    rep, recs, store = _run(tmp_path, config, export)
    assert rep.annotations_in == rep.records_out + rep.rejected + rep.skipped
    assert len(recs) == rep.records_out
    assert len([p for p in rep.problems if p.is_error]) >= rep.rejected  # each rejected one is reported
    if recs:
        _assert_valid(recs, store)
    expected_out = {"hosted": 1, "predictions-only": 0}.get(shape, 1)
    assert rep.records_out == expected_out, [str(p) for p in rep.problems]


def test_example_mapping_loads_and_bad_targets_are_refused():
    from corpus.core import taxonomy
    from corpus.core.errors import UsageError
    from corpus.labelstudio.foreign import load_ls_mapping

    root = Path(__file__).resolve().parents[2]
    mp = load_ls_mapping(root / "schemas" / "labelstudio-mapping.example.yaml", taxonomy.load())
    assert mp.labels["COMPANY"] == "ORG" and mp.labels["MISC"] is None
    with pytest.raises(UsageError, match="NOPE"):
        load_ls_mapping({"labels": {"X": "NOPE"}}, taxonomy.load())
