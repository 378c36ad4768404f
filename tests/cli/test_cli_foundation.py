"""CLI foundation commands through click's CliRunner, checked against the store."""

from __future__ import annotations

import json

import click
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import SEED

from corpus.cli import main
from corpus.core.model import make_doc_id
from corpus.store.table import CorpusStore


def run(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    return result


def jrun(*args, code=0, env=None):
    r = run(*args, "--json", env=env)
    assert r.exit_code == code, r.output + r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "one.txt").write_text("First title\nThe first article, about the river and the bridge.")
    (d / "two.txt").write_text("Second title\nThe second article, about the market and prices.")
    return d


def test_import_json_contract_and_exit_codes(src, store_uri):
    out = jrun("import", src, "--store", store_uri, "--source", "t", "-m", "first import")
    assert {
        k: out[k] for k in ("version", "added", "updated", "unchanged", "duplicates", "near_duplicates", "errors")
    } == {"version": 0, "added": 2, "updated": 0, "unchanged": 0, "duplicates": 0, "near_duplicates": 0, "errors": []}
    again = jrun("import", src, "--store", store_uri, "--source", "t")
    assert (again["version"], again["unchanged"], again["created"]) == (0, 2, False)
    r = run("import", src, "--store", store_uri, "--source", "t")
    assert r.exit_code == 0 and "nothing new, no version created" in r.stdout and "stays at version 0" in r.stdout

    (src / "bad.jsonl").write_text('{"text": "ok", "id": "1"}\nnot json\n')
    bad = jrun("import", src, "--store", store_uri, "--source", "t", code=1)
    assert bad["added"] == 1 and bad["version"] == 1
    (e,) = bad["errors"]
    assert (e["code"], e["severity"], e["file"], e["line"]) == ("malformed_json", "error", str(src / "bad.jsonl"), 2)
    assert e["message"].startswith("malformed JSON") and e["fix"]
    r = run("import", src / "bad.jsonl", "--store", store_uri)
    assert r.exit_code == 1 and "bad.jsonl:2" in r.stderr

    assert run("import", src, "--store", store_uri, "--format", "pdf").exit_code == 2
    assert run("import", src / "missing", "--store", store_uri).exit_code == 2
    assert run("import", src, "--store", store_uri, "--annotations-out", "x").exit_code == 2


def test_field_options_and_metadata(tmp_path, store_uri):
    p = tmp_path / "a.csv"
    p.write_text("ref,story,hed,when\nA1,Some story text here.,The Hed,2024-05-01\n")
    out = jrun(
        "import",
        p,
        "--store",
        store_uri,
        "--source",
        "s",
        "--id-field",
        "ref",
        "--text-field",
        "story",
        "--title-field",
        "hed",
        "--date-field",
        "when",
    )
    assert out["added"] == 1
    a = CorpusStore(store_uri).get(make_doc_id("s:A1"))
    assert (a.title, a.published, a.text) == ("The Hed", "2024-05-01", "Some story text here.")

    d = tmp_path / "txt"
    d.mkdir()
    (d / "f1.txt").write_text("line one\nbody")
    md = tmp_path / "metadata.tsv"
    md.write_text("filename\ttitle\tpublisher\tpublication_date\nf1\tReal Title\tpub\t2016-01-01\n")
    jrun("import", d, "--store", store_uri, "--metadata", md)
    b = CorpusStore(store_uri).get(make_doc_id("f1.txt"))
    assert (b.title, b.published, b.meta["publisher"]) == ("Real Title", "2016-01-01", "pub")


def test_log_diff_show_ls_tag_vacuum_export(src, store_uri, tmp_path):
    jrun("import", src, "--store", store_uri, "-m", "v0 message")
    (src / "one.txt").write_text("First title\nThe first article, corrected: about the river only.")
    (src / "three.txt").write_text("Third title\nA third article about the school and the council.")
    jrun("import", src, "--store", store_uri, "-m", "v1 message")
    one, three = make_doc_id("one.txt"), make_doc_id("three.txt")

    log = jrun("log", "--store", store_uri)["versions"]
    assert [(v["version"], v["message"], v["added"], v["updated"]) for v in log] == [
        (0, "v0 message", 2, 0),
        (1, "v1 message", 1, 1),
    ]
    r = run("log", "--store", store_uri)
    assert r.exit_code == 0 and "v1 message" in r.stdout and "added 1, updated 1" in r.stdout

    d = jrun("diff", "0", "1", "--store", store_uri)
    assert (d["added"], d["updated"], d["removed"]) == ([three], [one], [])
    assert "+ " + three in run("diff", "0", "--store", store_uri).stdout

    shown = jrun("show", one, "--version", "0", "--store", store_uri)
    assert shown["version"] == 0 and "about the river and the bridge" in shown["text"]
    r = run("show", one, "--store", store_uri)
    assert r.exit_code == 0 and "corrected" in r.stdout and "First title" in r.stdout
    assert run("show", "nope", "--store", store_uri).exit_code == 1
    assert run("show", one, "--version", "9", "--store", store_uri).exit_code == 1

    ls = jrun("ls", "--store", store_uri, "--version", "0")
    assert sorted(x["doc_id"] for x in ls["docs"]) == sorted([one, make_doc_id("two.txt")])

    assert jrun("tag", "v0-release", "--version", "0", "--store", store_uri)["version"] == 0
    assert jrun("show", one, "--version", "v0-release", "--store", store_uri)["version"] == 0
    assert run("tag", "v0-release", "--version", "1", "--store", store_uri).exit_code == 2
    assert run("diff", "v0-release", "1", "--store", store_uri).exit_code == 0

    vac = jrun("vacuum", "--retain-hours", "0", "--store", store_uri)
    # every replaced file belongs to the tagged v0, so nothing may go
    assert vac["count"] == 0 and vac["kept_tags"] == {"v0-release": 0}
    assert "bridge" in jrun("show", one, "--version", "v0-release", "--store", store_uri)["text"]

    out = tmp_path / "e.jsonl"
    e = jrun("export", "--version", "v0-release", "--out", out, "--store", store_uri)
    assert e["articles"] == 2 and len(out.read_text().splitlines()) == 2
    pq_out = tmp_path / "e.parquet"
    assert jrun("export", "--out", pq_out, "--store", store_uri)["articles"] == 3
    assert pq.read_table(pq_out).num_rows == 3
    assert run("export", "--out", tmp_path / "e.xml", "--store", store_uri).exit_code == 2
    assert run("export", "--format", "brat", "--out", tmp_path / "b", "--store", store_uri).exit_code == 2


def test_store_from_environment(src, tmp_path):
    env = {"CORPUS_STORE": str(tmp_path / "envstore")}
    assert jrun("import", src, env=env)["added"] == 2
    assert CorpusStore(tmp_path / "envstore").count() == 2
    assert len(jrun("ls", env=env)["docs"]) == 2


def test_missing_store_is_exit_1_without_traceback(tmp_path):
    r = run("log", "--store", tmp_path / "nothing")
    assert r.exit_code == 1 and "no corpus at" in r.stderr and "Traceback" not in r.output + r.stderr


def test_seed_import_and_show(store_uri):
    jrun("import", SEED.parent, "--store", store_uri)
    r = run("show", make_doc_id(SEED.name), "--store", store_uri)
    assert r.exit_code == 0 and "Multinational Coalition" in r.stdout


def test_every_foundation_command_has_help():
    for name in ("import", "log", "diff", "show", "ls", "export", "tag", "vacuum"):
        cmd = main.commands[name]
        assert cmd.help and cmd.help.strip()
        assert "--json" in run(name, "--help").stdout
        if name != "import":
            assert "--store" in run(name, "--help").stdout


def test_annotations_flag_is_one_declaration(tmp_path):
    """Every command reading annotation snapshots takes the same --annotations: name, help, type."""
    from corpus.cli.options import ANNOTATIONS_HELP, commands

    takers = {}
    for cmd in commands(main):
        for p in cmd.params:
            if "--annotations" in getattr(p, "opts", []):
                takers[cmd.name] = p
    assert {"evaluate", "train", "push", "build", "report", "export"} <= set(takers)
    for name, p in takers.items():
        assert (p.name, p.help, p.multiple) == ("annotations", ANNOTATIONS_HELP, True), name
        assert isinstance(p.type, click.Path) and p.type.exists, name
    # the shared type: a path that does not exist is a usage error (exit 2) everywhere, export too
    missing = tmp_path / "no-such-snapshot.jsonl"
    r = run("export", "--format", "brat", "--annotations", missing, "--out", tmp_path / "b")
    assert r.exit_code == 2 and "no-such-snapshot" in r.stderr
