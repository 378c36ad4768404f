"""Gold selection policy and re-anchoring of annotations made on an older text."""

from __future__ import annotations

import json

import pytest

from corpus.core.errors import InputError
from corpus.core.model import Annotation, Entity, Span
from corpus.release.gold import AnchorError, Candidate, anchor, choose, index_snapshots, select_gold
from corpus.store.snapshot import snapshot_files


def cand(annotator, origin="labelstudio", gt=False, stamp="", line=1):
    return Candidate(stamp, 0, line, 0, annotator, origin, gt)


def test_default_policy_ladder():
    a, b = cand("alice", stamp="2025-01-02"), cand("bob", stamp="2025-01-03")
    adj = cand("judge", origin="adjudicated", stamp="2025-01-01")
    rev = cand("carol", gt=True, stamp="2024-01-01")
    assert choose("d", [a, b, adj, rev]).policy == "ground_truth"
    c = choose("d", [a, b, adj])
    assert (c.policy, c.candidate.annotator, c.n_candidates) == ("adjudicated", "judge", 3)
    assert choose("d", [a, b]).candidate is b and choose("d", [a, b]).policy == "most_recent"
    older = cand("alice", stamp="2024-12-01", line=9)
    assert choose("d", [a, older]).policy == "single_annotator" and choose("d", [a, older]).candidate is a
    # ties in time: the one read last wins (deterministic)
    t1, t2 = cand("x", line=1), cand("y", line=2)
    assert choose("d", [t2, t1]).candidate is t2
    assert choose("d", [a, b, adj], "latest").candidate is b
    assert choose("d", [a, b], "reviewed") is None and choose("d", [a, adj], "reviewed").candidate is adj


def test_select_gold_over_the_columnar_index(tmp_path):
    recs = [
        {"doc_id": "b", "text_sha256": "h", "annotator": "alice", "updated_at": "2025-01-01"},
        {"doc_id": "a", "text_sha256": "h", "annotator": "alice", "updated_at": "2025-01-01"},
        {"doc_id": "b", "text_sha256": "h", "annotator": "bob", "updated_at": "2025-01-02"},
        {"doc_id": "a", "text_sha256": "h", "annotator": "judge", "origin": "adjudicated", "updated_at": "2024-01-01"},
        {"doc_id": "c", "text_sha256": "h", "annotator": "carol"},
    ]
    f = tmp_path / "s.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    index, _, _ = index_snapshots([f])
    chosen, problems = select_gold(index)
    assert chosen.column("doc_id").to_pylist() == ["a", "b", "c"]  # sorted
    assert chosen.column("policy").to_pylist() == ["adjudicated", "most_recent", "single_annotator"]
    assert chosen.column("line").to_pylist() == [4, 3, 5] and chosen.column("n_candidates").to_pylist() == [2, 2, 1]
    chosen, problems = select_gold(index, "reviewed")
    assert chosen.column("doc_id").to_pylist() == ["a"] and sorted(p.doc_id for p in problems) == ["b", "c"]


def test_snapshot_folder_uses_latest_file_and_reports_bad_lines(tmp_path):
    d = tmp_path / "annotations" / "proj"
    d.mkdir(parents=True)
    (d / "20240101T000000Z.jsonl").write_text("old\n")
    rec = {"doc_id": "x", "text_sha256": "h", "annotator": "a", "origin": "prediction"}
    (d / "20250101T000000Z.jsonl").write_text(
        json.dumps(rec) + "\n\n[1]\n" + json.dumps({**rec, "origin": "brat"}) + "\n"
    )
    (d / "20250101T000000Z.errors.jsonl").write_text("{}\n")
    (tmp_path / "annotations" / "guidelines.md").write_text("#")
    # a snapshot without its manifest is incomplete: never read (see tests/store/test_snapshot_complete.py)
    assert snapshot_files([tmp_path / "annotations"]) == []
    (d / "20240101T000000Z.manifest.json").write_text("{}")
    assert [f.name for f in snapshot_files([tmp_path / "annotations"])] == ["20240101T000000Z.jsonl"]
    (d / "20250101T000000Z.manifest.json").write_text("{}")  # the latest one WITH a manifest wins
    files = snapshot_files([tmp_path / "annotations"])
    assert [f.name for f in files] == ["20250101T000000Z.jsonl"]
    by_doc, infos, problems = index_snapshots(files)
    assert [(p.code, p.line) for p in problems] == [("excluded_origin", 1), ("not_an_annotation", 3)]
    assert by_doc.column("origin").to_pylist() == ["brat"] and infos[0].records == 2
    # a snapshot changed after the pull (sha256 differs from its manifest) is refused
    (d / "20250101T000000Z.manifest.json").write_text(json.dumps({"sha256": infos[0].sha256}))
    index_snapshots(files)
    (d / "20250101T000000Z.manifest.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(InputError, match="does not match its manifest"):
        index_snapshots(files)


def test_anchor_checks_and_reanchors():
    old = "Reuters said Omar left Homs."
    ann = Annotation(
        "d",
        "old",
        "a",
        entities=[
            Entity("T1", "ORG", Span.from_offsets(old, [(0, 7)])),
            Entity("T2", "GPE", Span.from_offsets(old, [(23, 27)])),
        ],
    )
    new = "Breaking: Reuters said Omar left Homs."
    assert anchor(ann, new, "new") is True
    assert [e.span.fragments[0].start for e in ann.entities] == [10, 33] and ann.text_sha256 == "new"
    assert anchor(ann, new, "new") is False  # now current: only checked
    with pytest.raises(AnchorError, match="more than once"):
        anchor(ann, "Homs: Reuters said Omar left Homs.", "newer")
    bad = Annotation("d", "h", "a", entities=[Entity("T1", "ORG", Span.from_offsets(old, [(0, 7)]))])
    with pytest.raises(AnchorError, match="offsets select"):
        anchor(bad, "Xeuters said", "h")
