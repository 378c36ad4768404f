"""brat exactly: every line kind brat writes survives import then export, line by line (hand-written
collection typed like brat's news example, read with the shipped example mapping)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.annotations.brat import collection
from corpus.annotations.brat import convert as brat_convert
from corpus.annotations.brat import mapping as brat_mapping
from corpus.core.model import sha256_text
from corpus.core.normalize import normalize_with_map
from corpus.ingest.readers import brat as standoff
from corpus.store.table import CorpusStore

NEWS_MAPPING = Path(__file__).resolve().parents[2] / "schemas" / "brat-news.yaml"
TEXT = "Reuters said rebels attacked Aleppo on Monday, costing $5 million.\n"

# every line kind: T (one and two fragments), E with roles and an event-valued argument (and the
# trailing space some tools leave), R with the tab brat itself writes after Arg2, *, A (binary
# and valued), M, N, #
ANN = (
    "T1\tOrganization 0 7\tReuters\n"
    "T2\tReport 8 12\tsaid\n"
    "T3\tOrganization 13 19\trebels\n"
    "T4\tAttack 20 28\tattacked\n"
    "T5\tGPE 29 35\tAleppo\n"
    "T6\tMoney 55 65\t$5 million\n"
    "T7\tPerson 0 7;13 19\tReuters rebels\n"
    "E1\tAttack:T4 Attacker:T3 Place:T5 \n"
    "E2\tReport:T2 Speaker:T1 Topic:E1\n"
    "R1\tLocated Arg1:T3 Arg2:T5\t\n"
    "*\tEquiv T1 T7\n"
    "A1\tNegation E1\n"
    "A2\trealis E1 actual\n"
    "M3\tConfidence E2 High\n"
    "N1\tReference T5 Wikipedia:1234\tAleppo\n"
    "#1\tAnnotatorNotes T2\tcheck this cue\n"
)


@pytest.fixture(scope="module")
def news() -> brat_mapping.BratMapping:
    return brat_mapping.load_mapping(NEWS_MAPPING)


def _convert(mp: brat_mapping.BratMapping):
    stored, omap = normalize_with_map(TEXT)
    doc = standoff.parse_ann(ANN, "news.ann")
    return brat_convert.brat_to_annotation(
        doc,
        raw_text=TEXT,
        stored_text=stored,
        offset_map=omap,
        mapping=mp,
        doc_id="d1",
        annotator="brat",
        text_sha256=sha256_text(stored),
        name="news",
    )


def test_every_line_kind_parses_without_errors():
    doc = standoff.parse_ann(ANN, "news.ann")
    assert doc.issues == []
    assert doc.relations["R1"].tail == "\t" and doc.events["E1"].tail == " "
    assert len(doc.order) == ANN.count("\n")  # one item per line, none lost


def test_example_mapping_types(news):
    ann, issues = _convert(news)
    assert [i for i in issues if i.severity == "error"] == []
    assert sorted((e.id, e.label, e.span.text) for e in ann.entities) == [
        ("T1", "ORG", "Reuters"),
        ("T3", "ORG", "rebels"),
        ("T5", "GPE", "Aleppo"),
        ("T7", "PER", "Reuters rebels"),
    ]
    by_id = {e.id: e for e in ann.events}
    assert by_id["E1"].type == "Conflict:Attack" and by_id["E1"].to_dict()["polarity"] == "negative"
    assert [(a.role, a.entity_id) for a in by_id["E1"].arguments] == [("Attacker", "T3"), ("Place", "T5")]
    assert by_id["E2"].type == "Contact:Statement"
    assert [(a.role, a.entity_id) for a in by_id["E2"].arguments] == [("Speaker", "T1")]
    # what the taxonomy cannot hold is reported with its line, and kept
    warned = {i.line for i in issues}
    assert {6, 9, 10, 14} <= warned  # Money, Topic:E1, R1 and M3 are said, with their lines
    kinds = {u["kind"] for u in ann.meta["brat"]["unmapped"]}
    assert {"T", "R", "A", "raw"} <= kinds


def test_round_trip_line_by_line(news):
    ann, _ = _convert(news)
    stored, _ = normalize_with_map(TEXT)
    out = standoff.write_ann(brat_convert.annotation_to_brat(ann, stored, news, "news.ann"))
    assert out.split("\n") == ANN.split("\n")


def test_side_by_side_collection_keeps_its_file_names(tmp_path, news):
    src = tmp_path / "src"
    src.mkdir()
    (src / "news.txt").write_text(TEXT, encoding="utf-8")
    (src / "news.ann").write_text(ANN, encoding="utf-8")
    store = CorpusStore(str(tmp_path / "store"))
    _, rep = collection.import_brat(src, store, annotations_out=tmp_path / "ann", mapping=news)
    assert rep.errors == [] and rep.annotations == 1
    out = tmp_path / "out"
    erep = collection.export_brat(rep.snapshot, store, out, mapping=news)
    assert erep.issues == []
    assert sorted(p.name for p in out.iterdir()) == ["annotation.conf", "news.ann", "news.txt"]
    assert (out / "news.txt").read_text(encoding="utf-8") == TEXT
    got = (out / "news.ann").read_text(encoding="utf-8").split("\n")
    assert got == ANN.split("\n")
