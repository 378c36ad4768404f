"""Adjudication: majority vote, reviewer override, conflicts, snapshot files and CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from corpus.annotations.adjudicate import adjudicate, adjudicate_document
from corpus.cli import main
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text
from corpus.store.snapshot import load_annotations, write_snapshot

TEXT = "Officials said the strike hit depots . Reuters reported fires ."
SHA = sha256_text(TEXT)


def sp(s: int, e: int) -> Span:
    return Span.from_offsets(TEXT, [(s, e)])


def ann(who: str, doc: str = "d1", sha: str = SHA, **layers) -> Annotation:
    return Annotation(doc_id=doc, text_sha256=sha, annotator=who, **layers)


def three() -> dict[str, Annotation]:
    """A, B, C. Officials (0-9): PER by A and B, ORG by C. Reuters (39-46): ORG by A only."""
    return {
        "A": ann(
            "A",
            entities=[Entity("a1", "PER", sp(0, 9)), Entity("a2", "ORG", sp(39, 46))],
            attributions=[Attribution("x", sp(10, 14), sp(15, 36), sp(0, 9), attributes={"quote_type": "indirect"})],
        ),
        "B": ann(
            "B",
            entities=[Entity("b1", "PER", sp(0, 9))],
            attributions=[Attribution("y", sp(10, 14), sp(15, 36), sp(0, 9), attributes={"quote_type": "direct"})],
        ),
        "C": ann(
            "C",
            entities=[Entity("c1", "ORG", sp(0, 9))],
            attributions=[Attribution("z", sp(10, 14), sp(19, 36), None, attributes={"quote_type": "indirect"})],
        ),
    }


def test_majority_accepts_and_lists_conflicts():
    gold, conflicts = adjudicate_document("d1", three())
    assert gold.origin == "adjudicated" and gold.annotator == "adjudicated"
    assert [(e.label, e.span.text) for e in gold.entities] == [("PER", "Officials")]  # 2 of 3; ORG 1 of 3 rejected
    (att,) = gold.attributions
    assert att.cue.text == "said" and att.content.text == "the strike hit depots"  # 2 of 3 supporters
    assert att.source.text == "Officials" and att.attributes.get("quote_type") == "indirect"  # A and C
    spans = [c for c in conflicts if c["kind"] == "span"]
    assert {(c["layer"], c["region"]["start"], c["decision"]) for c in spans} == {
        ("entities", 0, "majority"),
        ("entities", 39, "rejected"),
    }
    ent0 = next(c for c in spans if c["region"]["start"] == 0)
    assert [(x["label"], x["votes"], x["annotators"], x["accepted"]) for x in ent0["candidates"]] == [
        ("PER", 2, ["A", "B"], True),
        ("ORG", 1, ["C"], False),
    ]
    fields = {c["field"]: c for c in conflicts if c["kind"] == "attribute"}
    assert set(fields) == {"content", "source", "quote_type"}
    assert fields["quote_type"]["decision"] == "majority" and fields["quote_type"]["chosen"] == "indirect"
    assert gold.meta["adjudication"]["min_votes"] == 2


def test_reviewer_wins_where_given():
    gold, conflicts = adjudicate_document("d1", three(), reviewer="C")
    assert [(e.label, e.span.text) for e in gold.entities] == [("ORG", "Officials")]
    (att,) = gold.attributions
    assert att.content.text == "strike hit depots" and att.source is None
    assert {c["decision"] for c in conflicts if c["kind"] == "span" and c["region"]["start"] == 0} == {"reviewer"}
    # where the reviewer made nothing, the majority still decides (Reuters: 1 vote < 2)
    assert not any(e.span.text == "Reuters" for e in gold.entities)


def test_min_votes_and_ties():
    per = three()
    gold, _ = adjudicate_document("d1", per, min_votes=1)
    assert sorted((e.label, e.span.text) for e in gold.entities) == [
        ("ORG", "Officials"),
        ("ORG", "Reuters"),
        ("PER", "Officials"),
    ]
    two = {"A": per["A"], "C": per["C"]}  # content 1:1 -> unresolved: no attribution
    gold, conflicts = adjudicate_document("d1", two, min_votes=1)
    assert gold.attributions == []
    assert any(c.get("field") == "content" and c["decision"] == "unresolved" for c in conflicts)


def test_events_arguments_and_attributes_vote_among_supporters():
    def with_event(who, role, realis):
        return ann(
            who,
            entities=[Entity(f"{who}e", "FAC", sp(30, 36))],
            events=[
                Event(
                    f"{who}v",
                    "Conflict:Attack",
                    sp(19, 25),
                    [Argument(role, f"{who}e")],
                    {"realis": realis, "polarity": "positive"},
                )
            ],
        )

    gold, conflicts = adjudicate_document(
        "d1",
        {
            "A": with_event("A", "Target", "actual"),
            "B": with_event("B", "Target", "actual"),
            "C": with_event("C", "Place", "generic"),
        },
    )
    (ev,) = gold.events
    (ent,) = gold.entities
    assert ev.attributes.get("realis") == "actual" and ev.attributes.get("polarity") == "positive"
    assert [(a.role, a.entity_id) for a in ev.arguments] == [("Target", ent.id)]
    assert {c["field"] for c in conflicts if c["kind"] == "attribute"} == {"realis", "arguments"}


def test_adjudicate_skips_stale_predictions_and_writes_files(tmp_path):
    per = three()
    stale = ann("D", sha="0" * 64, entities=[Entity("d", "GPE", sp(0, 9))])
    pred = Annotation(
        doc_id="d1", text_sha256=SHA, annotator="model", origin="prediction", entities=[Entity("p", "GPE", sp(0, 9))]
    )
    gold, conflicts, rep = adjudicate([*per.values(), stale, pred])
    assert rep.gold == 1 and rep.stale == [{"doc_id": "d1", "annotator": "D", "text_sha256": "0" * 64}]
    assert gold[0].meta["adjudication"]["annotators"] == ["A", "B", "C"]  # no prediction, no stale record

    snap = tmp_path / "in.jsonl"
    write_snapshot(list(per.values()), snap)
    out = tmp_path / "annotations" / "demo"
    r = CliRunner().invoke(main, ["adjudicate", str(snap), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    gold_path = res["gold_path"]
    assert gold_path.startswith(str(out / "gold-")) and gold_path.endswith(".jsonl")
    (g,) = load_annotations(gold_path)
    assert g.origin == "adjudicated" and [e.label for e in g.entities] == ["PER"]
    lines = [json.loads(x) for x in open(res["conflicts_path"], encoding="utf-8")]
    assert len(lines) == res["conflicts"] == 5
    manifest = json.loads(open(res["manifest_path"], encoding="utf-8").read())
    assert manifest["counts"]["records"] == 1 and manifest["origins"] == ["adjudicated"] and manifest["conflicts"] == 5

    # an explicit .jsonl path; more votes needed than annotators -> left out, exit 1
    r = CliRunner().invoke(main, ["adjudicate", str(snap), "--out", str(tmp_path / "g.jsonl"), "--min-votes", "4"])
    assert r.exit_code == 1 and "fewer annotators than --min-votes" in r.output
