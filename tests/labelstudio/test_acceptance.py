"""pull compares each annotation with its parent prediction (kept / edited / deleted / added per layer and
label); status shows acceptance per model version. The test edits, deletes and adds regions via the API."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from corpus.core.model import Annotation
from corpus.ingest.importer import import_paths
from corpus.labelstudio.pull import project_status, pull
from corpus.labelstudio.push import push
from corpus.predict import acceptance
from corpus.predict.preannotate import load_preannotator
from corpus.store.snapshot import load_annotations
from corpus.store.table import CorpusStore

pytest.importorskip("spacy")
pytestmark = pytest.mark.labelstudio

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _labels(r):
    return (r["value"].get("labels") or [None])[0]


def test_pull_counts_kept_edited_deleted_added(labelstudio, tmp_path):
    client = labelstudio.client
    store = CorpusStore(str(tmp_path / "store"))
    assert not import_paths([SEEDS], store, source="seed", message="seed").errors
    pre = load_preannotator("spacy")
    rep = push(client, store, "t-acceptance", preannotator=pre)
    assert rep.predictions == 1
    task_id = next(t for t, _ in client.task_meta(rep.project_id))
    pred = client.predictions(task_id)[0]
    text = client.get_task(task_id)["data"]["text"]
    result = copy.deepcopy(pred["result"])
    regions = [r for r in result if r.get("type") == "labels"]
    rels = [r for r in result if r.get("type") == "relation"]
    linked_multi = {x for r in rels if "continues" in (r.get("labels") or []) for x in (r["from_id"], r["to_id"])}
    texts = [r["value"]["text"] for r in regions]

    # delete one Source region (a source text that occurs once) and its relations
    src = next(r for r in regions if _labels(r) == "Source" and texts.count(r["value"]["text"]) == 1)
    result = [r for r in result if r is not src and src["id"] not in (r.get("from_id"), r.get("to_id"))]
    # edit one single-fragment Content region: drop its last word
    cont = next(r for r in regions if _labels(r) == "Content" and r["id"] not in linked_multi)
    v = cont["value"]
    v["end"] = text.rindex(" ", v["start"], v["end"])
    v["text"] = text[v["start"] : v["end"]]
    # add one entity region: another occurrence of an entity's text that no region covers
    ent = next(r for r in regions if r["from_name"] == regions[0]["from_name"] and len(r["value"]["text"]) > 3)
    ent_regions = [r for r in regions if r["from_name"] == ent["from_name"]]
    covered = lambda s, e: any(r["value"]["start"] < e and s < r["value"]["end"] for r in ent_regions)  # noqa: E731
    start = next(
        i
        for i in range(len(text))
        if text.startswith("Hasakeh province", i) or text.startswith("IS strongholds", i)
        if not covered(i, i + 7)
    )
    word = "Hasakeh province" if text.startswith("Hasakeh province", start) else "IS strongholds"
    added = copy.deepcopy(ent)
    added["id"] = "added1"
    added["value"].update(start=start, end=start + len(word), text=word, labels=[_labels(ent)])
    result.append(added)
    client.create_annotation(task_id, result, parent_prediction=int(pred["id"]), lead_time=12.0)
    # and one annotation without a parent prediction: not compared
    client.create_annotation(task_id, [added])

    prep = pull(client, "t-acceptance", out=tmp_path / "snap")
    assert prep.counts["compared_with_prediction"] == 1, prep.counts
    recs = load_annotations([prep.snapshot])
    started = [a for a in recs if a.meta.get("parent_prediction")]
    assert len(started) == 1 and len(recs) == 2
    acc = started[0].meta["acceptance"]
    assert acc["model_version"] == pre.model_version == started[0].meta["parent_model_version"]
    assert (acc["deleted"], acc["edited"], acc["added"]) == (1, 1, 1), acc
    assert acc["kept"] == acc["predicted"] - 2 and acc["kept"] > 10
    assert acc["by_layer"]["attribution"]["Source"]["deleted"] == 1
    assert acc["by_layer"]["attribution"]["Content"]["edited"] == 1
    assert acc["by_layer"]["entities"][_labels(ent)]["added"] == 1
    assert "acceptance_rate" not in acc  # counts only in the record

    st = project_status(client, "t-acceptance", workdir=tmp_path)
    s = st["acceptance"][pre.model_version]
    assert (s["tasks_with_prediction"], s["annotations_from_prediction"]) == (1, 1)
    assert (s["kept"], s["edited"], s["deleted"], s["added"]) == (acc["kept"], 1, 1, 1)
    assert s["acceptance_rate"] == round(acc["kept"] / acc["predicted"], 4)


def test_compare_counts_per_layer_and_label():
    ann = Annotation.from_dict(
        {
            "doc_id": "d",
            "text_sha256": "",
            "annotator": "a",
            "entities": [
                {"id": "1", "label": "PER", "fragments": [{"start": 0, "end": 4}], "text": "Anna"},
                {"id": "2", "label": "ORG", "fragments": [{"start": 10, "end": 15}], "text": "x"},
            ],
        }
    )
    pred = Annotation.from_dict(
        {
            "doc_id": "d",
            "text_sha256": "",
            "annotator": "m",
            "origin": "prediction",
            "entities": [
                {"id": "1", "label": "PER", "fragments": [{"start": 0, "end": 4}], "text": "Anna"},
                {"id": "2", "label": "GPE", "fragments": [{"start": 11, "end": 15}], "text": "x"},
                {"id": "3", "label": "LOC", "fragments": [{"start": 20, "end": 25}], "text": "y"},
            ],
        }
    )
    got = acceptance.compare(ann, pred)
    assert (got["kept"], got["edited"], got["deleted"], got["added"], got["predicted"]) == (1, 1, 1, 0, 3)
    assert got["by_layer"]["entities"] == {"PER": {"kept": 1}, "GPE": {"edited": 1}, "LOC": {"deleted": 1}}
