"""Bounded waiting: a push whose server goes away mid-push stops within its retry budget, prints
its report (what was done, what is left) and exits 3; after a restart the same push resumes and
every document is in the project exactly once. Runs its own server (the session one stays up)."""

from __future__ import annotations

import json
import random
import secrets
import time

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.errors import EXIT_ENVIRONMENT, LabelStudioError
from corpus.ingest.importer import import_paths
from corpus.labelstudio import push as pushmod
from corpus.labelstudio import server as lsserver
from corpus.labelstudio.client import LSClient, RetryBudget, RetryBudgetSpent
from corpus.store.table import CorpusStore

pytestmark = pytest.mark.labelstudio

WORDS = "harbour ferry storm council budget election river bridge market school strike court".split()
N_DOCS, BATCH, BUDGET = 60, 10, 4.0


@pytest.fixture
def own_server(tmp_path):
    try:
        binary = lsserver.find_binary()
    except LabelStudioError as e:
        pytest.skip(f"Label Studio server not available: {e.message}")
    data_dir = tmp_path / "ls"
    creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "test")
    port = lsserver.free_port()
    info = lsserver.start(data_dir, port, creds=creds, binary=binary)
    handle = {
        "url": info.url,
        "token": creds.token,
        "data_dir": data_dir,
        "port": port,
        "creds": creds,
        "binary": binary,
    }
    try:
        yield handle
    finally:
        lsserver.stop(data_dir)


def corpus(tmp_path) -> CorpusStore:
    rnd = random.Random(15)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(N_DOCS):
        body = " ".join(rnd.choice(WORDS) for _ in range(40))
        (src / f"d{i:03d}.txt").write_text(f"Story {i}\nStory {i} {secrets.token_hex(4)}: {body}.")
    st = CorpusStore(str(tmp_path / "store"))
    assert import_paths([src], st).added == N_DOCS
    return st


def test_budget_is_charged_and_then_spent():
    b = RetryBudget(0.05)
    err = pushmod.LabelStudioUnavailable("down")
    b.wait(0.03, err)
    b.wait(1.0, err)  # sleeps only what is left
    assert b.left == 0
    with pytest.raises(RetryBudgetSpent, match="retry budget"):
        b.wait(0.01, err)


def test_push_to_a_server_that_goes_away_stops_within_budget_and_resumes(own_server, tmp_path, monkeypatch):
    st = corpus(tmp_path)
    env = {"LABEL_STUDIO_URL": own_server["url"], "LABEL_STUDIO_API_KEY": own_server["token"]}
    send = pushmod.Importer.send
    calls = []

    def send_then_kill(self, tasks):
        send(self, tasks)
        calls.append(len(tasks))
        if len(calls) == 2:  # two batches are in: the server goes away
            lsserver.stop(own_server["data_dir"])
            self.t_stop = time.monotonic()
            calls.append(self)

    monkeypatch.setattr(pushmod.Importer, "send", send_then_kill)
    args = ["push", "--project", "budget", "--store", st.uri, "--batch-size", BATCH, "--retry-budget", BUDGET]
    t0 = time.monotonic()
    r = CliRunner(env=env).invoke(main, [str(a) for a in args] + ["--json"])
    elapsed = time.monotonic() - t0
    assert r.exit_code == EXIT_ENVIRONMENT, r.output
    assert "Traceback" not in r.output
    stopped_for = time.monotonic() - calls[2].t_stop
    assert stopped_for < BUDGET + 10, (stopped_for, elapsed)  # the budget, plus failing requests' own time
    rep = json.loads(r.stdout)
    assert rep["complete"] is False and "retry budget" in rep["stopped"]
    assert rep["pushed"] == 2 * BATCH and rep["left"] == N_DOCS - 2 * BATCH
    assert "E503" in r.stderr and "resumes" in r.stderr

    monkeypatch.setattr(pushmod.Importer, "send", send)
    lsserver.start(own_server["data_dir"], own_server["port"], creds=own_server["creds"], binary=own_server["binary"])
    r = CliRunner(env=env).invoke(main, [str(a) for a in args] + ["--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert (rep["pushed"], rep["skipped"], rep["complete"]) == (N_DOCS - 2 * BATCH, 2 * BATCH, True)
    client = LSClient(own_server["url"], own_server["token"])
    proj = client.find_project("budget")
    ids = [m["doc_id"] for _, m in client.task_meta(int(proj["id"]))]
    assert len(ids) == len(set(ids)) == N_DOCS  # each document exactly once
    client.close()


def test_pull_from_a_dead_server_reports_and_exits_3(own_server, tmp_path):
    env = {"LABEL_STUDIO_URL": own_server["url"], "LABEL_STUDIO_API_KEY": own_server["token"]}
    lsserver.stop(own_server["data_dir"])
    t0 = time.monotonic()
    r = CliRunner(env=env).invoke(
        main, ["pull", "--project", "x", "--out", str(tmp_path / "o"), "--retry-budget", "2", "--json"]
    )
    assert r.exit_code == EXIT_ENVIRONMENT, r.output
    assert time.monotonic() - t0 < 15
    assert json.loads(r.stdout)["complete"] is False


def test_start_reuse_right_after_a_kill_agrees_with_status(own_server):
    """kill -9 of the server: its pid lingers (a zombie until reaped, a socket in the backlog)
    for a moment; ``start --reuse`` and ``status`` share one liveness check and both say "not
    running" at once."""
    import os
    import signal
    import socket

    rec = json.loads((own_server["data_dir"] / lsserver.PID_FILE).read_text())
    os.kill(int(rec["pid"]), signal.SIGKILL)
    st = lsserver.status(own_server["data_dir"])
    assert st["running"] is False, st
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    args = ["labelstudio", "start", "--reuse", "--data-dir", str(own_server["data_dir"]), "--json"]
    r = CliRunner().invoke(main, [*args, "--port", str(busy.getsockname()[1])])
    busy.close()
    assert "reused" not in r.output, r.output  # it tries to start (on a busy port: an error, not a reuse)
    assert r.exit_code != 0 and "already in use" in r.output
