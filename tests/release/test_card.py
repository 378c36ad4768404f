"""The card of a demo-like release tells the truth, and its own load example runs.

Demo-like: the seed article imported from seeds/, its rule pre-annotation accepted by the
machine annotator (as `corpus accept-predictions` does in `make demo`) and pulled as a
canonical record with `meta.parent_prediction`; the one document hashes into validation, so
train is empty. Then a second release with `--previous`: the card's "Changes since".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.model import MACHINE_ANNOTATOR, Annotation, Article, Entity, Span, make_doc_id
from corpus.ingest.importer import import_articles
from corpus.predict import acceptance
from corpus.predict.preannotate import RuleAttributionPreannotator
from corpus.store.snapshot import write_snapshot
from corpus.store.table import CorpusStore

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict:
    r = CliRunner().invoke(main, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def accepted_prediction(article: Article, task_prediction_id: int) -> Annotation:
    """What a pull gives for a prediction the machine annotator accepted."""
    ann = RuleAttributionPreannotator().predict(article)
    assert ann is not None and ann.attributions
    ann.annotator, ann.origin, ann.model_version = MACHINE_ANNOTATOR, "labelstudio", None
    ann.lead_time, ann.created_at = 0.0, "2026-11-30T10:00:00Z"
    ann.meta = {"parent_prediction": task_prediction_id, "corpus_version": 0}
    return ann


def python_blocks(card: str, section: str) -> list[str]:
    body = card.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


@pytest.fixture
def demo_release(tmp_path):
    store_uri = str(tmp_path / "corpus")
    run("import", str(REPO / "seeds"), "--store", store_uri)
    store = CorpusStore(store_uri)
    (article,) = list(store.iter_articles())
    snap = tmp_path / "annotations" / "20261130T100000Z.jsonl"
    write_snapshot([accepted_prediction(article, 1)], snap)
    config = tmp_path / "release.yaml"
    config.write_text(
        "license: CC-BY-4.0\nauthors: [Ada Lovelace, Charles Babbage]\nyear: 2026\n"
        "url: https://example.org/newscorpus\n"
    )
    built = run(
        "release",
        "build",
        "--version",
        "0.1.0",
        "--store",
        store_uri,
        "--annotations",
        str(tmp_path / "annotations"),
        "--out",
        str(tmp_path / "dist"),
        "--name",
        "newscorpus-demo",
        "--repo",
        "acme/newscorpus-demo",
        "--config",
        str(config),
    )
    return {"store": store, "folder": Path(built["folder"]), "article": article, "tmp": tmp_path, "config": config}


def test_demo_card_is_honest_and_its_load_example_runs(demo_release, hf_offline):
    folder, store = demo_release["folder"], demo_release["store"]
    card = (folder / "README.md").read_text(encoding="utf-8")
    # the bot's work is called what it is, in the rows and in the card
    from datasets import load_dataset

    docs = load_dataset(str(folder), cache_dir=str(hf_offline))
    assert list(docs) == ["validation"]  # the one document hashes into validation: train is empty
    row = docs["validation"][0]
    assert row["annotation_origin"] == "machine_accepted" and row["annotation_policy"] == "machine_accepted"
    assert row["annotator"] == "prediction-bot (machine)"
    assert "**1 of 1 shipped documents carry machine predictions accepted without human review**" in card
    assert "| machine_accepted | 1 |" in card  # the gold rule table
    assert "**Empty splits**" in card and "`ner`: train" in card
    # the load example uses splits that exist, and runs
    (example, pinned) = python_blocks(card, "How to load")
    assert 'ner["validation"]' in example and '["train"]' not in example and 'revision="v0.1.0"' in pinned
    scope: dict = {}
    exec(compile(example.replace('"acme/newscorpus-demo"', repr(str(folder))), "card-example", "exec"), scope)
    assert scope["names"][0] == "O" and scope["first"]["id"] == demo_release["article"].doc_id
    # provenance: no local path, no e-mail; the Delta table id, the snapshot's sha256
    tmp = str(demo_release["tmp"])
    assert tmp not in card and "@" not in card.split("## Citation")[0]
    assert f"of Delta table `{store.table_id()}`" in card and "(store `" not in card
    manifest = json.loads((demo_release["tmp"] / "annotations" / "20261130T100000Z.manifest.json").read_text())
    assert f"sha256 `{manifest['sha256']}`" in card
    # annotations: guidelines shipped, agreement honestly absent, acceptance counted
    assert (folder / "guidelines.md").read_text() == (REPO / "annotations" / "guidelines.md").read_text()
    assert "[`guidelines.md`](guidelines.md)" in card
    assert "Not measured: no document of the snapshots was annotated by two or more people" in card
    # license and citation from the config file
    assert "\nlicense: cc-by-4.0\n" in card and "`CC-BY-4.0` (Creative Commons Attribution 4.0 International)" in card
    assert "author       = {Ada Lovelace and Charles Babbage}" in card and "year         = {2026}" in card
    assert "\\url{https://example.org/newscorpus}" in card
    # every figure the card shows is in the folder (relative paths: the Hub renders them)
    figs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card)
    assert "figures/labels_by_split.png" in figs and "figures/preannotation_acceptance.png" in figs
    for f in figs:
        assert not f.startswith(("/", "http")) and (folder / f).read_bytes()[:4] == b"\x89PNG", f


def test_croissant_validates_and_reads_offline(demo_release, monkeypatch):
    mlc = pytest.importorskip("mlcroissant")
    folder = demo_release["folder"]
    ds = mlc.Dataset(jsonld=str(folder / "croissant.json"))  # raises on any validation error
    assert ds.metadata.name == "newscorpus-demo" and ds.metadata.version == "0.1.0"
    assert "cc-by-4.0" in (ds.metadata.license or [""])[0].lower()
    records = list(ds.records(record_set="ner"))
    manifest = json.loads((folder / "release.json").read_text())
    assert len(records) == sum(manifest["rows"]["ner"].values()) > 0
    assert {k.split("/")[-1] for k in records[0]} >= {"id", "doc_id", "tokens", "ner_tags"}
    docs = list(ds.records(record_set="documents"))
    assert [d["documents/id"] for d in docs] == [demo_release["article"].doc_id.encode()]


def test_changes_since_a_previous_release(demo_release):
    tmp, store, article = demo_release["tmp"], demo_release["store"], demo_release["article"]
    extra = Article(doc_id=make_doc_id("extra:1"), text="Officials said the bridge was closed.", source="wire")
    import_articles(store, [extra], message="one more")
    gold = accepted_prediction(article, 1)
    gold.annotator, gold.origin, gold.meta = "editor@example.org", "labelstudio", {}
    i = article.text.index("Pentagon")
    gold.entities = [Entity("T1", "ORG", Span.from_offsets(article.text, [(i, i + len("Pentagon"))]))]
    gold.created_at = gold.updated_at = "2026-12-01T10:00:00Z"
    j = extra.text.index("Officials")
    other = Annotation(
        extra.doc_id,
        extra.text_sha256,
        "editor@example.org",
        [Entity("T1", "PER", Span.from_offsets(extra.text, [(j, j + 9)]))],
    )
    write_snapshot([accepted_prediction(article, 1), gold, other], tmp / "annotations" / "20261201T100000Z.jsonl")
    built = run(
        "release",
        "build",
        "--version",
        "0.2.0",
        "--store",
        store.uri,
        "--annotations",
        str(tmp / "annotations"),
        "--out",
        str(tmp / "dist"),
        "--name",
        "newscorpus-demo",
        "--previous",
        str(demo_release["folder"]),
    )
    card = (Path(built["folder"]) / "README.md").read_text()
    section = card.split("## Changes since v0.1.0\n", 1)[1].split("\n## ", 1)[0]
    assert "- Documents added: 1; removed: 0" in section
    assert "whose annotation changed: 1" in section  # the person's annotation replaced the bot's
    assert "| entities/ORG | 0 | 1 | +1 |" in section and "| entities/PER | 0 | 1 | +1 |" in section
    # people's work wins over the machine's; the license not chosen is said so
    assert "| single_annotator | 2 |" in card and "machine_accepted" not in section
    assert "No license was chosen for this release" in card
    r = CliRunner().invoke(
        main,
        [
            "release",
            "build",
            "--version",
            "0.3.0",
            "--store",
            store.uri,
            "--annotations",
            str(tmp / "annotations"),
            "--out",
            str(tmp / "dist"),
            "--previous",
            str(tmp),
        ],
    )
    assert r.exit_code == 2 and "is not a built release" in r.output


def test_card_reports_acceptance_per_model_version(tmp_path):
    """Records pulled from tasks started from a prediction carry ``meta.acceptance`` (pull compares
    them with the parent prediction); the card sums them per model version and per layer."""
    store_uri = str(tmp_path / "corpus")
    run("import", str(REPO / "seeds"), "--store", store_uri)
    (article,) = list(CorpusStore(store_uri).iter_articles())
    pred = RuleAttributionPreannotator().predict(article)
    assert pred is not None and len(pred.attributions) >= 2
    person = Annotation.from_dict(pred.to_dict())
    person.annotator, person.origin, person.model_version = "editor@example.org", "labelstudio", None
    person.attributions = person.attributions[1:]  # one attribution deleted, the others kept
    i = article.text.index("Pentagon")
    person.entities = [Entity("T1", "ORG", Span.from_offsets(article.text, [(i, i + len("Pentagon"))]))]  # added
    person.created_at = "2026-12-01T10:00:00Z"
    cmp = acceptance.compare(person, pred)
    cmp.pop("acceptance_rate")
    person.meta = {"parent_prediction": 3, "acceptance": {"model_version": pred.model_version, **cmp}}
    bot = accepted_prediction(article, 3)  # the machine's own acceptance, without a region comparison
    bot.meta["parent_model_version"] = pred.model_version
    write_snapshot([bot, person], tmp_path / "annotations" / "20261201T100000Z.jsonl")
    built = run(
        "release",
        "build",
        "--version",
        "0.1.0",
        "--store",
        store_uri,
        "--annotations",
        str(tmp_path / "annotations"),
        "--out",
        str(tmp_path / "dist"),
    )
    card = (Path(built["folder"]) / "README.md").read_text(encoding="utf-8")
    section = card.split("### Pre-annotation acceptance\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    assert cmp["deleted"] >= 3 and cmp["added"] == 1 and cmp["kept"] > 0  # one attribution = cue, content, source
    rate = cmp["kept"] / cmp["predicted"]
    row = (
        f"| `{pred.model_version}` | 1 | 1 | {cmp['predicted']} | {cmp['kept']} | {cmp['edited']} | "
        f"{cmp['deleted']} | {cmp['added']} | {100 * rate:.1f} % |"
    )
    assert row in section, section
    att = cmp["by_layer"]["attribution"]
    kept = sum(c.get("kept", 0) for c in att.values())
    deleted = sum(c.get("deleted", 0) for c in att.values())
    assert f"| `{pred.model_version}` | attribution | {kept + deleted} | {kept} | 0 | {deleted} | 0 |" in section
    assert f"| `{pred.model_version}` | entities | 0 | 0 | 0 | 0 | 1 | - |" in section
