"""The server goes away in the middle of a push (SIGKILL of Label Studio at a seeded moment, while
a `corpus push` subprocess is importing batches): the push exits 3 within its retry budget with
its JSON report (pushed + left = planned); after a restart the same push resumes and every
article is in the project exactly once. A server of its own (the session's stays up). Runs in
make faults (FAULTS_FULL=1); make test has the in-process form (tests/labelstudio/test_retry_budget.py)."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import time

import pytest
from faults.faultkit import CLI, cli, env_for, int_env, project_docs, seed_of, write_articles

from corpus.core.errors import EXIT_ENVIRONMENT, LabelStudioError
from corpus.labelstudio import server as lsserver
from corpus.labelstudio.client import LSClient

pytestmark = [
    pytest.mark.faults,
    pytest.mark.labelstudio,
    pytest.mark.skipif(not int_env("FAULTS_FULL", 0), reason="make faults only (FAULTS_FULL=1): starts a server"),
]
BUDGET = 5.0


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
    try:
        yield {"url": info.url, "token": creds.token, "data_dir": data_dir, "port": port, "creds": creds, "bin": binary}
    finally:
        lsserver.stop(data_dir)


def test_push_exits_within_the_budget_when_the_server_is_killed_and_resumes(own_server, tmp_path):
    seed = seed_of("server gone mid-push")
    rnd = random.Random(seed)
    n = int_env("FAULTS_PUSH_DOCS", 200)
    store = tmp_path / "store"
    assert cli("import", write_articles(tmp_path / "a.jsonl", n, seed), "--store", store).returncode == 0
    env = {"LABEL_STUDIO_URL": own_server["url"], "LABEL_STUDIO_API_KEY": own_server["token"]}
    client = LSClient(own_server["url"], own_server["token"])
    args = ["push", "--project", "gone", "--store", str(store), "--batch-size", "10", "--retry-budget", str(BUDGET)]
    p = subprocess.Popen(
        [*CLI, *args, "--json"], env=env_for(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    landed_before = int(rnd.uniform(0.1, 0.7) * n)  # the seeded moment: after this many tasks landed
    deadline = time.monotonic() + 300
    while p.poll() is None and time.monotonic() < deadline:
        proj = client.find_project("gone")
        if proj is not None and client.task_fingerprint(int(proj["id"]))[0] >= landed_before:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the push finished before the server could be killed"
    rec = json.loads((own_server["data_dir"] / lsserver.PID_FILE).read_text())
    os.killpg(int(rec["pid"]), signal.SIGKILL)  # the server and its workers, at once
    t_gone = time.monotonic()
    out, err = p.communicate(timeout=120)
    took = time.monotonic() - t_gone
    print(f"[faults] server killed after >= {landed_before} of {n} tasks: push exit {p.returncode} {took:.1f} s later")
    assert p.returncode == EXIT_ENVIRONMENT, err[-3000:]
    assert "Traceback" not in err and "[E503]" in err
    assert took < BUDGET + 5, took  # the budget, plus one request's floor and the exit
    rep = json.loads(out)
    assert rep["complete"] is False and "retry budget" in rep["stopped"]
    assert rep["pushed"] >= landed_before - 10 and rep["pushed"] + rep["left"] == n, rep

    lsserver.stop(own_server["data_dir"])  # clears the pid file of the killed server
    lsserver.start(own_server["data_dir"], own_server["port"], creds=own_server["creds"], binary=own_server["bin"])
    r = cli(*args, "--json", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads(r.stdout)
    assert again["complete"] is True and again["pushed"] + again["skipped"] == n
    docs = project_docs(client, int(again["project_id"]))
    client.close()
    assert len(docs) == n and set(docs.values()) == {1}  # each article exactly once
