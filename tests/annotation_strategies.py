"""Hypothesis strategies for valid canonical annotations (shared by test_lsformat and test_validate).

Texts mix ASCII words with emoji and other astral characters, so code-point and UTF-16
offsets differ; spans may be discontinuous; every generated annotation is valid against the
taxonomy (labels, role entity types, required spans and choices), so any finding is a bug.
"""

from __future__ import annotations

from hypothesis import strategies as st

from corpus.core import taxonomy
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text

TAX = taxonomy.load()
WORDS = ["alpha", "béta", "Γάμμα", "😀", "strike", "said", "🇺🇸", "𝒳", "IS", "Syria", "—", "reported", "中文"]


@st.composite
def texts(draw) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=30, max_size=60))
    return " ".join(words)


def _word_bounds(text: str) -> list[tuple[int, int]]:
    out, i = [], 0
    for w in text.split(" "):
        out.append((i, i + len(w)))
        i += len(w) + 1
    return out


@st.composite
def spans(draw, text: str, max_frags: int = 3) -> Span:
    bounds = _word_bounds(text)
    n = draw(st.integers(1, max_frags))
    idx = sorted(set(draw(st.lists(st.integers(0, len(bounds) - 1), min_size=n, max_size=n))))
    frags = []
    for i in idx:
        length = draw(st.integers(1, 2))
        end = bounds[min(i + length - 1, len(bounds) - 1)][1]
        frags.append((bounds[i][0], end))
    # merge overlapping fragments so a span never overlaps itself
    merged: list[tuple[int, int]] = []
    for s, e in sorted(frags):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return Span.from_offsets(text, merged)


def _choices(draw, attrs) -> dict[str, str]:
    return {a.name: draw(st.sampled_from(a.values)) for a in attrs}


@st.composite
def annotations(draw) -> tuple[Annotation, str]:
    text = draw(texts())
    ents = []
    for i in range(draw(st.integers(1, 5))):
        ents.append(Entity(f"T{i + 1}", draw(st.sampled_from(TAX.entity_labels())), draw(spans(text, 2))))
    events = []
    for i in range(draw(st.integers(0, 3))):
        et = draw(st.sampled_from(TAX.events))
        args = []
        for e in ents:
            roles = [r.name for r in et.roles if e.label in r.entity_types]
            if roles and draw(st.booleans()):
                args.append(Argument(draw(st.sampled_from(roles)), e.id))
        events.append(Event(f"E{i + 1}", et.name, draw(spans(text, 2)), args, _choices(draw, TAX.event_attributes)))
    atts = []
    for i in range(draw(st.integers(0, 3))):
        src = draw(st.one_of(st.none(), spans(text, 2)))
        ent = draw(st.sampled_from([None] + [e.id for e in ents]))
        atts.append(
            Attribution(
                f"A{i + 1}",
                draw(spans(text, 2)),
                draw(spans(text, 3)),
                src,
                ent,
                attributes=_choices(draw, TAX.attribution_attributes),
                flags=draw(st.lists(st.sampled_from(["Discuss", "Discard"]), max_size=1)),
            )
        )
    ids = [x.id for x in (*ents, *events, *atts)]
    notes = [
        {"target": t, "text": draw(st.sampled_from(["unsure", "check 😀"]))}
        for t in draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    ]
    # notes are kept in span order (the order Label Studio regions come back in)
    notes.sort(key=lambda n: ids.index(n["target"]))
    ann = Annotation(
        "d" * 16, sha256_text(text), "tester", ents, events, atts, taxonomy_version=TAX.version, notes=notes
    )
    return ann, text
