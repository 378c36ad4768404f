"""The hostile inputs of #15 all in one folder, imported and validated by the CLI as a subprocess:
exit 1 (finished, problems reported), no traceback, the good records kept, every problem coded
and located (file, and line where there is one). The single cases are in tests/ingest/test_hostile.py
and tests/annotations/test_validate_hostile.py; here they meet each other in one run."""

from __future__ import annotations

import json
import os

import pytest
from faults.faultkit import cli

from corpus.core.errors import EXIT_PROBLEMS
from corpus.store.table import CorpusStore

pytestmark = pytest.mark.faults
GOOD = "A good article about the harbour, the ferry and the storm that closed them both."


def good_line(i: int) -> str:
    return json.dumps({"id": f"g{i}", "text": f"{GOOD} Number {i}."}) + "\n"


def test_every_hostile_input_in_one_import_and_one_validate(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "deep.jsonl").write_text(good_line(1) + '{"id": "deep", "text": ' + "[" * 1000 + "]" * 1000 + "}\n")
    (src / "bigint.jsonl").write_text(good_line(2) + '{"id": ' + "9" * 5000 + ', "text": "x y z"}\n')
    (src / "sur.jsonl").write_text(good_line(3) + '{"id": "bad \\ud800 id", "text": "' + GOOD + '"}\n')
    os.symlink("b.txt", src / "a.txt")
    os.symlink("a.txt", src / "b.txt")
    (src / "x\nerror: fake.txt").write_bytes(b"\x00\x01")
    (src / "good.txt").write_text("Title\n" + GOOD)
    store = tmp_path / "store"
    r = cli("import", src, "--store", store, "--json")
    assert r.returncode == EXIT_PROBLEMS, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    rep = json.loads(r.stdout)
    keys = sorted(d["source_key"] for d in CorpusStore(str(store)).list_docs())
    assert keys == ["g1", "g2", "g3", "good.txt"]  # every good record kept
    found = sorted((os.path.basename(e["file"]), e["line"], e["code"]) for e in rep["errors"])
    assert found == [
        ("a.txt", None, "symlink_loop"),
        ("b.txt", None, "symlink_loop"),
        ("bigint.jsonl", 2, "malformed_json"),
        ("deep.jsonl", 2, "malformed_json"),
        ("sur.jsonl", 2, "lone_surrogate"),
        ("x\\nerror: fake.txt", None, "binary_file"),
    ], found
    fake = [ln for ln in r.stderr.splitlines() if ln.lstrip().startswith("error: fake")]
    assert fake == []  # the file name with a newline cannot fake an error line

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "bigint.jsonl").write_text('{"doc_id": "d", "entities": [], "n": ' + "9" * 5000 + "}\n")
    (bad / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    r = cli("validate", bad / "bigint.jsonl", bad / "deep.json", "--json")
    assert r.returncode == EXIT_PROBLEMS and "Traceback" not in r.stderr, r.stderr[-3000:]
    codes = sorted((f["code"], os.path.basename(f["file"])) for f in json.loads(r.stdout)["findings"])
    assert codes == [("unreadable", "bigint.jsonl"), ("unreadable", "deep.json")], codes
