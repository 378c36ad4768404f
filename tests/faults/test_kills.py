"""kill -9 of `corpus import`, `corpus push` and `corpus pull` at seeded random moments, each
followed by a rerun: afterwards the store / project / snapshots hold every record exactly once
(0 duplicates, 0 missing), nothing is left behind (import staging, unreferenced Parquet after
`corpus vacuum`, hidden export downloads, temporary files, processes) and no incomplete snapshot
is ever read. FAULTS_KILLS kills per command (default 2; make faults: 10), FAULTS_SEED replays.

The moment of each kill is uniform over the run time of the same command measured in this run
(start-up included: a kill may land anywhere a user's could)."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import pytest
from faults.faultkit import cli, int_env, kill_at, leftover_files, project_docs, seed_of, write_articles

from corpus.store.table import CorpusStore

pytestmark = pytest.mark.faults
KILLS = int_env("FAULTS_KILLS", 2)


def timed(*args, env=None) -> float:
    t0 = time.monotonic()
    r = cli(*args, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    return time.monotonic() - t0


def kill_rounds(name: str, seed: int, duration: float, run_killed, rerun_and_check) -> dict[str, int]:
    """``KILLS`` rounds: kill a run at a random moment in [0, duration), rerun, check; a run that
    finished before its moment does not count as a kill (the round is repeated, up to 3x)."""
    rnd = random.Random(seed)
    stats = {"kills": 0, "finished_first": 0}
    rounds = 0
    while stats["kills"] < KILLS and rounds < 3 * KILLS:
        moment = rnd.uniform(0.0, duration)
        code, ran = run_killed(rounds, moment)
        stats["kills" if code == -9 else "finished_first"] += 1
        print(f"[faults] {name} round {rounds}: kill at {moment:.2f} s -> exit {code} after {ran:.2f} s")
        rerun_and_check(rounds)
        rounds += 1
    print(f"[faults] {name}: {stats['kills']} kills, all converged ({stats['finished_first']} finished first)")
    assert stats["kills"] >= KILLS, stats
    return stats


# ---------------------------------------------------------------- import


def data_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet") if "_delta_log" not in p.parts}


def referenced_files(uri: str) -> set[str]:
    """Data files some version of the table references (read with deltalake itself)."""
    from urllib.parse import unquote

    from deltalake import DeltaTable

    dt = DeltaTable(uri)
    refs: set[str] = set()
    for v in range(dt.version() + 1):
        adds = DeltaTable(uri, version=v).get_add_actions(flatten=True)
        refs |= {unquote(str(p)) for p in adds.column("path").to_pylist()}
    return refs


def test_killed_imports_converge(tmp_path):
    seed = seed_of("import kills")
    n = int_env("FAULTS_IMPORT_DOCS", 1500)  # make faults: 6,000 (> one import batch: the worker processes run)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    store = tmp_path / "store"
    inputs = [write_articles(tmp_path / "in" / f"r{k}.jsonl", n, seed + k, prefix=f"r{k}-") for k in range(3 * KILLS)]
    duration = timed(
        "import", write_articles(tmp_path / "ref.jsonl", n, seed - 1), "--store", tmp_path / "ref", env=env
    )
    expected: set[str] = set()

    def run_killed(k: int, moment: float):
        return kill_at(["import", inputs[k], "--store", store, "--json"], moment, env)

    def rerun_and_check(k: int) -> None:
        r = cli("import", inputs[k], "--store", store, "--json", env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        docs = list(CorpusStore(str(store)).list_docs())
        expected.update(json.loads(line)["id"] for line in inputs[k].read_text().splitlines())
        ids, keys = [d["doc_id"] for d in docs], [d["source_key"] for d in docs]
        assert len(ids) == len(set(ids)) == len(expected)  # 0 duplicates
        assert set(keys) == expected  # 0 missing
        assert not (tmp / "newscorpus-import-staging").exists() or not any(
            (tmp / "newscorpus-import-staging").iterdir()
        ), "import staging left behind"
        r = cli("vacuum", "--store", store, "--json", env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        assert data_files(store) == referenced_files(str(store)), "unreferenced Parquet after vacuum"
        assert leftover_files(store) == []

    kill_rounds("import", seed, duration, run_killed, rerun_and_check)


# ---------------------------------------------------------------- push


@pytest.mark.labelstudio
def test_killed_pushes_converge(labelstudio, tmp_path):
    seed = seed_of("push kills")
    n = int_env("FAULTS_PUSH_DOCS", 100)
    env = {**labelstudio.env, "TMPDIR": str(tmp_path)}
    store = tmp_path / "store"
    assert cli("import", write_articles(tmp_path / "a.jsonl", n, seed), "--store", store).returncode == 0
    push = ["push", "--store", store, "--batch-size", "20", "--json"]
    duration = timed(*push, "--project", f"kill-push-{seed}-ref", env=env)

    def run_killed(k: int, moment: float):
        return kill_at([*push, "--project", f"kill-push-{seed}-{k}"], moment, env)

    def rerun_and_check(k: int) -> None:
        r = cli(*push, "--project", f"kill-push-{seed}-{k}", env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        rep = json.loads(r.stdout)
        docs = project_docs(labelstudio.client, rep["project_id"])
        assert rep["pushed"] + rep["skipped"] == n
        assert len(docs) == n and set(docs.values()) == {1}, sorted(docs.values())[-3:]  # 0 missing, 0 duplicates
        titles = [p for p in labelstudio.client.sdk.projects.list() if p.title == f"kill-push-{seed}-{k}"]
        assert len(titles) == 1, "a killed push left a second project of that title"
        assert leftover_files(tmp_path) == []

    kill_rounds("push", seed, duration, run_killed, rerun_and_check)


# ---------------------------------------------------------------- pull


@pytest.mark.labelstudio
def test_killed_pulls_converge_and_no_incomplete_snapshot_is_read(labelstudio, annotated, tmp_path):
    from corpus.store import snapshot

    seed = seed_of("pull kills")
    store, project, n = annotated
    env = {**labelstudio.env, "TMPDIR": str(tmp_path)}
    out = tmp_path / "annotations"
    pull = ["pull", "--project", project, "--out", out, "--json"]
    duration = timed(*pull[:-3], "--out", tmp_path / "ref", "--json", env=env)
    incomplete_seen: list[str] = []

    def read_check(by_cli: bool = True) -> None:
        """What a reader takes from the folder is complete: it has its manifest and matches it."""
        warnings: list[str] = []
        files = snapshot.snapshot_files([out], warnings)
        for f in files:
            m = json.loads(snapshot.manifest_path(f).read_text())
            assert hashlib.sha256(f.read_bytes()).hexdigest() == m["sha256"]
            assert sum(1 for _ in f.open()) == n
        if by_cli:  # and what `corpus validate` reads of it (the newest complete snapshot) is valid
            r = cli("validate", out, "--store", store, "--json", env=env)
            assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
            assert "Traceback" not in r.stderr
            for f in out.glob("*.jsonl"):  # a killed pull's snapshot without manifest: named, not read
                if snapshot.is_incomplete(f):
                    incomplete_seen.append(f.name)
                    assert f"skipped incomplete snapshot {f}" in r.stderr, r.stderr[-2000:]
        for w in warnings:  # each incomplete one skipped is named
            assert "incomplete" in w

    def run_killed(k: int, moment: float):
        code, ran = kill_at(pull, moment, env)
        if out.exists() and any(out.glob("*.manifest.json")):
            read_check()  # right after the kill, before the next pull cleans up
        return code, ran

    def rerun_and_check(k: int) -> None:
        r = cli(*pull, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        read_check(by_cli=False)
        assert leftover_files(out) == [] and not [f for f in out.iterdir() if f.name.startswith(".")]
        snaps = sorted(out.glob("*.jsonl"))
        assert snaps and all(not snapshot.is_incomplete(f) for f in snaps)
        newest = snapshot.snapshot_files([out])[0]
        recs = [json.loads(line) for line in newest.open()]
        assert len(recs) == n and len({(x["doc_id"], x["annotation_id"]) for x in recs}) == n

    kill_rounds("pull", seed, duration, run_killed, rerun_and_check)
    print(f"[faults] pull: {len(incomplete_seen)} kills left a snapshot without manifest; none was read")
