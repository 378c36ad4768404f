"""--taxonomy / CORPUS_TAXONOMY: declared once, on every command, and it reaches the library."""

from __future__ import annotations

import hashlib
import json

import click
import yaml
from click.testing import CliRunner
from conftest import REPO

from corpus.cli import main
from corpus.cli.options import commands
from corpus.core import taxonomy


def _walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_every_command_takes_taxonomy():
    walked = list(_walk(main))
    assert len(walked) >= 20 and {c for _, c in walked} == set(commands(main))
    for path, cmd in walked:
        opts = [p for p in cmd.params if isinstance(p, click.Option) and "--taxonomy" in p.opts]
        assert len(opts) == 1, " ".join(path)
        assert opts[0].envvar == "CORPUS_TAXONOMY" and opts[0].is_eager, " ".join(path)
    r = CliRunner().invoke(main, ["taxonomy", "check", "--help"])
    assert "--taxonomy FILE" in r.output and "CORPUS_TAXONOMY" in r.output


def test_taxonomy_reaches_the_command_and_ends_with_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUS_TAXONOMY", raising=False)
    d = yaml.safe_load((REPO / "schemas" / "taxonomy.yaml").read_text(encoding="utf-8"))
    d["entities"] = [e for e in d["entities"] if e["name"] != "FAC"]
    d["events"]["types"] = [
        {**t, "roles": {r: [x for x in v if x != "FAC"] for r, v in t["roles"].items()}} for t in d["events"]["types"]
    ]
    own = tmp_path / "nofac.yaml"
    own.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    text = "Camp Lejeune is big."
    rec = {
        "task_id": 1,
        "annotation_id": 1,
        "doc_id": "a54d959b15f64205",
        "text": text,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "annotator": "me",
        "taxonomy_version": d["version"],
        "entities": [{"id": "e1", "label": "FAC", "fragments": [{"start": 0, "end": 12}], "text": "Camp Lejeune"}],
        "events": [],
        "attributions": [],
    }
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    default = CliRunner().invoke(main, ["validate", str(f), "--json"])
    assert default.exit_code == 0 and json.loads(default.output)["findings"] == [], default.output
    own_run = CliRunner().invoke(main, ["validate", str(f), "--json", "--taxonomy", str(own)])
    assert own_run.exit_code == 1, own_run.output
    assert [(x["region_id"], x["code"]) for x in json.loads(own_run.output)["findings"]] == [("e1", "unknown_label")]
    assert taxonomy.default_path() == taxonomy.DEFAULT_PATH  # the selection ended with the command
    r = CliRunner().invoke(main, ["validate", str(f), "--taxonomy", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "does not exist" in r.output
