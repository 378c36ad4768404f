"""Shared fixtures. Sections are owned by the module they serve; keep additions small."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POLNEAR = SHARED / "data" / "polnear"
SEED = REPO / "seeds" / "000_b18206fd37d6bce2.txt"


@pytest.fixture(scope="session")
def polnear_dir() -> Path:
    """PolNeAR from ../shared/data/polnear; the test skips cleanly when it is absent."""
    if not (POLNEAR / "train" / "text").is_dir():
        pytest.skip("../shared/data/polnear is absent")
    return POLNEAR


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """A fresh, empty corpus store location."""
    return str(tmp_path / "store")


@pytest.fixture
def hf_offline(tmp_path, monkeypatch):
    """No network, and a private cache: ``load_dataset`` must work from the folder alone."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True, raising=False)
    return tmp_path / "hf_cache"


# ---------------------------------------------------------------- Label Studio server fixture
# One real Label Studio per test session (127.0.0.1, free port, a temporary copy of the migrated
# template data dir cached per LS version, so it starts in seconds). Absent binary: FAIL in CI,
# skip locally.


class LabelStudioHandle:
    """What tests get: url, token, a started client (``client.sdk`` is the raw SDK client)."""

    def __init__(self, url: str, token: str, client, data_dir: Path, username: str):
        self.url, self.token, self.client, self.data_dir, self.username = url, token, client, data_dir, username

    @property
    def env(self) -> dict[str, str]:
        """Environment for a `corpus` subprocess or CliRunner talking to this server."""
        return {"LABEL_STUDIO_URL": self.url, "LABEL_STUDIO_API_KEY": self.token}

    def __repr__(self) -> str:  # never show the token
        return f"LabelStudioHandle({self.url!r})"


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory):
    import os
    import secrets

    from corpus.core.errors import ProgramMissing
    from corpus.labelstudio import server as lsserver

    try:
        binary = lsserver.find_binary()
    except ProgramMissing as e:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"Label Studio server is required in CI: {e}")
        pytest.skip(f"Label Studio server not available: {e.message} ({e.hint})")
    from corpus.labelstudio.client import LSClient

    data_dir = tmp_path_factory.mktemp("labelstudio")
    creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "test")
    info = lsserver.start(data_dir, lsserver.free_port(), creds=creds, binary=binary)
    client = LSClient(info.url, creds.token)
    try:
        yield LabelStudioHandle(info.url, creds.token, client, data_dir, creds.username)
    finally:
        client.close()
        lsserver.stop(data_dir)


# ---------------------------------------------------------------- Chromium (Debian's package) through Playwright
# One session-wide browser: a sync Playwright context runs an event loop for the whole session, so a
# second one (another module's) would fail with "Sync API inside the asyncio loop".

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def find_chromium() -> str | None:
    """$CORPUS_CHROMIUM, else Debian's chromium on PATH (never a Playwright-downloaded browser)."""
    env = os.environ.get("CORPUS_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path:
        return path
    if os.environ.get("CORPUS_CHROMIUM"):
        pytest.fail(f"CORPUS_CHROMIUM={os.environ['CORPUS_CHROMIUM']} is not an executable")
    installable = shutil.which("apt-get") is not None and os.geteuid() == 0
    if _in_ci() and installable:
        pytest.fail("CI: chromium is installable here but missing; `make install-browser` should have installed it")
    pytest.skip("no chromium (install Debian's package: `make install-browser`, or set CORPUS_CHROMIUM)")


@pytest.fixture(scope="session")
def browser(chromium):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------- fault suite (tests/faults)


@pytest.fixture(scope="session")
def annotated(labelstudio, tmp_path_factory):
    """(store, project title, number of tasks): articles in a store and in Label Studio, each
    annotated once; the fault suite's pulls read it, nobody changes it."""
    from faults.faultkit import annotated_project, int_env

    n = int_env("FAULTS_PULL_DOCS", 150)
    folder = tmp_path_factory.mktemp("faults-annotated")
    return annotated_project(labelstudio, folder, n, 15, "faults-annotated"), "faults-annotated", n


# ---------------------------------------------------------------- local Ray cluster (tests/ingest/test_ray_engine.py)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A real two-node Ray cluster on 127.0.0.1: a head and one worker node (``ray start
    --block``, one CPU and a 200 MB object store each), in process groups of our own that
    teardown kills (never ``ray stop``, which stops every Ray of the user). Yields the address.
    No ray installed: skip (fail under CI=true)."""
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    import time

    try:
        import ray  # noqa: F401
    except ImportError:
        if _in_ci():
            pytest.fail("CI: ray is required (make install installs newscorpus[ray])")
        pytest.skip("ray is not installed (pip install 'newscorpus[ray]')")
    ray_bin = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short: Ray's socket paths have a length limit
    # no PYTHONPATH to the checkout: the workers get corpus from the driver's runtime environment
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    env.pop("PYTHONPATH", None)
    common = ["--num-cpus=1", "--object-store-memory=200000000", "--block", "--disable-usage-stats"]
    procs = []
    log = tmp_path_factory.mktemp("ray-logs")

    def start(args, name):
        out = open(log / f"{name}.log", "wb")
        procs.append(
            subprocess.Popen(
                [ray_bin, "start", *args, *common], env=env, stdout=out, stderr=out, start_new_session=True
            )
        )

    def alive_nodes() -> int:
        r = subprocess.run(
            [sys.executable, "-c", f"import ray; ray.init(address='{address}', log_to_driver=False); "
             "print(sum(n['Alive'] for n in ray.nodes()))"],  # fmt: skip
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else 0

    try:
        start(
            [
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                "--include-dashboard=false",
                f"--temp-dir={temp}",
            ],
            "head",
        )
        deadline = time.time() + 120
        while True:
            time.sleep(2)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or procs[0].poll() is not None:
                    pytest.fail(f"the Ray head did not start: see {log / 'head.log'}")
        start([f"--address={address}", "--node-ip-address=127.0.0.1"], "worker")
        while alive_nodes() < 2:
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail(f"the Ray worker node did not join: see {log}")
            time.sleep(1)
        saved = os.environ.get("RAY_AUTH_MODE")
        os.environ["RAY_AUTH_MODE"] = "disabled"  # drivers of this process and its children: as the cluster
        try:
            yield address
        finally:
            if saved is None:
                os.environ.pop("RAY_AUTH_MODE", None)
            else:
                os.environ["RAY_AUTH_MODE"] = saved
    finally:
        for p in reversed(procs):  # SIGKILL: SIGTERM would drain for 30 s first
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        shutil.rmtree(temp, ignore_errors=True)
