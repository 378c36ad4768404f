"""corpus push --annotations against a real Label Studio, with real PolNeAR brat annotations.

brat import -> snapshot -> push (annotations / predictions) -> pull must give back the same spans
per (document, annotator), and a brat export of the pulled records must be the export of the
imported ones, byte for byte (meta["brat"] travels in the task meta). Adjudicated gold goes to a
review project with its conflicts shown as region notes and listed in the task meta.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.annotations import adjudicate, lsformat
from corpus.annotations.brat import collection
from corpus.cli import main
from corpus.core.model import Annotation
from corpus.labelstudio.pull import pull
from corpus.labelstudio.push_annotations import annotator_email, attach_conflicts, conflict_note, push_annotations
from corpus.store import snapshot
from corpus.store.snapshot import load_annotations as read_snapshot
from corpus.store.table import CorpusStore

pytestmark = [pytest.mark.labelstudio, pytest.mark.polnear, pytest.mark.slow]

# 8 train articles: several annotators (6 on two of them), discontinuous contents, review flags,
# annotator notes (one on a span outside any attribution), a non-NFC text, a span over a line break
SAMPLE = [
    "breitbart_2016-03-20_ted-cruz-refuses-to-disavow-lind",
    "nyt_2016-06-07_china-rebuts-american-criticism-",
    "west-journal_2016-04-18_trump-s-son-says-the-battle-agai",
    "politico_2016-02-11_things-to-watch-in-tonight-s-deb",
    "usa-today_2015-11-20_campaign-cash-tied-to-turkish-gr",
    "nyt_2016-04-18_for-news-outlets-feeling-the-squ",
    "breitbart_2015-11-11_the-ninth-circle-the-hellish-vie",
    "wash-post_2016-07-02_judge-blocks-mississippi-s-relig",
]


def frags(span) -> tuple:
    return tuple((f.start, f.end) for f in span.fragments) if span is not None else None


def content_of(a: Annotation) -> dict:
    """Everything a span comparison must find equal (ids included: they are region ids in Label Studio)."""
    return {
        "entities": sorted((e.id, e.label, frags(e.span), e.span.text) for e in a.entities),
        "events": sorted(
            (
                e.id,
                e.type,
                frags(e.trigger),
                tuple(sorted((x.role, x.entity_id) for x in e.arguments)),
                e.attributes.get("realis"),
                e.attributes.get("polarity"),
            )
            for e in a.events
        ),
        "attributions": sorted(
            (
                x.id,
                frags(x.cue),
                x.cue.text,
                frags(x.content),
                x.content.text,
                frags(x.source),
                x.source.text if x.source else None,
                x.source_entity_id,
                x.attributes.get("quote_type"),
                x.attributes.get("source_type"),
                x.attributes.get("commitment"),
                tuple(x.flags),
            )
            for x in a.attributions
        ),
        "notes": sorted((n["target"], n["text"]) for n in a.notes),
    }


@pytest.fixture(scope="module")
def sample(polnear_dir: Path, tmp_path_factory):
    """The 8 articles copied in PolNeAR's layout, imported with corpus.annotations.brat.import_brat."""
    root = tmp_path_factory.mktemp("push-ann")
    src = polnear_dir / "train"
    for sub in ("text", "attributions"):
        (root / "train" / sub).mkdir(parents=True)
    for name in SAMPLE:
        shutil.copy(src / "text" / f"{name}.txt", root / "train" / "text")
        for p in (src / "attributions").glob(f"{name}_*.ann"):
            shutil.copy(p, root / "train" / "attributions")
    store = CorpusStore(str(root / "store"))
    _, rep = collection.import_brat(
        root / "train", store, source="polnear", annotations_out=root / "annotations" / "sample"
    )
    assert rep.errors == [] and rep.documents == 8
    records = snapshot.load_annotations(rep.snapshot)
    # the sample has what the round trip must carry
    per_doc = Counter(a.doc_id for a in records)
    assert sum(1 for n in per_doc.values() if n > 1) >= 3 and max(per_doc.values()) == 6
    assert any(len(x.content.fragments) > 1 for a in records for x in a.attributions)
    assert any(x.flags for a in records for x in a.attributions)
    known = lambda a: {x.id for x in (*a.entities, *a.events, *a.attributions)}  # noqa: E731
    assert any(n["target"] not in known(a) for a in records for n in a.notes)  # a note on no region
    return {"root": root, "store": store, "snapshot": Path(rep.snapshot), "records": records}


def test_brat_annotations_round_trip_through_label_studio(labelstudio, sample, tmp_path):
    client, store = labelstudio.client, sample["store"]
    records = sample["records"]
    rep = push_annotations(client, store, "t-pa-brat", [sample["snapshot"]])
    assert rep.errors == [] and rep.documents["pushed"] == 8
    assert (rep.records, rep.sent, rep.skipped, rep.invalid) == (len(records), len(records), 0, 0)
    annotators = {a.annotator for a in records}
    assert set(rep.users_created) <= {f"{w}@brat.invalid" for w in annotators}
    assert {u["email"] for u in client.users()} >= {f"{w}@brat.invalid" for w in annotators}

    again = push_annotations(client, store, "t-pa-brat", [sample["snapshot"]])  # idempotent
    assert (again.sent, again.skipped, again.documents["pushed"], again.documents["skipped"]) == (0, len(records), 0, 8)
    assert sum(len(client.annotations(t)) for t, _ in client.task_meta(rep.project_id)) == len(records)

    pr = pull(client, "t-pa-brat", out=tmp_path / "pulled")
    assert pr.counts["written"] == len(records) and pr.counts["invalid"] == 0
    pulled = read_snapshot(pr.snapshot)
    by_key = {(a.doc_id, a.annotator): a for a in pulled}
    assert len(by_key) == len(pulled) == len(records)
    for a in records:
        got = by_key[(a.doc_id, a.annotator)]  # the original annotator id, not the user's e-mail
        assert got.origin == "labelstudio" and got.meta["imported"] == {
            "origin": "brat",
            "user": f"{a.annotator}@brat.invalid",
        }
        assert content_of(got) == content_of(a), (a.doc_id, a.annotator)
        assert got.meta["brat"] == a.meta["brat"]

    # brat export of the pulled records == brat export of the imported ones, byte for byte
    e1 = collection.export_brat(sample["snapshot"], store, tmp_path / "from-import")
    e2 = collection.export_brat(pr.snapshot, store, tmp_path / "from-labelstudio")
    assert e1.issues == e2.issues == [] and e1.ann_files == e2.ann_files == len(records)
    for f in sorted((tmp_path / "from-import").glob("*.ann")):
        assert f.read_bytes() == (tmp_path / "from-labelstudio" / f.name).read_bytes(), f.name


def test_brat_annotations_as_predictions(labelstudio, sample):
    client, store = labelstudio.client, sample["store"]
    records = sample["records"]
    rep = push_annotations(client, store, "t-pa-pred", [sample["snapshot"]], mode="predictions")
    assert rep.errors == [] and (rep.sent, rep.skipped) == (len(records), 0)
    preds = client.project_predictions(rep.project_id)
    assert Counter(p["model_version"] for p in preds) == Counter(f"brat:{a.annotator}" for a in records)
    doc_of = {tid: m["doc_id"] for tid, m in client.task_meta(rep.project_id)}
    assert Counter(doc_of[p["task"]] for p in preds) == Counter(a.doc_id for a in records)
    # a prediction reads back (through the same converter pull uses) as the record's spans
    texts = {k: v.text for k, v in store.get_many({a.doc_id for a in records}).items()}
    want = {(a.doc_id, f"brat:{a.annotator}"): a for a in records}
    for p in preds:
        doc = doc_of[p["task"]]
        conv = lsformat.from_labelstudio(p["result"], texts[doc])
        assert conv.findings == []
        orig = want[(doc, p["model_version"])]
        assert content_of(conv.annotation)["attributions"] == content_of(orig)["attributions"]
    assert all(not client.annotations(t) for t in doc_of)  # predictions only
    again = push_annotations(client, store, "t-pa-pred", [sample["snapshot"]], mode="predictions")
    assert (again.sent, again.skipped) == (0, len(records))
    assert len(client.project_predictions(rep.project_id)) == len(records)


def test_bad_records_are_reported_and_the_rest_go_through(labelstudio, sample, tmp_path):
    lines = sample["snapshot"].read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[0])
    bad["attributions"][0]["cue"]["text"] = "not the text there"  # text_mismatch: an error
    stale = json.loads(lines[1])
    stale["text_sha256"] = "0" * 64
    snap = tmp_path / "mixed.jsonl"
    snap.write_text("\n".join([json.dumps(bad), lines[2], json.dumps(stale), lines[3]]) + "\n", encoding="utf-8")
    args = ["push", "--project", "t-pa-bad", "--annotations", str(snap), "--store", sample["store"].uri, "--json"]
    r = CliRunner().invoke(main, args, env=labelstudio.env)
    assert r.exit_code == 1, r.output
    d = json.loads(r.stdout)
    assert (d["records"], d["sent"], d["invalid"], d["stale"]) == (4, 2, 1, 1)
    errs: dict[int, list] = {}
    for e in d["errors"]:
        errs.setdefault(e["line"], []).append(e)
    assert errs[1][0]["code"] == "text_mismatch" and errs[1][0]["file"] == str(snap)
    assert errs[1][0]["message"].startswith("not sent: ")
    assert errs[3][0]["code"] == "stale_annotation" and "another version of the text" in errs[3][0]["message"]
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, args[:-1], env=labelstudio.env)  # again, for people: nothing new is sent
    assert r.exit_code == 1 and "0 sent as annotations, 2 already there, 1 invalid, 1 not matching" in r.output
    assert f"{snap}:1" in r.output and "text_mismatch" in r.output
    # --annotations with a task filter is a usage error
    r = CliRunner().invoke(main, args[:-1] + ["--limit", "3"], env=labelstudio.env)
    assert r.exit_code == 2 and "do not apply" in r.output


def test_annotator_email():
    assert annotator_email("4b22", "brat") == "4b22@brat.invalid"
    assert annotator_email("ann1@example.com", "labelstudio") == "ann1@example.com"
    assert annotator_email("Jane Doe/2", "adjudicated") == "Jane-Doe-2@adjudicated.invalid"


@pytest.fixture(scope="module")
def training(polnear_dir: Path, tmp_path_factory):
    """PolNeAR's annotator-training compartment (4 articles x 6 annotators) and its adjudication."""
    root = tmp_path_factory.mktemp("push-ann-training")
    store = CorpusStore(str(root / "store"))
    _, rep = collection.import_brat(
        polnear_dir / "annotator-training", store, source="polnear", annotations_out=root / "annotations" / "training"
    )
    assert rep.annotations == 24 and rep.errors == []
    records = snapshot.load_annotations(rep.snapshot)
    gold, conflicts, _ = adjudicate.adjudicate(records)
    paths = adjudicate.write_adjudication(gold, conflicts, root / "annotations" / "training-gold")
    return {
        "store": store,
        "snapshot": Path(rep.snapshot),
        "records": records,
        "gold": gold,
        "conflicts": conflicts,
        **paths,
    }


def test_training_compartment_round_trip(labelstudio, training, tmp_path):
    client = labelstudio.client
    r = CliRunner().invoke(
        main,
        [
            "push",
            "--project",
            "t-pa-training",
            "--annotations",
            str(training["snapshot"]),
            "--store",
            training["store"].uri,
            "--json",
        ],
        env=labelstudio.env,
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["sent"], d["documents"]["pushed"], d["conflicts_listed"]) == (24, 4, 0)
    pulled = {(a.doc_id, a.annotator): a for a in read_snapshot(pull(client, "t-pa-training", out=tmp_path).snapshot)}
    assert len(pulled) == 24
    for a in training["records"]:
        assert content_of(pulled[(a.doc_id, a.annotator)]) == content_of(a)


def test_adjudicated_gold_goes_to_review_with_its_conflicts(labelstudio, training, tmp_path):
    client = labelstudio.client
    gold, conflicts = training["gold"], training["conflicts"]
    r = CliRunner().invoke(
        main,
        [
            "push",
            "--project",
            "t-pa-review",
            "--annotations",
            training["gold_path"],
            "--store",
            training["store"].uri,
            "--json",
        ],
        env=labelstudio.env,
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    # the conflicts file beside the gold snapshot was found: all listed, those about kept items on regions
    assert d["sent"] == 4 and d["conflicts_listed"] == len(conflicts) and 0 < d["conflicts_attached"] <= len(conflicts)
    assert d["users_created"] in ([], ["adjudicated@adjudicated.invalid"])
    metas = dict(client.task_meta(d["project_id"]))
    by_doc = Counter(c["doc_id"] for c in conflicts)
    assert {m["doc_id"]: len(m["conflicts"]) for m in metas.values()} == dict(by_doc)
    # the reviewer sees the notes on the regions: region meta.text of the annotation in Label Studio
    shown = [
        t
        for tid in metas
        for a in client.annotations(tid)
        for x in a["result"]
        for t in (x.get("meta") or {}).get("text", [])
        if t.startswith("conflict: ")
    ]
    assert len(shown) == d["conflicts_attached"]
    # pulled back: the gold spans, annotator "adjudicated", the conflict notes as notes
    pulled = {a.doc_id: a for a in read_snapshot(pull(client, "t-pa-review", out=tmp_path).snapshot)}
    assert len(pulled) == 4
    for g in gold:
        p = pulled[g.doc_id]
        assert p.annotator == "adjudicated" and p.meta["imported"]["origin"] == "adjudicated"
        assert p.meta["adjudication"] == g.meta["adjudication"]
        want = content_of(g)
        got = content_of(p)
        assert got["attributions"] == want["attributions"] and got["entities"] == want["entities"]
        assert all(t.startswith("conflict: ") for _, t in got["notes"])
    assert sum(len(p.notes) for p in pulled.values()) == d["conflicts_attached"]


def test_conflict_notes_target_kept_items_only(training):
    """Unit check of attach_conflicts: span conflicts go to the accepted item, attribute conflicts to
    their item, and the conflict about a dropped attribution (content unresolved) to no region."""
    gold, conflicts = training["gold"], training["conflicts"]
    total = 0
    for g in gold:
        g2 = Annotation.from_dict(g.to_dict())
        mine = [c for c in conflicts if c["doc_id"] == g.doc_id]
        n = attach_conflicts(g2, mine)
        total += n
        ids = {x.id for x in (*g2.entities, *g2.events, *g2.attributions)}
        assert len(g2.notes) == n and all(x["target"] in ids for x in g2.notes)
        dropped = [c for c in mine if c.get("field") == "content" and c["decision"] == "unresolved"]
        assert all(conflict_note(c) not in {x["text"] for x in g2.notes} for c in dropped)
    # on this data: every conflict except the rejected span candidates (no gold region) lands on a region
    expected = sum(
        1
        for c in conflicts
        if c["decision"] != "rejected" and not (c.get("field") == "content" and c["decision"] == "unresolved")
    )
    assert total == expected and 0 < total < len(conflicts)
