"""Shared fixtures. Sections are owned by the module they serve; keep additions small."""

from __future__ import annotations

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
