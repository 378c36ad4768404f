"""The whole chain on a second taxonomy (tests/taxonomies/kbp.yaml), with no code change.

Other entity labels (``STATE/PROVINCE``), entity attributes, a relations layer (``per:title``),
other event types and attributes, no attribution layer, other control names and text field.
Import -> push (project config generated from kbp.yaml) -> annotations made through the API ->
pull -> validate (clean) -> agreement (two annotators on one document) -> release build ->
``load_dataset`` of every config; labels, attributes and relations come back exactly.
The taxonomy is chosen with ``CORPUS_TAXONOMY``, as a user would.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.annotations import lsformat
from corpus.cli import main
from corpus.core import taxonomy
from corpus.core.model import Annotation, Argument, Entity, Event, Relation, Span
from corpus.store.snapshot import load_annotations
from corpus.store.table import CorpusStore

KBP = Path(__file__).resolve().parent / "taxonomies" / "kbp.yaml"
PROJECT = "t-second-taxonomy"

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

ARTICLES = {
    "a_hire.txt": "Jane Doe joined Acme Corp as chief executive on Monday. "
    "Acme Corp is based in Ontario, and Doe was the premier of Ontario before.\n",
    "b_rally.txt": "Thousands of farmers rallied in Quebec against the new tax, said Paul Roy, a union leader.\n",
}


def run(*args: str, env: dict[str, str] | None = None, code: int = 0) -> str:
    r = CliRunner().invoke(main, list(args), env=env)
    assert r.exit_code == code, f"corpus {' '.join(args)} -> {r.exit_code}\n{r.output}"
    return r.stdout


def sp(text: str, s: str, nth: int = 0) -> Span:
    i = -1
    for _ in range(nth + 1):
        i = text.index(s, i + 1)
    return Span.from_offsets(text, [(i, i + len(s))])


def hire(doc_id: str, text: str, who: str, *, premier_kind: str = "government") -> Annotation:
    ents = [
        Entity("T1", "PER", sp(text, "Jane Doe"), {"mention": "name"}),
        Entity("T2", "ORG", sp(text, "Acme Corp"), {"mention": "name"}),
        Entity("T3", "TITLE", sp(text, "chief executive"), {"mention": "nominal", "title_kind": "business"}),
        Entity("T4", "STATE/PROVINCE", sp(text, "Ontario"), {"mention": "name"}),
        Entity("T5", "TITLE", sp(text, "premier"), {"mention": "nominal", "title_kind": premier_kind}),
        Entity("T6", "STATE/PROVINCE", sp(text, "Ontario", 1), {"mention": "name"}),
        Entity("T7", "ORG", sp(text, "Acme Corp", 1), {"mention": "name"}),
    ]
    ev = Event(
        "E1",
        "Personnel.StartPosition",
        sp(text, "joined"),
        [Argument("Person", "T1"), Argument("Employer", "T2"), Argument("Position", "T3")],
        {"modality": "asserted"},
    )
    rels = [
        Relation("r1", "per:title", "T1", "T3"),
        Relation("r2", "per:employee_of", "T1", "T2"),
        Relation("r3", "org:stateorprovince_of_headquarters", "T7", "T4"),
        Relation("r4", "per:title", "T1", "T5"),
    ]
    return Annotation(doc_id, "", who, entities=ents, events=[ev], relations=rels)


def rally(doc_id: str, text: str, who: str) -> Annotation:
    ents = [
        Entity("T1", "STATE/PROVINCE", sp(text, "Quebec"), {"mention": "name"}),
        Entity("T2", "PER", sp(text, "Paul Roy"), {"mention": "name"}),
        Entity("T3", "TITLE", sp(text, "union leader"), {"mention": "nominal", "title_kind": "other"}),
    ]
    ev = Event("E1", "Conflict.Demonstrate", sp(text, "rallied"), [Argument("Place", "T1")], {"modality": "asserted"})
    return Annotation(doc_id, "", who, entities=ents, events=[ev], relations=[Relation("r1", "per:title", "T2", "T3")])


def content(a: Annotation) -> dict:
    """What an annotator decided, in a form that ignores ids (pull gives Label Studio region ids)."""
    ents = {e.id: (e.label, e.span.start, e.span.end) for e in a.entities}
    return {
        "entities": sorted(
            (e.label, e.span.start, e.span.end, e.span.text, sorted(e.attributes.items())) for e in a.entities
        ),
        "events": sorted(
            (
                ev.type,
                ev.trigger.start,
                ev.trigger.end,
                sorted((g.role, ents[g.entity_id]) for g in ev.arguments),
                sorted(ev.attributes.items()),
            )
            for ev in a.events
        ),
        "relations": sorted((r.label, ents[r.from_id], ents[r.to_id]) for r in a.relations),
    }


def test_second_taxonomy_runs_the_whole_chain(labelstudio, tmp_path, monkeypatch, hf_offline):
    monkeypatch.setenv("CORPUS_TAXONOMY", str(KBP))
    tax = taxonomy.load()
    assert tax.name == "kbp-test" and not tax.has(taxonomy.ATTRIBUTION)
    env = labelstudio.env
    store = str(tmp_path / "store")
    src = tmp_path / "articles"
    src.mkdir()
    for name, text in ARTICLES.items():
        (src / name).write_text(text, encoding="utf-8")

    imported = json.loads(run("import", str(src), "--store", store, "--json"))
    assert imported["added"] == 2
    arts = {a.doc_id: a for a in CorpusStore(store).iter_articles()}
    by_text = {a.text[:4]: a for a in arts.values()}
    a_hire, a_rally = by_text["Jane"], by_text["Thou"]

    pushed = json.loads(run("push", "--project", PROJECT, "--store", store, "--json", env=env))
    assert pushed["pushed"] == 2
    pid = pushed["project_id"]
    # the project's labeling config is the one generated from kbp.yaml
    cfg = ET.fromstring(labelstudio.client.sdk.projects.get(id=pid).label_config)
    assert {el.get("name"): [x.get("value") for x in el.iter("Label")] for el in cfg.iter("Labels")} == {
        "ner": list(tax.entity_labels()),
        "evt": list(tax.event_types()),
    }
    assert [t.get("name") for t in cfg.iter("Text")] == ["body"]
    tasks = {t["data"]["doc_id"]: t for t in labelstudio.client.task_data(pid)}
    assert tasks[a_hire.doc_id]["data"]["body"] == a_hire.text

    # annotators' work, made through the API as the Label Studio UI would save it
    made = {
        ("alice@example.com", a_hire.doc_id): hire(a_hire.doc_id, a_hire.text, "alice"),
        ("bob@example.com", a_hire.doc_id): hire(a_hire.doc_id, a_hire.text, "bob", premier_kind="other"),
        ("alice@example.com", a_rally.doc_id): rally(a_rally.doc_id, a_rally.text, "alice"),
    }
    users = {u: labelstudio.client.create_user(u, "pw-annotator-123456") for u, _ in made}
    for (user, doc_id), ann in made.items():
        result = lsformat.to_labelstudio(ann, arts[doc_id].text, tax)
        assert {r["from_name"] for r in result if r["type"] != "relation"} <= {
            "ner",
            "evt",
            "mention",
            "title_kind",
            "modality",
        }
        labelstudio.client.create_annotation(tasks[doc_id]["id"], result, completed_by=int(users[user]["id"]))

    out = tmp_path / "ann"
    pulled = json.loads(run("pull", "--project", PROJECT, "--out", str(out), "--json", env=env))
    records = load_annotations([pulled["snapshot"]])
    assert len(records) == 3
    for rec in records:
        assert rec.taxonomy_version == tax.version
        assert content(rec) == content(made[(rec.annotator, rec.doc_id)])
    # the canonical JSON carries the relations and the entity attributes flat, by name
    hire_rec = next(r for r in records if r.doc_id == a_hire.doc_id).to_dict()
    assert {r["label"] for r in hire_rec["relations"]} == {
        "per:title",
        "per:employee_of",
        "org:stateorprovince_of_headquarters",
    }
    assert {e["label"]: e["mention"] for e in hire_rec["entities"]}["STATE/PROVINCE"] == "name"
    assert "attributions" in hire_rec and hire_rec["attributions"] == []

    validated = json.loads(run("validate", str(out), "--store", store, "--json"))
    assert validated["ok"] and validated["counts"]["errors"] == 0 and validated["counts"]["warnings"] == 0

    agreed = json.loads(run("agreement", str(out), "--store", store, "--json"))
    assert set(agreed["layers"]) == {"entities", "events", "relations"}
    assert agreed["documents"] == 1
    assert agreed["layers"]["relations"]["exact"]["f1"] == 1.0  # same relations, by (label, from span, to span)
    assert agreed["layers"]["entities"]["exact"]["f1"] == 1.0

    built = json.loads(
        run(
            "release",
            "build",
            "--version",
            "1.0.0",
            "--store",
            store,
            "--annotations",
            str(out),
            "--out",
            str(tmp_path / "dist"),
            "--json",
        )  # fmt: skip
    )
    folder = Path(built["folder"]) if "folder" in built else tmp_path / "dist" / "newscorpus-1.0.0"
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "config_name: attribution" not in card and "`per:title`" in card

    from datasets import load_dataset

    summary = json.loads(run("release", "summary", str(folder), "--json"))
    assert set(summary["configs"]) == {"documents", "ner"}
    assert summary["spans"]["relations"] == 4 + 1
    docs = load_dataset(str(folder), "documents", cache_dir=str(hf_offline))
    ner = load_dataset(str(folder), "ner", cache_dir=str(hf_offline))
    with pytest.raises(ValueError):
        load_dataset(str(folder), "attribution", cache_dir=str(hf_offline))
    rows = [row for split in docs.values() for row in split]
    assert len(rows) == 2
    feats = next(iter(docs.values())).features
    ent_names = feats["entities"].feature["label"].names
    assert ent_names == list(tax.entity_labels())
    rel_names = feats["relations"].feature["label"].names
    mention = feats["entities"].feature["mention"].names
    title_kind = feats["entities"].feature["title_kind"].names
    ev_names = feats["events"].feature["type"].names
    roles = feats["events"].feature["arguments"].feature["role"].names
    modality = feats["events"].feature["modality"].names
    for row in rows:
        # the gold annotation of the document (release rows name annotators by pseudonym)
        candidates = [a for (_, doc_id), a in made.items() if doc_id == row["id"]]
        ents = {
            e["id"]: (ent_names[e["label"]], e["fragments"][0]["start"], e["fragments"][0]["end"])
            for e in row["entities"]
        }
        got = {
            "entities": sorted(
                (
                    ent_names[e["label"]],
                    e["fragments"][0]["start"],
                    e["fragments"][0]["end"],
                    e["text"],
                    sorted(
                        [("mention", mention[e["mention"]])]
                        + ([("title_kind", title_kind[e["title_kind"]])] if e["title_kind"] is not None else [])
                    ),
                )
                for e in row["entities"]
            ),
            "events": sorted(
                (
                    ev_names[ev["type"]],
                    ev["trigger"]["fragments"][0]["start"],
                    ev["trigger"]["fragments"][0]["end"],
                    sorted((roles[g["role"]], ents[g["entity_id"]]) for g in ev["arguments"]),
                    [("modality", modality[ev["modality"]])],
                )
                for ev in row["events"]
            ),
            "relations": sorted(
                (rel_names[r["label"]], ents[r["from_id"]], ents[r["to_id"]]) for r in row["relations"]
            ),
        }
        wants = []
        for ann in candidates:
            want = content(ann)
            want["entities"] = [(*e[:4], [kv for kv in e[4] if kv[1] is not None]) for e in want["entities"]]
            wants.append(want)
        assert got in wants
    tag_names = next(iter(ner.values())).features["ner_tags"].feature.names
    assert "B-STATE/PROVINCE" in tag_names and "I-TITLE" in tag_names
    tagged = {tag_names[t] for split in ner.values() for row in split for t in row["ner_tags"]}
    assert {"B-STATE/PROVINCE", "B-TITLE", "I-TITLE", "B-PER"} <= tagged
