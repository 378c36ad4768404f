"""corpus.core.atomic: a file is replaced whole or not at all, and no temporary file stays behind."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from corpus.core import atomic
from corpus.core.errors import DiskFull


def _siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_text_and_bytes_replace_the_file_and_keep_its_mode(tmp_path):
    p = tmp_path / "sub" / "f.json"
    atomic.write_text(p, "one\n")  # the folder is made
    assert p.read_text() == "one\n"
    os.chmod(p, 0o640)
    atomic.write_bytes(p, b"two")
    assert p.read_bytes() == b"two" and stat.S_IMODE(p.stat().st_mode) == 0o640
    secret = tmp_path / "secret.json"
    atomic.write_text(secret, "{}", permissions=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert _siblings(p) == ["f.json"]


def test_a_failure_in_the_middle_of_a_stream_leaves_the_old_file_and_no_temp(tmp_path):
    p = tmp_path / "snapshot.jsonl"
    p.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic.atomic_open(p) as f:
            for i in range(1000):
                f.write(f"line {i}\n")
            f.flush()
            assert len(_siblings(p)) == 2  # the temporary file is beside the target while writing
            raise RuntimeError("boom")
    assert p.read_text() == "old\n" and _siblings(p) == ["snapshot.jsonl"]


def test_disk_full_at_fsync_is_an_environment_problem_and_the_old_file_stays(tmp_path, monkeypatch):
    p = tmp_path / "tags.json"
    p.write_text('{"a": 1}')

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(DiskFull) as e:
        atomic.write_text(p, '{"a": 2}')
    assert e.value.exit_code == 3 and str(p) in e.value.message and "free space" in e.value.problem().fix
    assert p.read_text() == '{"a": 1}' and _siblings(p) == ["tags.json"]


def test_discard_keeps_the_old_file_quietly(tmp_path):
    p = tmp_path / "copy.jsonl"
    with atomic.atomic_open(p) as f:
        f.write("not wanted")
        raise atomic.Discard
    assert not p.exists() and _siblings(p) == []
