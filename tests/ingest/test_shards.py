"""Big JSONL files read by the import workers themselves, in line ranges ("shards"): the same
report, the same stored rows and the same fingerprints as reading them in the importing process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest.test_ingest import article_text

from corpus.ingest import importer
from corpus.ingest.readers import ReadOptions, jsonl
from corpus.store.table import CorpusStore


def hostile_jsonl(path: Path, n: int = 120, seed: int = 0, edited: tuple[int, ...] = ()) -> Path:
    """Records with every line-level case the reader knows, spread over many shards."""
    lines: list[bytes] = []
    base = article_text(4000 + seed)
    for i in range(n):
        rec = {
            "id": f"r{i}",
            "title": f"T{i}",
            "text": article_text(seed * 1000 + i) + (" edited" if i in edited else ""),
        }
        if i % 17 == 3:
            rec["text"] = base  # exact duplicates (the first one kept)
        if i % 23 == 5:
            rec["text"] = base.replace("vote", "ballot", 1) + " extra"  # near-duplicates
        lines.append(json.dumps(rec, ensure_ascii=i % 2 == 0).encode("utf-8"))
        if i % 11 == 0:
            lines.append(b"")  # blank line
        if i % 13 == 0:
            lines.append(b"   \t ")  # whitespace only
        if i % 19 == 0:
            lines.append(b'{"id": "bad", "text": ')  # malformed
        if i % 29 == 0:
            lines.append(b"[1, 2]")  # not an object
        if i % 31 == 0:
            lines.append(json.dumps({"id": f"r{i // 2}", "text": "repeated id, later"}).encode())
        if i % 37 == 0:
            lines.append(json.dumps({"id": f"e{i}", "text": "  "}).encode())  # empty text
        if i % 41 == 0:
            lines.append(json.dumps({"id": f"l{i}", "text": "caf\xe9 " + article_text(i)}).encode("latin-1"))
        if i % 43 == 0:
            lines.append(json.dumps({"id": f"x{i}", "text": "x" * 5000}).encode())  # over max_bytes
        if i % 47 == 0:
            lines.append(json.dumps({"id": f"c{i}", "text": article_text(7000 + i)}).encode() + b"\r")  # CRLF
        if i % 53 == 0:
            lines.append(b'{"id": "s%d",\r "text": "a stray CR between tokens"}' % i)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines))  # a BOM, and no newline at the end
    return path


def _import(paths: list[Path], store: CorpusStore, monkeypatch, *, shards: bool) -> dict:
    monkeypatch.setattr(importer, "SHARD_BYTES", 3000 if shards else 1 << 40)
    monkeypatch.setattr(importer, "BATCH", 25)  # record batches go to the workers too
    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "2")
    r = importer.import_paths(paths, store, message="m", max_bytes=4000)
    d = r.to_dict()
    d.pop("message", None)
    return d


def _rows(store: CorpusStore) -> list[tuple]:
    cols = ["doc_id", "source_key", "text", "title", "raw_sha256", "minhash", "near_dup_cluster", "meta"]
    return sorted(tuple(r[c] for c in cols) for b in store.iter_batches(None, cols, 1000) for r in b.to_pylist())


def test_ranges_cover_every_line_once(tmp_path):
    p = hostile_jsonl(tmp_path / "a.jsonl")
    parts = list(jsonl.plan_ranges(p, "a.jsonl", 4000, 3000))
    ranges = [x for x in parts if isinstance(x, jsonl.Range)]
    too_long = [x for x in parts if not isinstance(x, jsonl.Range)]
    assert len(ranges) > 20 and too_long  # many shards, and the long lines cut out of them
    # consecutive line numbers and bytes: every line in exactly one range or reported
    line, total = 1, 0
    for part in parts:
        if isinstance(part, jsonl.Range):
            assert part.first_line == line
            line += part.lines
            total += part.end - part.start
        else:
            assert part[0] == line and part[1].code == "line_too_long"
            line += 1
    assert line - 1 == p.read_bytes().count(b"\n") + 1
    opts = ReadOptions(max_bytes=4000)
    sharded = [
        (r.first_line + i, getattr(item, "source_key", None) or item.code)
        for r in ranges
        for i, item in jsonl.read_range(p, r, opts, "a.jsonl", "a.jsonl")
    ] + [(n, prob.code) for n, prob in too_long]
    whole = [
        (item.line, getattr(item, "source_key", None) or item.code)
        for item in jsonl.read(p, "a.jsonl", opts, "a.jsonl")
    ]
    assert sorted(sharded) == sorted(whole)


@pytest.mark.slow
def test_sharded_import_equals_the_sequential_one(tmp_path, monkeypatch):
    big, other = hostile_jsonl(tmp_path / "in" / "big.jsonl"), tmp_path / "in" / "small.jsonl"
    big.parent.mkdir(exist_ok=True)
    # a later file repeating ids of the big one: the first record of a key (in big.jsonl) is kept
    other.write_text("\n".join(json.dumps({"id": f"r{i}", "text": f"later {i}"}) for i in range(0, 40, 7)) + "\n")
    results = {}
    for shards in (False, True):
        store = CorpusStore(tmp_path / f"store-{shards}")
        first = _import([big.parent], store, monkeypatch, shards=shards)
        # an update: changed and unchanged records of a re-read file (raw-hash admission)
        big2 = hostile_jsonl(tmp_path / "v2" / "big.jsonl", edited=(8, 60, 100))  # one path: equal reports
        big2.write_bytes(big2.read_bytes().replace(b'"id": "r9",', b'"id": "r9x",'))
        second = _import([big2.parent], store, monkeypatch, shards=shards)
        again = _import([big2.parent], store, monkeypatch, shards=shards)  # fingerprint: skipped
        results[shards] = (first, second, again, _rows(store))
    for a, b in zip(results[False], results[True]):
        assert a == b
    first, second, again, rows = results[True]
    codes = {e["code"] for e in first["errors"]}
    assert {"malformed_json", "not_json_object", "repeated_source_key", "empty_text", "line_too_long"} <= codes
    assert first["duplicates"] >= 5 and first["near_duplicates"] >= 3 and first["added"] > 100
    repeated = [e["file"] for e in first["errors"] if e["code"] == "repeated_source_key"]
    assert sum(f.endswith("small.jsonl") for f in repeated) == 6  # r0, r7, ... r35: big.jsonl came first
    assert (second["updated"], second["added"]) == (3, 0) and second["unchanged"] > 90
    assert any(d["source_key"] == "r9x" for d in second["duplicate_of"])  # r9's text under a new id
    assert again["files_skipped"] == 0  # the file had problems: read again, all unchanged
    assert again["unchanged"] == second["unchanged"] + second["updated"] + second["added"]


@pytest.mark.slow
def test_skipped_sharded_file_counts_its_records_not_its_lines(tmp_path, monkeypatch):
    p = tmp_path / "in" / "clean.jsonl"
    p.parent.mkdir()
    recs = [json.dumps({"id": f"k{i}", "text": article_text(i)}) for i in range(60)]
    p.write_text("\n\n".join(recs) + "\n\n\n")  # blank lines between and after
    store = CorpusStore(tmp_path / "s")
    first = _import([p], store, monkeypatch, shards=True)
    again = _import([p], store, monkeypatch, shards=True)
    assert first["added"] == 60 and first["errors"] == []
    assert again["files_skipped"] == 1 and again["unchanged"] == 60


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)


@given(obj=st.dictionaries(st.text(max_size=8), _json_values, max_size=6), ascii_only=st.booleans())
@settings(max_examples=300, deadline=None)
def test_fast_json_parse_is_jsons(obj, ascii_only):
    """orjson's parse is used only when it equals json's (big integers, NaN, surrogates: json's)."""
    raw = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    fast = jsonl._fast_loads(raw)
    if fast is not None:
        assert repr(fast) == repr(json.loads(raw.decode("utf-8", "surrogatepass")))


def test_fast_json_parse_leaves_the_hard_cases_to_json():
    for raw in [
        b'{"a": 123456789012345678901234567890}',
        b'{"a": NaN}',
        b'{"a": "\\ud800"}',
        b"\xef\xbb\xbf{}",
        b"[" * 500 + b"]" * 500,
    ]:
        assert jsonl._fast_loads(raw) is None
    assert jsonl._fast_loads(b'{"a": [1, 2.5, "x"]}\r\n') == {"a": [1, 2.5, "x"]}


def _decided(paths: list[Path], store: CorpusStore, monkeypatch, *, workers: int) -> dict:
    monkeypatch.setattr(importer, "SHARD_BYTES", 3000)
    monkeypatch.setattr(importer, "BATCH", 25)
    monkeypatch.setattr(importer.diskindex, "RUN", 60)  # many rounds: decided while later ones are read
    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", str(workers))
    d = importer.import_paths(paths, store, message="m", max_bytes=4000).to_dict()
    d.pop("message", None)
    return d


@pytest.mark.slow
def test_deciding_while_reading_equals_deciding_after_it(tmp_path, monkeypatch):
    """Worker processes: rounds are decided and written while the import reads (``_Pipeline``);
    in one process: all decided after reading. Same reports, same rows, and no file left over."""
    big = hostile_jsonl(tmp_path / "in" / "big.jsonl", n=300)
    big2 = hostile_jsonl(tmp_path / "v2" / "big.jsonl", n=300, edited=(8, 60, 100, 250))
    started = []
    start = importer._Pipeline._start
    monkeypatch.setattr(importer._Pipeline, "_start", lambda self, report: started.append(1) or start(self, report))
    out = {}
    for workers in (0, 2):
        store = CorpusStore(tmp_path / f"store-{workers}")
        first = _decided([big.parent], store, monkeypatch, workers=workers)
        second = _decided([big2.parent], store, monkeypatch, workers=workers)  # updates: files rewritten
        out[workers] = (first, second, _rows(store))
        assert store.vacuum(dry_run=True) == []
    assert out[0] == out[2]
    assert len(started) == 2  # both imports with workers decided while reading, none without
    first, second, _ = out[2]
    assert first["duplicates"] >= 10 and first["near_duplicates"] >= 6 and second["updated"] == 4


@pytest.mark.slow
def test_an_import_that_loses_the_race_decides_again_from_its_staged_rows(tmp_path, monkeypatch):
    """Another import commits while a big one reads: the files the big one wrote are deleted, its
    rows are decided again against the new version (attempt 2), and nothing is lost or left over."""
    big = hostile_jsonl(tmp_path / "in" / "big.jsonl", n=200)
    rival = tmp_path / "rival.jsonl"
    texts = [json.loads(line)["text"] for line in big.read_bytes()[3:].splitlines()[:40] if b'"title"' in line]
    texts = list(dict.fromkeys(texts))[:10]  # distinct: each rival record is stored
    rival.write_text("".join(json.dumps({"id": f"rival{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    store = CorpusStore(tmp_path / "store")
    commit = importer._Pipeline.commit

    def rival_commits_first(self, report, message):
        if self.planner is None:  # the rival itself (one process)
            return commit(self, report, message)
        monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "0")
        assert importer.import_paths([rival], store, message="rival").created
        monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "2")
        return commit(self, report, message)

    monkeypatch.setattr(importer._Pipeline, "commit", rival_commits_first)
    attempts = []
    plan_and_commit = importer._plan_and_commit
    monkeypatch.setattr(
        importer, "_plan_and_commit", lambda *a, **k: attempts.append(k.get("first")) or plan_and_commit(*a, **k)
    )
    got = _decided([big], store, monkeypatch, workers=2)
    assert attempts == [1, 2] and got["created"] and got["version"] == 1  # the rival's, then ours from attempt 2
    assert got["duplicates"] >= 10  # the rival's texts, stored first, make ten of ours duplicates
    assert {d["duplicate_of"] for d in got["duplicate_of"]} >= {
        importer.make_doc_id(f"rival{i}") for i in range(len(texts))
    }
    assert store.vacuum(dry_run=True) == []  # the lost attempt's files were deleted
    monkeypatch.setattr(importer._Pipeline, "commit", commit)
    clean = CorpusStore(tmp_path / "clean")
    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "0")
    importer.import_paths([rival], clean, message="rival")
    expected = _decided([big], clean, monkeypatch, workers=0)
    assert {k: v for k, v in got.items() if k != "attempts"} == {k: v for k, v in expected.items() if k != "attempts"}
    assert _rows(store) == _rows(clean)


@pytest.mark.slow
def test_an_import_killed_while_writing_leaves_the_previous_version(tmp_path):
    """kill -9 once the data files of a big import are being written (decided while reading):
    the store stays at its previous version, vacuum finds exactly those files, a rerun converges."""
    import os
    import signal
    import subprocess
    import sys
    import time

    big, small = _big_and_small(tmp_path, 12000, 50_000)
    uri = tmp_path / "store"
    importer.import_paths([small], CorpusStore(uri), message="m")
    before = _rows(CorpusStore(uri))
    env = {**os.environ, "CORPUS_IMPORT_WORKERS": "2", "CORPUS_IMPORT_INDEX": "memory"}  # memory: a round per batch
    args = [sys.executable, "-c", "from corpus.cli import main; main()", "import", str(big), "--store", str(uri)]
    proc = subprocess.Popen([*args, "-m", "m"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    old = {p for p in uri.rglob("*.parquet")}
    deadline = time.monotonic() + 120
    while not (set(uri.rglob("*.parquet")) - old) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the import ended before its files were written"
    st = CorpusStore(uri)
    assert st.latest_version() == 0 and _rows(st) == before
    orphans = st.vacuum(dry_run=True)
    assert orphans and all(f.endswith(".parquet") for f in orphans)
    r = subprocess.run([*args, "--json", "-m", "m"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["added"] == 11999 and st.latest_version() == 1
    clean = CorpusStore(tmp_path / "clean")
    importer.import_paths([small], clean, message="m")
    importer.import_paths([big], clean, message="m")
    assert _rows(st) == _rows(clean)
    assert sorted(st.vacuum()) == sorted(orphans)  # leftovers: exactly the killed run's files
    assert _rows(st) == _rows(clean)


def _big_and_small(tmp_path: Path, n: int, first: int) -> tuple[Path, Path]:
    """A JSONL file of ``n`` ~2 KB records (keys k0...), and one holding its first record."""
    big = tmp_path / "big.jsonl"
    with open(big, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"k{i}", "text": article_text(first + i, 300)}) + "\n")
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"id": "k0", "text": article_text(first, 300)}) + "\n")
    return big, small


def _children_of(pid: int) -> list[int]:
    """Process ids of ``pid``'s children (Linux: /proc/PID/task/*/children)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(k) for k in (task / "children").read_text().split()]
        except OSError:  # (a thread that just ended)
            continue
    return out


def _descendants(pid: int) -> list[int]:
    return [d for k in _children_of(pid) for d in (k, *_descendants(k))]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_forked_from_one_process_and_a_killed_one_fails_the_import(tmp_path, monkeypatch):
    """Three workers: one process started, two forked from it (start-up paid once). Killing a
    forked worker ends the import with an error (its pipe reaches EOF: no hang), and the store
    keeps its version."""
    import os
    import signal
    import threading
    import time

    from corpus.core.errors import StoreError

    big, small = _big_and_small(tmp_path, 40000, 90_000)
    store = CorpusStore(tmp_path / "store")
    importer.import_paths([small], store, message="m")
    monkeypatch.setenv("CORPUS_IMPORT_WORKERS", "3")
    got: dict = {}

    def run() -> None:
        try:
            got["report"] = importer.import_paths([big], CorpusStore(tmp_path / "store"), message="m")
        except BaseException as e:  # noqa: BLE001 (the test looks at it)
            got["error"] = e

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and t.is_alive():
        started = [
            p for p in _descendants(os.getpid()) if b"corpus.ingest.worker" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        if started:
            workers = started
            if len(workers) == 3:
                break
        time.sleep(0.01)
    assert len(workers) == 3, f"expected a started worker and two forked ones, saw {workers}"
    template = [p for p in workers if p in _children_of(os.getpid())]
    assert len(template) == 1, "one worker started by the importer, the others forked from it"
    forked = [p for p in workers if p not in template]
    os.kill(forked[0], signal.SIGKILL)
    t.join(120)
    assert not t.is_alive(), "the import hung after a worker was killed"
    assert "report" not in got, "the import finished before the worker was killed: make the input bigger"
    assert isinstance(got["error"], StoreError) and "worker" in str(got["error"])
    st = CorpusStore(tmp_path / "store")
    assert st.latest_version() == 0 and len(_rows(st)) == 1
    assert not [p for p in workers if Path(f"/proc/{p}").exists()], "worker processes left behind"


def test_workers_start_before_a_new_big_file_is_hashed_and_not_for_an_unchanged_one(tmp_path, monkeypatch):
    """Their start-up overlaps the pass that hashes and cuts the file; a file the store's
    fingerprints will skip (same size, then same hash) starts none."""
    from corpus.ingest import fingerprints

    p, _ = _big_and_small(tmp_path, 60, 0)  # no problem in it: its fingerprint is kept
    events: list[str] = []
    start, digest = importer._Builder.start, fingerprints.content_hash

    def spy_start(self):
        if not self.procs:
            events.append("start")
        start(self)

    monkeypatch.setattr(importer._Builder, "start", spy_start)
    monkeypatch.setattr(fingerprints, "content_hash", lambda path: events.append("hash") or digest(path))
    store = CorpusStore(tmp_path / "store")
    first = _import([p], store, monkeypatch, shards=True)
    assert first["added"] == 60 and events == ["start", "hash"]
    events.clear()
    again = _import([p], store, monkeypatch, shards=True)
    assert again["files_skipped"] == 1 and events == ["hash"]  # hashed to be sure, read by nobody
