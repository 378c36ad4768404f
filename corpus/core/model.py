"""The one data type that flows between the stages: articles and canonical annotations.

Offsets everywhere are Unicode code points into the NFC-normalized text stored in the corpus
(``Article.text``). A span is a list of fragments, so discontinuous spans (common in
attribution corpora: "the strike, he said, destroyed depots") are first-class. A span's
``text`` is the fragments' texts joined by a single space, which is brat's convention, so a
brat ``T`` line and a canonical span carry the same string.

The JSON form of every class here is what ``to_dict`` returns; ``schemas/annotation.schema.json``
and ``schemas/article.schema.json`` describe it and ``from_dict`` reads it back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

FRAGMENT_JOINER = " "
# The Label Studio user that `corpus accept-predictions` (make demo) submits accepted predictions
# as: its annotations are machine-made, never human work.
MACHINE_ANNOTATOR = "prediction-bot@newscorpus.invalid"


def sha256_text(text: str) -> str:
    """Hash of a stored (already normalized) text: the key annotations are anchored to."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_doc_id(source_key: str) -> str:
    """Stable document id from a source key (source + native id, URL, or relative path).

    Derived from the key, never from the text, so a corrected article keeps its id. A key with a
    lone surrogate (an invalid ``\\ud800`` escape in JSON) still hashes (``surrogatepass``, the
    same bytes as UTF-8 for every valid key), so hashing never raises on hostile input.
    """
    return hashlib.sha256(source_key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass
class Article:
    doc_id: str
    text: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None  # ISO 8601 date or datetime, as found
    language: str | None = None
    text_sha256: str = ""
    raw_sha256: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.text_sha256:
            self.text_sha256 = sha256_text(self.text)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True, order=True)
class Fragment:
    start: int
    end: int


@dataclass
class Span:
    fragments: list[Fragment]
    text: str

    @classmethod
    def from_offsets(cls, doc_text: str, offsets: Iterable[tuple[int, int]]) -> Span:
        """Build a span from (start, end) pairs, sorted, its text read from the document."""
        frags = sorted(Fragment(int(s), int(e)) for s, e in offsets)
        return cls(frags, FRAGMENT_JOINER.join(doc_text[f.start : f.end] for f in frags))

    def expected_text(self, doc_text: str) -> str:
        return FRAGMENT_JOINER.join(doc_text[f.start : f.end] for f in self.fragments)

    @property
    def start(self) -> int:
        return min(f.start for f in self.fragments)

    @property
    def end(self) -> int:
        return max(f.end for f in self.fragments)

    def to_dict(self) -> dict[str, Any]:
        return {"fragments": [{"start": f.start, "end": f.end} for f in self.fragments], "text": self.text}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Span:
        return cls([Fragment(int(f["start"]), int(f["end"])) for f in d["fragments"]], d.get("text", ""))


# Keys of each record's JSON form that are not attributes: a taxonomy may not name an attribute
# after one of them (attributes are serialized flat, under their own names, beside these keys).
ENTITY_KEYS = frozenset({"id", "label", "fragments", "text"})
EVENT_KEYS = frozenset({"id", "type", "trigger", "arguments"})
ATTRIBUTION_KEYS = frozenset({"id", "cue", "content", "source", "source_entity_id", "flags"})
RELATION_KEYS = frozenset({"id", "label", "from_id", "to_id"})


def _attributes(d: dict[str, Any], reserved: frozenset[str]) -> dict[str, str | None]:
    return {k: (None if v is None else str(v)) for k, v in d.items() if k not in reserved}


@dataclass
class Entity:
    id: str
    label: str
    span: Span
    attributes: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, **self.span.to_dict(), **self.attributes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entity:
        return cls(str(d["id"]), d["label"], Span.from_dict(d), _attributes(d, ENTITY_KEYS))


@dataclass
class Argument:
    role: str
    entity_id: str


@dataclass
class Event:
    """An event: its type, the trigger span, arguments (role -> entity) and attributes."""

    id: str
    type: str
    trigger: Span
    arguments: list[Argument] = field(default_factory=list)
    attributes: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "trigger": self.trigger.to_dict(),
            "arguments": [asdict(a) for a in self.arguments],
            **self.attributes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            str(d["id"]),
            d["type"],
            Span.from_dict(d["trigger"]),
            [Argument(a["role"], str(a["entity_id"])) for a in d.get("arguments", [])],
            _attributes(d, EVENT_KEYS),
        )


@dataclass
class Attribution:
    """Who said or reported what: cue (required), content (required), source (optional)."""

    id: str
    cue: Span
    content: Span
    source: Span | None = None
    source_entity_id: str | None = None
    attributes: dict[str, str | None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # e.g. brat "Discuss" / "Discard"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cue": self.cue.to_dict(),
            "content": self.content.to_dict(),
            "source": self.source.to_dict() if self.source else None,
            "source_entity_id": self.source_entity_id,
            **self.attributes,
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attribution:
        return cls(
            str(d["id"]),
            Span.from_dict(d["cue"]),
            Span.from_dict(d["content"]),
            Span.from_dict(d["source"]) if d.get("source") else None,
            d.get("source_entity_id"),
            _attributes(d, ATTRIBUTION_KEYS),
            list(d.get("flags") or []),
        )


@dataclass
class Relation:
    """A typed entity-to-entity relation (the taxonomy's relations layer), e.g. per:title PER -> TITLE."""

    id: str
    label: str
    from_id: str
    to_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "from_id": self.from_id, "to_id": self.to_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Relation:
        return cls(str(d["id"]), d["label"], str(d["from_id"]), str(d["to_id"]))


def relation_id(label: str, from_id: str, to_id: str) -> str:
    """The id of a relation that has none of its own (Label Studio relations): from its content."""
    return f"{from_id}>{to_id}:{label}"


@dataclass
class Annotation:
    """One annotator's (or model's) annotation of one document: the canonical record.

    ``origin`` says where it was made: ``labelstudio`` (a human in Label Studio),
    ``prediction`` (a pre-annotator), ``brat`` (imported standoff), ``adjudicated`` (merged gold),
    ``demo`` (machine-made, accepted as annotation by ``make demo`` only).
    """

    doc_id: str
    text_sha256: str
    annotator: str
    entities: list[Entity] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    attributions: list[Attribution] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)  # only with a relations layer
    origin: str = "labelstudio"
    taxonomy_version: str | None = None
    task_id: int | None = None
    annotation_id: int | None = None
    ground_truth: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    lead_time: float | None = None
    model_version: str | None = None
    score: float | None = None
    notes: list[dict[str, str]] = field(default_factory=list)  # {"target": id, "text": note}
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["entities"] = [e.to_dict() for e in self.entities]
        d["events"] = [e.to_dict() for e in self.events]
        d["attributions"] = [a.to_dict() for a in self.attributions]
        if self.relations:
            d["relations"] = [r.to_dict() for r in self.relations]
        else:
            del d["relations"]  # absent when empty: records of taxonomies without relations are unchanged
        d["notes"] = [dict(n) for n in self.notes]
        d["meta"] = dict(self.meta)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Annotation:
        names = cls.__dataclass_fields__
        simple = {
            k: v for k, v in d.items() if k in names and k not in ("entities", "events", "attributions", "relations")
        }
        return cls(
            **simple,
            entities=[Entity.from_dict(e) for e in d.get("entities", [])],
            events=[Event.from_dict(e) for e in d.get("events", [])],
            attributions=[Attribution.from_dict(a) for a in d.get("attributions", [])],
            relations=[Relation.from_dict(r) for r in d.get("relations") or []],
        )

    def spans(self) -> Iterable[tuple[str, str, Span]]:
        """Every span with (layer, id, span): for checks that treat all spans alike."""
        for e in self.entities:
            yield "entities", e.id, e.span
        for ev in self.events:
            yield "events", ev.id, ev.trigger
        for a in self.attributions:
            yield "attribution.cue", a.id, a.cue
            yield "attribution.content", a.id, a.content
            if a.source is not None:
                yield "attribution.source", a.id, a.source
