"""ingest: re-import skips input files by fingerprint (size + content hash), and only them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ingest.test_ingest import article_text, write

from corpus.ingest.importer import import_paths
from corpus.store.table import FINGERPRINTS_DIR, CorpusStore


@pytest.fixture
def store(store_uri):
    return CorpusStore(store_uri)


def _jsonl(p: Path, records: list[tuple[str, str]]) -> Path:
    return write(p, "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in records))


def _corpus(root: Path) -> Path:
    write(root / "a.txt", "Title A\n" + article_text(1))
    write(root / "b.txt", "Title B\n" + article_text(2))
    _jsonl(root / "feed.jsonl", [("x1", article_text(3)), ("x2", article_text(4))])
    return root


def _same_size_same_mtime_rewrite(p: Path, old: str, new: str) -> None:
    st = p.stat()
    data = p.read_bytes()
    assert len(old.encode()) == len(new.encode()) and old.encode() in data
    p.write_bytes(data.replace(old.encode(), new.encode(), 1))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns


def test_unchanged_files_are_skipped_without_reading(store, tmp_path, monkeypatch):
    src = _corpus(tmp_path / "in")
    first = import_paths([src], store)
    assert (first.added, first.files_skipped, first.version) == (4, 0, 0)
    assert list((Path(store.uri) / FINGERPRINTS_DIR).glob("v*.json"))

    from corpus.ingest import readers

    calls = []
    for name, (reader, exts) in list(readers.FORMATS.items()):
        monkeypatch.setitem(readers.FORMATS, name, (lambda *a, _r=reader: calls.append(a[0]) or _r(*a), exts))
    again = import_paths([src], store)
    assert (again.files_skipped, again.unchanged, again.added, again.created) == (3, 4, 0, False)
    assert calls == []  # no file was parsed
    assert store.latest_version() == 0


def test_content_changed_with_same_size_and_mtime_is_read_again(store, tmp_path):
    src = _corpus(tmp_path / "in")
    import_paths([src], store)
    _same_size_same_mtime_rewrite(src / "a.txt", "Title A", "Title Z")
    r = import_paths([src], store)
    assert (r.files_skipped, r.updated, r.unchanged, r.created) == (2, 1, 3, True)
    assert store.get(r.doc_ids["a.txt"]).text.startswith("Title Z")
    # an update keeps only the fingerprints of the files read (a skipped file might have held
    # the old text): the next import reads the other two again, the one after skips all
    r3 = import_paths([src], store)
    assert (r3.files_skipped, r3.unchanged, r3.created) == (1, 4, False)
    r4 = import_paths([src], store)
    assert (r4.files_skipped, r4.created) == (3, False)


def test_changed_record_in_a_big_file_is_diffed_by_record(store, tmp_path):
    src = _corpus(tmp_path / "in")
    import_paths([src], store)
    _jsonl(src / "feed.jsonl", [("x1", article_text(3)), ("x2", article_text(40)), ("x3", article_text(5))])
    r = import_paths([src], store)
    assert (r.files_skipped, r.added, r.updated, r.unchanged) == (2, 1, 1, 3)


def test_renamed_file_is_read_and_reported_as_duplicate(store, tmp_path):
    src = _corpus(tmp_path / "in")
    import_paths([src], store)
    (src / "b.txt").rename(src / "b-renamed.txt")
    r = import_paths([src], store)
    assert (r.files_skipped, r.duplicates, r.added, r.created) == (2, 1, 0, False)
    # a file whose record was not stored keeps being read (and its duplicate reported)
    r2 = import_paths([src], store)
    assert (r2.files_skipped, r2.duplicates) == (2, 1)


def test_removed_file_loses_its_fingerprint(store, tmp_path):
    src = _corpus(tmp_path / "in")
    import_paths([src], store)
    saved = (src / "b.txt").read_bytes(), (src / "b.txt").stat()
    (src / "b.txt").unlink()
    r = import_paths([src], store)
    assert (r.files_skipped, r.created) == (2, False)
    fps = store.read_fingerprints(store.latest_version())
    assert not any("b.txt" in k for k in fps) and len(fps) == 2
    # put back with other bytes, same size and mtime: read again, updated
    data = saved[0].replace(b"Title B", b"Title Q")
    (src / "b.txt").write_bytes(data)
    os.utime(src / "b.txt", ns=(saved[1].st_atime_ns, saved[1].st_mtime_ns))
    r2 = import_paths([src], store)
    assert (r2.files_skipped, r2.updated) == (2, 1)


def test_files_with_problems_are_read_every_time(store, tmp_path):
    src = _corpus(tmp_path / "in")
    with open(src / "feed.jsonl", "a") as f:
        f.write("{not json\n")
    r = import_paths([src], store)
    assert len(r.errors) == 1
    r2 = import_paths([src], store)
    assert (r2.files_skipped, len(r2.errors)) == (2, 1)  # the error is reported again


def test_an_update_from_another_file_invalidates_skipped_files(store, tmp_path):
    a = _jsonl(tmp_path / "a" / "a.jsonl", [("k", article_text(7))])
    b = _jsonl(tmp_path / "b" / "b.jsonl", [("k", article_text(8))])
    import_paths([a], store)
    assert import_paths([b], store).updated == 1  # k now has b's text
    r = import_paths([a], store)  # a is unchanged on disk, but the store no longer holds its text
    assert (r.files_skipped, r.updated) == (0, 1)
    assert store.get(r.doc_ids["k"]).text == article_text(7)


def test_other_reading_options_read_the_file_again(store, tmp_path):
    src = _corpus(tmp_path / "in")
    import_paths([src], store)
    r = import_paths([src], store, source="wire")
    assert (r.files_skipped, r.duplicates) == (0, 4)  # other keys, same texts


def test_vacuum_keeps_the_fingerprints(store, tmp_path):
    src = _corpus(tmp_path / "in")
    import_paths([src], store)
    _same_size_same_mtime_rewrite(src / "a.txt", "Title A", "Title Z")
    import_paths([src], store)
    store.vacuum(retain_hours=0)  # (commits VACUUM START / END: versions that change no data)
    assert store.read_fingerprints(store.latest_version())
    assert import_paths([src], store).files_skipped == 1
