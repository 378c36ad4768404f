"""brat export never overwrites: distinct articles get distinct file names, long names are
shortened with a hash, and the summary counts the files really written."""

from __future__ import annotations

import os

from corpus.annotations.brat.collection import export_brat
from corpus.core.model import Annotation, Entity, Span
from corpus.ingest.importer import import_paths
from corpus.store.snapshot import write_snapshot
from corpus.store.table import CorpusStore

TEXTS = {
    "a/story.txt": "Storm in Aleppo\nRescuers arrived in Aleppo at dawn.",
    "b/story.txt": "Market in Homs\nTraders in Homs closed early.",
    ("x" * 240) + ".txt": "Long name\nThe council in Idlib met on Monday.",
}


def setup(tmp_path):
    src = tmp_path / "src"
    for rel, text in TEXTS.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text, encoding="utf-8")
    st = CorpusStore(str(tmp_path / "store"))
    rep = import_paths([src], st)
    assert rep.added == 3
    anns = []
    for rel, text in TEXTS.items():
        art = st.get(rep.doc_ids[rel])
        place = text.split()[2] if rel.startswith("a/") else text.split()[-3]
        i = art.text.index(place)
        anns.append(
            Annotation(
                art.doc_id,
                art.text_sha256,
                "annotator-with-a-rather-long-name@example.com" * 3,
                [Entity("e1", "GPE", Span.from_offsets(art.text, [(i, i + len(place))]))],
                [],
                [],
            )
        )
    snap = tmp_path / "ann" / "20260101T000000Z.jsonl"
    write_snapshot(anns, snap)
    return st, snap


def test_same_file_name_in_two_folders_gives_two_documents(tmp_path):
    st, snap = setup(tmp_path)
    out = tmp_path / "out"
    rep = export_brat(snap, st, out)
    assert [i for i in rep.issues if i.severity == "error"] == []
    txts = sorted(out.glob("*.txt"))
    anns = sorted(out.glob("*.ann"))
    assert len(txts) == 3 and len(anns) == 3, [p.name for p in out.iterdir()]
    assert rep.documents == len(txts) and rep.ann_files == len(anns)
    texts = {p.read_text("utf-8") for p in txts}
    assert len(texts) == 3  # nothing overwritten
    assert all(len(p.name.encode()) <= 255 for p in out.iterdir())
    for a in anns:  # each .ann sits beside the .txt it annotates
        stem = a.name.rsplit("_", 1)[0]
        assert (out / f"{stem}.txt").is_file(), a.name
    names = sorted(p.stem for p in txts)
    assert "story" in names and any(n.startswith("story-") for n in names)


def test_long_legal_names_are_shortened_with_a_hash(tmp_path):
    st, snap = setup(tmp_path)
    rep = export_brat(snap, st, tmp_path / "out")
    longest = max(len(p.name.encode()) for p in (tmp_path / "out").iterdir())
    assert longest <= os.pathconf(tmp_path, "PC_NAME_MAX")
    assert rep.documents == 3
