"""PolNeAR (../shared/data/polnear) through brat import, export, agreement and adjudication.

Real data, real Delta Lake store. The train compartment (840 texts, 919 .ann files) is
imported once per session; the whole module takes well under a minute.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.annotations.brat import collection, convert
from corpus.cli import main
from corpus.core import normalize
from corpus.ingest.readers import brat as standoff
from corpus.store import snapshot
from corpus.store.table import CorpusStore

pytestmark = [pytest.mark.polnear, pytest.mark.slow]


@pytest.fixture(scope="module")
def imported(polnear_dir: Path, tmp_path_factory):
    root = tmp_path_factory.mktemp("polnear")
    store = CorpusStore(str(root / "store"))
    ireport, breport = collection.import_brat(
        polnear_dir / "train", store, source="polnear", annotations_out=root / "annotations" / "polnear-train"
    )
    return store, ireport, breport, root


def test_import_brings_every_text_and_ann_file(imported):
    store, ireport, breport, _ = imported
    assert ireport.errors == []
    assert ireport.added + ireport.duplicates == 840  # one text is a byte-identical copy of another
    assert breport.documents == 840 and breport.ann_files == 919 and breport.annotations == 919
    assert breport.errors == []
    # the three spans that cross a line break are joined and reported with file and line
    cont = {(Path(i.file).name, i.line) for i in breport.warnings if i.code == "brat_continuation"}
    assert ("nyt_2016-04-18_for-news-outlets-feeling-the-squ_4e07.ann", 52) in cont
    assert len({f for f, _ in cont}) == 3
    assert breport.attributions > 22000
    manifest = json.loads(Path(breport.snapshot).with_name(Path(breport.snapshot).stem + ".manifest.json").read_text())
    assert manifest["counts"]["records"] == 919 and manifest["origins"] == ["brat"] and len(manifest["sha256"]) == 64


def test_metadata_fills_title_publisher_date(imported, polnear_dir):
    store, ireport, _, _ = imported
    from corpus.core.model import make_doc_id

    art = store.get(make_doc_id("polnear:breitbart_2015-11-16_o-malley-campaign-to-shift-staff.txt"))
    assert art is not None and art.source == "polnear"
    assert art.published == "2015-11-16" and art.meta.get("publisher") == "breitbart"
    assert art.title and "Malley" in art.title


def test_every_span_matches_the_stored_text(imported, polnear_dir):
    store, _, breport, _ = imported
    anns = snapshot.load_annotations(breport.snapshot)
    texts = {k: a.text for k, a in store.get_many({a.doc_id for a in anns}).items()}
    assert set(texts) == {a.doc_id for a in anns}
    spans = 0
    for a in anns:
        text = texts[a.doc_id]
        assert a.origin == "brat" and a.annotator in {"4b22", "4e07", "5fec", "6b86", "d473", "ef2d"}
        for _layer, _id, span in a.spans():
            assert span.text == span.expected_text(text)
            spans += 1
    assert spans > 60000
    # the 23 non-NFC texts are stored NFC, and their spans were mapped, not copied
    raw_non_nfc = [
        p
        for p in (polnear_dir / "train" / "text").glob("*.txt")
        if not unicodedata.is_normalized("NFC", p.read_text("utf-8"))
    ]
    assert len(raw_non_nfc) == 23
    assert all(unicodedata.is_normalized("NFC", t) for t in texts.values())
    assert any("Peña" in s.text for a in anns for _l, _i, s in a.spans())


def _expected_lines(ann_path: Path, txt_path: Path, reported: set[int]) -> tuple[list[str], set[str]]:
    """The original .ann lines minus reported ones, offsets mapped to the stored text; and the
    ids of reported lines (their items may still be exported, e.g. a joined span)."""
    raw = txt_path.read_bytes().decode("utf-8")
    stored, omap = normalize.normalize_with_map(raw)
    out, reported_ids = [], set()
    for no, line in enumerate(ann_path.read_text("utf-8").split("\n"), start=1):
        if no in reported:
            reported_ids.add(line.split("\t", 1)[0])
            continue
        if not line.strip():
            continue
        doc = standoff.parse_ann(line + "\n")
        if doc.textbounds:
            (tb,) = doc.textbounds.values()
            assert tb.text == " ".join(raw[s:e] for s, e in tb.fragments)
            frags = [(omap[s], omap[e]) for s, e in tb.fragments]
            tb.fragments = frags
            tb.text = convert._linebreaks_as_spaces(" ".join(stored[s:e] for s, e in frags))
            out.append(standoff.format_textbound(tb).rstrip())
        else:
            out.append(line.rstrip())
    return out, reported_ids


def test_round_trip_brat_canonical_brat(imported, polnear_dir, tmp_path):
    """Exported .ann == original .ann, line by line and in order, after mapping offsets to the
    stored text (identity except for the 23 non-NFC texts), ignoring trailing blanks and the
    lines reported with file and line (errors and span-text continuations)."""
    store, _, breport, _ = imported
    rep = collection.export_brat(breport.snapshot, store, tmp_path / "out")
    assert rep.issues == [] and rep.ann_files == 919
    reported: dict[str, set[int]] = {}
    for i in breport.issues:
        if i.severity == "error" or i.code == "brat_continuation":
            reported.setdefault(Path(i.file).name, set()).add(i.line)
    compared = differing = 0
    for ann_path in sorted((polnear_dir / "train" / "attributions").glob("*.ann")):
        name = ann_path.stem.rpartition("_")[0]
        exported = tmp_path / "out" / ann_path.name
        assert exported.is_file(), ann_path.name
        assert (tmp_path / "out" / f"{name}.txt").is_file()
        got = [ln.rstrip() for ln in exported.read_text("utf-8").split("\n") if ln.strip()]
        want, reported_ids = _expected_lines(
            ann_path, polnear_dir / "train" / "text" / f"{name}.txt", reported.get(ann_path.name, set())
        )
        got = [ln for ln in got if ln.split("\t", 1)[0] not in reported_ids]
        compared += 1
        differing += got != want
        assert got == want, ann_path.name
    assert compared == 919 and differing == 0
    assert (tmp_path / "out" / "annotation.conf").is_file()


def test_agreement_on_the_annotator_training_compartment(polnear_dir, tmp_path):
    store = CorpusStore(str(tmp_path / "store"))
    _, rep = collection.import_brat(
        polnear_dir / "annotator-training", store, source="polnear", annotations_out=tmp_path / "ann"
    )
    assert rep.annotations == 24 and rep.errors == []
    r = CliRunner().invoke(main, ["agreement", rep.snapshot, "--layer", "attribution", "--store", store.uri, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["documents"] == 4 and len(d["annotators"]) == 6 and d["pairs"] == 60
    lay = d["layers"]["attribution"]
    assert d["documents_without_text"] == 0 and lay["alpha_tokens"] > 3000
    # measured figures (see README): token alpha 80.8%, agr (cue overlap) 81.2%
    assert lay["alpha"] == pytest.approx(0.808, abs=0.005)
    assert lay["attribution_agreement"]["cue"]["agr"] == pytest.approx(0.812, abs=0.005)
    assert 0 < lay["exact"]["f1"] < lay["overlap"]["f1"] < 1
    # and adjudication of the same compartment: one gold record per article, conflicts listed
    out = tmp_path / "annotations" / "polnear-training"
    r = CliRunner().invoke(main, ["adjudicate", rep.snapshot, "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["gold_records"] == 4 and res["conflicts"] > 0
    gold = snapshot.load_annotations(res["gold_path"])
    assert {g.origin for g in gold} == {"adjudicated"} and all(g.attributions for g in gold)
    assert sum(1 for _ in open(res["conflicts_path"], encoding="utf-8")) == res["conflicts"]


def test_brat_records_validate(imported):
    """Every imported record passes corpus.annotations.validate (JSON Schema + semantics against the stored
    text): no errors; only warnings for what PolNeAR does not annotate (quote type, source type,
    commitment are required by the taxonomy) and one pair of overlapping cues."""
    from collections import Counter

    from corpus.annotations import validate
    from corpus.core import taxonomy

    store, _, breport, _ = imported
    anns = snapshot.load_annotations(breport.snapshot)
    texts = {k: a.text for k, a in store.get_many({a.doc_id for a in anns}).items()}
    tax = taxonomy.load()
    v = validate.validator_for(tax)
    found: Counter = Counter()
    for a in anns:
        for f in validate.validate_record(a.to_dict(), texts[a.doc_id], tax, validator=v):
            assert not f.is_error, (a.doc_id, a.annotator, str(f))
            found[f.code] += 1
    assert set(found) == {"missing_choice", "overlap_same_label"}
    assert found["missing_choice"] == 3 * breport.attributions and found["overlap_same_label"] == 1
