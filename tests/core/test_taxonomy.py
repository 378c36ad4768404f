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
    for rel in [generate.TAXONOMY, generate.BRAT_MAPPING, *generate.outputs(REPO, taxonomy.load())]:
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
    changed = {generate.CONFIG, generate.ANNOTATION_SCHEMA, generate.GUIDELINES}
    packaged = {generate.PACKAGED / p.name for p in changed | {generate.TAXONOMY}}
    assert set(generate.stale(root)) == changed | packaged
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


# ---------------------------------------------------------------- structure from the file

KBP = REPO / "tests" / "taxonomies" / "kbp.yaml"
KBP_RAW = yaml.safe_load(KBP.read_text(encoding="utf-8"))


def _kbp(mutate=lambda d: None) -> taxonomy.Taxonomy:
    d = copy.deepcopy(KBP_RAW)
    mutate(d)
    return taxonomy.parse(d)


def test_second_taxonomy_structure():
    t = taxonomy.load(KBP)
    assert t.layers() == ("entities", "events", "relations") and not t.has(taxonomy.ATTRIBUTION)
    assert (t.text, t.control(taxonomy.ENTITIES), t.control(taxonomy.EVENTS)) == ("body", "ner", "evt")
    assert t.control(taxonomy.ATTRIBUTION) is None and t.label_controls() == ("ner", "evt")
    assert t.layer_of("ner") == taxonomy.ENTITIES and t.layer_of("entity") is None
    assert "STATE/PROVINCE" in t.entity_labels()
    assert [(r.name, r.from_types, r.to_types) for r in t.entity_relations][:2] == [
        ("per:title", ("PER",), ("TITLE",)),
        ("per:employee_of", ("PER",), ("ORG", "GPE")),
    ]
    # attributes and the region kinds they sit on
    assert [a.name for a in t.attributes_on(taxonomy.ENTITIES, "PER")] == ["mention"]
    assert [a.name for a in t.attributes_on(taxonomy.ENTITIES, "TITLE")] == ["mention", "title_kind"]
    assert t.attribute_slots(taxonomy.EVENTS, "Conflict.Demonstrate") == {"modality": None}
    assert t.attribute("mention").required and not t.attribute("title_kind").required
    assert "per:title" in t.relation_labels() and "has_source" not in t.relation_labels()


def test_second_taxonomy_config_and_schemas():
    t = taxonomy.load(KBP)
    li = LabelInterface(taxonomy.labelstudio_config(t))
    li.validate()
    assert li.get_control("ner").labels == list(t.entity_labels())
    x = ET.fromstring(taxonomy.labelstudio_config(t))
    assert [el.get("toName") for el in x.iter("Labels")] == ["body", "body"]
    (text,) = x.iter("Text")
    assert (text.get("name"), text.get("value")) == ("body", "$body")
    choices = {c.get("name"): c for c in x.iter("Choices")}
    assert (choices["mention"].get("whenTagName"), choices["mention"].get("whenLabelValue")) == ("ner", None)
    assert (choices["title_kind"].get("whenTagName"), choices["title_kind"].get("whenLabelValue")) == ("ner", "TITLE")
    assert choices["title_kind"].get("required") is None and choices["modality"].get("whenTagName") == "evt"
    assert {r.get("value") for r in x.iter("Relation")} >= {"per:title", "per:employee_of", "continues"}
    ann = jsonschemas.annotation_schema(t)
    assert ann["properties"]["relations"] == {"type": "array", "items": {"$ref": "#/$defs/relation"}}
    assert ann["$defs"]["relation"]["properties"]["label"]["enum"][0] == "per:title"
    assert ann["$defs"]["entity"]["properties"]["mention"] == {"enum": ["name", "nominal", "pronoun", None]}
    assert "relations" not in jsonschemas.annotation_schema(taxonomy.load())["properties"]
    export = jsonschemas.labelstudio_export_schema(t)
    assert export["$defs"]["labels_item"]["properties"]["from_name"] == {"enum": ["ner", "evt"]}
    assert export["$defs"]["task"]["properties"]["data"]["required"] == ["body"]
    blocks = generate.guideline_blocks(t)
    assert "no attribution layer" in blocks["attribution"] and "`per:title` | PER | TITLE" in blocks["relations"]
    assert "**title_kind** (optional, on every TITLE entity)" in blocks["entities"]


def test_entities_only_scheme_is_valid():
    t = _kbp(lambda d: (d.pop("events"), d.pop("relations")))
    assert t.layers() == ("entities",) and t.events == () and t.label_controls() == ("ner",)
    x = ET.fromstring(taxonomy.labelstudio_config(t))
    assert [el.get("name") for el in x.iter("Labels")] == ["ner"]
    assert [r.get("value") for r in x.iter("Relation")] == ["continues"]
    LabelInterface(taxonomy.labelstudio_config(t)).validate()


def test_old_shape_without_roles_and_controls_still_loads():
    """A file written before roles, controls and text_field existed: today's names by default."""
    d = copy.deepcopy(RAW)
    d.pop("text_field")
    for layer in ("events", "attribution"):
        d[layer].pop("control")
    for s in d["attribution"]["spans"] + d["attribution"]["relations"]:
        s.pop("role")
    t = taxonomy.parse(d)
    assert t == taxonomy.parse(RAW)
    assert taxonomy.labelstudio_config(t) == taxonomy.labelstudio_config(taxonomy.load())


def test_attribution_names_come_from_the_file():
    def rename(d):
        d["attribution"]["control"] = "att"
        names = {"cue": "Trigger", "content": "Claim", "source": "Speaker"}
        for s in d["attribution"]["spans"]:
            s["name"] = names[s["role"]]
        for r in d["attribution"]["relations"]:
            r["from"] = {"Cue": "Trigger", "Source": "Speaker"}[r["from"]]
            r["to"] = {"Source": "Speaker", "Content": "Claim"}.get(r["to"], r["to"])
            r["name"] = {"has_source": "said_by", "has_content": "says"}.get(r["name"], r["name"])
        d["events"]["types"][-1]["roles"]["Orator"] = d["events"]["types"][-1]["roles"].pop("Speaker")

    t = _broken_parse(rename)
    a = t.attribution_layer
    assert (a.cue, a.content, a.source, a.has_source, a.has_content) == (
        "Trigger",
        "Claim",
        "Speaker",
        "said_by",
        "says",
    )
    assert {x.label for x in t.attribution_attributes} == {"Trigger"}  # on the cue span by default
    x = ET.fromstring(taxonomy.labelstudio_config(t))
    assert {c.get("whenLabelValue") for c in x.iter("Choices") if c.get("whenTagName") == "att"} == {"Trigger"}


def _broken_parse(mutate) -> taxonomy.Taxonomy:
    return taxonomy.parse(_broken(mutate))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: (d.pop("entities"), [t.update(roles={}) for t in d["events"]["types"]]),
            "the relations layer links entities: it needs an entities layer",
        ),
        (lambda d: (d.pop("entities"), d.pop("events"), d.pop("relations")), "no layer"),
        (lambda d: d["relations"]["types"][0].update({"to": ["JOB"]}), "to names unknown entity types ['JOB']"),
        (lambda d: d["relations"]["types"][0].pop("from"), "relation per:title has no from"),
        (lambda d: d["relations"]["types"].append(dict(d["relations"]["types"][0])), "duplicate relation type"),
        (lambda d: d["relations"]["types"][0].update(name="Person"), "duplicate relation label"),
        (lambda d: d["entities"]["labels"][0].update(name="PER, or not"), "no comma"),
        (lambda d: d["entities"]["labels"][0].update(name=" PER"), "invalid name ' PER'"),
        (lambda d: d["entities"]["labels"][0].update(name=""), "invalid name ''"),
        (lambda d: d["entities"].update(control="my control"), "entities.control: invalid name 'my control'"),
        (lambda d: d.update(text_field="$body"), "text_field: invalid name '$body'"),
        (lambda d: d["entities"].update(control="evt"), "duplicate attribute / control name 'evt'"),
        (lambda d: d["entities"]["attributes"].update(label={"definition": "x", "values": ["a"]}), "key of the record"),
        (lambda d: d["events"]["attributes"].update(trigger={"definition": "x", "values": ["a"]}), "key of the record"),
        (lambda d: d["entities"]["attributes"]["title_kind"].update(applies_to="JOB"), "unknown label 'JOB'"),
        (lambda d: d["entities"]["attributes"]["mention"].update(values=["a,b"]), "no comma"),
        (lambda d: d["events"]["types"][0]["roles"].update(Spot=["STATE/PROVINCE", "STATE/PROVINCE"]), "duplicate"),
        (lambda d: d["events"]["attributes"]["modality"]["hotkeys"].update(asserted="shift+n"), "used twice"),
    ],
)
def test_structure_errors_say_what_is_wrong(mutate, message):
    with pytest.raises(TaxonomyError) as e:
        _kbp(mutate)
    assert message in str(e.value) and e.value.code == "E300"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["attribution"]["spans"][0].update(role="speaker"), "role 'speaker' is not one of cue"),
        (lambda d: d["attribution"]["spans"][1].update(role="cue"), "exactly one span per role"),
        (lambda d: d["attribution"]["relations"][0].update(to="Content"), "must define has_source: Cue -> Source"),
        (lambda d: d["attribution"]["attributes"]["commitment"].update(applies_to="Speaker"), "unknown label"),
        (lambda d: d["attribution"]["attributes"].update(flags={"definition": "x", "values": ["a"]}), "key of"),
        (lambda d: (d.pop("entities"), d.pop("events")), "links a source to an entity: there is no entities layer"),
    ],
)
def test_attribution_structure_errors(mutate, message):
    with pytest.raises(TaxonomyError) as e:
        _broken_parse(mutate)
    assert message in str(e.value)


def test_attributes_on_entities_and_on_an_attribution_span():
    def add(d):
        d["entities"] = {
            "labels": d["entities"],
            "attributes": {"specific": {"definition": "Specific or generic.", "values": ["yes", "no"]}},
        }
        d["attribution"]["attributes"]["certainty"] = {
            "definition": "How sure the source is.",
            "values": ["sure", "unsure"],
            "applies_to": "Source",
        }

    t = _broken_parse(add)
    assert [a.name for a in t.attributes_on(taxonomy.ENTITIES, "PER")] == ["specific"]
    assert t.attribute("certainty").label == "Source"
    x = ET.fromstring(taxonomy.labelstudio_config(t))
    c = {c.get("name"): c for c in x.iter("Choices")}
    assert (c["specific"].get("whenTagName"), c["certainty"].get("whenLabelValue")) == ("entity", "Source")
    LabelInterface(taxonomy.labelstudio_config(t)).validate()
