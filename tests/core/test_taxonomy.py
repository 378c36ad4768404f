"""corpus.core.taxonomy and corpus.generate: the label scheme, its checks, and the generated files."""

from __future__ import annotations

import colorsys
import copy
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO
from jsonschema import Draft202012Validator
from label_studio_sdk.label_interface import LabelInterface

from corpus import generate
from corpus.cli import main
from corpus.core import taxonomy
from corpus.core.errors import TaxonomyError
from corpus.generate import jsonschemas

RAW = yaml.safe_load((REPO / "schemas" / "taxonomy.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tax() -> taxonomy.Taxonomy:
    return taxonomy.load()


@pytest.fixture(scope="module")
def config_xml(tax) -> ET.Element:
    return ET.fromstring(taxonomy.labelstudio_config(tax))


def test_accessors(tax):
    assert tax.version == str(RAW["version"])
    assert tax.entity_labels() == ("PER", "ORG", "GPE", "LOC", "FAC", "VEH", "WEA", "NORP", "TIME")
    assert taxonomy.entity_labels() == tax.entity_labels()
    assert "Contact:Statement" in taxonomy.event_types()
    assert taxonomy.attribution_spans() == ("Cue", "Content", "Source")
    assert tax.roles("Life:Die") == ("Agent", "Victim", "Instrument", "Place", "Time")
    assert len(taxonomy.roles()) == len(set(taxonomy.roles())) and "Speaker" in taxonomy.roles()
    assert tax.role_entity_types("Conflict:Attack", "Instrument") == ("WEA", "VEH")
    assert taxonomy.attribute_values("commitment") == ("confirmed", "asserted", "reported", "unconfirmed", "denied")
    assert set(taxonomy.relation_labels()) >= {"has_source", "has_content", "source_entity", "continues", "Victim"}
    assert tax.raw["name"] == "newscorpus"  # plain data for callers that want it
    assert taxonomy.load() is tax  # cached while the file is unchanged


def _broken(mutate) -> dict:
    d = copy.deepcopy(RAW)
    mutate(d)
    return d


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["entities"].append(dict(d["entities"][0], hotkey="z")), "duplicate entity type 'PER'"),
        (lambda d: d["events"]["types"][0]["roles"].update(Weapon=["GUN"]), "unknown entity types ['GUN']"),
        (lambda d: d["entities"][1].update(hotkey=d["entities"][0]["hotkey"]), "used twice"),
        (lambda d: d["entities"][0].update(hotkey="u"), "Label Studio's own shortcuts"),
        (lambda d: d["entities"][0].update(hotkey="Ctrl+Z"), "Label Studio's own shortcuts"),
        (lambda d: d["events"]["attributes"]["realis"]["hotkeys"].update(actual="1"), "used twice"),
        (lambda d: d.pop("version"), "no version"),
        (lambda d: d["attribution"]["spans"].pop(), "exactly one span per role (cue, content, source)"),
        (lambda d: d["events"]["types"][0]["roles"].update(continues=["PER"]), "duplicate relation label"),
        (lambda d: d["entities"].append(dict(name="Cue", definition="x", example="x")), "duplicate label"),
        (lambda d: d["entities"][0].pop("definition"), "PER has no definition"),
        (lambda d: d["events"]["attributes"]["realis"].update(values=["a", "a"]), "duplicate value"),
        (lambda d: d["attribution"]["attributes"]["commitment"]["hotkeys"].update(maybe="shift+y"), "do not exist"),
        (lambda d: d["entities"][0].update(color="blue"), "#RRGGBB"),
        (lambda d: d["attribution"]["relations"].pop(0), "must define has_source"),
    ],
)
def test_parse_rejects_inconsistent_taxonomies(mutate, message):
    with pytest.raises(TaxonomyError) as e:
        taxonomy.parse(_broken(mutate))
    assert message in str(e.value) and e.value.code == "E300"


def test_unreadable_taxonomy_is_a_coded_error(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("entities: [\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        taxonomy.load(bad)
    with pytest.raises(TaxonomyError, match="cannot read"):
        taxonomy.load(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- the labeling config


def test_config_parses_with_label_studio_sdk(tax):
    li = LabelInterface(taxonomy.labelstudio_config(tax))
    li.validate()
    assert set(li.controls and [c.name for c in li.controls]) >= {"entity", "event", "attribution", "realis"}
    assert li.get_control("entity").labels == list(tax.entity_labels())
    assert li.get_control("attribution").labels == ["Cue", "Content", "Source"]


def test_config_layout(config_xml, tax):
    (text,) = config_xml.iter("Text")
    assert text.attrib == {"name": "text", "value": "$text", "granularity": "word"}
    labels = {el.get("name"): [lab.get("value") for lab in el.iter("Label")] for el in config_xml.iter("Labels")}
    assert labels == {
        "entity": list(tax.entity_labels()),
        "event": list(tax.event_types()),
        "attribution": ["Cue", "Content", "Source"],
    }
    assert all(el.get("toName") == "text" for el in config_xml.iter("Labels"))
    rels = [r.get("value") for r in config_xml.iter("Relation")]
    assert rels == list(tax.roles()) + ["has_source", "has_content", "source_entity", "continues"]
    choices = {c.get("name"): c for c in config_xml.iter("Choices")}
    for name in ("realis", "polarity"):
        c = choices[name]
        assert (c.get("perRegion"), c.get("required"), c.get("visibleWhen"), c.get("whenTagName")) == (
            "true",
            "true",
            "region-selected",
            "event",
        ) and c.get("whenLabelValue") is None
    for name in ("quote_type", "source_type", "commitment"):
        c = choices[name]
        assert (c.get("perRegion"), c.get("required"), c.get("whenTagName"), c.get("whenLabelValue")) == (
            "true",
            "true",
            "attribution",
            "Cue",
        )
        assert [x.get("value") for x in c.iter("Choice")] == list(tax.attribute_values(name))
    assert "granularity" in taxonomy.labelstudio_config(tax).split("<Labels")[0]  # documented in a comment


def test_every_label_and_relation_has_a_hint(config_xml, tax):
    defs = {e.name: e.definition for e in (*tax.entities, *tax.events, *tax.attribution_spans)}
    for lab in config_xml.iter("Label"):
        assert lab.get("hint") == defs[lab.get("value")]
    for rel in config_xml.iter("Relation"):
        assert rel.get("hint"), rel.get("value")
    for ch in config_xml.iter("Choice"):
        assert ch.get("hint"), ch.get("value")


def test_hotkeys_are_unique_and_never_label_studio_shortcuts(config_xml):
    keys = [el.get("hotkey") for el in config_xml.iter() if el.tag in ("Label", "Choice")]
    assert all(keys), "every label and choice has a hotkey"
    norm = [taxonomy.normalize_hotkey(k) for k in keys]
    assert len(norm) == len(set(norm))
    reserved = {taxonomy.normalize_hotkey(k) for k in taxonomy.LS_RESERVED_HOTKEYS}
    assert not set(norm) & reserved
    # Label Studio 1.23's default keymap, spot-checked: unselect, hide, delete, undo, submit
    assert {"u", "h", "backspace", "ctrl+z", "ctrl+enter", "alt+r"} <= taxonomy.LS_RESERVED_HOTKEYS


def _hue(color: str) -> float:
    r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_layers_have_their_own_colour_family(config_xml):
    hues = {
        el.get("name"): [_hue(lab.get("background")) for lab in el.iter("Label")] for el in config_xml.iter("Labels")
    }
    assert all(80 <= h <= 250 for h in hues["entity"]), hues["entity"]  # greens and blues
    assert all(h <= 50 or h >= 345 for h in hues["event"]), hues["event"]  # reds and oranges
    assert all(260 <= h <= 320 for h in hues["attribution"]), hues["attribution"]  # purples


def test_expert_instruction_is_the_guidelines_in_html(tax):
    html = taxonomy.expert_instruction(tax)
    assert "<h1>newscorpus annotation guidelines</h1>" in html
    assert "<td><b>PER</b></td>" in html and "<table>" in html
    assert "According to Al Hadath TV" in html and "<!--" not in html


def test_markdown_to_html_subset():
    md = "# T\n\nA *b* **c** `d` <x>\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nx < y\n```\n"
    assert taxonomy.markdown_to_html(md) == (
        "<h1>T</h1>\n<p>A <i>b</i> <b>c</b> <code>d</code> &lt;x&gt;</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>\n<pre>x &lt; y</pre>\n"
    )


# ---------------------------------------------------------------- JSON Schemas


def test_schemas_are_valid_draft_2020_12(tax):
    for s in (
        jsonschemas.article_schema(),
        jsonschemas.annotation_schema(tax),
        jsonschemas.labelstudio_export_schema(tax),
    ):
        Draft202012Validator.check_schema(s)
        assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    ann = jsonschemas.annotation_schema(tax)
    assert ann["$defs"]["entity"]["properties"]["label"]["enum"] == list(tax.entity_labels())
    assert ann["$defs"]["event"]["properties"]["realis"]["enum"] == ["actual", "generic", "other", None]


def test_article_schema_accepts_stored_articles():
    from corpus.core.model import Article

    v = Draft202012Validator(jsonschemas.article_schema())
    art = Article("b18206fd37d6bce2", "text", title="t", url=None)
    assert list(v.iter_errors(art.to_dict())) == []
    assert [e.validator for e in v.iter_errors({**art.to_dict(), "text_sha256": "x"})] == ["pattern"]


# ---------------------------------------------------------------- drift


def test_committed_generated_files_are_current():
    assert generate.stale() == [], "run `corpus taxonomy generate` and commit the result"


def _copy_repo(tmp_path: Path) -> Path:
    for rel in [
        generate.TAXONOMY,
        generate.GUIDELINES,
        generate.CONFIG,
        generate.ARTICLE_SCHEMA,
        generate.ANNOTATION_SCHEMA,
        generate.EXPORT_SCHEMA,
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    return tmp_path


def test_drift_check_fails_on_a_stale_copy_and_generate_repairs_it(tmp_path):
    root = _copy_repo(tmp_path)
    assert generate.stale(root) == []
    d = copy.deepcopy(RAW)
    d["entities"].append({"name": "MONEY", "definition": "An amount of money.", "example": "$5", "hotkey": "0"})
    (root / generate.TAXONOMY).write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # the export schema types control names only, so a new entity label leaves it as it is
    assert set(generate.stale(root)) == {generate.CONFIG, generate.ANNOTATION_SCHEMA, generate.GUIDELINES}
    r = CliRunner().invoke(main, ["taxonomy", "check", "--root", str(root), "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["ok"] is False
    prose = "Label every mention of a named entity"
    r = CliRunner().invoke(main, ["taxonomy", "generate", "--root", str(root)])
    assert r.exit_code == 0, r.output
    assert generate.stale(root) == []
    guide = (root / generate.GUIDELINES).read_text(encoding="utf-8")
    assert "| **MONEY** | `0` | An amount of money. | $5 |" in guide and prose in guide
    assert 'value="MONEY"' in (root / generate.CONFIG).read_text(encoding="utf-8")
    assert CliRunner().invoke(main, ["taxonomy", "check", "--root", str(root)]).exit_code == 0


def test_guidelines_without_markers_are_an_error(tmp_path):
    root = _copy_repo(tmp_path)
    (root / generate.GUIDELINES).write_text("# no tables here\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="lacks the generated block"):
        generate.stale(root)
    r = CliRunner().invoke(main, ["taxonomy", "check", "--root", str(root)])
    assert r.exit_code == 1 and "lacks the generated block" in r.output and "Traceback" not in r.output
