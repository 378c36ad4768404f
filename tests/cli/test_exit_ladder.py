"""The exit ladder, decided in corpus.cli.app alone: 0 all good, 1 finished with problems
(reported), 2 usage, 3 environment (disk full, store unreadable, program missing, server
unreachable), each with a coded problem and what to do, never a traceback."""

from __future__ import annotations

import errno
import json
import socket

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core import atomic
from corpus.core.errors import EXIT_ENVIRONMENT, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE

GOOD = "A good article about the harbour, the ferry and the storm that closed them both."


def run(*args, env=None):
    r = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_text(json.dumps({"id": "1", "text": GOOD}) + "\n")
    return d


def test_0_all_good(src, tmp_path):
    assert run("import", src, "--store", tmp_path / "s").exit_code == EXIT_OK


def test_1_finished_with_problems_reported(src, tmp_path):
    (src / "a.jsonl").write_text(json.dumps({"id": "1", "text": GOOD}) + "\nnot json\n")
    r = run("import", src, "--store", tmp_path / "s")
    assert r.exit_code == EXIT_PROBLEMS and "[malformed_json]" in r.stderr
    assert "added 1" in r.stdout  # the good record went in


def test_2_usage_from_click_and_from_the_library(src, tmp_path):
    assert run("import").exit_code == EXIT_USAGE  # click: a missing argument
    assert run("import", src, "--format", "pdf").exit_code == EXIT_USAGE  # click: a bad choice
    r = run("import", src, "--store", tmp_path / "s", "--annotations-out", "x")  # UsageError
    assert r.exit_code == EXIT_USAGE and "[E001]" in r.stderr


def test_3_disk_full_is_an_environment_problem_with_the_fix(src, tmp_path, monkeypatch):
    store = tmp_path / "s"
    assert run("import", src, "--store", store).exit_code == EXIT_OK
    out = tmp_path / "export.jsonl"
    out.write_text("the previous export\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    r = run("export", "--store", store, "--out", out)
    assert r.exit_code == EXIT_ENVIRONMENT
    assert "[E901]" in r.stderr and "No space left" in r.stderr and "free space" in r.stderr
    assert out.read_text() == "the previous export\n"  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.jsonl", "in", "s"]  # no temporary file
    r = run("export", "--store", store, "--out", out, "--json")
    (p,) = json.loads(r.stdout)["problems"]
    assert r.exit_code == EXIT_ENVIRONMENT and p["code"] == "E901" and p["fix"]


def test_3_an_oserror_anywhere_is_an_environment_problem_not_a_traceback(src, tmp_path, monkeypatch):
    from corpus.store import table

    def broken(self, *a, **k):
        raise OSError(errno.EIO, "Input/output error", str(tmp_path / "s"))

    monkeypatch.setattr(table.CorpusStore, "history", broken)
    r = run("log", "--store", tmp_path / "s")
    assert r.exit_code == EXIT_ENVIRONMENT and "[E900]" in r.stderr and "Input/output error" in r.stderr


def test_3_unreadable_store(src, tmp_path):
    store = tmp_path / "s"
    assert run("import", src, "--store", store).exit_code == EXIT_OK
    (store / "_delta_log" / "00000000000000000000.json").write_text("garbage\n")
    r = run("ls", "--store", store)
    assert r.exit_code == EXIT_ENVIRONMENT and "[E904]" in r.stderr and "_delta_log" in r.stderr


def test_3_missing_program(tmp_path):
    env = {"CORPUS_LABEL_STUDIO_BIN": str(tmp_path / "nope" / "label-studio")}
    r = run("labelstudio", "start", "--data-dir", tmp_path / "ls", env=env)
    assert r.exit_code == EXIT_ENVIRONMENT and "[E903]" in r.stderr and "CORPUS_LABEL_STUDIO_BIN" in r.stderr


def test_3_server_that_does_not_answer(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"LABEL_STUDIO_URL": f"http://127.0.0.1:{port}", "LABEL_STUDIO_API_KEY": "x"}
    r = run("status", "--project", "p", "--retry-budget", "0.5", "--json", env=env)
    assert r.exit_code == EXIT_ENVIRONMENT
    (p,) = json.loads(r.stdout)["problems"]
    assert p["code"] == "E503" and "cannot reach Label Studio" in p["message"] and "labelstudio start" in p["fix"]
