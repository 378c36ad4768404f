"""One gold-annotated article -> the rows of every dataset config (pure).

Rows are plain dicts whose values already have their final types (class labels as ids), so the
release writer only batches them into Arrow. Labels come from the taxonomy; an annotation using
a label the taxonomy does not know is refused here (``RowError``) and reported by the caller.

Configs:

* ``documents``: one row per article, the full structured annotation (exact fragments);
* ``ner``: one row per sentence, BIO tags over the entity labels;
* ``attribution``: one row per article (attribution contents often run over several
  sentences), three BIO columns ``cue_tags``, ``content_tags``, ``source_tags`` so cue, content
  and source may overlap each other. Within one column nested spans cannot be expressed: the
  outermost (earliest, longest) wins and the others are counted in the card.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from corpus.core.model import Annotation, Article, Span
from corpus.release import bio

if TYPE_CHECKING:
    from corpus.core.taxonomy import Taxonomy

CONFIGS = ("documents", "ner", "attribution")  # every config a release can have; LabelSet.configs: this one's


@dataclass(frozen=True)
class LabelSet:
    """Everything the release needs from the taxonomy, in taxonomy order."""

    version: str
    entities: tuple[str, ...]
    event_types: tuple[str, ...]
    roles: tuple[str, ...]
    event_attributes: dict[str, tuple[str, ...]]  # attribute name -> values
    attribution_spans: tuple[str, ...]  # span labels, cue / content / source order of the taxonomy
    attribution_attributes: dict[str, tuple[str, ...]]
    definitions: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> name -> definition
    entity_attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    relations: tuple[str, ...] = ()  # entity relation labels (the relations layer)
    span_roles: tuple[str, ...] = ()  # the role (model field: cue, content, source) of each attribution span
    has_attribution: bool = True
    has_relations: bool = False

    @classmethod
    def from_taxonomy(cls, tax: Taxonomy) -> LabelSet:
        """What a release needs, read through ``corpus.core.taxonomy`` accessors (never a list by hand)."""
        from corpus.core.taxonomy import ATTRIBUTION, ENTITIES, EVENTS, RELATIONS

        return cls(
            version=str(tax.version),
            entities=tax.entity_labels(),
            event_types=tax.event_types(),
            roles=tax.roles(),
            event_attributes={a.name: tuple(a.values) for a in tax.attributes_on(EVENTS)},
            attribution_spans=tax.attribution_span_names(),
            attribution_attributes={a.name: tuple(a.values) for a in tax.attributes_on(ATTRIBUTION)},
            definitions={
                ENTITIES: {e.name: e.definition for e in tax.entities},
                EVENTS: {e.name: e.definition for e in tax.events},
                ATTRIBUTION: {s.name: s.definition for s in tax.attribution_spans},
                RELATIONS: {r.name: r.definition for r in tax.entity_relations},
            },
            entity_attributes={a.name: tuple(a.values) for a in tax.attributes_on(ENTITIES)},
            relations=tuple(r.name for r in tax.entity_relations),
            span_roles=tuple(sp.role for sp in tax.attribution_spans),
            has_attribution=tax.has(ATTRIBUTION),
            has_relations=tax.has(RELATIONS),
        )

    @property
    def configs(self) -> tuple[str, ...]:
        """The configs of this release: ``attribution`` only with an attribution layer."""
        return tuple(c for c in CONFIGS if c != "attribution" or self.has_attribution)

    @property
    def attributes(self) -> dict[str, tuple[str, ...]]:
        return {**self.entity_attributes, **self.event_attributes, **self.attribution_attributes}

    @property
    def ner_names(self) -> list[str]:
        return bio.bio_names(self.entities)

    @property
    def attribution_columns(self) -> list[tuple[str, str]]:
        """(column, span name) per attribution span kind: ``Cue`` -> ``cue_tags``, ..."""
        return [(f"{name.lower()}_tags", name) for name in self.attribution_spans]

    def span_role(self, span_name: str) -> str:
        """The model field (cue / content / source) of an attribution span label."""
        roles = dict(zip(self.attribution_spans, self.span_roles)) if self.span_roles else {}
        return roles.get(span_name, span_name.lower())

    def attribution_names(self, span_name: str) -> list[str]:
        return bio.bio_names([span_name])


class RowError(ValueError):
    """The annotation cannot be turned into rows (label unknown to the taxonomy)."""


def _ids(names: tuple[str, ...] | list[str]) -> dict[str, int]:
    return {n: i for i, n in enumerate(names)}


class RowBuilder:
    """Builds rows for one release; holds the label -> id maps and the tagging reports."""

    def __init__(self, labels: LabelSet):
        self.labels = labels
        self.entity_ids = _ids(labels.entities)
        self.event_ids = _ids(labels.event_types)
        self.role_ids = _ids(labels.roles)
        self.attr_ids = {k: _ids(v) for k, v in labels.attributes.items()}
        self.relation_ids = _ids(labels.relations)
        self.ner_b = {label: 1 + 2 * i for i, label in enumerate(labels.entities)}
        self.reports: dict[str, bio.TagReport] = {"ner": bio.TagReport(), "attribution": bio.TagReport()}

    # ------------------------------------------------------------ documents

    def _label(self, table: dict[str, int], value: str | None, what: str, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        found = None if value is None else table.get(value)
        if found is None:
            raise RowError(
                f"{what} {value!r} is not in taxonomy {self.labels.version}"
                + (f" (known: {', '.join(table)})" if len(table) < 20 else "")
            )
        return found

    @staticmethod
    def _fragments(span: Span) -> list[dict[str, int]]:
        return [{"start": f.start, "end": f.end} for f in span.fragments]

    @classmethod
    def _span(cls, span: Span | None) -> dict[str, Any] | None:
        if span is None:
            return None
        return {"fragments": cls._fragments(span), "text": span.text}

    def _attrs(self, names: dict[str, tuple[str, ...]], values: dict[str, str | None]) -> dict[str, int | None]:
        unknown = [k for k, v in values.items() if k not in names and v is not None]
        if unknown:
            raise RowError(f"attribute {unknown[0]!r} is not in taxonomy {self.labels.version} on this kind of region")
        return {k: self._label(self.attr_ids[k], values.get(k), k, optional=True) for k in names}

    def document_row(self, article: Article, ann: Annotation, extra: dict[str, Any]) -> dict[str, Any]:
        L = self.labels
        row = {
            "id": article.doc_id,
            "title": article.title,
            "text": article.text,
            "source": article.source,
            "url": article.url,
            "published": article.published,
            "text_sha256": article.text_sha256,
            **extra,
            "entities": [
                {
                    "id": e.id,
                    "label": self._label(self.entity_ids, e.label, "entity label"),
                    "fragments": self._fragments(e.span),
                    "text": e.span.text,
                    **self._attrs(L.entity_attributes, e.attributes),
                }
                for e in ann.entities
            ],
            "events": [
                {
                    "id": ev.id,
                    "type": self._label(self.event_ids, ev.type, "event type"),
                    "trigger": self._span(ev.trigger),
                    "arguments": [
                        {"role": self._label(self.role_ids, g.role, "event role"), "entity_id": g.entity_id}
                        for g in ev.arguments
                    ],
                    **self._attrs(L.event_attributes, ev.attributes),
                }
                for ev in ann.events
            ],
            "attributions": [
                {
                    "id": at.id,
                    "cue": self._span(at.cue),
                    "content": self._span(at.content),
                    "source": self._span(at.source),
                    "source_entity_id": at.source_entity_id,
                    **self._attrs(L.attribution_attributes, at.attributes),
                    "flags": list(at.flags),
                }
                for at in ann.attributions
            ],
        }
        if L.has_relations:
            row["relations"] = [
                {
                    "id": r.id,
                    "label": self._label(self.relation_ids, r.label, "relation label"),
                    "from_id": r.from_id,
                    "to_id": r.to_id,
                }
                for r in ann.relations
            ]
        elif ann.relations:
            raise RowError(f"the annotation has relations but taxonomy {L.version} has no relations layer")
        return row

    # ------------------------------------------------------------ token configs

    def token_rows(self, article: Article, ann: Annotation) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(ner rows, one sentence each; the attribution row of the whole article)."""
        text = article.text
        toks = bio.tokenize(text)
        entity_spans = [(e.label, [(f.start, f.end) for f in e.span.fragments]) for e in ann.entities]
        protected = [frag for _, frags in entity_spans for frag in frags]
        sentences = bio.sentence_token_ranges(toks, bio.split_sentences(text, protected))
        ner_tags = bio.bio_encode(toks, entity_spans, self.ner_b, self.reports["ner"])
        ner = []
        for k, (i, j) in enumerate(sentences):
            ner.append(
                {
                    "id": f"{article.doc_id}-{k:04d}",
                    "doc_id": article.doc_id,
                    "sentence": k,
                    "tokens": toks.text[i:j],
                    "token_starts": toks.starts[i:j],
                    "token_ends": toks.ends[i:j],
                    "ner_tags": ner_tags[i:j],
                }
            )
        attr = {
            "id": article.doc_id,
            "doc_id": article.doc_id,
            "tokens": toks.text,
            "token_starts": toks.starts,
            "token_ends": toks.ends,
        }
        for column, name in self.labels.attribution_columns:
            spans = []
            for at in ann.attributions:
                span = getattr(at, self.labels.span_role(name))  # the model's field of that span kind
                if span is not None:
                    spans.append((name, [(f.start, f.end) for f in span.fragments]))
            attr[column] = bio.bio_encode(toks, spans, {name: 1}, self.reports["attribution"])
        return ner, attr


def label_counts(ann: Annotation, labels: LabelSet | tuple[str, ...]) -> Counter:
    """Per-label counts of one annotation, keyed ``(layer, label)`` for the card's tables."""
    if not isinstance(labels, LabelSet):  # the attribution span names alone (older callers)
        labels = LabelSet("", (), (), (), {}, tuple(labels), {})
    c: Counter = Counter()
    for e in ann.entities:
        c["entities", e.label] += 1
    for ev in ann.events:
        c["events", ev.type] += 1
    for at in ann.attributions:
        for name in labels.attribution_spans:
            if getattr(at, labels.span_role(name)) is not None:
                c["attributions", name] += 1
    for r in ann.relations:
        c["relations", r.label] += 1
    return c
