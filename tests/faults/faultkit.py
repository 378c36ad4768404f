"""Helpers of the fault suite: the CLI as a subprocess, seeded kills, leftover checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from corpus.cli import main; main()"]


def env_for(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return {**env, **(extra or {})}


def cli(*args: Any, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``corpus ARGS`` in a fresh interpreter; stdout and stderr captured as text."""
    return subprocess.run([*CLI, *map(str, args)], env=env_for(env), capture_output=True, text=True, timeout=timeout)
