"""The whole chain on the seed article, through the CLI, against a real Label Studio:
import -> push -> annotation created through the API -> pull -> validate -> release build ->
``datasets.load_dataset`` shows exactly the annotation that was made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from seed_gold import seed_gold

from corpus.annotations import lsformat
from corpus.cli import main
from corpus.core import taxonomy
from corpus.core.model import Annotation
from corpus.store.snapshot import load_annotations as read_snapshot
from corpus.store.snapshot import snapshot_files
from corpus.store.table import CorpusStore

REPO = Path(__file__).resolve().parents[1]
PROJECT = "t-end-to-end"

pytestmark = pytest.mark.labelstudio


def run(*args: str, env: dict[str, str] | None = None) -> str:
    r = CliRunner().invoke(main, list(args), env=env)
    assert r.exit_code == 0, f"corpus {' '.join(args)} -> {r.exit_code}\n{r.output}"
    return r.stdout


def content(a: Annotation) -> dict:
    """What an annotator decided: layers only (not who, when, or Label Studio ids)."""
    d = a.to_dict()
    return {k: d[k] for k in ("doc_id", "text_sha256", "entities", "events", "attributions")}


def test_seed_article_from_import_to_load_dataset(labelstudio, tmp_path, hf_offline):
    env = {"LABEL_STUDIO_URL": labelstudio.url, "LABEL_STUDIO_API_KEY": labelstudio.token}
    store = str(tmp_path / "store")

    imported = json.loads(run("import", str(REPO / "seeds"), "--store", store, "--json"))
    assert imported["added"] == 1 and imported["errors"] == []
    article = next(CorpusStore(store).iter_articles())

    pushed = json.loads(run("push", "--project", PROJECT, "--store", store, "--json", env=env))
    assert pushed["pushed"] == 1

    # An annotator's work, made through the API as the Label Studio UI would save it.
    tax = taxonomy.load()
    gold = seed_gold(article.doc_id, article.text, annotator="annotator@example.com")
    user = labelstudio.client.create_user("annotator@example.com", "pw-annotator-123456")
    task = next(labelstudio.client.task_data(pushed["project_id"]))
    labelstudio.client.create_annotation(
        task["id"], lsformat.to_labelstudio(gold, article.text, tax), completed_by=int(user["id"]), lead_time=42.0
    )

    pulled = json.loads(run("pull", "--project", PROJECT, "--out", str(tmp_path / "ann"), "--json", env=env))
    (record,) = read_snapshot(pulled["snapshot"])
    assert record.annotator == "annotator@example.com" and record.lead_time == 42.0
    assert content(record) == content(gold)

    run("validate", str(tmp_path / "ann"), "--store", store)
    built = json.loads(
        run(
            "release",
            "build",
            "--version",
            "1.0.0",
            "--store",
            store,
            "--annotations",
            str(tmp_path / "ann"),
            "--out",
            str(tmp_path / "dist"),
            "--json",
        )
    )
    folder = Path(built["folder"]) if "folder" in built else tmp_path / "dist" / "newscorpus-1.0.0"

    summary = json.loads(run("release", "summary", str(folder), "--json"))
    assert summary["documents"] == 1
    assert summary["spans"] == {
        "entities": len(gold.entities),
        "events": len(gold.events),
        "attributions": len(gold.attributions),
    }
    labels = {}
    for e in gold.entities:
        labels[e.label] = labels.get(e.label, 0) + 1
    assert summary["labels"]["entities"] == dict(sorted(labels.items()))

    from datasets import load_dataset

    (split,) = load_dataset(str(folder), "documents", cache_dir=str(hf_offline)).values()
    row = split[0]
    names = split.features["entities"].feature["label"].names
    got = sorted((names[e["label"]], e["text"], e["fragments"][0]["start"]) for e in row["entities"])
    assert got == sorted((e.label, e.span.text, e.span.start) for e in gold.entities)
    trap = next(a for a in row["attributions"] if a["id"] == "a5")
    assert len(trap["content"]["fragments"]) == 2  # the discontinuous content survived every hop


def test_committed_seed_snapshot_is_the_seed_gold():
    """annotations/seed/ (what `make release` builds from) holds exactly tests/seed_gold.py."""
    (path,) = snapshot_files([REPO / "annotations" / "seed"])
    (record,) = read_snapshot(path)
    assert content(record) == content(seed_gold(record.doc_id))
