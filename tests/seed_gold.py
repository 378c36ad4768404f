"""A hand-made gold annotation of the seed article, all three layers, written as (label, surface
text, which occurrence) so a reader can check it against the article without counting offsets.

Used by the end-to-end test (created in Label Studio through the API, pulled back, released) and
by ``python tests/seed_gold.py OUT.jsonl`` to write the canonical record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text
from corpus.core.normalize import normalize_text

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_b18206fd37d6bce2.txt"

# id, label, surface, occurrence (0 = first)
ENTITIES = [
    ("e1", "ORG", "A multinational coalition", 0),
    ("e2", "ORG", "Islamic State", 1),
    ("e3", "LOC", "eastern Syria", 0),
    ("e4", "WEA", "precision missile", 0),
    ("e5", "ORG", "Al Hadath TV", 0),
    ("e6", "FAC", "Ash Shaddadi military base", 0),
    ("e7", "GPE", "Hasakeh province", 0),
    ("e8", "LOC", "Deir ez-Zor region", 0),
    ("e9", "ORG", "The New York Times", 0),
    ("e10", "VEH", "U.S. fighter jets", 0),
    ("e11", "VEH", "military helicopters", 0),
    ("e12", "PER", "two U.S. service members", 0),
    ("e13", "PER", "a civilian translator", 0),
    ("e14", "GPE", "Palmyra", 0),
    ("e15", "ORG", "Pentagon", 0),
    ("e16", "PER", "Pentagon spokesperson Sean Parnell", 0),
    ("e17", "PER", "an IS militant", 0),
    ("e18", "ORG", "coalition forces", 0),
    ("e19", "PER", "President Donald Trump", 0),
    ("e20", "TIME", "January 20, 2025", 0),
    ("e21", "PER", "Trump", 2),
    ("e22", "NORP", "American", 0),
    ("e23", "ORG", "IS", 7),
]

# id, type, trigger surface, occurrence, [(role, entity id)], realis, polarity
EVENTS = [
    (
        "v1",
        "Conflict:Attack",
        "strikes",
        0,
        [("Attacker", "e1"), ("Target", "e2"), ("Place", "e3"), ("Instrument", "e4")],
        "actual",
        "positive",
    ),
    ("v2", "Conflict:Attack", "ambush", 0, [("Place", "e14")], "actual", "positive"),
    (
        "v3",
        "Life:Injure",
        "injuries",
        0,
        [("Victim", "e12"), ("Victim", "e13"), ("Place", "e14")],
        "actual",
        "positive",
    ),
    ("v4", "Life:Die", "killed", 0, [("Victim", "e17"), ("Agent", "e18")], "actual", "positive"),
    ("v5", "Contact:Statement", "warned", 0, [("Speaker", "e21")], "actual", "positive"),
]

# id, cue, content parts [(surface, occurrence)], source (surface, occurrence) | None,
# source entity, quote type, source type, commitment
ATTRIBUTIONS = [
    (
        "a1",
        ("According to", 0),
        [
            (
                "the attack originated from the Ash Shaddadi military base in the Hasakeh province, targeting IS strongholds "
                "in the Deir ez-Zor region",
                0,
            )
        ],
        ("Al Hadath TV", 0),
        "e5",
        "indirect",
        "media outlet",
        "reported",
    ),
    (
        "a2",
        ("according to", 0),
        [("The strike reportedly destroyed multiple weapons storage facilities and disrupted IS supply lines", 0)],
        ("unconfirmed reports from local sources", 0),
        None,
        "indirect",
        "anonymous",
        "unconfirmed",
    ),
    (
        "a3",
        ("reported", 1),
        [
            (
                "U.S. fighter jets and military helicopters launched coordinated strikes on dozens of IS targets, including "
                "weapons depots and command centers",
                0,
            )
        ],
        ("The New York Times", 0),
        "e9",
        "indirect",
        "media outlet",
        "reported",
    ),
    (
        "a4",
        ("confirmed", 0),
        [("the attack was carried out by an IS militant, who was later killed by coalition forces", 0)],
        ("Pentagon spokesperson Sean Parnell", 0),
        "e16",
        "indirect",
        "official role",
        "confirmed",
    ),
    # discontinuous content: "labeled the attack a 'trap'" ... "of severe consequences for IS operatives"
    (
        "a5",
        ("warned", 0),
        [("the attack a ‘trap’", 0), ("of severe consequences for IS operatives", 0)],
        ("Trump", 2),
        "e21",
        "mixed",
        "named person",
        "asserted",
    ),
    (
        "a6",
        ("argue", 0),
        [
            (
                "his reliance on military strikes and sanctions has exacerbated tensions with key allies and failed to address "
                "the root causes of extremism",
                0,
            )
        ],
        ("Critics", 0),
        None,
        "indirect",
        "anonymous",
        "asserted",
    ),
    (
        "a7",
        ("warn", 1),
        [
            (
                "IS-inspired plots are still active in multiple regions, including Europe, the Middle East, and Southeast Asia",
                0,
            )
        ],
        ("Intelligence officials", 0),
        None,
        "indirect",
        "official role",
        "asserted",
    ),
]


def _find(text: str, surface: str, occurrence: int) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(surface, start + 1)
    return start, start + len(surface)


def seed_text() -> str:
    return normalize_text(SEED.read_text(encoding="utf-8"))


def seed_gold(doc_id: str, text: str | None = None, annotator: str = "gold@newscorpus.invalid") -> Annotation:
    text = text if text is not None else seed_text()
    span = lambda surface, occ: Span.from_offsets(text, [_find(text, surface, occ)])  # noqa: E731
    entities = [Entity(i, label, span(s, occ)) for i, label, s, occ in ENTITIES]
    events = [
        Event(i, etype, span(s, occ), [Argument(role, e) for role, e in args], {"realis": realis, "polarity": polarity})
        for i, etype, s, occ, args, realis, polarity in EVENTS
    ]
    attributions = [
        Attribution(
            i,
            span(*cue),
            Span.from_offsets(text, [_find(text, s, occ) for s, occ in content]),
            span(*source) if source else None,
            source_entity,
            {"quote_type": quote, "source_type": stype, "commitment": commitment},
        )
        for i, cue, content, source, source_entity, quote, stype, commitment in ATTRIBUTIONS
    ]
    return Annotation(doc_id, sha256_text(text), annotator, entities, events, attributions, origin="labelstudio")


if __name__ == "__main__":
    from corpus.ingest.importer import import_paths  # noqa: F401  (only to fail early outside the venv)

    doc_id = sys.argv[2] if len(sys.argv) > 2 else "seed"
    Path(sys.argv[1]).write_text(json.dumps(seed_gold(doc_id).to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
