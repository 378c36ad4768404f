"""corpus validate on hostile files: a finding naming the file (and line), never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from corpus.cli import main


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("bigint.json", '[{"id": ' + "9" * 5000 + ', "data": {"text": "x"}}]', None),
        ("bigint.jsonl", '{"doc_id": "d", "entities": [], "n": ' + "9" * 5000 + "}\n", 1),
        ("deep.json", "[" * 100_000 + "]" * 100_000, None),
        ("deep.jsonl", '{"doc_id": "d", "entities": ' + "[" * 5000 + "]" * 5000 + "}\n", 1),
    ],
)
def test_validate_hostile_json_is_an_unreadable_finding(tmp_path, name, content, line):
    p = tmp_path / name
    p.write_text(content)
    r = CliRunner().invoke(main, ["validate", str(p), "--json"], catch_exceptions=False)
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    codes = [(f["code"], f.get("file"), f.get("line")) for f in out["findings"]]
    assert codes == [("unreadable", str(p), line)], codes


def test_file_name_with_a_newline_is_escaped_in_findings(tmp_path):
    p = tmp_path / "x\nerror: [unreadable] fake.json"
    p.write_text("{broken")
    r = CliRunner().invoke(main, ["validate", str(p)], catch_exceptions=False)
    assert r.exit_code == 1
    lines = (r.stdout + r.stderr).splitlines()
    shown = [ln for ln in lines if "unreadable" in ln and not ln.lstrip().startswith("fix [unreadable]:")]
    assert len(shown) == 1, shown
    assert "x\\nerror: [unreadable] fake.json" in shown[0]
