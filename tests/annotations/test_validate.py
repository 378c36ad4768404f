"""corpus.annotations.validate and `corpus validate`: every check fails on a bad case and passes on a good one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from annotation_strategies import TAX, annotations
from click.testing import CliRunner
from conftest import SEED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.annotations import lsformat, validate
from corpus.annotations.fastschema import compile_schema
from corpus.cli import main
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text
from corpus.core.problems import CODES

TEXT = "😀 Pentagon spokesperson Sean Parnell confirmed the attack in Palmyra 🇺🇸 , officials said ."
COVERED: set[str] = set()  # codes the table below produces; checked against CODES at the end


def sp(s: str, text: str = TEXT) -> Span:
    i = text.index(s)
    return Span.from_offsets(text, [(i, i + len(s))])


def good() -> dict[str, Any]:
    ann = Annotation(
        "b18206fd37d6bce2",
        sha256_text(TEXT),
        "tester",
        entities=[
            Entity("T1", "PER", sp("Sean Parnell")),
            Entity("T2", "GPE", sp("Palmyra")),
            Entity("T3", "ORG", sp("Pentagon")),
        ],
        events=[
            Event(
                "E1",
                "Conflict:Attack",
                sp("attack"),
                [Argument("Place", "T2")],
                {"realis": "actual", "polarity": "positive"},
            )
        ],
        attributions=[
            Attribution(
                "A1",
                sp("confirmed"),
                sp("the attack in Palmyra"),
                sp("Pentagon spokesperson Sean Parnell"),
                "T1",
                {"quote_type": "indirect", "source_type": "named person", "commitment": "confirmed"},
            )
        ],
        taxonomy_version=TAX.version,
    )
    return ann.to_dict()


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def f(d: dict) -> None:
        *head, last = path.split("/")
        for k in head:
            d = d[int(k)] if isinstance(d, list) else d[k]
        if isinstance(d, list):
            d[int(last)] = value
        else:
            d[last] = value

    return f


def _u16(s: str) -> tuple[int, int]:
    i = TEXT.index(s)
    u = len(TEXT[:i].encode("utf-16-le")) // 2
    return u, u + len(s)


CASES = [
    ("offset_out_of_range", _set("entities/0/fragments/0", {"start": 10, "end": 999})),
    ("offset_out_of_range", _set("entities/0/fragments/0", {"start": 12, "end": 12})),
    ("text_mismatch", _set("entities/0/text", "Sean Parnel")),
    ("utf16_offsets", _set("entities/1/fragments/0", dict(zip(("start", "end"), _u16("Palmyra"))))),
    ("unknown_label", _set("entities/0/label", "PERSON")),
    ("unknown_label", _set("events/0/type", "Conflict:Bombing")),
    ("duplicate_region_id", _set("entities/1/id", "T1")),
    ("duplicate_region_id", _set("attributions/0/id", "E1")),
    ("dangling_relation", _set("events/0/arguments/0/entity_id", "T9")),
    ("dangling_relation", _set("attributions/0/source_entity_id", "T9")),
    ("relation_not_allowed", _set("events/0/arguments/0/role", "Victim")),
    ("relation_not_allowed", _set("events/0/arguments/0/entity_id", "T1")),  # Place accepts GPE, LOC, FAC
    ("missing_trigger", _set("events/0/trigger", {"fragments": [], "text": ""})),
    ("missing_cue", _set("attributions/0/cue", {"fragments": [], "text": ""})),
    ("missing_content", _set("attributions/0/content", {"fragments": [], "text": ""})),
    ("invalid_choice", _set("events/0/realis", "maybe")),
    ("invalid_choice", _set("attributions/0/commitment", "likely")),
    ("missing_choice", _set("attributions/0/source_type", None)),
    ("overlap_same_label", lambda d: d["entities"].append({**d["entities"][0], "id": "T4"})),
    ("hash_mismatch", _set("text_sha256", "0" * 64)),
    ("taxonomy_version", _set("taxonomy_version", "0.9")),
    ("schema", _set("entities/0/fragments", "0-5")),
    ("schema", _set("ground_truth", "yes")),
]


def test_the_good_record_passes():
    assert validate.validate_record(good(), TEXT, TAX) == []
    assert validate.validate_annotation(Annotation.from_dict(good()), TEXT, TAX) == []


@pytest.mark.parametrize("code, mutate", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_each_check_catches_its_mutation(code, mutate):
    d = good()
    mutate(d)
    findings = validate.validate_record(d, TEXT, TAX)
    codes = {f.code for f in findings}
    assert code in codes, findings
    COVERED.add(code)
    f = next(f for f in findings if f.code == code)
    assert f.severity == CODES[code].severity or code == "utf16_offsets"  # stored UTF-16 offsets are errors
    assert f.pointer.startswith("/"), f
    errors = [x for x in findings if x.severity == "error"]
    assert (errors == []) == (CODES[code].severity != "error" and code != "utf16_offsets")


def test_pointers_and_region_ids():
    d = good()
    d["entities"][0]["label"] = "PERSON"
    (f,) = validate.validate_record(d, TEXT, TAX)
    assert (f.code, f.pointer, f.region_id, f.doc_id) == (
        "unknown_label",
        "/entities/0/label",
        "T1",
        "b18206fd37d6bce2",
    )
    d = good()
    d["entities"][0]["fragments"] = "x"
    (f,) = validate.validate_record(d, TEXT, TAX)
    assert (f.code, f.pointer) == ("schema", "/entities/0/fragments")


def test_without_text_only_text_free_checks_run():
    d = good()
    d["entities"][0]["text"] = "wrong"
    assert validate.validate_record(d, None, TAX) == []
    d["entities"][0]["label"] = "X"
    assert [f.code for f in validate.validate_record(d, None, TAX)] == ["unknown_label"]


# ---------------------------------------------------------------- property-based

MUTATIONS = {
    # past the end of the text: out of range; a shift that happens to equal the UTF-16 reading of
    # the offsets (an astral character before the span) is diagnosed as such, an error too
    "shift": ("text_mismatch", "offset_out_of_range", "utf16_offsets"),
    "unknown_label": "unknown_label",
    "dangling": "dangling_relation",
    "missing_cue": "missing_cue",
    "missing_content": "missing_content",
    "bad_choice": "invalid_choice",
    "dup_id": "duplicate_region_id",
    "bad_role": "relation_not_allowed",
}


def _mutate(ann: Annotation, text: str, kind: str, data) -> bool:
    """Apply one mutation; False when this annotation has nothing to mutate that way."""
    if kind == "shift":
        e = data.draw(st.sampled_from(ann.entities))
        f = e.span.fragments[0]
        new = f.start + 1 if f.end - f.start > 1 else f.start - 1
        if new < 0 or text[new : new + f.end - f.start] == text[f.start : f.end]:
            return False
        e.span.fragments[0] = type(f)(new, new + f.end - f.start)
    elif kind == "unknown_label":
        data.draw(st.sampled_from(ann.entities)).label = "NOT_A_LABEL"
    elif kind == "dangling":
        if not ann.events:
            return False
        ann.events[0].arguments.append(Argument(ann.events[0].trigger and "Time", "T404"))
    elif kind in ("missing_cue", "missing_content"):
        if not ann.attributions:
            return False
        setattr(ann.attributions[0], kind.split("_")[1], Span([], ""))
    elif kind == "bad_choice":
        if not ann.events:
            return False
        ann.events[0].attributes["polarity"] = "sideways"
    elif kind == "dup_id":
        if len(ann.entities) < 2:
            return False
        ann.entities[1].id = ann.entities[0].id
    elif kind == "bad_role":
        if not ann.events:
            return False
        ann.events[0].arguments.append(Argument("NoSuchRole", ann.entities[0].id))
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotations())
def test_generated_valid_annotations_pass(case):
    ann, text = case
    assert [f for f in validate.validate_annotation(ann, text, TAX) if f.severity == "error"] == []
    assert [f for f in validate.validate_record(ann.to_dict(), text, TAX) if f.severity == "error"] == []
    task = {
        "id": 1,
        "data": {"text": text, "text_sha256": ann.text_sha256},
        "annotations": [{"id": 2, "result": lsformat.to_labelstudio(ann, text, TAX)}],
    }
    assert [f for f in validate.validate_ls_task(task, TAX) if f.severity == "error"] == []


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotations(), st.sampled_from(sorted(MUTATIONS)), st.data())
def test_each_single_mutation_is_caught(case, kind, data):
    ann, text = case
    if not _mutate(ann, text, kind, data):
        return
    codes = {f.code for f in validate.validate_annotation(ann, text, TAX) if f.severity == "error"}
    expected = MUTATIONS[kind] if isinstance(MUTATIONS[kind], tuple) else (MUTATIONS[kind],)
    assert codes & set(expected), (kind, codes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotations(), st.data())
def test_fast_schema_path_never_hides_an_error(case, data):
    """Mutate a valid task at random places; whenever the fast path says valid, jsonschema agrees."""
    ann, text = case
    v = validate.validator_for(TAX)
    fast = v._fast[id(v.task)]
    task = {
        "id": 1,
        "data": {"text": text},
        "annotations": [
            {"id": 2, "result": lsformat.to_labelstudio(ann, text, TAX), "completed_by": 3, "lead_time": 1.5}
        ],
    }
    assert fast(task) and v.task.is_valid(task)
    junk = data.draw(st.sampled_from([None, 1, 1.0, True, "x", "", [], {}, -1, ["PER"], "labels"]))
    nodes: list[tuple[Any, Any]] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            nodes.extend((x, k) for k in x)
            for val in x.values():
                walk(val)
        elif isinstance(x, list):
            nodes.extend((x, i) for i in range(len(x)))
            for val in x:
                walk(val)

    walk(task)
    parent, key = data.draw(st.sampled_from(nodes))
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[key]
    else:
        parent[key] = junk
    if fast(task):
        assert v.task.is_valid(task), task


def test_fast_path_refuses_schemas_it_cannot_judge():
    from corpus.annotations.fastschema import Unsupported

    with pytest.raises(Unsupported):
        compile_schema({"type": "object", "patternProperties": {"x": {}}})
    with pytest.raises(Unsupported):
        compile_schema({"if": {"type": "string"}, "then": {"minLength": 2}})


# ---------------------------------------------------------------- Label Studio exports


def seed_task(tid: int = 1) -> tuple[dict[str, Any], str]:
    text = SEED.read_text(encoding="utf-8")
    i = text.index("Al Hadath TV")
    j = text.index("According to")
    ann = Annotation(
        "b18206fd37d6bce2",
        sha256_text(text),
        "",
        entities=[Entity("T1", "ORG", Span.from_offsets(text, [(i, i + 12)]))],
        attributions=[
            Attribution(
                "A1",
                Span.from_offsets(text, [(j, j + 12)]),
                Span.from_offsets(text, [(i + 14, text.index(".", i))]),
                Span.from_offsets(text, [(i, i + 12)]),
                "T1",
                {"quote_type": "indirect", "source_type": "media outlet", "commitment": "reported"},
            )
        ],
    )
    result = lsformat.to_labelstudio(ann, text, TAX)
    task = {
        "id": tid,
        "data": {"text": text, "doc_id": "b18206fd37d6bce2", "text_sha256": sha256_text(text)},
        "meta": {"corpus_version": 1, "taxonomy_version": TAX.version},
        "annotations": [
            {
                "id": 10 * tid,
                "result": result,
                "completed_by": 1,
                "was_cancelled": False,
                "ground_truth": False,
                "lead_time": 20.0,
                "created_at": "2025-01-01T00:00:00Z",
            }
        ],
        "drafts": [],
        "predictions": [],
    }
    return task, text


def write(tmp_path: Path, name: str, obj: Any) -> Path:
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return p


def test_valid_export_passes_and_counts(tmp_path):
    t1, _ = seed_task(1)
    t2, _ = seed_task(2)
    t2["annotations"].append({**t2["annotations"][0], "id": 21, "completed_by": 2})  # two annotators
    t2["annotations"].append({"id": 22, "result": [], "was_cancelled": True})
    t2["annotations"].append({"id": 23, "result": []})
    t2["drafts"] = [{"id": 5, "result": [], "user": 3}]
    t2["predictions"] = [7]
    rep = validate.validate_file(write(tmp_path, "export.json", [t1, t2]), TAX)
    assert rep.ok and rep.findings == []
    c = rep.counts
    assert (
        c["tasks"],
        c["annotations"],
        c["cancelled"],
        c["empty_results"],
        c["drafts"],
        c["predictions"],
        c["multi_annotated_tasks"],
    ) == (2, 5, 1, 1, 1, 1, 1)


def test_export_errors_carry_task_annotation_region_and_pointer(tmp_path):
    task, text = seed_task(3)
    res = task["annotations"][0]["result"]
    res[0]["value"]["labels"] = ["COMPANY"]
    res.append({"from_id": "A1", "to_id": "ghost", "type": "relation", "labels": ["has_content"]})
    res[1]["value"]["start"] = "12"
    task["data"]["text_sha256"] = "f" * 64
    rep = validate.validate_file(write(tmp_path, "e.json", [task]), TAX)
    got = {(f.code, f.task_id, f.pointer) for f in rep.findings}
    assert ("unknown_label", 3, "/0/annotations/0/result/0") in got
    assert ("dangling_relation", 3, f"/0/annotations/0/result/{len(res) - 1}") in got
    assert ("schema", 3, "/0/annotations/0/result/1/value/start") in got
    assert ("hash_mismatch", 3, "/0/data/text_sha256") in got
    unknown = next(f for f in rep.findings if f.code == "unknown_label")
    assert unknown.annotation_id == 30 and unknown.region_id == "T1" and unknown.file.endswith("e.json")


def test_unsupported_result_type_is_reported(tmp_path):
    task, _ = seed_task()
    task["annotations"][0]["result"].append(
        {"id": "n", "from_name": "notes", "to_name": "text", "type": "textarea", "value": {"text": ["hi"]}}
    )
    n = len(task["annotations"][0]["result"]) - 1
    found = validate.validate_ls_task(task, TAX)
    assert [(f.code, f.pointer) for f in found] == [("schema", f"/annotations/0/result/{n}/type")]
    conv = lsformat.from_labelstudio(task["annotations"][0]["result"], task["data"]["text"], TAX)
    assert [(f.code, f.severity) for f in conv.findings] == [("unsupported_result", "warning")]
    COVERED.add("unsupported_result")


def test_old_format_and_escaped_region_text():
    """0.x `completions` are read as annotations (one old_format warning, not a schema error); a
    region text that differs only by Label Studio's escaping is its own code."""
    task, _ = seed_task()
    old = {k: v for k, v in task.items() if k != "annotations"}
    old["completions"] = task["annotations"]
    found = validate.validate_ls_task(old, TAX)
    assert [(f.code, f.pointer) for f in found] == [("old_format", "/completions")]
    COVERED.add("old_format")
    text = task["data"]["text"]
    region = task["annotations"][0]["result"][0]
    s, e = region["value"]["start"], region["value"]["end"]
    task["data"]["text"] = text[:s] + text[s : s + 2] + "\n" + text[s + 3 :]  # a line break inside the region
    task["data"].pop("text_sha256", None)
    for r in task["annotations"][0]["result"]:
        if r.get("id") == region["id"] and "value" in r:
            r["value"]["text"] = task["data"]["text"][s:e].replace("\n", "\\n")
    found = validate.validate_ls_task(task, TAX)
    assert ("ls_escaped_text", region["id"]) in [(f.code, f.region_id) for f in found]
    assert "text_mismatch" not in {f.code for f in found if f.region_id == region["id"]}
    COVERED.add("ls_escaped_text")


def test_cli_exit_codes_and_json(tmp_path):
    task, _ = seed_task()
    ok = write(tmp_path, "ok.json", [task])
    r = CliRunner().invoke(main, ["validate", str(ok)])
    assert r.exit_code == 0 and "OK" in r.output
    bad = copy.deepcopy(task)
    bad["annotations"][0]["result"][0]["value"]["labels"] = ["X"]
    badp = write(tmp_path, "bad.json", [bad])
    r = CliRunner().invoke(main, ["validate", str(ok), str(badp), "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["counts"]["errors"] == 1 and out["by_code"] == {"unknown_label": 1}
    assert set(out["findings"][0]) >= {
        "task_id",
        "annotation_id",
        "region_id",
        "pointer",
        "code",
        "message",
        "severity",
        "file",
    }
    r = CliRunner().invoke(main, ["validate", str(badp)])
    assert r.exit_code == 1 and "error: [unknown_label]" in r.output and "bad.json" in r.output


def test_cli_validates_the_latest_complete_snapshot_of_a_folder(tmp_path):
    """A folder means its newest snapshot with a manifest; an incomplete (newer) one is ignored."""
    task, _ = seed_task()
    ann = lsformat.ls_annotation_record(task, task["annotations"][0], TAX).annotation.to_dict()
    ann["text"] = task["data"]["text"]
    snap = tmp_path / "annotations" / "proj"
    snap.mkdir(parents=True)
    (snap / "20260101T000000Z.jsonl").write_text(json.dumps(ann) + "\n", encoding="utf-8")
    (snap / "20260101T000000Z.manifest.json").write_text("{}", encoding="utf-8")
    bad = dict(ann, entities=[dict(ann["entities"][0], label="NOPE")]) if ann["entities"] else dict(ann, doc_id=5)
    (snap / "20270101T000000Z.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")  # no manifest
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "annotations")])
    assert r.exit_code == 0, r.output
    assert "[incomplete_snapshot]" in r.output and "20270101T000000Z.jsonl" in r.output  # skipped, and named
    (snap / "20270101T000000Z.manifest.json").write_text("{}", encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "annotations")])
    assert r.exit_code == 1 and "20270101T000000Z.jsonl" in r.output
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "20260101T000000Z.jsonl").write_text("", encoding="utf-8")  # a pull of nothing
    (tmp_path / "none" / "20260101T000000Z.manifest.json").write_text("{}", encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "none")])
    assert r.exit_code == 0 and "no_records" in r.output
    COVERED.add("no_records")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert CliRunner().invoke(main, ["validate", str(empty)]).exit_code == 2


HOSTILE = {
    "truncated.json": '[{"id": 1, "data": {"text": "abc"}, "annotations": [',
    "deep.json": "[" * 100000 + "]" * 100000,
    "object.json": '{"tasks": []}',
    "number.json": "42",
    "empty.json": "",
    "types.json": json.dumps(
        [
            {"id": "one", "data": "text", "annotations": {"a": 1}},
            "task",
            None,
            {"id": 2, "data": {"text": 5}, "annotations": [{"id": 1, "result": {"x": 1}}]},
            {
                "id": 3,
                "data": {"text": "abc"},
                "annotations": [
                    {
                        "id": 1,
                        "result": [
                            {
                                "type": "labels",
                                "id": "r",
                                "from_name": "entity",
                                "to_name": "text",
                                "value": {"start": 0, "end": 2.5, "labels": "PER"},
                            },
                            7,
                        ],
                    }
                ],
            },
        ]
    ),
    "huge.json": json.dumps(
        [
            {
                "id": 1,
                "data": {"text": "x" * 5_000_000},
                "annotations": [
                    {
                        "id": 1,
                        "result": [
                            {
                                "type": "labels",
                                "id": "r" * 100_000,
                                "from_name": "entity",
                                "to_name": "text",
                                "value": {"start": 0, "end": 3, "text": "y" * 1_000_000, "labels": ["PER"]},
                            }
                        ],
                    }
                ],
            }
        ]
    ),
    "lines.jsonl": '{"doc_id": "a", "entities": []}\n{oops\n[1, 2]\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_give_clear_errors_not_tracebacks(tmp_path, name):
    p = write(tmp_path, name, HOSTILE[name])
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output and name in r.output


def test_not_utf8_names_the_file(tmp_path):
    p = tmp_path / "latin1.json"
    p.write_bytes('[{"id": 1, "data": {"text": "caf\xe9"}, "annotations": []}]'.encode("latin-1"))
    rep = validate.validate_file(p, TAX)
    (f,) = rep.findings
    assert f.code == "unreadable" and "not UTF-8" in f.message and "latin1.json" in f.message
    COVERED.add("unreadable")


# ---------------------------------------------------------------- --fix-offsets


def _utf16_task() -> dict[str, Any]:
    text = "🇺🇸 officials 😀 said the strike 😀 killed two"
    cp = text.index("officials")
    u = len(text[:cp].encode("utf-16-le")) // 2
    return {
        "id": 1,
        "data": {"text": text},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "id": "r1",
                        "from_name": "entity",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": u, "end": u + 9, "text": "officials", "labels": ["PER"]},
                    }
                ],
            }
        ],
    }


def test_fix_offsets_writes_a_repaired_copy_never_overwriting(tmp_path):
    p = write(tmp_path, "old.json", [_utf16_task()])
    before = p.read_text(encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(p), "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["by_code"] == {"utf16_offsets": 1} and out["fixed"] == []
    r = CliRunner().invoke(main, ["validate", str(p), "--fix-offsets", "--json"])
    out = json.loads(r.stdout)
    fixed = tmp_path / "old.fixed.json"
    assert out["fixed"] == [str(fixed)] and p.read_text(encoding="utf-8") == before
    again = validate.validate_file(fixed, TAX)
    assert again.findings == [] and again.counts["utf16_repairs"] == 0
    value = json.loads(fixed.read_text(encoding="utf-8"))[0]["annotations"][0]["result"][0]["value"]
    assert value["start"] == _utf16_task()["data"]["text"].index("officials")
    CliRunner().invoke(main, ["validate", str(p), "--fix-offsets"])
    assert (tmp_path / "old.fixed-2.json").exists() and fixed.exists()


def test_fix_offsets_on_canonical_jsonl(tmp_path):
    task = _utf16_task()
    text = task["data"]["text"]
    conv = lsformat.from_labelstudio(task["annotations"][0]["result"], text, TAX, doc_id="d" * 16)
    good_rec = {**conv.annotation.to_dict(), "text": text}
    bad_rec = copy.deepcopy(good_rec)
    bad_rec["entities"][0]["fragments"] = [
        {
            "start": task["annotations"][0]["result"][0]["value"]["start"],
            "end": task["annotations"][0]["result"][0]["value"]["end"],
        }
    ]
    p = write(tmp_path, "snap.jsonl", json.dumps(good_rec) + "\n" + json.dumps(bad_rec) + "\n")
    rep = validate.validate_file(p, TAX)
    assert [(f.code, f.line) for f in rep.findings] == [("utf16_offsets", 2)] and not rep.ok
    rep = validate.validate_file(p, TAX, fix_offsets=True)
    assert rep.fixed == [str(tmp_path / "snap.fixed.jsonl")]
    assert validate.validate_file(tmp_path / "snap.fixed.jsonl", TAX).findings == []


# ---------------------------------------------------------------- canonical JSONL with the corpus store


def test_canonical_jsonl_texts_from_the_store(tmp_path, store_uri):
    from corpus.ingest.importer import import_paths
    from corpus.store.table import CorpusStore

    store = CorpusStore(store_uri)
    import_paths([SEED], store, message="validate test")
    art = next(iter(store.iter_articles()))
    task, _ = seed_task()
    conv = lsformat.ls_annotation_record(task, task["annotations"][0], TAX)
    rec = conv.annotation.to_dict()
    rec["doc_id"], rec["text_sha256"] = art.doc_id, art.text_sha256
    shifted = copy.deepcopy(rec)
    shifted["entities"][0]["fragments"][0]["start"] += 1
    p = write(tmp_path, "snap.jsonl", "\n".join(json.dumps(r) for r in (rec, shifted)) + "\n")

    r = CliRunner().invoke(main, ["validate", str(p), "--json"])  # no store: counted, not checked
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["by_code"] == {"text_unavailable": 1} and out["counts"]["records_without_text"] == 2
    COVERED.add("text_unavailable")
    r = CliRunner().invoke(main, ["validate", str(p), "--store", store_uri, "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["by_code"] == {"text_mismatch": 1}
    assert out["findings"][0]["line"] == 2 and out["findings"][0]["doc_id"] == art.doc_id


def test_every_code_is_exercised():
    """Runs last in this module: each code the converter and the validator report has a failing case above."""
    source = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (lsformat, validate))
    theirs = {c for c in CODES if f'"{c}"' in source}
    produced = COVERED | {c for c, _ in CASES}
    assert produced == theirs, theirs - produced
