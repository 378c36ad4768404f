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


def int_env(name: str, default: int) -> int:
    """A size of the fault suite: bounded defaults (make test), bigger through the environment
    (make faults sets FAULTS_KILLS=10, FAULTS_DOCS=5000)."""
    v = os.environ.get(name, "")
    return int(v) if v.strip().isdigit() else default


def seed_of(name: str) -> int:
    """The suite's seed (FAULTS_SEED, else a fresh one); printed so a failure can be replayed."""
    v = os.environ.get("FAULTS_SEED", "")
    seed = int(v) if v.strip().isdigit() else int.from_bytes(os.urandom(4), "big")
    print(f"[faults] {name}: FAULTS_SEED={seed}")
    return seed


WORDS = (
    "harbour ferry storm council budget election river bridge market school strike court minister "
    "hospital mayor police festival train airport union farmers drought museum"
).split()


def write_articles(path: Path, n: int, seed: int, *, words: int = 60, prefix: str = "a") -> Path:
    """``n`` distinct articles as one JSONL file (ids <prefix>00000..., a title and a body each)."""
    import json
    import random

    rnd = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            body = " ".join(rnd.choice(WORDS) for _ in range(words))
            text = f"Story {i} of {seed}: the {rnd.choice(WORDS)} and the {rnd.choice(WORDS)}. {body}."
            f.write(json.dumps({"id": f"{prefix}{i:05d}", "title": f"Story {i}", "text": text}) + "\n")
    return path


def project_docs(client: Any, project_id: int) -> dict[str, int]:
    """doc_id -> number of tasks carrying it in the project."""
    from collections import Counter

    return dict(Counter(str(m.get("doc_id")) for _, m in client.task_meta(int(project_id))))


def kill_at(args: list[Any], moment: float, env: dict[str, str] | None = None) -> tuple[int, float]:
    """Start ``corpus ARGS`` in a session of its own, SIGKILL its main process ``moment`` seconds
    later (like ``kill -9 PID``; its workers are left to notice), and wait for it. Returns (exit
    code, -9 when the kill hit, seconds it ran). Raises when a process of that session outlives
    it by 20 s: a killed command must not leave processes behind."""
    import signal
    import time

    t0 = time.monotonic()
    p = subprocess.Popen(
        [*CLI, *map(str, args)],
        env=env_for(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        p.wait(timeout=moment)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
    ran = time.monotonic() - t0
    deadline = time.monotonic() + 20
    while True:  # the session's other processes (import workers) must go too
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            raise AssertionError(f"processes of killed `corpus {args[0]}` still running 20 s after the kill")
        time.sleep(0.1)
    return p.returncode, ran


def leftover_files(*folders: Path) -> list[str]:
    """Temporary files of the atomic writer (``.*.tmp``, ``*.tmp``) and hidden export downloads."""
    out = []
    for folder in folders:
        if not folder.exists():
            continue
        for f in folder.rglob("*"):
            if f.is_file() and (f.name.endswith(".tmp") or ".export" in f.name or ".tmp." in f.name):
                out.append(str(f))
    return sorted(out)


def annotated_project(labelstudio: Any, folder: Path, n: int, seed: int, project: str) -> Path:
    """A store of ``n`` articles in ``folder`` and the project ``project`` holding each of them once
    with one annotation (an entity over the first word), imported in one request. Returns the store."""
    from corpus.annotations import lsformat
    from corpus.core import taxonomy
    from corpus.core.model import Annotation, Entity, Span
    from corpus.labelstudio.push import ensure_project, make_task
    from corpus.store.table import CorpusStore

    store = folder / "store"
    assert cli("import", write_articles(folder / "a.jsonl", n, seed), "--store", store).returncode == 0
    tax = taxonomy.load()
    label = tax.entity_labels()[0]
    proj, _ = ensure_project(labelstudio.client, project, taxonomy.labelstudio_config(tax))
    tasks = []
    for art in CorpusStore(str(store)).iter_articles():
        ann = Annotation(art.doc_id, art.text_sha256, "x", [Entity("e1", label, Span.from_offsets(art.text, [(0, 5)]))])
        task = make_task(art, 0, str(tax.version), tax.text)
        task["annotations"] = [{"result": lsformat.to_labelstudio(ann, art.text, tax)}]
        tasks.append(task)
    labelstudio.client.import_tasks(int(proj["id"]), tasks)
    assert sum(project_docs(labelstudio.client, int(proj["id"])).values()) == n
    return store


def tree_digest(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below ``folder``."""
    import hashlib

    return {
        f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }
