"""Leftovers of killed processes are collected: data files no version references (a commit
killed before its log entry) by vacuum, whatever their age; stale import staging folders by the
next import (ours only, never one a live import holds)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.model import Article, make_doc_id
from corpus.ingest import importer
from corpus.store.table import CorpusStore, article_to_row, rows_to_batch

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from corpus.cli import main; main()"]


def commit(store, items, read_version):
    rows = [article_to_row(Article(make_doc_id(k), t), source_key=k) for k, t in items]
    return store.commit([rows_to_batch(rows)], read_version=read_version, message="m", counts={})


def test_vacuum_removes_unreferenced_data_files_whatever_their_age(store_uri):
    st = CorpusStore(store_uri)
    commit(st, [("a", "alpha one"), ("b", "beta one")], None)
    root = Path(store_uri)
    data = sorted(p for p in root.rglob("*.parquet") if "_delta_log" not in p.parts)
    orphan = data[0].with_name("part-00000000-dead-beef-0000-000000000000-c000.snappy.parquet")
    shutil.copy(data[0], orphan)  # a file a killed commit wrote: fresh, complete, in no version
    half = data[-1].parent / "part-11111111-dead-beef-0000-000000000000-c000.snappy.parquet"
    half.write_bytes(b"PAR1 half written")
    freed = orphan.stat().st_size + half.stat().st_size
    r = CliRunner().invoke(main, ["vacuum", "--store", store_uri, "--dry-run", "--json"], catch_exceptions=False)
    out = json.loads(r.stdout)
    assert out["count"] == 2 and out["bytes"] == freed and orphan.exists()
    r = CliRunner().invoke(main, ["vacuum", "--store", store_uri, "--json"], catch_exceptions=False)
    out = json.loads(r.stdout)
    assert (out["count"], out["bytes"]) == (2, freed)
    assert not orphan.exists() and not half.exists() and all(p.exists() for p in data)
    assert st.count() == 2 and (root / "_delta_log").is_dir()
    r = CliRunner().invoke(main, ["vacuum", "--store", store_uri], catch_exceptions=False)
    assert "deleted 0 files (0 bytes)" in r.stdout


def test_import_removes_stale_staging_of_killed_imports_only(store_uri, tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # gettempdir() caches $TMPDIR
    parent = importer.staging_root()
    stale = parent / "123-deadbeef"
    stale.mkdir(parents=True)
    (stale / importer.STAGING_LOCK).touch()
    (stale / "local-000000.arrow").write_bytes(b"x" * 1000)
    live = parent / "456-cafe"
    live.mkdir()
    (live / importer.STAGING_LOCK).touch()
    fd = os.open(live / importer.STAGING_LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live import holds its lock
    unrelated = tmp_path / "tmp" / "corpus-import-someone-else"
    unrelated.mkdir()
    src = tmp_path / "a.txt"
    src.write_text("Title\nA story about the harbour.")
    rep = importer.import_paths([src], CorpusStore(store_uri))
    os.close(fd)
    assert rep.added == 1
    assert not stale.exists() and live.exists() and unrelated.exists()
    assert sorted(p.name for p in parent.iterdir()) == ["456-cafe"]  # the import's own staging is gone too


@pytest.mark.slow
def test_a_killed_import_leaves_nothing_after_the_next_import(store_uri, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12000):  # big enough to still be staging when killed
        (src / f"{i:05d}.txt").write_text(f"Story {i}\nStory number {i} about the harbour, ferry {i * 7}.")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO), "CORPUS_IMPORT_WORKERS": "0"}
    p = subprocess.Popen([*CLI, "import", str(src), "--store", store_uri], env=env)
    deadline = time.monotonic() + 120
    staged = tmp / importer.STAGING_DIR
    while time.monotonic() < deadline and not any(staged.glob("*/*.arrow")):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert any(staged.iterdir())  # the killed import's staging is left behind
    subprocess.run([*CLI, "import", str(src), "--store", store_uri], env=env, check=True, capture_output=True)
    assert list(staged.iterdir()) == []
    assert CorpusStore(store_uri).count() == 12000
    r = CliRunner().invoke(main, ["vacuum", "--store", store_uri, "--json"], catch_exceptions=False)
    assert json.loads(r.stdout)["count"] == 0  # killed while staging: nothing in the store
