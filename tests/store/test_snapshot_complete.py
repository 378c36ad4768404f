"""Completeness is the manifest: a snapshot-named file without one (an interrupted pull or
import) is never read by any reader of snapshots; each one skipped is named in a warning."""

from __future__ import annotations

import json

from click.testing import CliRunner

from corpus.cli import main
from corpus.store.snapshot import load_annotations, snapshot_files, write_manifest, write_snapshot

REC = {
    "doc_id": "d1",
    "text_sha256": "0" * 64,
    "annotator": "a@example.com",
    "entities": [],
    "events": [],
    "attributions": [],
}


def incomplete(path, recs=(REC,)):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_folder_with_only_an_incomplete_snapshot_reads_nothing_and_says_so(tmp_path):
    f = incomplete(tmp_path / "proj" / "20260101T000000Z.jsonl")
    warnings: list[str] = []
    assert snapshot_files([tmp_path], warnings) == []
    (w,) = warnings
    assert str(f) in w and "incomplete" in w and "manifest" in w


def test_newest_complete_snapshot_wins_over_newer_and_older_incomplete_ones(tmp_path):
    d = tmp_path / "proj"
    incomplete(d / "20250101T000000Z.jsonl")
    write_snapshot([REC], d / "20260101T000000Z.jsonl")
    incomplete(d / "20270101T000000Z.jsonl")
    incomplete(d / "gold-20280101T000000Z.jsonl")
    warnings: list[str] = []
    assert [f.name for f in snapshot_files([tmp_path], warnings)] == ["20260101T000000Z.jsonl"]
    assert sorted(w.split()[3].rsplit("/", 1)[-1].rstrip(":") for w in warnings) == [
        "20250101T000000Z.jsonl",
        "20270101T000000Z.jsonl",
        "gold-20280101T000000Z.jsonl",
    ]


def test_an_incomplete_snapshot_given_as_a_file_is_skipped_too(tmp_path):
    f = incomplete(tmp_path / "20270101T000000-1Z.jsonl".replace("-1Z", "Z-1"))
    warnings: list[str] = []
    assert load_annotations([f], warnings) == [] and len(warnings) == 1
    write_manifest(f, {})
    assert len(load_annotations([f])) == 1


def test_hand_made_jsonl_without_manifest_is_still_read(tmp_path):
    incomplete(tmp_path / "proj" / "mine.jsonl")
    warnings: list[str] = []
    assert [f.name for f in snapshot_files([tmp_path], warnings)] == ["mine.jsonl"] and warnings == []


def test_validate_skips_an_incomplete_snapshot_with_a_warning(tmp_path):
    f = incomplete(tmp_path / "proj" / "20260101T000000Z.jsonl", [{"doc_id": 5}])
    r = CliRunner().invoke(main, ["validate", str(tmp_path), "--json"], catch_exceptions=False)
    assert r.exit_code == 2, r.output  # nothing complete to validate: not "OK"
    assert str(f) in r.stderr and "incomplete" in r.stderr
    write_snapshot([REC], tmp_path / "proj" / "20250101T000000Z.jsonl")
    r = CliRunner().invoke(main, ["validate", str(tmp_path), "--json"], catch_exceptions=False)
    out = json.loads(r.stdout)
    assert out["files"] == [str(tmp_path / "proj" / "20250101T000000Z.jsonl")]
    (w,) = [x for x in out["findings"] if x["code"] == "incomplete_snapshot"]
    assert w["severity"] == "warning" and str(f) in w["message"]
    r = CliRunner().invoke(main, ["validate", str(f)], catch_exceptions=False)
    assert r.exit_code == 2 and str(f) in r.output


def test_agreement_warns_about_an_incomplete_snapshot(tmp_path):
    f = incomplete(tmp_path / "a" / "20260101T000000Z.jsonl")
    r = CliRunner().invoke(main, ["agreement", str(tmp_path), "--store", str(tmp_path / "none")])
    assert r.exit_code == 1
    assert f"Warning: skipped incomplete snapshot {f}" in r.stderr
    assert "0 records" in r.stderr
