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


# ---------------------------------------------------------------- Label Studio server fixture
