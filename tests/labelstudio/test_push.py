"""corpus push against a real Label Studio: project from the taxonomy, idempotence, changed
texts, a push killed half way, failed requests that landed anyway, filters, pre-annotations."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core import taxonomy
from corpus.core.errors import LabelStudioError, LabelStudioRejected, LabelStudioUnavailable
from corpus.core.model import Annotation, Attribution, Span
from corpus.ingest.importer import import_paths
from corpus.labelstudio.client import LSClient
from corpus.labelstudio.push import push
from corpus.predict.preannotate import RuleAttributionPreannotator
from corpus.store.table import CorpusStore

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
POLNEAR_TEXT = REPO.parent / "shared" / "data" / "polnear" / "train" / "text"

pytestmark = pytest.mark.labelstudio


def project_docs(client: LSClient, project_id: int) -> Counter:
    """doc_id -> number of tasks, read from the task data (not from our meta)."""
    return Counter(t["data"]["doc_id"] for t in client.task_data(project_id))


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory) -> CorpusStore:
    """The seed article and 50 PolNeAR articles (50 generated ones when ../shared is absent), imported with
    corpus.ingest.importer."""
    root = tmp_path_factory.mktemp("push-store")
    store = CorpusStore(str(root / "store"))
    rep = import_paths([SEEDS], store, source="seed", message="seed")
    assert rep.added == 1 and not rep.errors
    if POLNEAR_TEXT.is_dir():
        texts = root / "polnear" / "text"
        texts.mkdir(parents=True)
        for p in sorted(POLNEAR_TEXT.glob("*.txt"))[:50]:
            shutil.copy(p, texts / p.name)
        rep = import_paths([texts], store, source="polnear", message="50 PolNeAR articles")
        assert rep.added + rep.duplicates + rep.near_duplicates >= 45 and not rep.errors, rep.to_dict()
    else:  # without ../shared: 50 generated articles, so the batch and resume tests still have batches
        texts = root / "generated"
        texts.mkdir()
        rng = random.Random(7)
        vocab = [
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)
        ]
        for i in range(50):
            body = " ".join(rng.choice(vocab) for _ in range(200))
            (texts / f"g{i:02d}.txt").write_text(f"Generated story {i}\n\nOfficials said {body}.\n", encoding="utf-8")
        rep = import_paths([texts], store, source="generated", message="50 generated articles")
        assert rep.added == 50 and not rep.errors, rep.to_dict()
    return store


def test_push_creates_project_from_taxonomy_and_is_idempotent(labelstudio, corpus_store):
    client = labelstudio.client
    n = corpus_store.count()
    r1 = push(client, corpus_store, "t-push-basic", preannotator=RuleAttributionPreannotator(), batch_size=20)
    assert (r1.pushed, r1.skipped, r1.changed, r1.errors) == (n, 0, 0, [])
    assert r1.project_action == "created"

    proj = client.get_project(r1.project_id)
    tax = taxonomy.load()
    assert proj["label_config"].strip() == taxonomy.labelstudio_config(tax).strip()
    from corpus.labelstudio.push import _plain

    # The guidelines as HTML (Label Studio sanitizes what it stores, so compare the words).
    assert _plain(proj["expert_instruction"]) == _plain(taxonomy.expert_instruction(tax))
    assert project_docs(client, r1.project_id) == Counter({a.doc_id: 1 for a in corpus_store.iter_articles()})

    # Task data and meta as documented; the seed has pre-annotations from the rules.
    seed = next(a for a in corpus_store.iter_articles() if a.source == "seed")
    task = next(t for t in client.task_data(r1.project_id) if t["data"]["doc_id"] == seed.doc_id)
    assert set(task["data"]) == {"text", "doc_id", "text_sha256", "title", "source", "published", "url"}
    assert task["data"]["text"] == seed.text and task["data"]["text_sha256"] == seed.text_sha256
    assert task["meta"]["corpus_version"] == corpus_store.resolve_version(None)
    assert task["meta"]["taxonomy_version"] == str(tax.version)
    preds = client.predictions(task["id"])
    assert len(preds) == 1 and preds[0]["model_version"] == RuleAttributionPreannotator.model_version
    assert 0 < preds[0]["score"] <= 1
    cues = [
        r["value"]["text"] for r in preds[0]["result"] if r.get("type") == "labels" and r["value"]["labels"] == ["Cue"]
    ]
    assert "According to" in cues and r1.predictions >= 1

    # Again: nothing new, through the CLI this time (JSON summary).
    res = CliRunner(env=labelstudio.env).invoke(
        main, ["push", "--project", "t-push-basic", "--store", corpus_store.uri, "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {k: out[k] for k in ("project_id", "pushed", "skipped", "changed", "errors")} == {
        "project_id": r1.project_id,
        "pushed": 0,
        "skipped": n,
        "changed": 0,
        "errors": [],
    }
    assert client.task_fingerprint(r1.project_id)[0] == n


def test_second_push_lists_the_project_when_it_changed_behind_our_back(labelstudio, corpus_store):
    """The re-push shortcut (cached index) must notice tasks deleted in Label Studio."""
    client = labelstudio.client
    r1 = push(client, corpus_store, "t-push-cache")
    victim = next(iter(client.task_meta(r1.project_id)))[0]
    client.sdk.tasks.delete(victim)
    r2 = push(client, corpus_store, "t-push-cache")
    assert (r2.pushed, r2.skipped) == (1, r1.pushed - 1)
    assert set(project_docs(client, r1.project_id).values()) == {1}


def test_changed_text_is_reported_and_pushed_only_when_asked(labelstudio, tmp_path):
    client = labelstudio.client
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Officials said the bridge would reopen on Monday after repairs.\n")
    (src / "b.txt").write_text("The minister told reporters that talks would continue next week.\n")
    store = CorpusStore(str(tmp_path / "store"))
    import_paths([src], store, source="t")
    r1 = push(client, store, "t-push-changed")
    assert r1.pushed == 2

    (src / "a.txt").write_text("Officials said the bridge would reopen on Tuesday after repairs.\n")
    rep = import_paths([src], store, source="t")
    assert rep.updated == 1
    changed_id = next(a.doc_id for a in store.iter_articles() if "Tuesday" in a.text)
    r2 = push(client, store, "t-push-changed")
    assert (r2.pushed, r2.skipped, r2.changed, r2.changed_doc_ids) == (0, 1, 1, [changed_id])

    r3 = push(client, store, "t-push-changed", update_changed=True)
    assert (r3.pushed, r3.skipped, r3.changed) == (1, 1, 1)
    r4 = push(client, store, "t-push-changed", update_changed=True)
    assert (r4.pushed, r4.skipped, r4.changed) == (0, 2, 0)
    texts = [t["data"]["text"] for t in client.task_data(r1.project_id) if t["data"]["doc_id"] == changed_id]
    assert sorted("Tuesday" in t for t in texts) == [False, True]  # old task kept, new revision added


def test_push_killed_half_way_resumes_with_each_doc_once(labelstudio, corpus_store):
    n = corpus_store.count()
    env = {**os.environ, **labelstudio.env, "CORPUS_TEST_CRASH_AFTER_BATCHES": "2"}
    cmd = [
        sys.executable,
        "-c",
        "from corpus.cli import main; main()",
        "push",
        "--project",
        "t-push-crash",
        "--store",
        corpus_store.uri,
        "--batch-size",
        "10",
        "--json",
    ]
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    proj = labelstudio.client.find_project("t-push-crash")
    assert sum(project_docs(labelstudio.client, proj["id"]).values()) == 20

    env.pop("CORPUS_TEST_CRASH_AFTER_BATCHES")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    out = json.loads(again.stdout)
    assert (out["pushed"], out["skipped"]) == (n - 20, 20)
    docs = project_docs(labelstudio.client, proj["id"])
    assert len(docs) == n and set(docs.values()) == {1}


class LostResponses(LSClient):
    """A real client whose first import responses get 'lost': the request landed, we saw a 502."""

    def __init__(self, url, token, lose: int):
        super().__init__(url, token)
        self.lose = lose

    def import_tasks(self, project_id, tasks):
        ids = super().import_tasks(project_id, tasks)
        if self.lose:
            self.lose -= 1
            raise LabelStudioUnavailable("simulated: the import landed but the response was lost")
        return ids


def test_retry_checks_what_landed_instead_of_duplicating(labelstudio, corpus_store):
    client = LostResponses(labelstudio.url, labelstudio.token, lose=2)
    try:
        rep = push(client, corpus_store, "t-push-lost", batch_size=7)
    finally:
        client.close()
    n = corpus_store.count()
    assert rep.pushed == n and rep.retries == 2 and not rep.errors
    docs = project_docs(labelstudio.client, rep.project_id)
    assert len(docs) == n and set(docs.values()) == {1}


class RefusesOne(LSClient):
    """A real client for which Label Studio 'refuses' any request containing one document."""

    def __init__(self, url, token, poison: str):
        super().__init__(url, token)
        self.poison = poison

    def import_tasks(self, project_id, tasks):
        if any(t["meta"]["doc_id"] == self.poison for t in tasks):
            raise LabelStudioRejected("simulated: HTTP 400 for this task", status=400)
        return super().import_tasks(project_id, tasks)


def test_a_refused_task_is_reported_and_the_rest_of_its_batch_goes_in(labelstudio, corpus_store):
    poison = next(corpus_store.iter_articles()).doc_id
    client = RefusesOne(labelstudio.url, labelstudio.token, poison)
    try:
        rep = push(client, corpus_store, "t-push-refused")
    finally:
        client.close()
    n = corpus_store.count()
    assert rep.pushed == n - 1 and [(e.code, e.doc_id) for e in rep.errors] == [("E502", poison)]
    assert poison not in project_docs(labelstudio.client, rep.project_id)
    again = push(labelstudio.client, corpus_store, "t-push-refused")
    assert (again.pushed, again.skipped) == (1, n - 1)


def test_where_limit_and_predictions_file(labelstudio, corpus_store, tmp_path):
    client = labelstudio.client
    seed = next(a for a in corpus_store.iter_articles() if a.source == "seed")
    text = seed.text
    i = text.index("According to")
    cue = Span.from_offsets(text, [(i, i + len("According to"))])
    j = text.index("the attack originated")
    content = Span.from_offsets(text, [(j, text.index(",", j))])
    good = Annotation(
        seed.doc_id,
        seed.text_sha256,
        "model:ext",
        attributions=[
            Attribution(
                "c1",
                cue,
                content,
                attributes={"quote_type": "indirect", "source_type": "media outlet", "commitment": "reported"},
            )
        ],
        origin="prediction",
        model_version="ext-1",
        score=0.8,
    )
    bad = Annotation.from_dict(good.to_dict())
    bad.attributions[0].cue = Span.from_offsets(text, [(len(text) - 2, len(text) + 5)])  # past the end
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps(good.to_dict()) + "\n" + json.dumps(bad.to_dict()) + "\n")

    res = CliRunner(env=labelstudio.env).invoke(
        main,
        [
            "push",
            "--project",
            "t-push-where",
            "--store",
            corpus_store.uri,
            "--where",
            "source=seed",
            "--predictions",
            str(preds),
            "--json",
        ],
    )
    out = json.loads(res.output)
    assert res.exit_code == 1  # the invalid prediction is an error, reported
    assert out["pushed"] == 1 and out["predictions"] == 1
    assert out["errors"] and {e["doc_id"] for e in out["errors"]} == {seed.doc_id}
    assert all(e["severity"] == "error" and e["message"].startswith("prediction ") for e in out["errors"])
    task = next(iter(client.task_data(out["project_id"])))
    (pred,) = client.predictions(task["id"])
    assert pred["model_version"] == "ext-1" and pred["score"] == pytest.approx(0.8)

    other = next(a.source for a in corpus_store.iter_articles() if a.source != "seed")  # polnear or generated
    r = push(client, corpus_store, "t-push-limit", where=[f"source={other}"], limit=5)
    assert r.pushed == 5
    assert {t["data"]["source"] for t in client.task_data(r.project_id)} == {other}

    bad_where = CliRunner(env=labelstudio.env).invoke(
        main, ["push", "--project", "t-push-where", "--store", corpus_store.uri, "--where", "colour=red"]
    )
    assert bad_where.exit_code == 2 and "unknown field" in bad_where.output


def test_changed_config_is_updated_or_refused(labelstudio, corpus_store):
    client = labelstudio.client
    tax = taxonomy.load()
    config = taxonomy.labelstudio_config(tax)
    # A project made from an older config (one entity label fewer) and no annotations: updated.
    old = config.replace('<Label value="VEH"', '<Label value="VEHICLE"', 1)
    assert old != config
    p = client.create_project("t-push-config", old)
    r = push(client, corpus_store, "t-push-config", limit=1)
    assert r.project_action == "updated" and r.pushed == 1
    assert client.get_project(p["id"])["label_config"].strip() == config.strip()

    # Annotations that use a label the taxonomy does not have: Label Studio refuses, we stop.
    client.update_project(p["id"], label_config=old)
    task_id = next(iter(client.task_meta(p["id"])))[0]
    text = next(iter(client.task_data(p["id"])))["data"]["text"]
    client.create_annotation(
        task_id,
        [
            {
                "id": "v1",
                "from_name": "entity",
                "to_name": "text",
                "type": "labels",
                "value": {"start": 0, "end": 5, "text": text[:5], "labels": ["VEHICLE"]},
            }
        ],
    )
    with pytest.raises(LabelStudioError, match="refused"):
        push(client, corpus_store, "t-push-config", limit=1)


def test_overlap_settings(labelstudio, corpus_store):
    res = CliRunner(env=labelstudio.env).invoke(
        main,
        [
            "push",
            "--project",
            "t-push-overlap",
            "--store",
            corpus_store.uri,
            "--limit",
            "3",
            "--overlap",
            "0.2",
            "--annotators-per-task",
            "2",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    proj = labelstudio.client.get_project(json.loads(res.output)["project_id"])
    assert proj["maximum_annotations"] == 2 and proj["overlap_cohort_percentage"] == 20
