"""corpus pull against a real Label Studio: two annotators, an emoji text, a discontinuous content,
a cancelled annotation, a draft, an invalid annotation and one with UTF-16 offsets; the snapshot
must give back exactly the canonical records that were put in."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.annotations import lsformat
from corpus.cli import main
from corpus.core import taxonomy
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span
from corpus.ingest.importer import import_paths
from corpus.labelstudio.pull import pull
from corpus.labelstudio.push import push
from corpus.store.snapshot import load_annotations as read_snapshot
from corpus.store.table import CorpusStore

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
EMOJI_TEXT = "Rescuers 🚑 arrived at dawn in Aleppo. The mayor 🙂 said that the old bridge was unsafe for 🚗 traffic.\n"
DISC_TEXT = '"The strike," the spokesman said, "destroyed the weapons depots near the border."\n'
PROJECT = "t-pull"

pytestmark = pytest.mark.labelstudio


def span(text: str, *parts: str, after: int = 0) -> Span:
    """A span over the given substrings (each searched from ``after`` on)."""
    offs = []
    for p in parts:
        i = text.index(p, after)
        offs.append((i, i + len(p)))
        after = i + len(p)
    return Span.from_offsets(text, offs)


def seed_annotation_1(art) -> Annotation:
    t = art.text
    org = Entity("e1", "ORG", span(t, "Al Hadath TV"))
    fac = Entity("e2", "FAC", span(t, "Ash Shaddadi military base"))
    attack = Event(
        "ev1",
        "Conflict:Attack",
        span(t, "attack", after=t.index("Al Hadath TV")),
        [Argument("Place", "e2")],
        {"realis": "actual", "polarity": "positive"},
    )
    cue = span(t, "According to")
    i = t.index("the attack originated")
    content = Span.from_offsets(t, [(i, t.index(".", i))])
    att = Attribution(
        "a1",
        cue,
        content,
        span(t, "Al Hadath TV"),
        "e1",
        {"quote_type": "indirect", "source_type": "media outlet", "commitment": "reported"},
    )
    return Annotation(art.doc_id, art.text_sha256, "ann1@example.com", [org, fac], [attack], [att])


def seed_annotation_2(art) -> Annotation:
    t = art.text
    per = Entity("p1", "PER", span(t, "Sean Parnell"))
    cue = span(t, "confirmed", after=t.index("Sean Parnell"))
    i = cue.end + 1
    if t[i:].startswith("that "):
        i += 5
    content = Span.from_offsets(t, [(i, t.index(".", i))])
    src = span(t, "Pentagon spokesperson Sean Parnell")
    att = Attribution(
        "c7",
        cue,
        content,
        src,
        "p1",
        {"quote_type": "indirect", "source_type": "official role", "commitment": "confirmed"},
    )
    return Annotation(art.doc_id, art.text_sha256, "ann2@example.com", [per], [], [att])


def emoji_annotation(art) -> Annotation:
    t = art.text
    gpe = Entity("g1", "GPE", span(t, "Aleppo"))
    fac = Entity("f1", "FAC", span(t, "old bridge"))
    cue = span(t, "said")
    content = span(t, "the old bridge was unsafe for 🚗 traffic")
    att = Attribution(
        "q1",
        cue,
        content,
        span(t, "The mayor"),
        None,
        {"quote_type": "indirect", "source_type": "official role", "commitment": "reported"},
    )
    return Annotation(art.doc_id, art.text_sha256, "ann1@example.com", [gpe, fac], [], [att])


def disc_annotation(art) -> Annotation:
    t = art.text
    cue = span(t, "said")
    content = span(t, "The strike", "destroyed the weapons depots near the border")
    att = Attribution(
        "d1",
        cue,
        content,
        span(t, "the spokesman"),
        None,
        {"quote_type": "direct", "source_type": "official role", "commitment": "reported"},
    )
    ev = Event("d2", "Conflict:Attack", span(t, "strike"), [], {"realis": "actual", "polarity": "positive"})
    return Annotation(art.doc_id, art.text_sha256, "ann2@example.com", [], [ev], [att])


COMPARED = ("doc_id", "text_sha256", "annotator", "entities", "events", "attributions")


def comparable(a: Annotation) -> dict:
    d = a.to_dict()
    return {k: d[k] for k in COMPARED}


@pytest.fixture(scope="module")
def annotated(labelstudio, tmp_path_factory):
    """A pushed project with annotations of two users (and the awkward cases), created via the API."""
    client = labelstudio.client
    tax = taxonomy.load()
    root = tmp_path_factory.mktemp("pull")
    src = root / "src"
    src.mkdir()
    (src / "emoji.txt").write_text(EMOJI_TEXT, encoding="utf-8")
    (src / "disc.txt").write_text(DISC_TEXT, encoding="utf-8")
    store = CorpusStore(str(root / "store"))
    import_paths([SEEDS], store, source="seed")
    import_paths([src], store, source="t")
    rep = push(client, store, PROJECT, overlap=0.2, annotators_per_task=2)
    assert rep.pushed == 3 and not rep.errors

    users = {
        e: client.create_user(e, "pw-" + e.split("@")[0] + "-123456", first_name=e[:4])["id"]
        for e in ("ann1@example.com", "ann2@example.com")
    }
    tasks = {t["data"]["doc_id"]: t for t in client.task_data(rep.project_id)}
    arts = {a.doc_id: a for a in store.iter_articles()}
    seed = next(a for a in arts.values() if a.source == "seed")
    emoji = next(a for a in arts.values() if "🚑" in a.text)
    disc = next(a for a in arts.values() if a.text.startswith('"The strike'))

    def post(ann: Annotation, art, *, lead_time: float, result=None) -> dict:
        res = result if result is not None else lsformat.to_labelstudio(ann, art.text, tax)
        return client.create_annotation(
            tasks[art.doc_id]["id"], res, completed_by=users[ann.annotator], lead_time=lead_time
        )

    expected: dict[int, Annotation] = {}
    for ann, art, lt in (
        (seed_annotation_1(seed), seed, 31.5),
        (seed_annotation_2(seed), seed, 12.0),
        (emoji_annotation(emoji), emoji, 8.25),
        (disc_annotation(disc), disc, 20.0),
    ):
        made = post(ann, art, lead_time=lt)
        ann.task_id, ann.annotation_id, ann.lead_time = tasks[art.doc_id]["id"], made["id"], lt
        expected[made["id"]] = ann

    # Old-Label-Studio offsets (UTF-16 code units) on the emoji text: pull must repair them.
    shifted = emoji_annotation(emoji)
    shifted.annotator = "ann1@example.com"
    res = lsformat.to_labelstudio(shifted, emoji.text, tax)
    for item in res:
        v = item.get("value")
        if isinstance(v, dict) and "start" in v:
            v["start"], v["end"] = lsformat.codepoints_to_utf16(emoji.text, v["start"], v["end"])
    assert any(
        r.get("value", {}).get("start") != o.get("value", {}).get("start")
        for r, o in zip(res, lsformat.to_labelstudio(shifted, emoji.text, tax))
    )
    made = post(shifted, emoji, lead_time=5.0, result=res)
    shifted.task_id, shifted.annotation_id, shifted.lead_time = tasks[emoji.doc_id]["id"], made["id"], 5.0
    expected[made["id"]] = shifted

    # A cancelled (skipped) annotation: counted, left out.
    client.create_annotation(tasks[emoji.doc_id]["id"], [], completed_by=users["ann2@example.com"], was_cancelled=True)

    # An invalid one: a Content region no cue links to.
    bad_res = [
        {
            "id": "lonely",
            "from_name": "attribution",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 1, "end": 11, "text": disc.text[1:11], "labels": ["Content"]},
        }
    ]
    bad = client.create_annotation(tasks[disc.doc_id]["id"], bad_res, completed_by=users["ann1@example.com"])

    # A draft of the admin.
    draft = client.create_draft(
        tasks[disc.doc_id]["id"], lsformat.to_labelstudio(disc_annotation(disc), disc.text, tax), lead_time=3.0
    )
    return {
        "project_id": rep.project_id,
        "expected": expected,
        "bad": bad,
        "draft": draft,
        "store": store,
        "tasks": tasks,
        "seed": seed,
        "emoji": emoji,
        "disc": disc,
    }


def test_pull_gives_back_the_canonical_records(labelstudio, annotated, tmp_path):
    out = tmp_path / "snap"
    rep = pull(labelstudio.client, PROJECT, out=out)
    c = rep.counts
    assert (c["tasks"], c["written"], c["invalid"], c["cancelled"], c["drafts"], c["drafts_written"]) == (
        3,
        5,
        1,
        1,
        1,
        0,
    )
    assert c["offset_repairs"] > 0

    got = {a.annotation_id: a for a in read_snapshot(rep.snapshot)}
    assert set(got) == set(annotated["expected"])
    for aid, exp in annotated["expected"].items():
        a = got[aid]
        assert comparable(a) == comparable(exp), aid
        assert (a.task_id, a.lead_time, a.origin) == (exp.task_id, exp.lead_time, "labelstudio")
        assert a.created_at and a.updated_at and a.taxonomy_version == str(taxonomy.load().version)
        assert a.meta["corpus_version"] == annotated["store"].resolve_version(None)
    # The discontinuous content came back as one span of two fragments.
    disc = next(a for a in got.values() if a.doc_id == annotated["disc"].doc_id)
    assert [(f.start, f.end) for f in disc.attributions[0].content.fragments] == [
        (1, 11),
        (DISC_TEXT.index("destroyed"), DISC_TEXT.index(" near the border") + len(" near the border")),
    ]
    assert disc.attributions[0].content.text == "The strike destroyed the weapons depots near the border"
    # Offsets are code points: the emoji annotation's spans read back exactly.
    emoji = annotated["emoji"]
    for a in got.values():
        if a.doc_id == emoji.doc_id:
            for _, _, s in a.spans():
                assert s.expected_text(emoji.text) == s.text

    # Manifest: counts, versions, and the sha256 of the JSONL it describes.
    man = json.loads(Path(rep.manifest).read_text())
    assert man["project_id"] == annotated["project_id"] and man["counts"] == c
    assert man["sha256"] == hashlib.sha256(Path(rep.snapshot).read_bytes()).hexdigest()
    assert man["corpus_versions"] == [annotated["store"].resolve_version(None)]
    assert man["taxonomy_version"] == str(taxonomy.load().version)
    assert man["annotators"] == {"ann1@example.com": 3, "ann2@example.com": 2}
    assert Path(rep.snapshot).name.endswith("Z.jsonl") and Path(rep.snapshot).parent == out

    # The invalid annotation is in the report with the converter's/validator's location.
    errs = [json.loads(line) for line in Path(rep.errors_file).read_text().splitlines()]
    assert len(errs) == 1 and errs[0]["annotation_id"] == annotated["bad"]["id"]
    assert (
        errs[0]["annotator"] == "ann1@example.com"
        and errs[0]["task_id"] == annotated["tasks"][annotated["disc"].doc_id]["id"]
    )
    f = errs[0]["findings"][0]
    assert f["code"] == "missing_cue" and f["region_id"] == "lonely" and f["task_id"] == errs[0]["task_id"]


def test_pull_with_drafts_and_immutable_snapshots(labelstudio, annotated, tmp_path):
    runner = CliRunner(env=labelstudio.env)
    r1 = runner.invoke(main, ["pull", "--project", PROJECT, "--out", str(tmp_path), "--include-drafts", "--json"])
    assert r1.exit_code == 1, r1.output  # one invalid annotation: exit code says so
    out1 = json.loads(r1.output)
    assert out1["written"] == 6 and out1["drafts_written"] == 1
    drafts = [a for a in read_snapshot(out1["snapshot"]) if a.meta.get("draft")]
    assert len(drafts) == 1 and drafts[0].annotator == labelstudio.username and drafts[0].annotation_id is None
    assert comparable(drafts[0])["attributions"] == comparable(disc_annotation(annotated["disc"]))["attributions"]

    r2 = runner.invoke(main, ["pull", "--project", PROJECT, "--out", str(tmp_path), "--json"])
    out2 = json.loads(r2.output)
    assert out2["snapshot"] != out1["snapshot"] and Path(out1["snapshot"]).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        Path(x).name for o in (out1, out2) for x in (o["snapshot"], o["manifest"], o["errors_file"])
    )


def test_status_counts_annotators_and_overlap(labelstudio, annotated):
    res = CliRunner(env=labelstudio.env).invoke(main, ["status", "--project", PROJECT, "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert (st["tasks"], st["annotated"], st["double_annotated"], st["cancelled"]) == (3, 3, 2, 1)
    assert st["by_annotator"] == {"ann1@example.com": 3, "ann2@example.com": 2}
    assert (st["maximum_annotations"], st["overlap_cohort_percentage"]) == (2, 20)
    table = CliRunner(env=labelstudio.env).invoke(main, ["status", "--project", PROJECT])
    assert "double-annotated" in table.output and "ann2@example.com" in table.output


def test_pull_unknown_project_is_a_clear_error(labelstudio, tmp_path):
    res = CliRunner(env=labelstudio.env).invoke(main, ["pull", "--project", "no-such-project", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "no Label Studio project titled 'no-such-project'" in res.output
    assert "Traceback" not in res.output


def test_iter_export_streams_across_chunk_boundaries(tmp_path):
    from corpus.core.errors import LabelStudioError
    from corpus.labelstudio.client import iter_export

    tasks = [{"id": i, "data": {"text": 'é😀"]},[' * (i % 7) + "x" * (i * 13 % 500)}} for i in range(200)]
    path = tmp_path / "export.json"
    for indent in (None, 1):
        path.write_text(json.dumps(tasks, indent=indent, ensure_ascii=False), encoding="utf-8")
        for chunk in (5, 333, 1 << 20):
            assert list(iter_export(path, chunk_size=chunk)) == tasks
    path.write_text(json.dumps(tasks)[:-40], encoding="utf-8")
    with pytest.raises(LabelStudioError, match="truncated"):
        list(iter_export(path, chunk_size=64))
    path.write_text('{"not": "a list"}', encoding="utf-8")
    with pytest.raises(LabelStudioError, match="expected a JSON list"):
        list(iter_export(path))


def test_pull_cleans_the_leftovers_of_a_killed_pull(labelstudio, annotated, tmp_path):
    """What kill -9 leaves at each moment of a pull: the hidden export, the temporary snapshot and
    errors files, a snapshot renamed into place whose manifest was never written."""
    killed = "20250101T000000Z"
    leftovers = [
        f".{killed}.export.json",
        f".{killed}.jsonl.tmp",
        f".{killed}.errors.jsonl.tmp",
        f".{killed}.manifest.json.abc123.tmp",
        f"{killed}.jsonl",
        f"{killed}.errors.jsonl",
    ]
    for name in leftovers:
        (tmp_path / name).write_text("{}\n")
    (tmp_path / f"gold-{killed}.jsonl").write_text("{}\n")  # not a pull's: left alone
    out = pull(labelstudio.client, PROJECT, out=tmp_path)
    assert sorted(out.leftovers_removed) == sorted(leftovers)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [f"gold-{killed}.jsonl", *(Path(x).name for x in (out.snapshot, out.manifest, out.errors_file))]
    )


def test_leftovers_of_a_killed_pull_are_the_atomic_writers_temporary_files(tmp_path):
    """What a pull killed mid-write leaves (atomic_open's temporary files, under their real
    names) is what clean_leftovers removes; finished snapshots and other files stay."""
    import shutil

    from corpus.core import atomic
    from corpus.labelstudio.pull import clean_leftovers

    left = []
    for name in ("20261202T000000Z.jsonl", "20261202T000000Z.errors.jsonl", "20261202T000000Z.manifest.json"):
        with atomic.atomic_open(tmp_path / name) as fh:  # Discard: removed quietly
            fh.write("{}\n")
            (tmp,) = [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name not in left]
            shutil.copy(tmp, tmp_path.parent / "saved")  # as a kill would leave it
            raise atomic.Discard
        shutil.move(tmp_path.parent / "saved", tmp)
        left.append(tmp.name)
    (tmp_path / "gold-1.jsonl").write_text("{}\n")  # another writer's snapshot: not ours to remove
    assert sorted(clean_leftovers(tmp_path)) == sorted(left)
    assert [p.name for p in tmp_path.iterdir()] == ["gold-1.jsonl"]
