"""brat standoff <-> canonical on small hand-written snippets (no store needed)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from corpus.annotations.brat import collection
from corpus.annotations.brat import convert as brat_convert
from corpus.annotations.brat import mapping as brat_mapping
from corpus.core.model import Annotation, Span, sha256_text
from corpus.core.normalize import normalize_with_map
from corpus.core.problems import Problem
from corpus.ingest.readers import brat as standoff

TEXT = "Al Hadath TV reported that the strike, he said, destroyed depots near Deir.\n"
#       0         1         2         3         4         5         6         7
#       0123456789012345678901234567890123456789012345678901234567890123456789012345


def at(s: str, start: int = 0) -> tuple[int, int]:
    i = TEXT.index(s, start)
    return i, i + len(s)


# hand-checked offsets
assert at("Al Hadath TV") == (0, 12) and at("reported") == (13, 21)
assert at("the strike") == (27, 37) and at("destroyed depots") == (48, 64) and at("strike") == (31, 37)

ANN = (
    "T1\tORG 0 12\tAl Hadath TV\n"
    "T2\tSource 0 12\tAl Hadath TV\n"
    "T3\tCue 13 21\treported\n"
    "T4\tContent 27 37;48 64\tthe strike destroyed depots\n"
    "T5\tAttribution 13 21\treported\n"
    "E1\tAttribution:T5 Cue:T3 Content:T4 Source:T2\n"
    "R1\tsource_entity Arg1:T2 Arg2:T1\n"
    "A1\tquote_type E1 indirect\n"
    "M2\tsource_type E1 media_outlet\n"
    "T6\tConflict-Attack 31 37\tstrike\n"
    "E2\tConflict-Attack:T6 Attacker:T1\n"
    "A3\tNegation E2\n"
    "A4\trealis E2 actual\n"
    "#1\tAnnotatorNotes T3\tcue or not?\n"
    "T7\tDiscuss 31 46\tstrike, he said\n"
)


@pytest.fixture(scope="module")
def mapping() -> brat_mapping.BratMapping:
    return brat_mapping.load_mapping()


def convert(
    ann_text: str, mapping: brat_mapping.BratMapping, text: str = TEXT, path: str = "doc_x.ann"
) -> tuple[Annotation, list[Problem]]:
    stored, omap = normalize_with_map(text)
    doc = standoff.parse_ann(ann_text, path)
    return brat_convert.brat_to_annotation(
        doc,
        raw_text=text,
        stored_text=stored,
        offset_map=omap,
        mapping=mapping,
        doc_id="d1",
        annotator="x",
        text_sha256=sha256_text(stored),
        name="doc",
    )


def export(ann: Annotation, mapping: brat_mapping.BratMapping, text: str = TEXT) -> str:
    stored, _ = normalize_with_map(text)
    return standoff.write_ann(brat_convert.annotation_to_brat(Annotation.from_dict(ann.to_dict()), stored, mapping))


def test_every_line_kind_becomes_canonical(mapping):
    ann, issues = convert(ANN, mapping)
    assert [i for i in issues if i.severity == "error"] == []
    assert [(e.id, e.label, e.span.text) for e in ann.entities] == [("T1", "ORG", "Al Hadath TV")]
    (ev,) = ann.events
    assert (ev.id, ev.type, ev.trigger.text, ev.attributes.get("polarity"), ev.attributes.get("realis")) == (
        "E2",
        "Conflict:Attack",
        "strike",
        "negative",
        "actual",
    )
    assert [(a.role, a.entity_id) for a in ev.arguments] == [("Attacker", "T1")]
    (att,) = ann.attributions
    assert att.id == "E1"
    assert att.cue.text == "reported" and att.source.text == "Al Hadath TV"
    assert [(f.start, f.end) for f in att.content.fragments] == [(27, 37), (48, 64)]
    assert att.content.text == "the strike destroyed depots"  # fragments joined by one space
    assert att.source_entity_id == "T1"
    assert (att.attributes.get("quote_type"), att.attributes.get("source_type")) == (
        "indirect",
        "media outlet",
    )  # brat values have no spaces
    assert att.flags == ["Discuss"]  # T7 overlaps the content
    assert ann.notes == [{"target": "E1", "text": "cue or not?"}]  # T3 is E1's cue
    assert ann.origin == "brat" and ann.annotator == "x" and ann.taxonomy_version


def test_round_trip_is_byte_identical(mapping):
    ann, _ = convert(ANN, mapping)
    assert export(ann, mapping) == ANN


def test_spans_text_matches_document(mapping):
    ann, _ = convert(ANN, mapping)
    for _layer, _id, span in ann.spans():
        assert span.text == span.expected_text(TEXT)


def test_malformed_lines_are_reported_and_the_rest_imported(mapping):
    bad = (
        "T1\tORG 0 12\tAl Hadath TV\n"
        "this is not brat\n"  # line 2: not right after a T that it could continue... it is; see below
        "T2\tCue 13 21\treportd\n"  # line 3: text mismatch
        "T3\tCue 13 900\tx\n"  # line 4: offsets outside the text
        "T1\tPER 0 2\tAl\n"  # line 5: duplicate id
        "E1\tAttribution:T9 Cue:T2\n"  # line 6: dangling reference
        "X1\tgarbage\n"  # line 7
        "T4\tGPE 70 74\tDeir\n"
    )
    ann, issues = convert(bad, mapping)
    errors = {(i.line, i.code) for i in issues if i.severity == "error"}
    assert errors == {
        (2, "brat_malformed_line"),
        (3, "brat_text_mismatch"),
        (4, "brat_offsets_outside_text"),
        (5, "brat_duplicate_id"),
        (6, "brat_dangling"),
        (7, "brat_malformed_line"),
    }
    assert all(i.file == "doc_x.ann" for i in issues)
    assert [(e.id, e.label) for e in ann.entities] == [("T1", "ORG"), ("T4", "GPE")]
    # the exported file is the input minus exactly the reported lines
    kept = [ln for no, ln in enumerate(bad.splitlines(), 1) if no not in {n for n, _ in errors}]
    assert export(ann, mapping).splitlines() == kept


def test_text_crossing_a_line_break_is_joined_and_reported(mapping):
    text = "He said: first part.\n\nSecond part here.\n"
    s, e = 9, 39
    ann_text = f"T1\tCue 3 7\tsaid\nT2\tContent {s} {e}\t{text[s:e].splitlines()[0]}\n\n{text[s:e].splitlines()[2]}\nT3\tAttribution 3 7\tsaid\nE1\tAttribution-no-source:T3 Cue:T1 Content:T2\n"
    ann, issues = convert(ann_text, mapping, text=text)
    assert [i for i in issues if i.severity == "error"] == []
    assert {i.line for i in issues if i.code == "brat_continuation"} == {2, 3, 4}
    assert ann.attributions[0].content.text == "first part.\n\nSecond part here."
    out = export(ann, mapping, text=text)
    assert f"T2\tContent {s} {e}\tfirst part.  Second part here.\n" in out  # one line, breaks as spaces
    again, issues2 = convert(out, mapping, text=text)  # and our own export imports cleanly
    assert [i for i in issues2 if i.severity == "error"] == []
    assert again.attributions[0].content.fragments == ann.attributions[0].content.fragments


def test_offsets_are_mapped_to_nfc_text(mapping):
    raw = "Pen\u0303a said Pen\u0303a won.\n"  # decomposed n + tilde, as in 23 PolNeAR texts
    stored, _ = normalize_with_map(raw)
    assert stored == unicodedata.normalize("NFC", raw) and len(stored) == len(raw) - 2
    ann_text = "T1\tSource 0 5\tPen\u0303a\nT2\tCue 6 10\tsaid\nT3\tContent 11 20\tPen\u0303a won\nT4\tAttribution 6 10\tsaid\nE1\tAttribution:T4 Source:T1 Cue:T2 Content:T3\n"
    ann, issues = convert(ann_text, mapping, text=raw)
    assert not [i for i in issues if i.severity == "error"]
    a = ann.attributions[0]
    assert (a.source.start, a.source.end, a.source.text) == (0, 4, "Peña")
    assert (a.cue.start, a.cue.end) == (5, 9) and a.content.text == "Peña won"
    out = export(ann, mapping, text=raw)
    assert "T1\tSource 0 4\tPeña\n" in out and "T3\tContent 10 18\tPeña won\n" in out


def test_fragment_order_as_written_is_kept(mapping):
    # brat 1.3 sorted fragments as strings: "52 72;6 30"
    text = "x" * 6 + "a" * 24 + "y" * 22 + "b" * 20 + "\n"
    ann_text = (
        "T1\tCue 0 3\txxx\nT2\tContent 52 72;6 30\t"
        + "b" * 20
        + " "
        + "a" * 24
        + "\nT3\tAttribution 0 3\txxx\nE1\tAttribution-no-source:T3 Cue:T1 Content:T2\n"
    )
    ann, issues = convert(ann_text, mapping, text=text)
    assert not [i for i in issues if i.severity == "error"]
    assert [(f.start, f.end) for f in ann.attributions[0].content.fragments] == [(6, 30), (52, 72)]  # canonical: sorted
    assert export(ann, mapping, text=text) == ann_text


def test_incomplete_and_orphan_items_are_kept_for_the_round_trip(mapping):
    ann_text = (
        "T1\tCue 13 21\treported\n"
        "T2\tAttribution 13 21\treported\n"
        "E1\tAttribution-no-source:T2 Cue:T1\n"  # no content: not an attribution
        "T3\tSource 0 12\tAl Hadath TV\n"  # belongs to nothing
        "T4\tDiscard 65 75\tnear Deir.\n"
        "N1\tReference T3 Wikidata:Q1\tAl Hadath\n"
    )
    ann, issues = convert(ann_text, mapping)
    assert ann.attributions == [] and ann.entities == []
    codes = {(i.line, i.code, i.severity) for i in issues}
    assert (3, "brat_incomplete_attribution", "warning") in codes and (4, "brat_orphan_span", "warning") in codes
    assert export(ann, mapping) == ann_text


def test_a_new_attribution_gets_fresh_ids(mapping):
    ann, _ = convert(ANN, mapping)
    from corpus.core.model import Attribution

    ann.attributions.append(
        Attribution("new", Span.from_offsets(TEXT, [(39, 46)]), Span.from_offsets(TEXT, [(65, 75)]))
    )
    out = export(ann, mapping)
    assert out.startswith(ANN)
    doc = standoff.parse_ann(out)
    (new_e,) = [e for e in doc.events.values() if e.id not in ("E1", "E2")]
    assert new_e.type == "Attribution-no-source"
    roles = dict(new_e.args)
    assert doc.textbounds[roles["Cue"]].text == "he said" and doc.textbounds[roles["Content"]].text == "near Deir."
    again, issues = convert(out, mapping)
    assert not [i for i in issues if i.severity == "error"] and len(again.attributions) == 2


def test_annotation_conf_declares_every_exported_type(mapping):
    conf = brat_convert.annotation_conf(mapping)
    sections = conf.split("[")
    assert "[entities]" in conf and "[events]" in conf and "[attributes]" in conf
    for t in ("ORG", "Cue", "Content", "Source", "Discuss", "Discard"):
        assert f"\n{t}\n" in sections[1]
    assert "\nAttribution\tCue:Cue, Content+:Content, Source?:Source\n" in conf
    assert "\nConflict-Attack\t" in conf


def test_mapping_to_an_unknown_label_is_refused():
    from corpus.core.errors import UsageError

    with pytest.raises(UsageError, match="NOPE"):
        brat_mapping.load_mapping({"entities": {"map": {"Person": "NOPE"}}})


def test_discover_both_layouts(tmp_path: Path):
    pol = tmp_path / "pol" / "train"
    (pol / "text").mkdir(parents=True)
    (pol / "attributions").mkdir()
    (pol / "text" / "a_doc.txt").write_text(TEXT)
    (pol / "attributions" / "a_doc_4b22.ann").write_text(ANN)
    (pol / "attributions" / "a_doc_ef2d.ann").write_text("")
    (pol / "attributions" / "other_x.ann").write_text("")
    (tmp_path / "pol" / "metadata.tsv").write_text(
        "compartment\tfilename\tpublisher\tpublication_date\ttitle\ntrain\ta_doc\tnyt\t2016-01-02\tA title\n"
    )
    docs, issues = collection.discover(pol)
    (d,) = docs
    assert (d.name, d.rel, sorted(w for w, _ in d.anns)) == ("a_doc", "a_doc.txt", ["4b22", "ef2d"])
    assert d.metadata["title"] == "A title" and d.metadata["publisher"] == "nyt"
    assert [(i.code, Path(i.file).name) for i in issues] == [("brat_no_text", "other_x.ann")]

    flat = tmp_path / "flat"
    (flat / "sub").mkdir(parents=True)
    (flat / "sub" / "n1.txt").write_text(TEXT)
    (flat / "sub" / "n1.ann").write_text(ANN)
    (flat / "n2.txt").write_text(TEXT)
    (flat / "n2_bob.ann").write_text(ANN)
    docs, issues = collection.discover(flat, annotator="alice")
    got = sorted((d.rel, [w for w, _ in d.anns]) for d in docs)
    assert got == [("n2.txt", ["bob"]), ("sub/n1.txt", ["alice"])] and issues == []
