"""readers: every format, field mapping, metadata join, directory walk, hostile files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corpus.core.errors import UsageError
from corpus.core.problems import Problem
from corpus.ingest.readers import RawRecord, ReadOptions, load_metadata, plan_files, read_paths


def items(*paths, fmt="auto", **kw):
    md = kw.pop("metadata", None)
    return list(read_paths([str(p) for p in paths], fmt, ReadOptions(**kw), md))


def records(*paths, **kw):
    got = items(*paths, **kw)
    return [r for r in got if isinstance(r, RawRecord)], [r for r in got if isinstance(r, Problem)]


def test_txt_title_is_first_nonempty_line_and_key_is_relative_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("\n\n  Headline here  \n\nBody text.", encoding="utf-8")
    recs, errs = records(tmp_path, source="wire")
    assert errs == []
    (r,) = recs
    assert r.title == "Headline here"
    assert r.source_key == "wire:sub/a.txt"
    assert r.source == "wire"
    assert r.text.endswith("Body text.")
    assert len(r.raw_sha256) == 64


def test_single_file_argument_root_is_its_directory(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("T\nbody")
    (r,), _ = records(p)
    assert r.source_key == "x.txt"


def test_html_main_text_title_and_date_without_boilerplate(tmp_path):
    html = """<!doctype html><html><head><title>Storm hits coast | Daily</title>
    <meta property="article:published_time" content="2024-03-05T10:00:00Z">
    <meta property="og:title" content="Storm hits coast"></head>
    <body><nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
    <article><h1>Storm hits coast</h1>
    <p>A powerful storm hit the northern coast on Tuesday, cutting power to thousands of homes and
    forcing the closure of several harbours, officials said.</p>
    <p>Emergency services said they had received hundreds of calls overnight and urged residents to
    stay indoors until the winds eased later in the week.</p></article>
    <footer>Copyright 2024 Daily News. All rights reserved.</footer></body></html>"""
    (tmp_path / "storm.html").write_text(html, encoding="utf-8")
    (r,), errs = records(tmp_path)
    assert errs == []
    assert r.title == "Storm hits coast"
    assert r.published == "2024-03-05"
    assert "powerful storm hit the northern coast" in r.text
    assert "About us" not in r.text and "Copyright" not in r.text


def test_html_without_text_is_reported(tmp_path):
    (tmp_path / "empty.html").write_text(
        "<html><head><title>t</title></head><body><script>var x;</script></body></html>"
    )
    recs, (err,) = records(tmp_path)
    assert recs == []
    assert err.file.endswith("empty.html") and "no main text" in err.message


def test_jsonl_defaults_and_meta(tmp_path):
    lines = [
        {
            "id": 7,
            "content": "First article.",
            "headline": "One",
            "link": "https://x/1",
            "date": "2024-01-02",
            "source": "reuters",
            "extra": {"k": 1},
        },
        {"body": "Second, keyed by URL.", "url": "https://x/2"},
        {"text": "Third, no id, no url."},
    ]
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    recs, errs = records(p)
    assert errs == []
    a, b, c = recs
    assert (a.source_key, a.title, a.url, a.published, a.source) == (
        "reuters:7",
        "One",
        "https://x/1",
        "2024-01-02",
        "reuters",
    )
    assert a.meta["extra"] == {"k": 1} and a.meta["native_id"] == "7"
    assert b.source_key == "https://x/2"
    assert c.source_key == "a.jsonl#3"
    assert [r.line for r in recs] == [1, 2, 3]


def test_jsonl_custom_field_map_and_source_option(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"story": "Text here.", "ref": "A1", "hed": "Hed", "source": "other"}) + "\n")
    (r,), _ = records(p, source="mine", field_map={"text": "story", "id": "ref", "title": "hed"})
    assert (r.text, r.source_key, r.title, r.source) == ("Text here.", "mine:A1", "Hed", "mine")
    assert r.meta["record_source"] == "other"


def test_jsonl_bad_lines_are_reported_with_line_numbers(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(
        b'{"text": "good one", "id": "1"}\n'
        b'{"text": "broken\n'
        b"[1, 2]\n"
        b'{"title": "no text"}\n'
        b'{"text": 5}\n'
        b"\n"
        b'{"text": "good two", "id": "2"}\n'
    )
    recs, errs = records(p)
    assert [r.source_key for r in recs] == ["1", "2"]
    assert [(e.line, e.file) for e in errs] == [(2, str(p)), (3, str(p)), (4, str(p)), (5, str(p))]
    assert "malformed JSON" in errs[0].message
    assert "no text" in errs[2].message


def test_jsonl_line_over_max_bytes(tmp_path):
    p = tmp_path / "big.jsonl"
    p.write_text(json.dumps({"text": "x" * 5000, "id": "big"}) + "\n" + json.dumps({"text": "ok", "id": "s"}) + "\n")
    recs, errs = records(p, max_bytes=1000)
    assert [r.source_key for r in recs] == ["s"]
    assert errs[0].line == 1 and errs[0].code == "line_too_long" and "max_bytes" in errs[0].message


def test_csv_rows_and_row_without_text(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('id,title,text\n1,One,"First, with comma\nand newline"\n2,Two,\n3,Three,Third\n', encoding="utf-8")
    recs, errs = records(p, source="s")
    assert [r.source_key for r in recs] == ["s:1", "s:3"]
    assert recs[0].text == "First, with comma\nand newline"
    (e,) = errs
    assert e.line == 4 and "no text" in e.message


def test_tsv_and_bom(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_bytes(b"\xef\xbb\xbfid\ttext\nk\thello\n")
    (r,), errs = records(p)
    assert errs == [] and (r.source_key, r.text) == ("k", "hello")


def test_csv_in_cp1252_is_detected(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes(
        ("id,text\n" + "".join(f"{i},Le café où nous étions était fermé à midi.\n" for i in range(30))).encode("cp1252")
    )
    recs, errs = records(p)
    assert errs == [] and len(recs) == 30
    assert recs[0].text == "Le café où nous étions était fermé à midi."


def test_hostile_files_are_reported_not_raised(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    (root / "good.txt").write_text("Title\nGood body.")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    (root / "empty.txt").write_bytes(b"")
    (root / "latin.txt").write_bytes(bytes(range(0x80, 0x100)) * 2)
    (root / "huge.txt").write_bytes(b"a" * 2000)
    (root / "dangling.txt").symlink_to(root / "missing-target.txt")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the root")
    (root / "escape.txt").symlink_to(outside)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "o.txt").write_text("x")
    (root / "escape_dir").symlink_to(tmp_path / "outdir")
    (root / ".hidden.txt").write_text("hidden")
    (root / "notes.md").write_text("not an article format")
    recs, errs = records(root, max_bytes=1000)
    assert [r.source_key for r in recs] == ["good.txt"]
    by_name = {Path(e.file).name: e.message for e in errs}
    assert set(by_name) == {
        "binary.txt",
        "empty.txt",
        "latin.txt",
        "huge.txt",
        "dangling.txt",
        "escape.txt",
        "escape_dir",
    }
    assert "binary" in by_name["binary.txt"]
    assert "empty" in by_name["empty.txt"]
    assert "UTF-8" in by_name["latin.txt"]
    assert "too large" in by_name["huge.txt"]
    assert "unreadable" in by_name["dangling.txt"]
    assert "leaves the import root" in by_name["escape.txt"]
    assert "leaves the import root" in by_name["escape_dir"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    p = tmp_path / "locked.txt"
    p.write_text("x")
    p.chmod(0)
    try:
        _, (e,) = records(tmp_path)
        assert "unreadable" in e.message
    finally:
        p.chmod(0o644)


def test_walk_is_sorted_and_symlink_inside_root_is_read(tmp_path):
    for name in ["b.txt", "a.txt", "c/z.txt", "c/a.jsonl"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / "b.txt").write_text("B")
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "c" / "z.txt").write_text("Z")
    (tmp_path / "c" / "a.jsonl").write_text('{"text": "J", "id": "j"}\n')
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    recs, errs = records(tmp_path)
    assert errs == []
    assert [r.source_key for r in recs] == ["a.txt", "b.txt", "link.txt", "j", "c/z.txt"]
    assert [r.source_key for r in records(tmp_path)[0]] == [r.source_key for r in recs]


def test_explicit_format_filters_directory_by_extension(tmp_path):
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "b.jsonl").write_text('{"text": "B"}\n')
    recs, _ = records(tmp_path, fmt="jsonl")
    assert [r.text for r in recs] == ["B"]


def test_unknown_format_and_unknown_extension(tmp_path):
    with pytest.raises(UsageError):
        list(plan_files([tmp_path], "pdf"))
    p = tmp_path / "a.pdf"
    p.write_text("x")
    (e,) = list(plan_files([p]))
    assert isinstance(e, Problem) and "unknown file type" in e.message


def test_metadata_join_by_file_name(tmp_path):
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "art_1.txt").write_text("First line\nBody")
    (tmp_path / "text" / "art_2.txt").write_text("Other\nBody")
    md = tmp_path / "metadata.tsv"
    md.write_text(
        "compartment\tfilename\tpublisher\tpublication_date\tauthor\ttitle\n"
        "train\tart_1\tbreitbart\t2016-03-11\tAP\tThe Real Title\n"
        "train\tart_2.txt\tnyt\tNone\tNone\tSecond\n"
    )
    recs, _ = records(tmp_path / "text", metadata=load_metadata(md), source="polnear")
    a, b = recs
    assert (a.title, a.published, a.meta["publisher"], a.meta["author"]) == (
        "The Real Title",
        "2016-03-11",
        "breitbart",
        "AP",
    )
    assert (b.title, b.published, b.meta["publisher"]) == ("Second", None, "nyt")
    assert "author" not in b.meta


def test_metadata_without_filename_column_is_a_usage_error(tmp_path):
    md = tmp_path / "m.csv"
    md.write_text("title,date\nx,y\n")
    with pytest.raises(UsageError, match="file name column"):
        load_metadata(md)


def _first_candidate(d: dict, names: list[str]) -> tuple[str | None, object]:
    """The rule, one name at a time: the first candidate present with a value other than None and ""."""
    for n in names:
        if n in d and d[n] not in (None, ""):
            return n, d[n]
    return None, None


def test_fields_picked_in_one_pass_follow_the_candidate_order():
    """Each name (text, id, title ...) takes its first candidate field present with a value other
    than None and "", also with a field map (a field named for two names gives both), on records
    drawn at random from candidate and other field names and awkward values."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from corpus.ingest.readers.base import DEFAULT_FIELDS, _picks

    names = sorted({f for fs in DEFAULT_FIELDS.values() for f in fs} | {"extra", "headline2"})
    values = st.sampled_from([None, "", " ", "x", "y", 0, False, [], {}, "é"])
    maps = st.sampled_from([{}, {"text": "headline"}, {"id": "url", "date": "pubdate"}, {"title": "body"}])

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.sampled_from(names), values, max_size=8), maps)
    def check(d, field_map):
        opts = ReadOptions(field_map=field_map)
        got = _picks(d, opts)
        for name, candidates in opts.fields().items():
            fname, v = _first_candidate(d, candidates)
            if fname is None:
                assert name not in got
            else:
                assert got[name][1:] == (fname, v)

    check()
