"""corpus.core.model: attributes as dicts, relations, and the canonical JSON kept as it was."""

from __future__ import annotations

import json

from conftest import REPO

from corpus.core.model import Annotation, Entity, Event, Relation, Span
from corpus.store.snapshot import snapshot_files


def test_committed_seed_snapshot_reads_and_writes_back_identically():
    """Records written before attributes became dicts read back, and serialize to the same JSON."""
    (path,) = snapshot_files([REPO / "annotations" / "seed"])
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for line in lines:
        d = json.loads(line)
        ann = Annotation.from_dict(d)
        assert ann.to_dict() == d
        assert "relations" not in ann.to_dict()
        ev = ann.events[0]
        assert set(ev.attributes) == {"realis", "polarity"} and ev.attributes["realis"] is not None
        at = ann.attributions[0]
        assert set(at.attributes) == {"quote_type", "source_type", "commitment"}
        assert list(at.to_dict())[-1] == "flags"


def test_attributes_are_flat_and_relations_appear_when_present():
    text = "Jane Doe, chief executive"
    e1 = Entity("T1", "PER", Span.from_offsets(text, [(0, 8)]), {"mention": "name"})
    e2 = Entity("T2", "TITLE", Span.from_offsets(text, [(10, 25)]), {"mention": None})
    ev = Event("E1", "X", Span.from_offsets(text, [(0, 4)]), [], {"modality": "asserted"})
    ann = Annotation("d", "", "a", entities=[e1, e2], events=[ev], relations=[Relation("r1", "per:title", "T1", "T2")])
    d = ann.to_dict()
    assert d["entities"][0] == {
        "id": "T1",
        "label": "PER",
        "fragments": [{"start": 0, "end": 8}],
        "text": "Jane Doe",
        "mention": "name",
    }
    assert d["entities"][1]["mention"] is None
    assert d["events"][0]["modality"] == "asserted"
    assert d["relations"] == [{"id": "r1", "label": "per:title", "from_id": "T1", "to_id": "T2"}]
    back = Annotation.from_dict(json.loads(json.dumps(d)))
    assert back == ann
