"""Release build and publish: a real Delta store, real annotation snapshots, real ``load_dataset``.

Only the Hub is replaced (a recording stand-in for ``HfApi``): it cannot be reached from CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.errors import ReleaseError
from corpus.core.model import Annotation, Argument, Article, Attribution, Entity, Event, Span, make_doc_id
from corpus.ingest.importer import import_articles
from corpus.release import build as release
from corpus.release import features, publish
from corpus.release.bio import bio_decode
from corpus.release.card import BUILD_TIME_PREFIX
from corpus.release.rows import CONFIGS
from corpus.release.splits import SPLITS, assign_split
from corpus.store import snapshot
from corpus.store.table import CorpusStore

PEOPLE = ["Sean Parnell", "Maria Lopez", "John Kirby", "Anna Weber", "Omar Haddad", "Lena Fischer", "Paul Martin"]
OUTLETS = ["Al Hadath TV", "Reuters", "Sky News", "Al Jazeera", "CNN"]
BASES = ["Ash Shaddadi", "Tanf", "Conoco", "Kharab al-Jir"]
CITIES = ["Damascus", "Aleppo", "Raqqa", "Homs", "Idlib", "Deir ez-Zor"]


def span(text: str, piece: str, occurrence: int = 0) -> Span:
    i = -1
    for _ in range(occurrence + 1):
        i = text.index(piece, i + 1)
    return Span.from_offsets(text, [(i, i + len(piece))])


def fixture_article(k: int) -> tuple[Article, Annotation]:
    """An article with entities, two events and three attributions (one discontinuous content)."""
    person, outlet = PEOPLE[k % len(PEOPLE)], OUTLETS[k % len(OUTLETS)]
    base, city = BASES[k % len(BASES)], CITIES[k % len(CITIES)]
    text = (
        f"{outlet} reported that the attack originated from the {base} military base. "
        f"According to local sources, American forces deployed military helicopters near {city} on January {k % 28 + 1}, 2025.\n"
        f"{person}, a Pentagon spokesman, said the strikes, which began at dawn, destroyed weapons depots. "
        f"Officials confirmed that {k % 9 + 2} fighters were killed. The Syrian army was not involved (report no. {k})."
    )
    doc_id = make_doc_id(f"fixture:{k}")
    art = Article(doc_id=doc_id, text=text, title=f"Strikes near {city} #{k}", source="fixture", published="2025-01-20")
    date = f"January {k % 28 + 1}, 2025"
    ents = [
        Entity("T1", "ORG", span(text, outlet)),
        Entity("T2", "FAC", span(text, f"{base} military base")),
        Entity("T3", "NORP", span(text, "American")),
        Entity("T4", "VEH", span(text, "military helicopters")),
        Entity("T5", "GPE", span(text, city)),
        Entity("T6", "TIME", span(text, date)),
        Entity("T7", "PER", span(text, person)),
        Entity("T8", "ORG", span(text, "Pentagon")),
    ]
    if k % 3 == 0:  # not on a token boundary ("Syria" inside "Syrian"): reported, never shifted
        ents.append(Entity("T9", "GPE", span(text, "Syria")))
    evs = [
        Event(
            "E1",
            "Conflict:Attack",
            span(text, "strikes"),
            [Argument("Target", "T2")],
            {"realis": "actual", "polarity": "positive"},
        ),
        Event("E2", "Life:Die", span(text, "killed"), [], {"realis": "actual", "polarity": "positive"}),
    ]
    if k % 4 == 0:
        evs = []  # some documents without events: the schema must not change
    s = text.index("the strikes")
    d = text.index("destroyed weapons depots")
    atts = [
        Attribution(
            "A1",
            span(text, "reported"),
            span(text, f"the attack originated from the {base} military base"),
            span(text, outlet),
            "T1",
            {"quote_type": "indirect", "source_type": "media outlet", "commitment": "reported"},
        ),
        Attribution(
            "A2",
            span(text, "According to"),
            span(text, f"American forces deployed military helicopters near {city} on {date}"),
            span(text, "local sources"),
            None,
            {"quote_type": "indirect", "source_type": "anonymous", "commitment": "unconfirmed"},
        ),
        Attribution(
            "A3",
            span(text, "said"),
            Span.from_offsets(text, [(s, s + len("the strikes")), (d, d + len("destroyed weapons depots"))]),
            span(text, f"{person}, a Pentagon spokesman"),
            "T7",
            {"quote_type": "indirect", "source_type": "named person", "commitment": "asserted"},
        ),
    ]
    ann = Annotation(
        doc_id,
        art.text_sha256,
        "alice",
        ents,
        evs,
        atts,
        taxonomy_version="1.0.0",
        created_at="2025-02-01T10:00:00Z",
        updated_at="2025-02-01T10:00:00Z",
    )
    return art, ann


def write_store(uri: str, articles: list[Article]) -> CorpusStore:
    """One new corpus version through the real import workflow (``corpus.ingest.importer``)."""
    st = CorpusStore(uri)
    rep = import_articles(st, articles, message="fixture")
    assert rep.added + rep.updated == len(articles), rep
    return st


def write_snapshot(path: Path, anns: list[dict[str, Any]], extra_lines: list[str] = (), complete: bool = True) -> Path:
    """A snapshot file; ``complete``: with its manifest (as a pull that ran to the end leaves it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a) + "\n" for a in anns) + "".join(x + "\n" for x in extra_lines))
    if complete:
        snapshot.write_manifest(path, {})
    return path


def load(folder: str, config: str | None, cache: Path):
    from datasets import load_dataset

    return load_dataset(folder, config, cache_dir=str(cache)) if config else load_dataset(folder, cache_dir=str(cache))


@pytest.fixture
def fixture_release(tmp_path, store_uri):
    """30 articles; annotations: single annotators, a two-annotator document with an adjudicated
    one, a reviewed (ground_truth) one, a prediction (never gold) and one unreadable line."""
    pairs = [fixture_article(k) for k in range(30)]
    write_store(store_uri, [a for a, _ in pairs])
    anns = [b.to_dict() for _, b in pairs]
    a0 = pairs[0][1]
    bob = Annotation.from_dict(a0.to_dict())
    bob.annotator, bob.updated_at, bob.entities = "bob", "2025-03-01T00:00:00Z", bob.entities[:3]
    adj = Annotation.from_dict(a0.to_dict())
    adj.annotator, adj.origin, adj.updated_at = "adjudicator", "adjudicated", "2025-02-15T00:00:00Z"
    a1 = pairs[1][1]
    carol = Annotation.from_dict(a1.to_dict())
    carol.annotator, carol.ground_truth, carol.updated_at = "carol", True, "2025-01-01T00:00:00Z"
    pred = Annotation.from_dict(pairs[2][1].to_dict())
    pred.annotator, pred.origin, pred.updated_at, pred.entities = "model", "prediction", "2030-01-01T00:00:00Z", []
    anns += [bob.to_dict(), adj.to_dict(), carol.to_dict(), pred.to_dict()]
    snap = write_snapshot(tmp_path / "annotations" / "proj" / "20250301T000000Z.jsonl", anns, ["{not json"])
    # an older snapshot in the same folder is superseded by the latest one
    write_snapshot(tmp_path / "annotations" / "proj" / "20240101T000000Z.jsonl", [], ["garbage"])
    return {"pairs": pairs, "snapshot": snap, "annotations": tmp_path / "annotations", "store": store_uri}


def build(
    tmp_path: Path, store_uri: str, annotations: list[str], version: str = "1.0.0", **kw
) -> release.ReleaseReport:
    opts = release.BuildOptions(
        version=version,
        annotations=annotations,
        out=str(tmp_path / "dist"),
        repo="acme/news",
        built_at=kw.pop("built_at", "2025-01-01T00:00:00Z"),
        **kw,
    )
    return release.build_release(opts, CorpusStore(store_uri))


# ---------------------------------------------------------------- build + load_dataset


def test_build_loads_every_config_with_exact_features(tmp_path, fixture_release, hf_offline):
    agreement = tmp_path / "agreement.json"
    agreement.write_text(json.dumps({"entities": {"f1_exact": 0.8123456}, "attribution": {"alpha": 0.71}}))
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["annotations"])], agreement=str(agreement))
    folder = Path(rep.folder)
    assert folder.name == "newscorpus-1.0.0"
    for c in CONFIGS:
        for s in SPLITS:
            assert (folder / c / f"{s}-00000-of-00001.parquet").is_file()
    assert sum(rep.documents.values()) == 30
    assert rep.left_out == {"not_an_annotation": 1, "excluded_origin": 1}
    assert rep.failed == 1  # the unreadable line

    labels = features.label_set()
    docs = load(rep.folder, None, hf_offline)
    assert set(docs) == set(SPLITS)
    assert sum(docs[s].num_rows for s in SPLITS) == 30
    for s in SPLITS:
        assert docs[s].num_rows == rep.rows["documents"][s]
    f = docs["train"].features
    assert f == features.dataset_features(labels)["documents"]
    assert (
        f["entities"].feature["label"].names
        == list(labels.entities)
        == ["PER", "ORG", "GPE", "LOC", "FAC", "VEH", "WEA", "NORP", "TIME"]
    )
    assert f["events"].feature["type"].names[0] == "Conflict:Attack"
    assert f["attributions"].feature["commitment"].names == [
        "confirmed",
        "asserted",
        "reported",
        "unconfirmed",
        "denied",
    ]
    # identical schema in every split, even where no document has events
    assert all(docs[s].features == f for s in SPLITS)

    ner = load(rep.folder, "ner", hf_offline)
    assert ner["train"].features["ner_tags"].feature.names[:3] == ["O", "B-PER", "I-PER"]
    assert sum(ner[s].num_rows for s in SPLITS) == sum(rep.rows["ner"].values()) > 30
    attr = load(rep.folder, "attribution", hf_offline)
    assert attr["train"].features["content_tags"].feature.names == ["O", "B-Content", "I-Content"]
    assert sum(attr[s].num_rows for s in SPLITS) == 30

    # the gold policy is recorded per document
    by_id = {r["id"]: r for s in SPLITS for r in docs[s]}
    p = fixture_release["pairs"]
    assert by_id[p[0][0].doc_id]["annotation_policy"] == "adjudicated"
    assert by_id[p[0][0].doc_id]["annotator"] == "adjudicator"
    assert by_id[p[1][0].doc_id]["annotation_policy"] == "ground_truth"
    assert by_id[p[1][0].doc_id]["annotator"] == "carol"
    assert by_id[p[2][0].doc_id]["annotation_policy"] == "single_annotator"  # the prediction is not gold
    assert by_id[p[2][0].doc_id]["annotator"] == "alice"
    # structured layers survive exactly (discontinuous content included)
    row = by_id[p[5][0].doc_id]
    a3 = [a for a in row["attributions"] if a["id"] == "A3"][0]
    assert a3["content"]["text"] == "the strikes destroyed weapons depots"
    assert len(a3["content"]["fragments"]) == 2
    assert row["text"] == p[5][0].text
    assert [e["text"] for e in row["entities"]] == [e.span.text for e in p[5][1].entities]

    card = (folder / "README.md").read_text()
    assert "config_name: ner" in card and "default: true" in card
    assert 'load_dataset("acme/news", "ner")' in card
    assert fixture_release["snapshot"].name in card and "20240101T000000Z" not in card
    assert "| entities.f1_exact | 0.8123 |" in card and "| attribution.alpha | 0.71 |" in card
    assert "| ner | GPE |" in card  # the misaligned "Syria" count is in the card
    # every split's per-label entity count in the card's table
    total_per = (
        sum(len(b.entities) for _, b in p[3:]) + len(p[0][1].entities) + len(p[1][1].entities) + len(p[2][1].entities)
    )
    assert f"| documents | {rep.documents.get('train', 0)} |" in card
    assert total_per == sum(len(r["entities"]) for s in SPLITS for r in docs[s])


def test_bio_tags_reconstruct_the_aligned_spans(tmp_path, fixture_release, hf_offline):
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["annotations"])])
    docs = load(rep.folder, None, hf_offline)
    ner = load(rep.folder, "ner", hf_offline)
    attr = load(rep.folder, "attribution", hf_offline)
    names = ner["train"].features["ner_tags"].feature.names
    ent_names = docs["train"].features["entities"].feature["label"].names
    misaligned = 0
    for s in SPLITS:
        got: dict[str, set] = {}
        for r in ner[s]:
            assert r["token_starts"] == sorted(r["token_starts"])
            got.setdefault(r["doc_id"], set()).update(
                bio_decode(r["ner_tags"], r["token_starts"], r["token_ends"], names)
            )
        attr_rows = {r["doc_id"]: r for r in attr[s]}
        for d in docs[s]:
            text = d["text"]
            starts = set(attr_rows[d["id"]]["token_starts"])
            ends = set(attr_rows[d["id"]]["token_ends"])
            for tok, a, b in zip(
                attr_rows[d["id"]]["tokens"], attr_rows[d["id"]]["token_starts"], attr_rows[d["id"]]["token_ends"]
            ):
                assert text[a:b] == tok
            expected = set()
            for e in d["entities"]:
                frags = [(f["start"], f["end"]) for f in e["fragments"]]
                if all(a in starts and b in ends for a, b in frags):
                    expected |= {(a, b, ent_names[e["label"]]) for a, b in frags}
                else:
                    misaligned += 1
            assert got.get(d["id"], set()) == expected
            # attribution columns: each kind decodes to exactly its aligned fragments
            for col, key, label in (
                ("cue_tags", "cue", "Cue"),
                ("content_tags", "content", "Content"),
                ("source_tags", "source", "Source"),
            ):
                col_names = attr[s].features[col].feature.names
                decoded = set(
                    bio_decode(
                        attr_rows[d["id"]][col],
                        attr_rows[d["id"]]["token_starts"],
                        attr_rows[d["id"]]["token_ends"],
                        col_names,
                    )
                )
                want = {(f["start"], f["end"], label) for a in d["attributions"] if a[key] for f in a[key]["fragments"]}
                assert decoded == want
    assert misaligned == 10  # k % 3 == 0 for k in 0..29: "Syria" inside "Syrian"
    rel = json.loads((Path(rep.folder) / "release.json").read_text())
    assert rel["tagging"]["ner"]["misaligned"] == {"GPE": 10}


def test_build_is_deterministic(tmp_path, fixture_release):
    a = build(
        tmp_path / "a", fixture_release["store"], [str(fixture_release["annotations"])], built_at="2025-01-01T00:00:00Z"
    )
    b = build(
        tmp_path / "b",
        fixture_release["store"],
        [str(fixture_release["annotations"])],
        built_at="2026-06-06T06:06:06Z",
        batch_rows=7,
        chunk_docs=4,
    )  # other batching and run sizes: same bytes
    for c in CONFIGS:
        for s in SPLITS:
            rel = f"{c}/{s}-00000-of-00001.parquet"
            ta = pq.read_table(Path(a.folder) / rel)
            tb = pq.read_table(Path(b.folder) / rel)
            assert ta.equals(tb)
            assert ta.column("id").to_pylist() == sorted(ta.column("id").to_pylist())
    again = build(
        tmp_path / "c", fixture_release["store"], [str(fixture_release["annotations"])], built_at="2027-01-01T00:00:00Z"
    )
    for c in CONFIGS:
        for s in SPLITS:
            rel = f"{c}/{s}-00000-of-00001.parquet"
            assert (Path(a.folder) / rel).read_bytes() == (Path(again.folder) / rel).read_bytes()
    card_a = (Path(a.folder) / "README.md").read_text().splitlines()
    card_b = (Path(again.folder) / "README.md").read_text().splitlines()
    diff = [(x, y) for x, y in zip(card_a, card_b) if x != y]
    assert len(card_a) == len(card_b)
    assert len(diff) == 1 and diff[0][0].startswith(BUILD_TIME_PREFIX)


def test_split_is_stable_when_documents_are_added(tmp_path, store_uri):
    first = [fixture_article(k) for k in range(40)]
    write_store(store_uri, [a for a, _ in first])
    snap1 = write_snapshot(tmp_path / "s1.jsonl", [b.to_dict() for _, b in first])
    r1 = build(tmp_path, store_uri, [str(snap1)], version="1.0.0")
    more = [fixture_article(k) for k in range(40, 100)]
    write_store(store_uri, [a for a, _ in more])
    snap2 = write_snapshot(tmp_path / "s2.jsonl", [b.to_dict() for _, b in more])
    r2 = build(tmp_path, store_uri, [str(snap1), str(snap2)], version="1.1.0")
    assert sum(r2.documents.values()) == 100 and r2.corpus_version == r1.corpus_version + 1

    def splits_of(folder: str) -> dict[str, str]:
        return {
            i: s
            for s in SPLITS
            for i in pq.read_table(Path(folder) / "documents" / f"{s}-00000-of-00001.parquet").column("id").to_pylist()
        }

    s1, s2 = splits_of(r1.folder), splits_of(r2.folder)
    assert len(s1) == 40 and all(s2[d] == s for d, s in s1.items())
    assert {s for s in s2.values()} == set(SPLITS)
    assert all(s == assign_split(d) for d, s in s2.items())
    # pinning the old corpus version gives the old documents only
    r3 = build(tmp_path, store_uri, [str(snap1), str(snap2)], version="1.0.1", corpus_version=r1.corpus_version)
    assert splits_of(r3.folder) == s1
    assert r3.left_out == {"not_in_corpus": 60} and r3.failed == 0


def test_stale_annotation_is_reanchored_or_reported(tmp_path, store_uri):
    ok_art = Article(doc_id="okdoc", text="Reuters reported that Omar Haddad left Damascus.")
    bad_art = Article(doc_id="baddoc", text="Sky News reported that Anna Weber left Homs.")
    write_store(store_uri, [ok_art, bad_art])

    def ann(a: Article) -> Annotation:
        t = a.text
        src = t.split(" reported")[0]
        return Annotation(
            a.doc_id,
            a.text_sha256,
            "alice",
            entities=[Entity("T1", "ORG", span(t, src)), Entity("T2", "GPE", span(t, t.split()[-1].rstrip(".")))],
            attributions=[
                Attribution("A1", span(t, "reported"), span(t, t.split("that ")[1].rstrip(".")), span(t, src))
            ],
        )

    anns = [ann(ok_art).to_dict(), ann(bad_art).to_dict()]
    # the texts change after annotation: one shift (re-anchorable), one repetition (ambiguous)
    ok_new = Article(doc_id="okdoc", text="UPDATE (10:00): Reuters reported that Omar Haddad left Damascus.")
    bad_new = Article(doc_id="baddoc", text="Homs. Sky News reported that Anna Weber left Homs.")
    write_store(store_uri, [ok_new, bad_new])
    snap = write_snapshot(tmp_path / "s.jsonl", anns)
    result = CliRunner().invoke(
        main,
        [
            "release",
            "build",
            "--version",
            "2.0.0",
            "--store",
            store_uri,
            "--annotations",
            str(snap),
            "--out",
            str(tmp_path / "dist"),
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert out["reanchored"] == 1 and out["failed"] == 1
    (problem,) = [p for p in out["problems"] if p["code"] == "stale_annotation"]
    assert problem["doc_id"] == "baddoc" and "'Homs'" in problem["message"] and problem["file"] == str(snap)
    files = sorted((Path(out["folder"]) / "documents").glob("*.parquet"))
    assert len(files) == 1  # splits without rows are left out (load_dataset refuses empty splits)
    assert f"path: documents/{files[0].name.split('-')[0]}-*.parquet" in (Path(out["folder"]) / "README.md").read_text()
    (row,) = pq.read_table(files[0]).to_pylist()
    assert row["id"] == "okdoc" and row["reanchored"] is True and row["text_sha256"] == ok_new.text_sha256
    for e in row["entities"]:
        f = e["fragments"][0]
        assert ok_new.text[f["start"] : f["end"]] == e["text"]
    assert row["entities"][0]["fragments"][0]["start"] == len("UPDATE (10:00): ")

    # nothing left to ship: an error, not an empty dataset
    only_bad = write_snapshot(tmp_path / "bad.jsonl", [anns[1]])
    result = CliRunner().invoke(
        main,
        [
            "release",
            "build",
            "--version",
            "2.0.1",
            "--store",
            store_uri,
            "--annotations",
            str(only_bad),
            "--out",
            str(tmp_path / "dist"),
        ],
    )
    assert result.exit_code == 1 and "no document could be shipped: stale_annotation 1" in result.output
    assert not (tmp_path / "dist" / "newscorpus-2.0.1").exists()


def test_cli_usage_errors_exit_2_and_existing_folder_is_kept(tmp_path, fixture_release):
    r = CliRunner().invoke(
        main,
        [
            "release",
            "build",
            "--version",
            "1.0",
            "--store",
            fixture_release["store"],
            "--annotations",
            str(fixture_release["snapshot"]),
            "--out",
            str(tmp_path / "d"),
        ],
    )
    assert r.exit_code == 2 and "X.Y.Z" in r.output
    r = CliRunner().invoke(
        main,
        [
            "release",
            "build",
            "--version",
            "1.0.0",
            "--store",
            fixture_release["store"],
            "--annotations",
            str(fixture_release["snapshot"]),
            "--split-ratios",
            "0.5,0.5,0.5",
        ],
    )
    assert r.exit_code == 2
    args = [
        "release",
        "build",
        "--version",
        "1.0.0",
        "--store",
        fixture_release["store"],
        "--annotations",
        str(fixture_release["snapshot"]),
        "--out",
        str(tmp_path / "d"),
        "--include-origin",
        "prediction",
    ]
    r = CliRunner().invoke(main, args)
    assert (
        r.exit_code == 1 and f"[not_an_annotation] {fixture_release['snapshot']}:35:" in r.output
    )  # the unreadable line, by number
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and "already exists" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------- publish


class RecordingApi:
    """Stands in for ``huggingface_hub.HfApi``: records calls, keeps refs like the Hub would."""

    token = "hf_recording"

    def __init__(self, tags: dict[str, str] | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.tags = dict(tags or {})

    def whoami(self, **kw):
        self.calls.append(("whoami", kw))
        return {"name": "acme-bot"}

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        return f"https://huggingface.co/datasets/{repo_id}"

    def list_repo_refs(self, repo_id, **kw):
        from types import SimpleNamespace

        self.calls.append(("list_repo_refs", {"repo_id": repo_id, **kw}))
        return SimpleNamespace(
            tags=[SimpleNamespace(name=n, target_commit=c) for n, c in self.tags.items()], branches=[]
        )

    def upload_folder(self, **kw):
        from types import SimpleNamespace

        files = sorted(
            p.relative_to(kw["folder_path"]).as_posix() for p in Path(kw["folder_path"]).rglob("*") if p.is_file()
        )
        self.calls.append(("upload_folder", {**kw, "files": files}))
        return SimpleNamespace(oid="c0ffee" * 6 + "beef")

    def create_tag(self, repo_id, **kw):
        self.calls.append(("create_tag", {"repo_id": repo_id, **kw}))
        self.tags[kw["tag"]] = kw["revision"]


def test_publish_uploads_one_commit_and_tags_it(tmp_path, fixture_release, monkeypatch):
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["snapshot"])], version="1.2.3")
    api = RecordingApi(tags={"v1.2.2": "abc"})
    plan = publish.publish(rep.folder, "acme/news", private=True, api=api)
    names = [c[0] for c in api.calls]
    # checks first (token, endpoint + token accepted, tag free), then the writes
    assert names == ["whoami", "list_repo_refs", "create_repo", "upload_folder", "create_tag"]
    assert plan.checks[0] == "token present" and plan.checks[-1] == "tag v1.2.3 free"
    assert api.calls[2][1] == {"repo_id": "acme/news", "repo_type": "dataset", "private": True, "exist_ok": True}
    up = api.calls[3][1]
    assert up["repo_type"] == "dataset" and up["repo_id"] == "acme/news"
    assert "README.md" in up["files"] and "ner/train-00000-of-00001.parquet" in up["files"]
    assert api.calls[4][1]["tag"] == "v1.2.3" and api.calls[4][1]["revision"] == plan.commit == "c0ffee" * 6 + "beef"
    assert api.calls[4][1]["repo_type"] == "dataset"

    # publishing the same version again never moves the tag, and nothing is written
    with pytest.raises(ReleaseError, match="already exists") as e:
        publish.publish(rep.folder, "acme/news", api=api)
    assert e.value.code == "E614" and e.value.exit_code == 1
    assert [c[0] for c in api.calls[5:]] == ["whoami", "list_repo_refs"]
    assert api.tags["v1.2.3"] == plan.commit


def test_publish_dry_run_prints_the_plan_and_calls_nobody(tmp_path, fixture_release, monkeypatch):
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["snapshot"])], version="0.3.0")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_never_printed")

    def refuse(*a, **k):
        raise AssertionError("dry run must not build an HfApi")

    monkeypatch.setattr("huggingface_hub.HfApi", refuse)
    r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", "acme/news", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert (
        "tag v0.3.0" in r.output
        and "datasets/acme/news" in r.output
        and "documents/train-00000-of-00001.parquet" in r.output
    )
    assert "hf_secret" not in r.output
    r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", "acme/news", "--dry-run", "--json"])
    plan = json.loads(r.stdout)
    sizes = {f["path"]: f["size"] for f in plan["files"]}
    assert sizes["README.md"] == (Path(rep.folder) / "README.md").stat().st_size and plan["tag"] == "v0.3.0"
    r = CliRunner().invoke(main, ["release", "publish", str(tmp_path), "--repo", "acme/news", "--dry-run"])
    assert r.exit_code == 1 and "not a built release" in r.output


def test_publish_through_the_cli_uses_hf_token(tmp_path, fixture_release, monkeypatch):
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["snapshot"])], version="0.4.0")
    made = []

    def fake_hfapi(token=None, **kw):
        made.append(token)
        return RecordingApi()

    monkeypatch.setenv("HF_TOKEN", "hf_secret_never_printed")
    monkeypatch.setattr("huggingface_hub.HfApi", fake_hfapi)
    r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", "acme/news", "--json"])
    assert r.exit_code == 0, r.output
    assert made == ["hf_secret_never_printed"] and "hf_secret" not in r.output
    assert json.loads(r.stdout)["commit"] == "c0ffee" * 6 + "beef"


@pytest.fixture
def no_hf_login(tmp_path, monkeypatch):
    """No token anywhere: HF_TOKEN unset, an empty HF_HOME (no saved login)."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    home = tmp_path / "hf_home_empty"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(home / "token"), raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"), raising=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_publish_without_token_fails_with_a_coded_error_and_exit_3(tmp_path, fixture_release, no_hf_login):
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["snapshot"])], version="0.5.0")
    r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", "acme/news"])
    assert r.exit_code == 3, r.output
    assert "[E611]" in r.output and "HF_TOKEN" in r.output and "fix:" in r.output
    assert "Traceback" not in r.output and len(r.output.splitlines()) <= 3
    # the dry run still works and says a token is missing
    r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", "acme/news", "--dry-run"])
    assert r.exit_code == 0 and "none found" in r.output and "tag v0.5.0" in r.output


def test_publish_to_an_unreachable_endpoint_fails_with_exit_3_not_a_traceback(tmp_path, fixture_release, monkeypatch):
    """The real HfApi against a closed port on 127.0.0.1: the connection error becomes E612."""
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["snapshot"])], version="0.6.0")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_never_printed")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", "acme/news"])
    assert r.exit_code == 3, r.output
    assert "[E612]" in r.output and "cannot reach the Hub" in r.output and "dry run" in r.output
    assert "Traceback" not in r.output and "hf_secret" not in r.output and len(r.output.splitlines()) <= 3


def test_publish_token_rejected_and_bad_repo_id(tmp_path, fixture_release, monkeypatch):
    import importlib

    from huggingface_hub.errors import HfHubHTTPError, Response

    Request = importlib.import_module(Response.__module__).Request
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["snapshot"])], version="0.7.0")

    class Rejecting(RecordingApi):
        def whoami(self, **kw):
            from huggingface_hub.errors import Response  # the HTTP library's Response huggingface_hub uses

            response = Response(401, request=Request("GET", "http://127.0.0.1/api/whoami-v2"))
            raise HfHubHTTPError("401 Client Error: Invalid user token.", response=response)

    api = Rejecting()
    with pytest.raises(ReleaseError) as e:
        publish.publish(rep.folder, "acme/news", api=api)
    assert e.value.code == "E613" and e.value.exit_code == 3 and [c[0] for c in api.calls] == []
    for bad in ("acme", "acme/news/extra", "acme/-bad..name"):
        r = CliRunner().invoke(main, ["release", "publish", rep.folder, "--repo", bad, "--dry-run"])
        assert r.exit_code == 2 and "[E001]" in r.output, (bad, r.output)


# ---------------------------------------------------------------- Parquet for the Hub viewer


def test_large_release_is_sharded_with_bounded_row_groups_and_a_page_index(tmp_path, store_uri, hf_offline):
    """Limits are parameters: small ones here make a 60-article release shard like a big one would."""
    pairs = [fixture_article(k) for k in range(60)]
    write_store(store_uri, [a for a, _ in pairs])
    snap = write_snapshot(tmp_path / "annotations" / "p" / "20250301T000000Z.jsonl", [b.to_dict() for _, b in pairs])
    max_rg, max_file = 12_000, 12_000
    rep = build(tmp_path, store_uri, [str(snap)], batch_rows=50, max_row_group_bytes=max_rg, max_file_bytes=max_file)
    folder = Path(rep.folder)
    shards = sorted((folder / "documents").glob("train-*.parquet"))
    assert len(shards) >= 3, shards
    n = len(shards)
    assert [p.name for p in shards] == [f"train-{k:05d}-of-{n:05d}.parquet" for k in range(n)]
    assert not list(folder.rglob("*.part"))
    total = 0
    for p in folder.rglob("*.parquet"):
        md = pq.ParquetFile(p).metadata
        groups = [md.row_group(i) for i in range(md.num_row_groups)]
        stored = [sum(g.column(j).total_compressed_size for j in range(g.num_columns)) for g in groups]
        # the data of a file passes the limit by at most one row group (the footer with its page
        # index comes on top: large next to these tiny row groups, negligible next to 100 MB ones)
        assert sum(stored) <= max_file + max(stored), (p, stored)
        for g in groups:
            assert g.num_rows == 1 or g.total_byte_size <= max_rg * 1.5, (p, g.total_byte_size)
            for j in range(g.num_columns):
                col = g.column(j)
                assert col.has_column_index and col.has_offset_index, (p, col.path_in_schema)
        if p.parent.name == "documents":
            total += md.num_rows
    assert total == 60 == sum(rep.documents.values())
    docs = load(rep.folder, None, hf_offline)
    assert sum(d.num_rows for d in docs.values()) == 60
    assert sorted(i for d in docs.values() for i in d["id"]) == sorted(a.doc_id for a, _ in pairs)
    card = (folder / "README.md").read_text()
    assert "path: documents/train-*.parquet" in card


def test_incomplete_snapshot_is_skipped_with_a_problem_and_not_in_the_card(tmp_path, fixture_release):
    """kill -9 between a pull's snapshot and its manifest: the release uses the complete one."""
    newer = fixture_release["annotations"] / "proj" / "20260101T000000Z.jsonl"
    write_snapshot(newer, [], ["garbage"], complete=False)
    rep = build(tmp_path, fixture_release["store"], [str(fixture_release["annotations"])])
    (p,) = [p for p in rep.problems if p.code == "incomplete_snapshot"]
    assert str(newer) in p.message
    card = (Path(rep.folder) / "README.md").read_text()
    assert fixture_release["snapshot"].name in card and newer.name not in card
