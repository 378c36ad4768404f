"""Disk full (ENOSPC) in import, export, tag and brat export: one coded EnvironmentProblem each
(exit 3) saying what to do, never a traceback; what was there before stays intact. On a real
2 MB tmpfs when mounting is permitted (root), else skipped."""

from __future__ import annotations

import json
import secrets
import subprocess

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.errors import EXIT_ENVIRONMENT
from corpus.store.table import CorpusStore


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


def articles(folder, n, size):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):  # random hex: incompressible, so the store really needs the bytes
        (folder / f"a{i:04d}.txt").write_text(f"Title {i}\n" + " ".join(secrets.token_urlsafe(12) for _ in range(size)))
    return folder


def fill(disk):
    """Leave no room on the disk."""
    with open(disk / "filler", "wb", buffering=0) as f:
        for size in (65536, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return r, r.output + r.stderr


def test_import_onto_a_full_disk_is_exit_3_and_keeps_the_previous_version(small_disk, tmp_path):
    store = small_disk / "store"
    r, out = run("import", articles(tmp_path / "one", 3, 20), "--store", store, "--json")
    assert r.exit_code == 0, out
    r, out = run("import", articles(tmp_path / "big", 40, 5000), "--store", store, "--json")
    assert r.exit_code == EXIT_ENVIRONMENT, out
    assert "Traceback" not in out and "[E901]" in out and "no space left" in out and "df -h" in out
    st = CorpusStore(str(store))
    assert st.latest_version() == 0 and st.count() == 3


def test_export_to_a_full_disk_is_exit_3_and_leaves_no_partial_file(small_disk, tmp_path):
    store = tmp_path / "store"
    assert run("import", articles(tmp_path / "big", 40, 5000), "--store", store)[0].exit_code == 0
    for name in ("x.jsonl", "x.parquet"):
        r, out = run("export", "--store", store, "--out", small_disk / name)
        assert r.exit_code == EXIT_ENVIRONMENT, out
        assert "Traceback" not in out and "[E901]" in out
    assert list(small_disk.iterdir()) == []


def test_tag_on_a_full_disk_is_exit_3_and_keeps_the_tags(small_disk, tmp_path):
    store = small_disk / "store"
    assert run("import", articles(tmp_path / "one", 3, 20), "--store", store)[0].exit_code == 0
    assert run("tag", "first", "--store", store)[0].exit_code == 0
    fill(small_disk)
    r, out = run("tag", "second", "--store", store)
    assert r.exit_code == EXIT_ENVIRONMENT, out
    assert "Traceback" not in out and "[E901]" in out
    tags = json.loads(run("log", "--store", store, "--json")[0].stdout)
    assert "first" in json.dumps(tags) and "second" not in json.dumps(tags)
