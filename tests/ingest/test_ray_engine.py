"""The Ray engine (``corpus import --engine ray``, ``release build --engine ray``) on a real
two-node local Ray cluster (``ray_cluster`` in conftest): the same report and the same stored
rows as the local engine, release files byte-identical, and a driver killed at any stage
leaves the store at its previous version, with a rerun converging."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ingest.test_ingest import WORDS, write
from release.test_release import fixture_release  # noqa: F401  (a fixture)

import corpus
from corpus.ingest import importer
from corpus.store.table import CorpusStore

REPO = Path(__file__).resolve().parents[2]
COLUMNS = [
    "doc_id",
    "bucket",
    "source_key",
    "text",
    "title",
    "url",
    "published",
    "text_sha256",
    "raw_sha256",
    "meta",
    "minhash",
    "near_dup_cluster",
]


def _text(rng: random.Random, n: int = 90) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(400)) for _ in range(n)) + "."


def _variant(text: str, rng: random.Random) -> str:
    """One word changed: Jaccard of word 3-grams ~0.94 (a near-duplicate at 0.9)."""
    w = text.split()
    w[rng.randrange(len(w))] = "CHANGED" + str(rng.randrange(10**6))
    return " ".join(w)


def corpus_files(root: Path, seed: int = 7) -> tuple[Path, Path]:
    """Two imports' inputs (~300 records): planted near-duplicates (of earlier rows, of each
    other, chains), exact duplicates, a repeated key, an empty text, malformed lines, and in
    the second input updates, unchanged records and near-duplicates of stored documents."""
    rng = random.Random(seed)
    base = [_text(rng) for _ in range(150)]
    first = [{"id": f"a{i}", "text": t, "title": f"A {i}"} for i, t in enumerate(base)]
    first += [{"id": f"n{i}", "text": _variant(base[i], rng)} for i in range(0, 40)]  # near, same file
    first += [{"id": f"m{i}", "text": _variant(first[150 + i]["text"], rng)} for i in range(0, 10)]  # chains
    first += [{"id": f"d{i}", "text": base[i + 50]} for i in range(8)]  # exact duplicates
    first += [{"id": "r1", "text": "a key twice"}, {"id": "r1", "text": "the repeat"}, {"id": "e1", "text": "   \n"}]
    rng.shuffle(first)
    in1 = root / "in1"
    write(in1 / "feed-a.jsonl", "".join(json.dumps(r) + "\n" for r in first[:120]) + "{not json\n")
    write(in1 / "feed-b.jsonl", "".join(json.dumps(r) + "\n" for r in first[120:]))
    write(in1 / "notes" / "one.txt", base[7] + " and a tail of its own words here.")
    second = [{"id": f"a{i}", "text": base[i], "title": f"A {i}"} for i in range(100)]  # unchanged
    second += [{"id": f"a{i}", "text": _variant(base[i], rng)} for i in range(100, 110)]  # updated
    second += [{"id": f"s{i}", "text": _variant(base[i], rng)} for i in range(60, 90)]  # near stored
    second += [{"id": f"t{i}", "text": _text(rng)} for i in range(30)]  # new
    second += [{"id": f"u{i}", "text": base[120 + i]} for i in range(5)]  # exact duplicates of stored
    in2 = root / "in2"
    write(in2 / "feed.jsonl", "".join(json.dumps(r) + "\n" for r in second) + "[1, 2]\n")
    return in1, in2


def _report(r: importer.ImportReport) -> dict:
    d = r.to_dict()
    d.pop("message")
    return {**d, "doc_ids": r.doc_ids}


def _rows(store: CorpusStore, version: int | None = None) -> list[tuple]:
    return sorted(tuple(row[c] for c in COLUMNS) for b in store.iter_batches(version, COLUMNS) for row in b.to_pylist())


@pytest.fixture(scope="module")
def ray_conn(ray_cluster):
    """This test process connected to the cluster as a driver (the engine reuses the connection)."""
    import ray

    from corpus.ingest.ray_engine import _runtime_env

    # as the engine connects: this checkout shipped to the workers as a runtime environment
    ray.init(address=ray_cluster, log_to_driver=False, configure_logging=False, runtime_env=_runtime_env())
    try:
        yield ray_cluster
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_import_decides_and_stores_like_the_local_engine(tmp_path, ray_conn):

    in1, in2 = corpus_files(tmp_path)
    local, remote = CorpusStore(tmp_path / "local"), CorpusStore(tmp_path / "ray")
    reports = []
    for src in (in1, in2):
        a = importer.import_paths([src], local, message="m")
        b = importer.import_paths([src], remote, message="m", engine="ray", ray_address=ray_conn)
        assert _report(a) == _report(b)
        assert a.created and b.created and a.version == b.version
        assert _rows(local) == _rows(remote)
        reports.append(b)
    # the planted cases really were there (so the equality above says something)
    assert (a.updated, a.duplicates + a.unchanged, len(a.errors)) == (10, 105, 1) and a.duplicates >= 5
    assert a.near_duplicates >= 25  # of the 30 planted (one word changed: estimated Jaccard ~0.93)
    first = reports[0]
    assert first.duplicates == 8 and first.near_duplicates >= 40 and len(first.errors) == 3
    assert [m for m in first.near_duplicate_of if m["similar_to"] != m["cluster"]]  # chains: the cluster is kept
    # the workers, on both nodes, ran this checkout's corpus (the runtime environment ships it when
    # it is not installed; an editable install of the same checkout is as good)
    import hashlib

    import ray

    def digest(pkg: Path) -> str:
        files = sorted(pkg.rglob("*.py"))
        return hashlib.sha256(
            b"".join(f.relative_to(pkg).as_posix().encode() + f.read_bytes() for f in files)
        ).hexdigest()

    @ray.remote(num_cpus=1)
    def where() -> tuple[str, str]:
        import corpus

        return digest(Path(corpus.__file__).parent), ray.get_runtime_context().get_node_id()

    got = ray.get([where.options(scheduling_strategy="SPREAD").remote() for _ in range(4)])
    assert {d for d, _ in got} == {digest(Path(corpus.__file__).parent)}
    assert len({n for _, n in got}) == 2
    assert len(ray.nodes()) == 2
    # an unchanged re-import: files skipped by their fingerprints, no version
    again = importer.import_paths([in2], remote, engine="ray", ray_address=ray_conn)
    assert not again.created and again.version == b.version and again.added == again.updated == 0


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from corpus.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )


@pytest.mark.slow
def test_killed_ray_import_leaves_the_previous_version_and_a_rerun_converges(tmp_path, ray_cluster):
    in1, in2 = corpus_files(tmp_path, seed=11)
    uri = str(tmp_path / "store")
    clean = CorpusStore(tmp_path / "clean")
    importer.import_paths([in1], clean, message="m")
    expected = importer.import_paths([in2], clean, message="m").to_dict()
    importer.import_paths([in1], CorpusStore(uri), message="m")
    before = _rows(CorpusStore(uri))
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_ADDRESS": ray_cluster}
    args = ["import", str(in2), "--engine", "ray", "--store", uri, "--json", "-m", "m"]
    for stage in ("band_join", "written"):
        r = _cli(args, {**env, "CORPUS_TEST_CRASH_AT": stage})
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
        st = CorpusStore(uri)
        assert st.latest_version() == 0 and _rows(st) == before
    st = CorpusStore(uri)
    orphans = st.vacuum(dry_run=True)
    assert orphans and all(f.endswith(".parquet") for f in orphans)  # the killed commit's files
    r = _cli(args, env)
    assert r.returncode == 1, r.stderr[-2000:]  # 1: the input's one malformed line is reported
    out = json.loads(r.stdout)
    assert out["created"] and out["version"] == 1
    assert {k: v for k, v in out.items() if k != "attempts"} == {k: v for k, v in expected.items() if k != "attempts"}
    assert _rows(st) == _rows(clean)
    assert sorted(st.vacuum()) == sorted(orphans)  # leftovers: exactly the killed run's files
    assert _rows(st) == _rows(clean) and st.latest_version() == 1


@pytest.mark.slow
def test_ray_release_build_writes_the_same_bytes(tmp_path, ray_conn, fixture_release):  # noqa: F811
    from release.test_release import build

    from corpus.release import build as release

    store = CorpusStore(fixture_release["store"])
    ann = [str(fixture_release["annotations"])]
    a = build(tmp_path / "local", fixture_release["store"], ann, figures=False)
    with release.article_source(store, "ray", ray_conn) as source:
        assert type(source).__name__ == "RaySource"
        opts = release.BuildOptions(
            version="1.0.0", annotations=ann, out=str(tmp_path / "ray" / "dist"), repo="acme/news",
            built_at="2025-01-01T00:00:00Z", figures=False,
        )  # fmt: skip
        b = release.build_release(opts, source)
    files = sorted(p.relative_to(a.folder) for p in Path(a.folder).rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(b.folder) for p in Path(b.folder).rglob("*.parquet"))
    for f in files:
        assert (Path(a.folder) / f).read_bytes() == (Path(b.folder) / f).read_bytes()
    assert a.rows == b.rows
