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
