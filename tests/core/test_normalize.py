"""normalize: decoding, mojibake repair, NFC, newlines, and the raw->stored offset map."""

from __future__ import annotations

import codecs
import unicodedata

import ftfy
import pytest
from ftfy.badness import MOJIBAKE_CATEGORIES, is_bad
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.core.errors import InputError
from corpus.core.normalize import FTFY_CONFIG, decode, looks_like_mojibake, normalize_text, normalize_with_map


def reference(s: str) -> str:
    """The specification: newlines, then ftfy (encoding fixes only) on the whole text, then NFC,
    repeated until nothing changes (some mojibake becomes fixable only after NFC)."""
    while True:
        t = unicodedata.normalize("NFC", ftfy.fix_text(s.replace("\r\n", "\n").replace("\r", "\n"), FTFY_CONFIG))
        if t == s:
            return t
        s = t


# ------------------------------------------------------------------ decode


def test_decode_plain_utf8_records_nothing():
    assert decode("Zürich".encode()) == ("Zürich", {})


def test_decode_strips_utf8_bom_and_records_it():
    text, meta = decode(codecs.BOM_UTF8 + "Ünïcode".encode())
    assert text == "Ünïcode"
    assert meta == {"encoding": "utf-8-sig", "bom": True}


def test_decode_utf16_with_bom_is_not_binary():
    text, meta = decode("Grüße aus Köln".encode("utf-16"))
    assert text == "Grüße aus Köln"
    assert meta["encoding"] == "utf-16"


def test_decode_detects_cp1252_with_confidence_and_records_it():
    sample = ("Le café où nous étions était fermé. Hélène a préféré rentrer à pied, " * 20).encode("cp1252")
    text, meta = decode(sample)
    assert text.startswith("Le café où nous étions était fermé.")
    assert meta["encoding"] in ("cp1252", "latin_1", "iso8859_15", "iso8859_1")
    assert "encoding_chaos" in meta


def test_decode_rejects_nul_bytes():
    with pytest.raises(InputError, match="binary"):
        decode(b"PK\x03\x04\x00\x00binary")


def test_decode_rejects_garbage_bytes():
    garbage = bytes([0xFF, 0xFE, 0x00][:2]) + bytes(range(0x80, 0xFF)) * 3  # utf-16 BOM, odd length
    with pytest.raises(InputError):
        decode(garbage[:-1])


def test_decode_rejects_random_high_bytes():
    import random

    rng = random.Random(7)
    data = bytes(rng.randrange(0x80, 0x100) for _ in range(400))
    with pytest.raises(InputError, match="not valid UTF-8"):
        decode(data)


@pytest.mark.parametrize("raw", [b"", b"   \n\t\r\n", codecs.BOM_UTF8])
def test_decode_rejects_empty(raw):
    with pytest.raises(InputError, match="empty"):
        decode(raw)


# ------------------------------------------------------------------ normalize_text


def test_nfd_becomes_nfc():
    nfd = unicodedata.normalize("NFD", "Crème brûlée in Zürich")
    assert nfd != "Crème brûlée in Zürich"
    assert normalize_text(nfd) == "Crème brûlée in Zürich"


def test_crlf_and_cr_become_lf():
    assert normalize_text("a\r\nb\rc\n\r\nd") == "a\nb\nc\n\nd"


def test_mojibake_is_fixed():
    assert normalize_text("The minister\u00e2\u20ac\u2122s plan") == "The minister\u2019s plan"
    assert normalize_text("Ã©tÃ© Ã  Paris") == "été à Paris"


def test_typography_is_left_alone():
    s = "“Quoted” — it’s ﬁne, ｗｉｄｅ &amp; <b>"
    assert normalize_text(s) == s


def test_ascii_is_identity():
    s = "Plain ASCII text.\nSecond line."
    assert normalize_text(s) is s or normalize_text(s) == s


# ------------------------------------------------------------------ offset map


def test_map_for_nfd_and_crlf():
    raw = "e\u0301te\u0301\r\nX"
    out, m = normalize_with_map(raw)
    assert out == "été\nX"
    assert len(m) == len(raw) + 1
    assert m[0] == 0 and m[-1] == len(out)
    assert out[m[raw.index("X")]] == "X"
    assert out[m[2] : m[5]] == "té"  # raw "te\u0301" -> "té"


def test_map_for_mojibake():
    raw = "say Ã©tÃ© now"
    out, m = normalize_with_map(raw)
    assert out == "say été now"
    s, e = raw.index("now"), raw.index("now") + 3
    assert out[m[s] : m[e]] == "now"
    assert out[m[0] : m[3]] == "say"


TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list("\r\n é\u0301ÃÂ©€™œ“”’–\u0300\u0327\u1100\u1161\u11a8\u0b47\u0b3e")),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_normalize_matches_reference_and_map_is_consistent(s):
    out, m = normalize_with_map(s)
    assert out == normalize_text(s) == reference(s)
    assert len(m) == len(s) + 1
    assert m[0] == 0 and m[-1] == len(out)
    assert all(a <= b for a, b in zip(m, m[1:]))


MOJI = st.text(
    alphabet=st.sampled_from(
        list("abcXYZ .,!?\n\t")
        + list(
            "ÂÃÎÐØÙàâäêóŒœ€™‚„“”‘’–—…°±²³µ¶§¢£¥©®«»¬¦¨¯¸ˆˇ˘˛˜†‡‰◊�ªº│┌═▀░ВГРСЂўΒΓΞΟβā√≈×÷¼½¾¿¡ÀÉÑÒÖÜ\u0080\u0093\u009d"
        )
    ),
    max_size=40,
)


@settings(max_examples=2000, deadline=None)
@given(MOJI)
def test_fast_mojibake_check_agrees_with_ftfy(s):
    expected = is_bad(s) or any("\x80" <= c <= "\x9f" for c in s)
    assert looks_like_mojibake(s) == expected


def test_double_encoded_mojibake_reaches_a_fixed_point():
    """Two layers of mojibake are both undone, so normalizing the stored text changes nothing."""
    once = "résumé".encode().decode("cp1252")
    twice = once.encode("utf-8").decode("cp1252")
    out = normalize_text(twice)
    assert out == "résumé"
    assert normalize_text(out) == out
    mapped, offsets = normalize_with_map(twice)
    assert mapped == out and len(offsets) == len(twice) + 1


# ------------------------------------------------------------------ fast path == full path

import ftfy.bad_codecs  # noqa: E402,F401  (registers sloppy-windows-1252)

from corpus.core import normalize as N  # noqa: E402

_PIECES = [
    "Zürich",
    "São Paulo",
    "naïve café",
    "“quoted”",
    "it’s",
    "—",
    "€5",
    "Œuvre",
    "cœur",
    "Москва",
    "Ελλάδα",
    "北京市",
    "القاهرة",
    "हिन्दी",
    "한국어",
    "\u1100\u1161\u11a8",
    "e\u0301",
    "A\u030a",
    "\u0b47\u0b3e",
    "😀",
    "x²",
    "½",
    "Â ",
    "Ã ",
    "Ã©",
    "â€™",
    "Ã¢â‚¬â„¢",
    "ГўВЂВ",
    "abc",
    " ",
    ".",
    "\t",
]
_SEPARATORS = ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\ufeff"]
_C1 = [chr(c) for c in range(0x80, 0xA0)]


def _mojibake(s: str, codec: str) -> str:
    return s.encode("utf-8", "surrogatepass").decode(codec, "replace")


@st.composite
def hard_texts(draw):
    """Mixed scripts, separators, BOMs, C1 controls and lone surrogates, then maybe NFD and
    one or two layers of mojibake (each in a random stretch or the whole text)."""
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(_PIECES),
                st.sampled_from(_SEPARATORS),
                st.sampled_from(_C1),
                st.sampled_from(["\ud83d", "\udca9", "\ud83d\udca9"]),
                st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=4),
            ),
            max_size=14,
        )
    )
    s = "".join(parts)
    for step in draw(st.lists(st.sampled_from(["nfd", "cp1252", "latin-1", "sloppy-windows-1252"]), max_size=3)):
        if step == "nfd":
            s = unicodedata.normalize("NFD", s)
            continue
        a = draw(st.integers(0, len(s)))
        b = draw(st.integers(a, len(s)))
        if draw(st.booleans()):
            a, b = 0, len(s)
        s = s[:a] + _mojibake(s[a:b], step) + s[b:]
    return s


def test_fast_prefilter_is_on_for_the_installed_ftfy():
    """The proof in ``_isolated_triggers`` covers ftfy's badness regex (else the pre-filter
    would be off and every non-ASCII text would take the slow path)."""
    assert N._FAST_RE is not None
    assert set("ÂÃŒœ") <= set(N._SINGLES)
    assert not N.maybe_mojibake("naïve café in Zürich, “quoted” — it’s €5")
    assert N.maybe_mojibake("the minister\u00e2\u20ac\u2122s plan")


@settings(max_examples=1500, deadline=None)
@given(hard_texts())
def test_fast_path_stores_the_same_text_as_the_full_path(s):
    out, m = normalize_with_map(s)
    assert out == normalize_text(s) == reference(s)
    assert len(m) == len(s) + 1 and m[-1] == len(out)
    if not N.maybe_mojibake(s):  # the pre-filter says "clean": ftfy must agree on every line
        assert ftfy.fix_text(s, FTFY_CONFIG) == s
        assert not is_bad(s)


_BADNESS_CHARS = sorted(
    {c for v in MOJIBAKE_CATEGORIES.values() for c in v if ord(c) >= 0x80} | set("ŒœÂÃÎÐØÙ°×²³àµ√≈‚Äâóβ€āГўВЂРС")
)
ISOLATED = st.lists(
    st.tuples(st.text(st.sampled_from("aZ .,?!-\n\t0'\""), min_size=1, max_size=2), st.sampled_from(_BADNESS_CHARS)),
    max_size=12,
).map(lambda pairs: "".join(a + b for a, b in pairs))


@settings(max_examples=3000, deadline=None)
@given(st.one_of(MOJI, ISOLATED))
def test_prefilter_never_hides_what_ftfy_would_fix(s):
    """Mostly isolated mojibake characters between ASCII, where the pre-filter decides alone."""
    if not N.maybe_mojibake(s):
        assert not is_bad(s)
        assert ftfy.fix_text(s, FTFY_CONFIG) == s


# ------------------------------------------------------------------ the compiled scan (textscan)

# combining marks, Hangul jamo (L, V, T), "Maybe" starters (U+0B3E after U+0B47), singletons
# (U+212B Angstrom), astral characters, lone surrogates, C1 controls, \r
SCAN_HARD = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(
            list("\r\n aé\u0301\u0300\u0327ÃÂ©€™œ“”’–\u1100\u1161\u11a8\uac00\u0b47\u0b3e\u212b\u2126\u0344\u0958")
            + ["\U0001f600", "\U0001d15e", "\ud800", "\udfff", "\x85", "\x9d", "\u00a0"]
        ),
    ),
    max_size=50,
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(SCAN_HARD, hard_texts()), max_size=6))
def test_scan_only_settles_texts_normalization_leaves_alone(texts):
    from corpus.core import textscan

    settled = textscan.settled(texts).tolist()
    for t, ok in zip(texts, settled):
        if ok:
            assert normalize_text(t) == t and N.normalize_many([t]) == [t]
    assert N.normalize_many(texts) == [normalize_text(t) for t in texts]


def test_scan_settles_ordinary_news_text_and_not_what_needs_work():
    from corpus.core import textscan

    fine = ["plain ASCII", "naïve café in Zürich, “quoted” — it’s €5", "Ελληνικά και русский", "한국어 문장"]
    work = [
        "a\r\nb",  # newline
        unicodedata.normalize("NFD", "café"),  # combining mark
        "\u212b",  # NFC rewrites it
        "the minister\u00e2\u20ac\u2122s plan",  # mojibake
        "\u1100\u1161",  # jamo NFC composes
        "emoji \U0001f600",  # beyond the BMP: the full path decides
    ]
    # Latin text settles; other scripts (adjacent non-ASCII letters) take the full path, as
    # maybe_mojibake decides for them
    assert textscan.settled(fine).tolist() == [True, True, False, False]
    assert not any(textscan.settled(work).tolist())
