"""Hash splits: fixed per document, ratios respected."""

from __future__ import annotations

import pytest

from corpus.core.errors import UsageError
from corpus.release.splits import assign_split, bucket, parse_ratios


def test_split_depends_on_the_doc_id_only_and_follows_ratios():
    ids = [f"doc{i}" for i in range(5000)]
    got = [assign_split(i) for i in ids]
    assert got == [assign_split(i) for i in ids]
    share = {s: got.count(s) / len(ids) for s in ("train", "validation", "test")}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["test"] - 0.1) < 0.02
    assert all(0 <= bucket(i) < 1 for i in ids[:100])
    assert {assign_split(i, (1.0, 0.0, 0.0)) for i in ids[:200]} == {"train"}


@pytest.mark.parametrize("bad", ["0.8,0.1", "a,b,c", "0.9,0.2,-0.1", "0.5,0.5,0.5"])
def test_bad_ratios_are_usage_errors(bad):
    with pytest.raises(UsageError):
        parse_ratios(bad)
    assert parse_ratios("0.7,0.15,0.15") == (0.7, 0.15, 0.15)
