"""A Hugging Face release built from PolNeAR's train compartment: brat import -> adjudication of the
multiply annotated articles -> default gold policy -> corpus.release.build -> load_dataset("attribution").

The attribution config must give PolNeAR-style BIO sequences (B-/I- Cue, Content, Source) whose
decoded fragments are exactly the gold spans that align with tokens. The whole compartment (840
texts) takes about 20 s, so no subset is needed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from corpus.annotations import adjudicate
from corpus.annotations.brat import collection
from corpus.release import build as release
from corpus.release.bio import bio_decode
from corpus.release.splits import SPLITS
from corpus.store import snapshot
from corpus.store.table import CorpusStore

pytestmark = [pytest.mark.polnear, pytest.mark.slow]

KINDS = (("cue_tags", "cue", "Cue"), ("content_tags", "content", "Content"), ("source_tags", "source", "Source"))


@pytest.fixture(scope="module")
def built(polnear_dir: Path, tmp_path_factory):
    root = tmp_path_factory.mktemp("polnear-release")
    store = CorpusStore(str(root / "store"))
    _, rep = collection.import_brat(
        polnear_dir / "train", store, source="polnear", annotations_out=root / "annotations" / "train"
    )
    assert rep.errors == []
    records = snapshot.load_annotations(rep.snapshot)
    per_doc = Counter(a.doc_id for a in records)
    multi = [a for a in records if per_doc[a.doc_id] > 1]
    gold, conflicts, _ = adjudicate.adjudicate(multi)
    paths = adjudicate.write_adjudication(gold, conflicts, root / "annotations" / "gold")
    opts = release.BuildOptions(
        version="1.0.0",
        annotations=[rep.snapshot, paths["gold_path"]],
        out=str(root / "dist"),
        name="polnear",
        built_at="2025-01-01T00:00:00Z",
    )
    r = release.build_release(opts, store)
    # the gold each document should ship: the adjudicated record where several annotated it
    expected = {a.doc_id: a for a in records if per_doc[a.doc_id] == 1}
    expected.update({g.doc_id: g for g in gold})
    return {"report": r, "expected": expected, "texts": {k: v.text for k, v in store.get_many(list(expected)).items()}}


def test_release_from_polnear_train(built):
    r = built["report"]
    assert r.failed == 0 and r.left_out == {}
    assert sum(r.documents.values()) == len(built["expected"]) == 839  # one text is a byte-identical copy
    rel = json.loads((Path(r.folder) / "release.json").read_text())
    assert rel["policy_counts"]["adjudicated"] == sum(
        1 for a in built["expected"].values() if a.origin == "adjudicated"
    )
    assert rel["policy_counts"]["single_annotator"] == sum(1 for a in built["expected"].values() if a.origin == "brat")
    assert rel["policy_counts"]["adjudicated"] > 10


def test_attribution_tags_decode_to_the_aligned_gold_spans(built, hf_offline):
    from datasets import load_dataset

    r = built["report"]
    ds = load_dataset(r.folder, "attribution", cache_dir=str(hf_offline))
    docs = load_dataset(r.folder, "documents", cache_dir=str(hf_offline))
    for col, _key, label in KINDS:
        assert ds["train"].features[col].feature.names == ["O", f"B-{label}", f"I-{label}"]
    misaligned: Counter = Counter()
    totals: Counter = Counter()
    seen = 0
    for s in SPLITS:
        policy = {d["id"]: d["annotation_policy"] for d in docs[s]}
        for row in ds[s]:
            doc = row["doc_id"]
            gold, text = built["expected"][doc], built["texts"][doc]
            assert policy[doc] == ("adjudicated" if gold.origin == "adjudicated" else "single_annotator")
            starts, ends = row["token_starts"], row["token_ends"]
            assert all(text[a:b] == t for t, a, b in zip(row["tokens"], starts, ends))
            start_set, end_set = set(starts), set(ends)
            for col, key, label in KINDS:
                names = ds[s].features[col].feature.names
                decoded = {(a, b) for a, b, lab in bio_decode(row[col], starts, ends, names) if lab == label}
                spans = [getattr(x, key) for x in gold.attributions if getattr(x, key) is not None]
                totals[label] += len(spans)
                aligned = []
                for sp in spans:
                    fr = [(f.start, f.end) for f in sp.fragments]
                    if all(a in start_set and b in end_set for a, b in fr):
                        aligned.append(fr)
                    else:
                        misaligned[label] += 1
                # every tagged fragment is a fragment of an aligned gold span ...
                assert decoded <= {f for fr in aligned for f in fr}, (doc, label)
                # ... and every aligned span overlapping no other one of its kind is tagged whole
                for fr in aligned:
                    lone = not any(
                        other is not fr and any(a < d and c < b for a, b in fr for c, d in other) for other in aligned
                    )
                    if lone:
                        assert set(fr) <= decoded, (doc, label, fr)
            seen += 1
    assert seen == 839
    rel = json.loads((Path(r.folder) / "release.json").read_text())["tagging"]["attribution"]
    for _col, _key, label in KINDS:
        # the release's own accounting agrees with the spans counted here
        assert rel["misaligned"].get(label, 0) == misaligned[label]
        assert (
            rel["tagged"][label] + rel["misaligned"].get(label, 0) + rel["overlapping"].get(label, 0) == totals[label]
        )
        assert rel["tagged"][label] > 15000


def test_card_agreement_is_computed_from_the_snapshots(built):
    """No agreement JSON is passed: the card's figures come from the snapshots (17 documents of
    train with two or more annotators; README: token alpha 76.5 %, cue agr 81.5 %)."""
    card = (Path(built["report"].folder) / "README.md").read_text(encoding="utf-8")
    section = card.split("### Agreement\n", 1)[1].split("\n## ", 1)[0]
    assert "on the 17 documents that two or more of the" in section
    row = next(line for line in section.splitlines() if line.startswith("| attribution |"))
    assert "| 76.5 % |" in row and row.endswith("| 81.5 % |")
    assert (
        "figures/annotator_heatmap.png" in card
        and (Path(built["report"].folder) / "figures" / "annotator_heatmap.png").is_file()
    )
