"""Integration: import PolNeAR's 840 training texts with their metadata, re-import, change one."""

from __future__ import annotations

import shutil

import pytest

from corpus.core.model import make_doc_id
from corpus.ingest.importer import import_paths
from corpus.store.table import CorpusStore

pytestmark = [pytest.mark.polnear, pytest.mark.slow]


def test_polnear_import_reimport_and_update(polnear_dir, tmp_path, store_uri):
    text_dir = tmp_path / "text"
    shutil.copytree(polnear_dir / "train" / "text", text_dir)  # never touch ../shared
    metadata = polnear_dir / "metadata.tsv"
    store = CorpusStore(store_uri)

    r1 = import_paths([text_dir], store, source="polnear", metadata=metadata, message="polnear train")
    assert r1.errors == []
    assert r1.added + r1.duplicates == 840
    # PolNeAR ships one article twice under two names (12-22 and 12-23); it is stored once
    assert r1.duplicates == 1
    assert r1.duplicate_of[0]["source_key"] == "polnear:wash-post_2015-12-23_as-spotlight-shines-on-trump-and.txt"
    assert store.count() == r1.added == 839

    name = "breitbart_2015-11-16_o-malley-campaign-to-shift-staff.txt"
    doc_id = make_doc_id(f"polnear:{name}")
    a = store.get(doc_id)
    assert a.title == "O\u2019Malley campaign to shift staff, resources to Iowa"
    assert a.published == "2015-11-16" and a.source == "polnear"
    assert a.meta["publisher"] == "breitbart" and a.meta["author"] == "AP"
    assert a.text.startswith((text_dir / name).read_text("utf-8")[:40])

    r2 = import_paths([text_dir], store, source="polnear", metadata=metadata)
    assert (r2.added, r2.updated, r2.created, r2.version) == (0, 0, False, r1.version)
    assert r2.unchanged == 839 and r2.duplicates == 1

    p = text_dir / name
    p.write_text(p.read_text("utf-8") + "\nA correction was appended.\n", encoding="utf-8")
    r3 = import_paths([text_dir], store, source="polnear", metadata=metadata, message="fix one")
    assert (r3.added, r3.updated, r3.unchanged, r3.version) == (0, 1, 838, r1.version + 1)
    assert store.diff(r1.version, r3.version).updated == [doc_id]
    assert store.get(doc_id).text.endswith("A correction was appended.\n")
    assert not store.get(doc_id, r1.version).text.endswith("A correction was appended.\n")
