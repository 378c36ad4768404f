"""store: a real Delta Lake table - versions, time travel, diff (CDF), tags, vacuum, export."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from corpus.core.errors import StoreError, UnknownVersion, UsageError
from corpus.core.model import Article, make_doc_id
from corpus.store.table import TAGS_FILE, ConcurrentCommit, CorpusStore, article_to_row, bucket_of, rows_to_batch


def commit(store, items, read_version, upsert=False, message="m"):
    rows = [article_to_row(Article(make_doc_id(k), t, title=k.upper()), source_key=k) for k, t in items]
    replace = {r["doc_id"] for r in rows} if upsert else None
    return store.commit(
        [rows_to_batch(rows)], read_version=read_version, replace=replace, message=message, counts={"added": len(rows)}
    )


@pytest.fixture
def store(store_uri):
    s = CorpusStore(store_uri)
    commit(s, [("a", "alpha one"), ("b", "beta one")], None, message="first")  # v0
    commit(s, [("a", "alpha two"), ("c", "gamma one")], 0, upsert=True, message="second")  # v1
    return s


def test_uri_from_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CORPUS_STORE", str(tmp_path / "envstore"))
    assert CorpusStore().uri == str(tmp_path / "envstore")
    monkeypatch.delenv("CORPUS_STORE")
    assert CorpusStore().display_uri == "data/corpus"


def test_missing_store_is_a_clear_error(store_uri):
    s = CorpusStore(store_uri)
    assert not s.exists() and s.latest_version() is None
    with pytest.raises(StoreError, match="no corpus at"):
        s.get("x")


def test_table_settings(store):
    cfg = store.table().metadata().configuration
    assert cfg["delta.enableChangeDataFeed"] == "true"
    assert cfg["delta.enableDeletionVectors"] == "false"
    assert cfg["delta.logRetentionDuration"] == cfg["delta.deletedFileRetentionDuration"] == "interval 36500 days"
    assert cfg["delta.enableExpiredLogCleanup"] == "false"
    assert store.table().metadata().partition_columns == ["bucket"]


def test_time_travel_and_versions(store):
    a = make_doc_id("a")
    assert store.latest_version() == 1
    assert store.get(a).text == "alpha two"
    assert store.get(a, 0).text == "alpha one"
    assert store.get(make_doc_id("c"), 0) is None
    assert store.count(0) == 2 and store.count() == 3
    got = store.get_many([a, make_doc_id("b"), "nope"], version="0")
    assert {k: v.text for k, v in got.items()} == {a: "alpha one", make_doc_id("b"): "beta one"}
    art = store.get(a)
    assert art.meta["source_key"] == "a" and art.meta["imported_at"].endswith("Z")
    assert art.text_sha256 and art.title == "A"


def test_iter_articles_streams_all(store):
    got = sorted((x.doc_id, x.text) for x in store.iter_articles(batch_size=1))
    assert got == sorted(
        [(make_doc_id("a"), "alpha two"), (make_doc_id("b"), "beta one"), (make_doc_id("c"), "gamma one")]
    )


def test_resolve_version(store):
    assert store.resolve_version(None) == 1
    assert store.resolve_version("0") == 0
    with pytest.raises(UnknownVersion, match="does not exist"):
        store.resolve_version(7)
    with pytest.raises(UnknownVersion, match="unknown version or tag"):
        store.resolve_version("nope")


def test_update_rewrites_only_its_bucket(store):
    """Partitioned by doc_id hash + MERGE: an update touches one bucket's files only."""
    before = set(store.table(1).file_uris())
    buckets_before = {u.split("bucket=")[1].split("/")[0] for u in before}
    commit(store, [("b", "beta two")], 1, upsert=True)
    after = set(store.table(2).file_uris())
    changed = (before - after) | (after - before)
    assert {u.split("bucket=")[1].split("/")[0] for u in changed} == {bucket_of(make_doc_id("b"))}
    assert len(buckets_before) >= 2


def test_history_has_messages_and_counts(store):
    h = store.history()
    assert [v.version for v in h] == [0, 1]
    assert [v.message for v in h] == ["first", "second"]
    assert h[0].counts["added"] == 2 and h[1].operation == "WRITE"


def test_diff_from_change_feed(store):
    a, b, c = (make_doc_id(k) for k in "abc")
    d = store.diff(0, 1)
    assert (d.added, d.updated, d.removed) == ([c], [a], [])
    back = store.diff(1, 0)
    assert (back.added, back.updated, back.removed) == ([], [a], [c])
    assert store.diff(1, 1).to_dict()["added"] == []
    commit(store, [("b", "beta two"), ("a", "alpha two")], 1, upsert=True)  # a: same text rewritten
    d2 = store.diff(0, 2)
    assert d2.added == [c] and d2.updated == sorted([a, b])
    assert store.diff(1, 2).updated == [b]


def test_concurrent_commit_is_detected(store):
    with pytest.raises(ConcurrentCommit):
        commit(store, [("d", "delta")], 0)  # planned against v0, but v1 exists
    assert store.latest_version() == 1
    with pytest.raises(ConcurrentCommit):
        commit(store, [("d", "delta")], None)  # "create" while it exists


def test_tags(store):
    assert store.tag("first-release", 0) == 0
    assert store.resolve_version("first-release") == 0
    assert store.get(make_doc_id("a"), "first-release").text == "alpha one"
    data = json.loads(open(f"{store.uri}/{TAGS_FILE}").read())
    assert data["tags"]["first-release"]["version"] == 0
    assert store.history()[0].tags == ["first-release"]
    with pytest.raises(UsageError, match="already points"):
        store.tag("first-release", 1)
    assert store.tag("first-release", 1, force=True) == 1
    with pytest.raises(UsageError, match="invalid tag name"):
        store.tag("12", 0)
    store.untag("first-release")
    assert store.tags() == {}


def test_vacuum_keeps_everything_by_default_and_tags_always(store):
    a = make_doc_id("a")
    commit(store, [("a", "alpha three")], 1, upsert=True)  # v2: v0 and v1 files of a's bucket replaced
    assert store.vacuum() == []
    assert store.get(a, 0).text == "alpha one"
    store.tag("keep", 0)
    deleted = store.vacuum(retain_hours=0)
    assert deleted  # v1's copy of the bucket is gone...
    assert store.get(a, "keep").text == "alpha one"  # ...the tagged version survives
    assert store.get(a).text == "alpha three"
    with pytest.raises(UnknownVersion, match="vacuumed"):
        store.get(a, 1)
    with pytest.raises(UsageError):
        store.vacuum(retain_hours=-1)


def test_export_jsonl_and_parquet(store, tmp_path):
    n = store.export(tmp_path / "out" / "v0.jsonl", version=0)
    lines = (tmp_path / "out" / "v0.jsonl").read_text().splitlines()
    assert n == 2 and len(lines) == 2
    rec = json.loads(lines[0])
    assert set(rec) == set(Article.__dataclass_fields__) and rec["meta"]["source_key"] in ("a", "b")
    n = store.export(tmp_path / "all.parquet")
    t = pq.read_table(tmp_path / "all.parquet")
    assert n == 3 == t.num_rows and "minhash" not in t.column_names and "text" in t.column_names
    with pytest.raises(UsageError):
        store.export(tmp_path / "x.csv")
    assert not list((tmp_path / "out").glob(".*"))  # no temp files left
