"""corpus.core.resources and the packaged copies: what a wheel carries, and the generate/check modes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO

from corpus import generate
from corpus.annotations.brat import mapping
from corpus.cli import main
from corpus.core import resources, taxonomy
from corpus.core.errors import UsageError

SOURCES = {
    resources.TAXONOMY: REPO / "schemas" / "taxonomy.yaml",
    resources.BRAT_MAPPING: REPO / "schemas" / "brat-polnear.yaml",
    resources.CONFIG: REPO / "schemas" / "labelstudio-config.xml",
    resources.ARTICLE_SCHEMA: REPO / "schemas" / "article.schema.json",
    resources.ANNOTATION_SCHEMA: REPO / "schemas" / "annotation.schema.json",
    resources.EXPORT_SCHEMA: REPO / "schemas" / "labelstudio-export.schema.json",
    resources.GUIDELINES: REPO / "annotations" / "guidelines.md",
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_packaged_copy_equals_its_source(name):
    packaged = resources.path(name)
    assert packaged.parent == REPO / "corpus" / "resources"
    assert packaged.read_bytes() == SOURCES[name].read_bytes(), "run `corpus taxonomy generate` and commit"


def test_runtime_defaults_are_the_packaged_files(monkeypatch):
    monkeypatch.delenv("CORPUS_TAXONOMY", raising=False)
    assert taxonomy.default_path() == taxonomy.DEFAULT_PATH == resources.path(resources.TAXONOMY)
    assert taxonomy.GUIDELINES_PATH == resources.path(resources.GUIDELINES)
    assert mapping.DEFAULT_MAPPING == resources.path(resources.BRAT_MAPPING)
    assert "site-packages" not in str(taxonomy.DEFAULT_PATH)  # this test runs from the checkout


def test_checkout_root_is_found_only_beside_newscorpus_pyproject(tmp_path, monkeypatch):
    assert resources.checkout_root() == REPO
    fake = tmp_path / "lib" / "corpus" / "core"
    fake.mkdir(parents=True)
    monkeypatch.setattr(resources, "__file__", str(fake / "resources.py"))
    assert resources.checkout_root() is None  # e.g. site-packages
    (tmp_path / "lib" / "schemas").mkdir()
    (tmp_path / "lib" / "schemas" / "taxonomy.yaml").write_text("x", encoding="utf-8")
    (tmp_path / "lib" / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    assert resources.checkout_root() is None
    (tmp_path / "lib" / "pyproject.toml").write_text('[project]\nname = "newscorpus"\n', encoding="utf-8")
    assert resources.checkout_root() == tmp_path / "lib"


def test_a_stale_packaged_copy_is_reported_and_regenerated(tmp_path):
    root = tmp_path / "repo"
    for rel in [generate.TAXONOMY, generate.BRAT_MAPPING, *generate.outputs(REPO, taxonomy.load())]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    assert generate.stale(root) == []
    (root / generate.BRAT_MAPPING).write_text(
        (REPO / generate.BRAT_MAPPING).read_text(encoding="utf-8") + "# edited\n", encoding="utf-8"
    )
    r = CliRunner().invoke(main, ["taxonomy", "check", "--root", str(root), "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["stale"] == ["corpus/resources/brat-polnear.yaml"]
    assert CliRunner().invoke(main, ["taxonomy", "generate", "--root", str(root)]).exit_code == 0
    assert (root / "corpus/resources/brat-polnear.yaml").read_text(encoding="utf-8").endswith("# edited\n")
    assert generate.stale(root) == []


def _own_taxonomy(tmp_path: Path) -> Path:
    d = yaml.safe_load((REPO / "schemas" / "taxonomy.yaml").read_text(encoding="utf-8"))
    d["entities"].append({"name": "MONEY", "definition": "An amount of money.", "example": "$5", "hotkey": "0"})
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    return p


def test_generate_out_writes_the_files_of_ones_own_taxonomy(tmp_path):
    own, out = _own_taxonomy(tmp_path), tmp_path / "out"
    r = CliRunner().invoke(main, ["taxonomy", "generate", "--taxonomy", str(own), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    names = {resources.CONFIG, resources.ARTICLE_SCHEMA, resources.ANNOTATION_SCHEMA, resources.EXPORT_SCHEMA}
    assert set(json.loads(r.output)["written"]) == names | {resources.GUIDELINES}
    assert 'value="MONEY"' in (out / resources.CONFIG).read_text(encoding="utf-8")
    assert (
        "MONEY"
        in json.loads((out / resources.ANNOTATION_SCHEMA).read_text(encoding="utf-8"))["$defs"]["entity"]["properties"][
            "label"
        ]["enum"]
    )
    guide = (out / resources.GUIDELINES).read_text(encoding="utf-8")
    assert "| **MONEY** | `0` |" in guide
    # the folder's own prose is kept on the next run; the packaged template only seeds it
    (out / resources.GUIDELINES).write_text(guide.replace("# ", "# Our ", 1), encoding="utf-8")
    env = {"CORPUS_TAXONOMY": str(own)}  # the environment variable works like --taxonomy
    r = CliRunner().invoke(main, ["taxonomy", "check", "--out", str(out), "--json"], env=env)
    assert r.exit_code == 0 and json.loads(r.output)["taxonomy"] == str(own), r.output
    assert "# Our " in (out / resources.GUIDELINES).read_text(encoding="utf-8")
    # the same folder against the default taxonomy: stale (no MONEY there)
    r = CliRunner().invoke(main, ["taxonomy", "check", "--out", str(out), "--json"])
    assert r.exit_code == 1 and resources.CONFIG in json.loads(r.output)["stale"]


def test_check_with_ones_own_taxonomy_checks_the_taxonomy(tmp_path):
    own = _own_taxonomy(tmp_path)
    r = CliRunner().invoke(main, ["taxonomy", "check", "--taxonomy", str(own), "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == {
        "ok": True,
        "taxonomy": str(own),
        "folder": None,
        "stale": [],
        "problems": [],
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities: [1, 2]\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["taxonomy", "check"], env={"CORPUS_TAXONOMY": str(bad)})
    assert r.exit_code == 1 and "[E300]" in r.output and str(bad) in r.output
    with pytest.raises(UsageError, match="out=DIR"):  # nothing to write in place for one's own taxonomy
        taxonomy.select(own)
        try:
            generate.generate()
        finally:
            taxonomy.select(None)


def test_an_installed_package_checks_its_packaged_files(monkeypatch):
    monkeypatch.setattr(resources, "checkout_root", lambda: None)
    t = generate.target()
    assert t.folder == resources.folder() and t.taxonomy_path == taxonomy.DEFAULT_PATH
    assert set(t.files) == {Path(n) for n in SOURCES if n not in (resources.TAXONOMY, resources.BRAT_MAPPING)}
    assert generate.stale_files(t) == []
    with pytest.raises(UsageError, match="packaged files of an installed package"):
        generate.generate()
