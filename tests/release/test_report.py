"""corpus report: figures from a real Delta store and real snapshots, opened in Debian's Chromium.

The made-up corpus always runs (two imports, two sources over two months, a near-duplicate, two
annotators on three documents, a machine-accepted prediction, a human one started from a
prediction); the PolNeAR test (six annotators per document) skips when the data is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.model import MACHINE_ANNOTATOR, Annotation, Article, Attribution, Entity, Span, make_doc_id
from corpus.ingest.importer import import_articles
from corpus.release import report
from corpus.store.snapshot import write_snapshot
from corpus.store.table import CorpusStore

REPO = Path(__file__).resolve().parents[2]
TEXT = (
    "{city} officials said on Monday that {n} people were evacuated after the flood. "
    "According to the Red Cross, the river rose overnight near {city}. Emergency crews from three districts "
    "worked through the night to reinforce the embankments, while volunteers handed out blankets, water and food "
    "at the main railway station. Schools in the lower town stayed closed and the regional train service was "
    "suspended until further notice. Report {k}."
)
CITIES = ["Hamburg", "Lyon", "Turin", "Porto", "Ghent", "Leeds"]


def _span(text: str, piece: str) -> Span:
    i = text.index(piece)
    return Span.from_offsets(text, [(i, i + len(piece))])


def made_up_corpus(root: Path) -> tuple[CorpusStore, Path, list[Article]]:
    store = CorpusStore(str(root / "store"))
    arts = []
    for k in range(12):
        city = CITIES[k % len(CITIES)]
        text = TEXT.format(city=city, n=k + 3, k=k)
        arts.append(
            Article(
                doc_id=make_doc_id(f"made-up:{k}"),
                text=text,
                title=f"Flood in {city}",
                source="wire" if k % 3 else "daily",
                published=f"2025-{1 + k % 2:02d}-{10 + k:02d}",
            )
        )
    import_articles(store, arts[:8], message="first")
    # a near-duplicate of article 0 (three words added) and four new ones
    near = Article(
        doc_id=make_doc_id("made-up:near"),
        text=arts[0].text + " Updated at noon.",
        source="daily",
        published="2025-02-01",
    )
    import_articles(store, arts[8:] + [near], message="second")
    recs = []
    for k, art in enumerate(arts[:9]):
        t = art.text
        city = CITIES[k % len(CITIES)]
        ents = [Entity("T1", "GPE", _span(t, city)), Entity("T2", "ORG", _span(t, "Red Cross"))]
        att = Attribution("A1", _span(t, "said"), _span(t, "on Monday"), _span(t, f"{city} officials"))
        base = dict(taxonomy_version="1.0.0", lead_time=30.0 + 7 * k)
        recs.append(
            Annotation(
                art.doc_id,
                art.text_sha256,
                "alice@example.org",
                ents,
                [],
                [att],
                created_at=f"2025-03-{1 + k % 3:02d}T10:00:00Z",
                **base,
            )
        )
        if k < 3:  # a second annotator on three documents: agreement
            recs.append(
                Annotation(
                    art.doc_id,
                    art.text_sha256,
                    "bob@example.org",
                    ents[: 1 + k % 2],
                    [],
                    [att],
                    created_at=f"2025-03-0{2 + k}T12:00:00Z",
                    **base,
                )
            )
    a9, a10 = arts[9], arts[10]
    recs.append(  # accepted by the bot: machine-made
        Annotation(
            a9.doc_id,
            a9.text_sha256,
            MACHINE_ANNOTATOR,
            [Entity("T1", "GPE", _span(a9.text, CITIES[3]))],
            created_at="2025-03-04T00:00:00Z",
            lead_time=0.0,
            meta={"parent_prediction": 17, "parent_model_version": "rules-1"},
        )
    )
    recs.append(  # a person started from a prediction
        Annotation(
            a10.doc_id,
            a10.text_sha256,
            "bob@example.org",
            [Entity("T1", "GPE", _span(a10.text, CITIES[4]))],
            created_at="2025-03-04T09:00:00Z",
            lead_time=12.0,
            meta={"parent_prediction": 18, "parent_model_version": "rules-1"},
        )
    )
    snap = root / "annotations" / "proj" / "20250305T000000Z.jsonl"
    write_snapshot(recs, snap)
    return store, root / "annotations", arts


def open_in_chromium(browser, page_path: Path) -> dict:
    """Load the page from file://; return console errors, page errors and every image's size."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.resolve().as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({alt: e.alt, complete: e.complete, w: e.naturalWidth, h: e.naturalHeight}))"
    )
    sections = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
    notes = page.eval_on_selector_all(".note", "els => els.map(e => e.textContent)")
    out = {
        "errors": errors,
        "images": images,
        "sections": sections,
        "notes": notes,
        "page": page,
        "ctx": ctx,
        "requests": [u for u in requests if not u.startswith(("file:", "data:"))],
    }
    return out


def test_report_of_a_made_up_corpus(tmp_path, browser):
    store, annotations, arts = made_up_corpus(tmp_path)
    out = tmp_path / "report"
    r = CliRunner().invoke(
        main, ["report", "--store", store.uri, "--annotations", str(annotations), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    data = json.loads((out / "report.json").read_text())
    c = data["corpus"]
    assert [g["documents"] for g in c["growth"]] == [8, 13] and c["documents"] == 13
    assert c["sources"] == {"wire": 8, "daily": 5}
    assert set(c["by_month"]) == {"2025-01", "2025-02"}
    assert c["documents_in_near_duplicate_clusters"] == 2
    a = data["annotations"]
    assert a["origins"] == {"labelstudio": 12, "machine_accepted": 1, "human_from_prediction": 1}
    assert a["acceptance"] == {"rules-1": {"machine_accepted": 1, "human_from_prediction": 1}}
    # no e-mail address anywhere in the page or the numbers
    page_text = (out / "report.html").read_text()
    for text in (page_text, json.dumps(data)):
        assert "@example.org" not in text and "alice" not in text
    assert sum(a["gold_documents"].values()) == 11  # every annotated document, the bot's one included
    ag = data["agreement"]
    assert ag["documents"] == 3 and len(ag["annotators"]) == 2
    assert 0 < ag["layers"]["entities"]["overlap"]["f1"] < 1  # bob left entities out
    assert ag["layers"]["attribution"]["overlap"]["f1"] == 1.0
    pngs = sorted(Path(p).name for p in res["figures"])
    assert pngs == sorted(f"{n}.png" for n, state in res["sections"].items() if state == "figure")
    assert len(pngs) == 9  # every section has data here
    for p in res["figures"]:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    seen = open_in_chromium(browser, out / "report.html")
    try:
        assert seen["errors"] == [] and seen["requests"] == []
        assert len(seen["images"]) == 9
        assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 for i in seen["images"]), seen["images"]
        assert "agreement_by_label" in seen["sections"] and "annotator_heatmap" in seen["sections"]
        shot = os.environ.get("CORPUS_REPORT_SCREENSHOT")
        if shot:  # how annotations/report.png is made (see the README)
            seen["page"].screenshot(path=shot, full_page=False)
    finally:
        seen["ctx"].close()


def test_report_sections_without_data_say_so(tmp_path, browser):
    store, _, arts = made_up_corpus(tmp_path)
    one = tmp_path / "single" / "20250305T000000Z.jsonl"
    a = arts[0]
    write_snapshot([Annotation(a.doc_id, a.text_sha256, "carol", created_at="2025-03-01T00:00:00Z")], one)
    res = report.write_report(store, [str(one)], tmp_path / "r")
    assert res.sections["agreement_by_label"].startswith("No document has two or more annotators")
    assert res.sections["annotator_heatmap"].startswith("No document has two or more annotators")
    assert res.sections["preannotation_acceptance"].startswith("No pulled annotation record carries a parent")
    assert res.sections["lead_time"].startswith("No annotation record carries a lead time")
    seen = open_in_chromium(browser, Path(res.html))
    try:
        assert seen["errors"] == []
        assert all(i["w"] > 0 for i in seen["images"]) and len(seen["images"]) == len(res.figures)
        assert any("No document has two or more annotators" in n for n in seen["notes"])
    finally:
        seen["ctx"].close()


@pytest.mark.polnear
@pytest.mark.slow
def test_report_on_polnear_annotator_training(polnear_dir, tmp_path, browser):
    """Six annotators per document: agreement per label and a 6 x 6 heatmap from the snapshots."""
    from corpus.annotations.brat import collection

    store = CorpusStore(str(tmp_path / "store"))
    collection.import_brat(
        polnear_dir / "annotator-training", store, source="polnear", annotations_out=tmp_path / "ann" / "training"
    )
    res = report.write_report(store, [str(tmp_path / "ann")], tmp_path / "report")
    ag = res.data["agreement"]
    assert ag is not None and ag["documents"] == 4 and len(ag["annotators"]) == 6
    att = ag["layers"]["attribution"]
    assert len(att["pairwise"]) == 15 and set(att["by_label"]) >= {"Cue", "Content", "Source"}
    # the README's figure for this compartment: token alpha 80.8 %
    assert att["alpha"] == pytest.approx(0.808, abs=0.005)
    assert res.sections["annotator_heatmap"] == "figure" and res.sections["agreement_by_label"] == "figure"
    seen = open_in_chromium(browser, Path(res.html))
    try:
        assert seen["errors"] == [] and seen["images"] and all(i["w"] > 0 for i in seen["images"])
    finally:
        seen["ctx"].close()


def test_report_cli_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["report", "--store", str(tmp_path / "none"), "--out", str(tmp_path / "r")])
    assert r.exit_code == 1 and "no corpus at" in r.output and "Traceback" not in r.output
