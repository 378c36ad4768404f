"""The pre-annotators' configuration, read from the taxonomy's optional model keys.

``schemas/taxonomy.yaml`` carries, beside the labels annotators see, what the machine needs:

* ``spacy_labels`` on each entity type: the spaCy NER labels it takes (``PER: [PERSON]``,
  ``TIME: [DATE, TIME]``); a spaCy label no entity type lists is dropped (and counted);
* ``triggers`` on each event type: trigger lemmas (``Conflict:Attack: [attack, strike, ...]``);
* ``attribution.cues``: ``verbs`` (reporting-verb lemmas: "says/said/saying" is ``say``) and
  ``phrases`` (multiword cues in lower case, e.g. ``according to``).

All keys are optional (no key, no pre-annotation for that part). They are read here from
``Taxonomy.raw`` and checked with errors that name the key, so the taxonomy parser does not need
to know them (they can move into it later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corpus.core.errors import TaxonomyError


@dataclass(frozen=True)
class Lexicon:
    spacy_labels: dict[str, str]  # spaCy NER label -> taxonomy entity label
    triggers: dict[str, str]  # trigger lemma -> event type
    cue_verbs: frozenset[str]  # reporting-verb lemmas
    cue_phrases: tuple[tuple[str, ...], ...]  # multiword cues as lower-case word tuples, longest first
    version: str  # taxonomy version the lexicon comes from

    def map_entity(self, spacy_label: str) -> str | None:
        return self.spacy_labels.get(spacy_label)


def _words(value: Any, key: str, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaxonomyError(f"{path}: {key} must be a list of non-empty strings", hint=f"e.g. {key}: [a, b]")
    return [v.strip() for v in value]


def _entity_items(raw: dict[str, Any]) -> list[dict[str, Any]]:
    ents = raw.get("entities")
    if isinstance(ents, dict):  # {labels: [...], attributes: ...}
        ents = ents.get("labels") or ents.get("types")
    return [e for e in ents or [] if isinstance(e, dict)]


def load_lexicon(tax: Any) -> Lexicon:
    """The model keys of ``tax`` (a ``Taxonomy``), checked: unknown names and clashes are errors."""
    raw = getattr(tax, "raw", None) or {}
    path = getattr(tax, "path", "") or "taxonomy"
    labels = set(tax.entity_labels()) if raw.get("entities") is not None else set()
    spacy_labels: dict[str, str] = {}
    for e in _entity_items(raw):
        name = str(e.get("name"))
        for lab in _words(e.get("spacy_labels"), f"entities.{name}.spacy_labels", path):
            if lab in spacy_labels:
                raise TaxonomyError(
                    f"{path}: spaCy label {lab!r} is listed by entities {spacy_labels[lab]} and {name}",
                    hint="a spaCy label maps to one entity type",
                )
            if name not in labels:
                raise TaxonomyError(f"{path}: entities.{name}.spacy_labels: {name} is not an entity type")
            spacy_labels[lab] = name
    triggers: dict[str, str] = {}
    events = raw.get("events")
    types = events.get("types") if isinstance(events, dict) else None
    for t in types or []:
        if not isinstance(t, dict):
            continue
        name = str(t.get("name"))
        for lemma in _words(t.get("triggers"), f"events.{name}.triggers", path):
            lemma = lemma.lower()
            if lemma in triggers and triggers[lemma] != name:
                raise TaxonomyError(
                    f"{path}: trigger lemma {lemma!r} is listed by event types {triggers[lemma]} and {name}",
                    hint="a trigger lemma belongs to one event type",
                )
            triggers[lemma] = name
    att = raw.get("attribution")
    cues = att.get("cues") if isinstance(att, dict) else None
    if cues is not None and not isinstance(cues, dict):
        raise TaxonomyError(f"{path}: attribution.cues must be a mapping with `verbs` and `phrases`")
    cues = cues or {}
    unknown = sorted(set(cues) - {"verbs", "phrases"})
    if unknown:
        raise TaxonomyError(f"{path}: attribution.cues: unknown keys {unknown}", hint="use `verbs` and `phrases`")
    verbs = frozenset(v.lower() for v in _words(cues.get("verbs"), "attribution.cues.verbs", path))
    phrases = []
    for p in _words(cues.get("phrases"), "attribution.cues.phrases", path):
        words = tuple(p.lower().split())
        if len(words) < 2:
            raise TaxonomyError(
                f"{path}: attribution.cues.phrases: {p!r} is one word", hint="put single words under `verbs`"
            )
        phrases.append(words)
    phrases.sort(key=len, reverse=True)
    return Lexicon(spacy_labels, triggers, verbs, tuple(phrases), str(getattr(tax, "version", "")))


__all__ = ["Lexicon", "load_lexicon"]
