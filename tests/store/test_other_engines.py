"""The store is open to other engines: Polars and Ray Data read a pinned version directly
(no toolkit code on the reading side) and get the rows the toolkit reads."""

from __future__ import annotations

import json

import pytest
from ingest.test_ingest import article_text, write

from corpus.ingest.importer import import_paths
from corpus.store.table import CorpusStore

COLUMNS = ["doc_id", "text", "text_sha256", "near_dup_cluster"]


@pytest.fixture
def two_versions(tmp_path):
    """Version 0: five articles; version 1: one of them updated and one added."""
    store = CorpusStore(tmp_path / "store")
    src = tmp_path / "in"
    recs = [{"id": f"n{i}", "text": article_text(100 + i), "title": f"T{i}"} for i in range(5)]
    write(src / "feed.jsonl", "".join(json.dumps(r) + "\n" for r in recs))
    assert import_paths([src], store).version == 0
    recs[2]["text"] = article_text(999)
    recs.append({"id": "n5", "text": article_text(105)})
    write(src / "feed.jsonl", "".join(json.dumps(r) + "\n" for r in recs))
    r = import_paths([src], store)
    assert (r.version, r.updated, r.added) == (1, 1, 1)
    return store


def _toolkit_rows(store: CorpusStore, version: int) -> list[tuple]:
    rows = [tuple(r[c] for c in COLUMNS) for b in store.iter_batches(version, COLUMNS) for r in b.to_pylist()]
    return sorted(rows)


def test_polars_reads_a_pinned_version(two_versions):
    pl = pytest.importorskip("polars")
    for v in (0, 1):
        df = pl.read_delta(two_versions.uri, version=v, columns=COLUMNS)
        got = sorted(df.select(COLUMNS).iter_rows())
        assert got == _toolkit_rows(two_versions, v)
    assert pl.read_delta(two_versions.uri, version=0).height == 5
    lazy = pl.scan_delta(two_versions.uri, version=1).filter(pl.col("doc_id").is_not_null()).select(COLUMNS)
    assert sorted(lazy.collect().iter_rows()) == _toolkit_rows(two_versions, 1)


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_data_reads_a_pinned_version(two_versions, ray_local):
    import ray.data
    from deltalake import DeltaTable

    for v in (0, 1):
        ds = ray.data.read_delta(two_versions.uri, version=v, columns=COLUMNS)
        got = sorted(tuple(r[c] for c in COLUMNS) for r in ds.take_all())
        assert got == _toolkit_rows(two_versions, v)
    # or the Parquet files of the version, listed by deltalake (any Parquet reader works)
    files = DeltaTable(two_versions.uri, version=0).file_uris()
    ds = ray.data.read_parquet(files).select_columns(COLUMNS)
    assert sorted(tuple(r[c] for c in COLUMNS) for r in ds.take_all()) == _toolkit_rows(two_versions, 0)
