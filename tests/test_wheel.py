"""A new user's install: the wheel, pip-installed with its dependencies into a fresh venv outside
the checkout, runs the chain from an empty folder (no Label Studio server needed).

The venv is cached under the user cache dir, keyed by the wheel's declared dependencies and the
Python version: a run with unchanged dependencies reuses it, uninstalls the previous newscorpus
and installs the new wheel with pip (which resolves its dependencies, all present already). A
lock file serializes runs that share the cached venv. NEWSCORPUS_WHEEL_TEST_FRESH=1 builds a new
venv in the test's tmp dir instead.
"""

from __future__ import annotations

import email.parser
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

TEXTS = {
    "a.txt": "Strikes hit the base\n\nThe Pentagon said on Monday that coalition jets struck the base.\n",
    "b.txt": "Talks resume\n\nDiplomats from both sides met in Geneva, officials reported.\n",
}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode in ok, f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _build_wheel(tmp: Path) -> Path:
    """``pip wheel --no-deps`` of a copy of the checkout's package files (the build leaves
    build/ and *.egg-info behind, which must not land in the checkout)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "corpus", src / "corpus", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)],
        tmp,
        dict(os.environ),
    )
    (wheel,) = (tmp / "dist").glob("newscorpus-*.whl")
    return wheel


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        msg = email.parser.Parser().parsestr(z.read(meta).decode("utf-8"))
    return sorted(msg.get_all("Requires-Dist") or [])


def _cache_root() -> Path:
    base = os.environ.get("NEWSCORPUS_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newscorpus"
    )
    return Path(base) / "wheel-test"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, env): the wheel installed with its dependencies, nothing of the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp)
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert "corpus/resources/taxonomy.yaml" in names and "corpus/resources/guidelines.md" in names
    assert not any(n.startswith(("schemas/", "tests/", "annotations/")) for n in names)

    key = hashlib.sha256(json.dumps([sys.version_info[:2], _requirements(wheel)]).encode()).hexdigest()[:16]
    fresh = os.environ.get("NEWSCORPUS_WHEEL_TEST_FRESH") == "1"
    home = tmp / "venv-home" if fresh else _cache_root() / key
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith(("CORPUS_", "LABEL_STUDIO_"))
    }
    venv = home / "venv"
    lock = open(home / "lock", "w")  # held until the module's tests are done
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        if not (home / "ready").exists():
            shutil.rmtree(venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(venv)], tmp, env)  # no --system-site-packages
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        _run([*pip, "uninstall", "-y", "-q", "newscorpus"], tmp, env)
        _run([*pip, "install", "-q", str(wheel)], tmp, env)  # with its dependencies
        (home / "ready").touch()
        env = {
            **env,
            "PATH": os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]),
            "HF_HOME": str(tmp / "hf_home"),
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
            "NEWSCORPUS_CONFIG_DIR": str(tmp / "config"),
        }
        yield venv / "bin", env
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def test_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    bin_, env = installed
    r = _run([str(bin_ / "python"), "-c", "import corpus; print(corpus.__file__)"], tmp_path, env)
    assert "site-packages" in r.stdout and str(REPO) not in r.stdout


def test_chain_from_an_empty_folder(installed, tmp_path):
    bin_, env = installed
    corpus = str(bin_ / "corpus")
    work = tmp_path / "empty"
    work.mkdir()
    (work / "in").mkdir()
    for name, text in TEXTS.items():
        (work / "in" / name).write_text(text, encoding="utf-8")

    r = _run([corpus, "import", "in", "--store", "store", "--message", "first", "--json"], work, env)
    assert json.loads(r.stdout)["added"] == 2

    r = _run([corpus, "taxonomy", "check", "--json"], work, env)
    check = json.loads(r.stdout)
    assert check["ok"] is True and "site-packages" in check["folder"] and check["stale"] == []

    _run([corpus, "export", "--store", "store", "--out", "articles.jsonl"], work, env)
    arts = [json.loads(line) for line in (work / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    art = next(a for a in arts if a["text"].startswith("Strikes"))
    text = art["text"]
    start = text.index("The Pentagon") + len("The ")
    record = {
        "task_id": 1,
        "annotation_id": 1,
        "doc_id": art["doc_id"],
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "annotator": "tester@example.invalid",
        "taxonomy_version": "1.0.0",
        "ground_truth": True,
        "entities": [
            {"id": "e1", "label": "ORG", "fragments": [{"start": start, "end": start + 8}], "text": "Pentagon"}
        ],
        "events": [],
        "attributions": [],
    }
    (work / "ann").mkdir()
    (work / "ann" / "gold.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    r = _run([corpus, "validate", "ann/gold.jsonl", "--store", "store", "--json"], work, env)
    v = json.loads(r.stdout)
    assert v["ok"] is True and v["counts"]["records"] == 1 and v["findings"] == []

    r = _run(
        [corpus, "release", "build", "--version", "0.1.0", "--annotations", "ann/gold.jsonl", "--store", "store"]
        + ["--out", "dist", "--json"],
        work,
        env,
    )
    assert (work / "dist" / "newscorpus-0.1.0" / "README.md").is_file()

    load = (
        "import json, sys\n"
        "from datasets import load_dataset\n"
        "docs = load_dataset(sys.argv[1])\n"
        "ner = load_dataset(sys.argv[1], 'ner')\n"
        "rows = [r for s in docs.values() for r in s]\n"
        "names = ner[next(iter(ner))].features['ner_tags'].feature.names\n"
        "tags = sorted({names[t] for s in ner.values() for r in s for t in r['ner_tags']})\n"
        "print(json.dumps({'docs': len(rows), 'entities': [e['text'] for r in rows for e in r['entities']],"
        " 'tags': tags}))\n"
    )
    r = _run([str(bin_ / "python"), "-c", load, "dist/newscorpus-0.1.0"], work, env)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["docs"] == 1 and got["entities"] == ["Pentagon"], got  # only annotated documents ship
    assert got["tags"] == ["B-ORG", "O"], got


def test_brat_import_reads_the_packaged_mapping(installed, tmp_path):
    bin_, env = installed
    (tmp_path / "brat").mkdir()
    (tmp_path / "brat" / "doc1.txt").write_text("Sean Parnell spoke.\n", encoding="utf-8")
    (tmp_path / "brat" / "doc1.ann").write_text("T1\tPER 0 12\tSean Parnell\n", encoding="utf-8")
    r = _run(
        [str(bin_ / "corpus"), "import", "--format", "brat", "brat", "--store", "store"]
        + ["--annotations-out", "ann", "--json"],
        tmp_path,
        env,
    )
    assert json.loads(r.stdout)["added"] == 1
    (snap,) = (tmp_path / "ann").glob("*.jsonl")
    (rec,) = [json.loads(line) for line in snap.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [(e["label"], e["text"]) for e in rec["entities"]] == [("PER", "Sean Parnell")]


def test_import_workers_run_from_the_wheel(installed, tmp_path):
    """One record more than a batch: the importer starts its worker processes (a worker that
    cannot import corpus fails the import)."""
    from corpus.ingest.importer import BATCH

    bin_, env = installed
    n = BATCH + 1
    lines = [
        json.dumps({"id": f"n{i}", "text": f"Report {i} of {i * 7919 % 10007} from desk {i % 13}."}) for i in range(n)
    ]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = _run(
        [str(bin_ / "corpus"), "import", "big.jsonl", "--store", "store", "--id-field", "id", "--json"],
        tmp_path,
        {**env, "CORPUS_IMPORT_WORKERS": "2"},
    )
    report = json.loads(r.stdout)
    assert (report["added"], report["errors"]) == (n, [])


def test_labelstudio_start_without_the_server_says_how_to_install_it(installed, tmp_path):
    bin_, env = installed
    r = _run([str(bin_ / "corpus"), "labelstudio", "start", "--data-dir", "ls"], tmp_path, env, ok=(3,))
    assert "pip install label-studio==" in r.stderr and "CORPUS_LABEL_STUDIO_BIN" in r.stderr
    assert "make install-labelstudio" not in r.stderr and "Traceback" not in r.stderr
