"""tablecache: Unicode lookup tables kept on disk between processes."""

from __future__ import annotations

import numpy as np

from corpus.core import tablecache, textscan
from corpus.ingest import minhash


def test_a_table_is_built_once_then_read_back(tmp_path):
    calls = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.arange(10, dtype=np.int32) * 3

    first = tablecache.cached("t", build, "lib 1.0", folder=tmp_path)
    again = tablecache.cached("t", build, "lib 1.0", folder=tmp_path)
    assert calls == [1] and (first == again).all() and again.dtype == np.int32
    assert [p.suffix for p in tmp_path.iterdir()] == [".npy"]  # no temporary file left behind
    (before,) = tmp_path.iterdir()
    tablecache.cached("t", build, "lib 2.0", folder=tmp_path)  # another version of its inputs
    (after,) = tmp_path.iterdir()  # built again, and the table of the old inputs deleted
    assert calls == [1, 1] and after != before


def test_a_damaged_table_is_built_again(tmp_path):
    build = lambda: np.ones(4, np.uint8)  # noqa: E731
    tablecache.cached("t", build, folder=tmp_path)
    (saved,) = tmp_path.iterdir()
    saved.write_bytes(b"not a table")
    assert (tablecache.cached("t", build, folder=tmp_path) == 1).all()
    assert (np.load(saved) == 1).all()  # and saved whole again


def test_a_folder_that_cannot_be_written_only_costs_the_build(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = blocker / "cache"  # (mkdir fails, for root too)
    assert (tablecache.cached("t", lambda: np.zeros(3), folder=folder) == 0).all()
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_the_cached_tables_are_the_built_ones():
    import ftfy

    assert (tablecache.cached("table", textscan._table, ftfy.__version__) == textscan._table()).all()
    assert (minhash._LOWER == minhash._lower_table()).all()
