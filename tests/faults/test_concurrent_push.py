"""Two pushes of the same articles into one project at the same time (two `corpus push`
processes against the real Label Studio): afterwards each article is in the project exactly
once. Bounded here (FAULTS_DOCS, default 200); make faults pushes 5,000."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from faults.faultkit import CLI, cli, env_for, int_env, project_docs, seed_of, write_articles

from corpus.store.table import CorpusStore

pytestmark = [pytest.mark.faults, pytest.mark.labelstudio]


def test_two_concurrent_pushes_put_each_article_in_the_project_once(labelstudio, tmp_path):
    n = int_env("FAULTS_DOCS", 200)
    seed = seed_of("concurrent push")
    store = tmp_path / "store"
    src = write_articles(tmp_path / "in" / "articles.jsonl", n, seed)
    assert cli("import", src, "--store", store).returncode == 0
    assert CorpusStore(str(store)).count() == n
    project = f"concurrent-{seed}"
    batch = max(25, n // 10)  # several batches each, so the two pushes really interleave
    cmd = [*CLI, "push", "--project", project, "--store", str(store), "--batch-size", str(batch), "--json"]
    env = env_for(labelstudio.env)
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outs = [p.communicate(timeout=900) for p in procs]
    elapsed = time.monotonic() - t0
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    reps = [json.loads(out) for out, _ in outs]
    proj = labelstudio.client.find_project(project)
    assert proj is not None and all(r["project_id"] == proj["id"] for r in reps), reps
    docs = project_docs(labelstudio.client, proj["id"])
    dup = sum(c - 1 for c in docs.values() if c > 1)
    print(
        f"[faults] concurrent push of {n} articles, twice at once: {len(docs)} in the project, {dup} duplicates, "
        f"pushed {[r['pushed'] for r in reps]}, skipped {[r['skipped'] for r in reps]}, {elapsed:.1f} s"
    )
    assert len(docs) == n and dup == 0
    assert sorted(r["pushed"] for r in reps) == [0, n] and sum(r["skipped"] for r in reps) == n


def test_a_batch_is_rechecked_when_someone_else_imported_meanwhile(labelstudio, tmp_path):
    """Another machine's push does not see our lock: between two of our batches it imports some of
    the documents our next batch holds; our push notices the changed task fingerprint, lists the
    project again and sends only what is not there."""
    from corpus.core import taxonomy
    from corpus.labelstudio.push import make_task, push

    n, batch = 40, 10
    src = write_articles(tmp_path / "in" / "a.jsonl", n, 7)
    st = CorpusStore(str(tmp_path / "store"))
    assert cli("import", src, "--store", st.uri).returncode == 0
    arts = sorted(st.iter_articles(), key=lambda a: a.doc_id)
    order = [a.doc_id for a in st.iter_articles()]  # push order: store order
    by_id = {a.doc_id: a for a in arts}
    tax = taxonomy.load()
    project = "recheck-other-pusher"
    seen = [0]

    def other_machine(k: int) -> None:
        seen[0] += k
        if seen[0] == batch:  # after our first batch: 5 documents of our second batch land from elsewhere
            proj = labelstudio.client.find_project(project)
            theirs = [make_task(by_id[d], 0, str(tax.version), tax.text) for d in order[batch + 2 : batch + 7]]
            labelstudio.client.import_tasks(int(proj["id"]), theirs)

    rep = push(labelstudio.client, st, project, batch_size=batch, progress=other_machine)
    docs = project_docs(labelstudio.client, rep.project_id)
    assert len(docs) == n and set(docs.values()) == {1}, docs
    assert (rep.pushed, rep.skipped, rep.skipped_late) == (n - 5, 5, 5)
