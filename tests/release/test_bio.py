"""Tokenizer, sentence splitter and BIO encoding: offsets exact, nothing shifted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.release.bio import (
    TagReport,
    bio_decode,
    bio_encode,
    bio_names,
    sentence_token_ranges,
    split_sentences,
    tokenize,
)

TEXT = (
    'Mr. Smith told Reuters on Jan. 5 that the U.S. Army left. "It is over," he said. '
    "Officials in Deir ez-Zor disagreed!\nNew paragraph, no period"
)


def test_tokens_carry_exact_offsets():
    t = tokenize(TEXT)
    assert all(TEXT[s:e] == w for w, s, e in zip(t.text, t.starts, t.ends))
    assert t.text[:4] == ["Mr", ".", "Smith", "told"]
    assert ["ez", "-", "Zor"] == t.text[t.text.index("ez") : t.text.index("ez") + 3]


def test_sentences_respect_abbreviations_newlines_and_protected_spans():
    sents = [TEXT[s:e] for s, e in split_sentences(TEXT)]
    assert sents == [
        "Mr. Smith told Reuters on Jan. 5 that the U.S. Army left.",
        '"It is over," he said.',
        "Officials in Deir ez-Zor disagreed!",
        "New paragraph, no period",
    ]
    i = TEXT.index("left.")
    protected = [(i, TEXT.index("It is"))]  # a span across the boundary keeps the sentences together
    sents = [TEXT[s:e] for s, e in split_sentences(TEXT, protected)]
    assert sents[0].endswith("he said.") and len(sents) == 3


def test_bio_encode_reports_misaligned_and_overlapping_spans():
    text = "The Syrian army met NATO officials in Brussels."
    t = tokenize(text)
    names = bio_names(["ORG", "GPE"])
    ids = {"ORG": 1, "GPE": 3}
    syria = (4, 9)  # "Syria" inside "Syrian": not on a token end
    nato = (text.index("NATO"), text.index("NATO") + 4)
    nato_off = (nato[0], text.index(" in"))
    brussels = (text.index("Brussels"), text.index("Brussels") + 8)
    rep = TagReport()
    tags = bio_encode(t, [("GPE", [syria]), ("ORG", [nato_off]), ("ORG", [nato]), ("GPE", [brussels])], ids, rep)
    assert rep.misaligned == {"GPE": 1} and rep.overlapping == {"ORG": 1} and rep.tagged == {"ORG": 1, "GPE": 1}
    assert bio_decode(tags, t.starts, t.ends, names) == [(nato_off[0], nato_off[1], "ORG"), (*brussels, "GPE")]


def test_discontinuous_span_is_one_run_per_fragment():
    text = "the strikes, which began at dawn, destroyed depots"
    t = tokenize(text)
    frags = [(0, 11), (text.index("destroyed"), len(text))]
    tags = bio_encode(t, [("Content", frags)], {"Content": 1})
    assert bio_decode(tags, t.starts, t.ends, bio_names(["Content"])) == [
        (0, 11, "Content"),
        (frags[1][0], len(text), "Content"),
    ]


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcXYZé1-.,'", min_size=1, max_size=6), min_size=1, max_size=25),
    cuts=st.lists(st.integers(0, 60), max_size=12),
    labels=st.lists(st.sampled_from(["A", "B", None]), min_size=12, max_size=12),
)
def test_bio_roundtrip_of_disjoint_token_aligned_spans(words, cuts, labels):
    text = " ".join(words)
    t = tokenize(text)
    edges = sorted({c % (len(t) + 1) for c in cuts} | {0, len(t)})
    spans = [
        (label, [(t.starts[i], t.ends[j - 1])])
        for (i, j), label in zip(zip(edges, edges[1:]), labels)
        if label is not None and i < j
    ]
    rep = TagReport()
    tags = bio_encode(t, spans, {"A": 1, "B": 3}, rep)
    assert sum(rep.tagged.values()) == len(spans) and not rep.misaligned and not rep.overlapping
    assert set(bio_decode(tags, t.starts, t.ends, bio_names(["A", "B"]))) == {(s, e, lab) for lab, [(s, e)] in spans}
    for s, e in sentence_token_ranges(t, split_sentences(text)):
        assert s < e
