"""A server that accepts the connection and never answers (a hung Label Studio): every request
is bounded by what is left of the retry budget, so push and pull stop about when the budget is
spent (exit 3, their JSON report on stdout) instead of waiting out the 300 s HTTP timeout of
each request. A real listening socket on 127.0.0.1, the CLI as a subprocess."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from faults.faultkit import cli

from corpus.core.errors import EXIT_ENVIRONMENT

pytestmark = pytest.mark.faults
BUDGET = 2.0


@pytest.fixture
def hung_server():
    """Accepts connections and reads what is sent, but never writes a byte back."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never answered

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{lsock.getsockname()[1]}", held
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        lsock.close()


@pytest.mark.parametrize("command", ["push", "pull"])
def test_a_hung_server_ends_the_command_within_the_retry_budget(hung_server, tmp_path, command):
    url, held = hung_server
    env = {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "x" * 40}
    if command == "push":
        src = tmp_path / "a.txt"
        src.write_text("Title\nA story about the harbour.")
        assert cli("import", src, "--store", tmp_path / "store").returncode == 0
        args = ["push", "--project", "p", "--store", tmp_path / "store"]
    else:
        args = ["pull", "--project", "p", "--out", tmp_path / "out"]
    t0 = time.monotonic()
    r = cli(*args, "--retry-budget", BUDGET, "--json", env=env, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == EXIT_ENVIRONMENT, r.stderr
    assert held, "the CLI never connected to the hung server"
    assert "Traceback" not in r.stderr and "[E503]" in r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] is False and rep["complete"] is False and "retry budget" in rep["stopped"]
    # budget + the floor of one request + interpreter start-up: far from the 300 s of one request
    assert elapsed < BUDGET + 8, elapsed
    print(f"hung server, {command}: exit {r.returncode} after {elapsed:.1f} s (retry budget {BUDGET:g} s)")
