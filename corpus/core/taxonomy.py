"""The one label scheme: load and check ``schemas/taxonomy.yaml``, answer label and structure
questions, and render the Label Studio labeling config and project instructions from it.

Why one module: every other module asks *this* one which layers, labels, roles, attributes and
control names exist, so a change in the YAML changes the config, the JSON Schemas, the validator,
the guidelines' tables and the release features together (``corpus taxonomy check`` fails on any
stale copy). No other module spells a label, an attribute, a control or a layer.

The file (every layer optional, at least one of entities / events / attribution)::

    name: newscorpus
    version: "1.0.0"
    text_field: text            # <Text name="text" value="$text">; the task data key (default text)
    entities:                   # a list of labels, or a mapping:
      control: entity           #   the <Labels name=...> (default entity)
      labels: [{name: PER, definition: ..., example: ..., hotkey: "1"}, ...]
      attributes:               #   per-region choices (see below)
        nationality: {definition: ..., values: [...], applies_to: PER}
    events:
      control: event            # default event
      types: [{name: "Conflict:Attack", ..., roles: {Attacker: [PER, ORG]}}]
      attributes: {realis: {definition: ..., values: [...], required: true, hotkeys: {...}}}
    attribution:                # cue ties content to source (PARC / PolNeAR)
      control: attribution      # default attribution
      spans: [{name: Cue, role: cue, ...}, {name: Content, role: content}, {name: Source, role: source}]
      relations: [{name: has_source, role: has_source, from: Cue, to: Source}, ...]  # + has_content, source_entity
      attributes: {...}         # on the cue span unless `applies_to` names another span label
    relations:                  # typed entity -> entity relations, drawn as <Relation> labels
      types: [{name: "per:title", definition: ..., from: [PER], to: [TITLE]}]
    fragment_relation: {name: continues, definition: ...}

An attribute has ``definition``, ``values``, ``required`` (default false), ``hotkeys`` and
``value_definitions`` (value -> text), and sits on every region of its layer or, with
``applies_to``, on the regions of one label (an entity label, an event type, an attribution span
label). ``role`` in the attribution layer says which span is the cue / content / source and which
relation is has_source / has_content / source_entity; when absent it is read from the name
(``Cue`` -> cue, ``has_source`` -> has_source), so files written before roles existed still load.
Label names may hold any character Label Studio accepts except commas (``STATE/PROVINCE``,
``per:title``); control and attribute names are identifiers.

API: :func:`load` (``$CORPUS_TAXONOMY`` or the default file) and :func:`parse` give a frozen
:class:`Taxonomy`; its layers are ``entity_layer``, ``event_layer``, ``attribution_layer``,
``relation_layer`` (``None`` when absent) and ``text`` is the text field. Region kinds are named
by layer key (:data:`ENTITIES`, :data:`EVENTS`, :data:`ATTRIBUTION`); ask
:meth:`Taxonomy.attributes_on` which attributes a region of a kind and label carries,
:meth:`Taxonomy.control` for a layer's control name and :meth:`Taxonomy.layer_of` for the reverse.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import yaml

from corpus.core import resources
from corpus.core.errors import TaxonomyError
from corpus.core.model import ATTRIBUTION_KEYS, ENTITY_KEYS, EVENT_KEYS

# The packaged copies (corpus/resources/, refreshed from schemas/ by ``corpus taxonomy generate``).
DEFAULT_PATH = resources.path(resources.TAXONOMY)
GUIDELINES_PATH = resources.path(resources.GUIDELINES)
_READ_HINT = "pass the path of a readable taxonomy YAML file (taxonomy=FILE) or set CORPUS_TAXONOMY"

# ---------------------------------------------------------------- layers, roles, defaults

# Layer keys of the taxonomy file; they also name region kinds (an entity, an event trigger, an
# attribution span) wherever a module has to say which kind it means.
ENTITIES, EVENTS, ATTRIBUTION, RELATIONS = "entities", "events", "attribution", "relations"
LAYERS = (ENTITIES, EVENTS, ATTRIBUTION, RELATIONS)
SPAN_LAYERS = (ENTITIES, EVENTS, ATTRIBUTION)  # layers drawn as <Labels> regions

# Default control names (``<Labels name=...>``) and text field: today's config.
DEFAULT_TEXT = "text"
DEFAULT_CONTROLS = {ENTITIES: "entity", EVENTS: "event", ATTRIBUTION: "attribution"}

# The attribution layer's built-in meaning: span roles and relation roles.
CUE, CONTENT, SOURCE = "cue", "content", "source"
SPAN_ROLES = (CUE, CONTENT, SOURCE)
HAS_SOURCE, HAS_CONTENT, SOURCE_ENTITY = "has_source", "has_content", "source_entity"
RELATION_ROLES = {HAS_SOURCE: (CUE, SOURCE), HAS_CONTENT: (CUE, CONTENT), SOURCE_ENTITY: (SOURCE, ENTITIES)}

GRANULARITY = "word"

# Label Studio 1.23's own shortcuts (libs/editor/src/core/settings/keymap.json: every "key" and
# "mac"), plus the letters its image tools bind. A label hotkey equal to one of these would be
# shadowed or would shadow it, so the loader rejects it.
LS_RESERVED_HOTKEYS = frozenset(
    """
    [ ] alt+. alt+a alt+d alt+enter alt+h alt+l alt+left alt+m alt+r alt+right b backspace
    command+alt+left command+alt+right command+alt+space command+b command+backspace command+d
    command+down command+enter command+h command+left command+minus command+p command+plus
    command+right command+shift+z command+up command+z ctrl+alt+left ctrl+alt+right ctrl+alt+space
    ctrl+b ctrl+backspace ctrl+d ctrl+down ctrl+enter ctrl+h ctrl+left ctrl+minus ctrl+p ctrl+plus
    ctrl+right ctrl+shift+z ctrl+space ctrl+up ctrl+z delete e enter escape h k left m o p r right
    shift+1 shift+2 shift+alt+left shift+alt+right shift+command+alt+left shift+command+alt+right
    shift+ctrl+alt+left shift+ctrl+alt+right shift+left shift+r shift+right u v w space tab
    """.split()
)

# One colour family per layer, so an annotator tells the layers apart at a glance.
PALETTES = {
    ENTITIES: [
        "#1E88E5",
        "#43A047",
        "#00ACC1",
        "#3949AB",
        "#00897B",
        "#7CB342",
        "#039BE5",
        "#2E7D32",
        "#5C6BC0",
        "#26A69A",
        "#0277BD",
        "#558B2F",
    ],
    EVENTS: [
        "#E53935",
        "#FB8C00",
        "#F4511E",
        "#C62828",
        "#FFA000",
        "#EF6C00",
        "#BF360C",
        "#FF7043",
        "#D84315",
        "#FFB300",
    ],
    ATTRIBUTION: ["#6A1B9A", "#BA68C8", "#8E24AA", "#7B1FA2", "#CE93D8"],
}
RELATION_COLORS = {"role": "#E65100", "attribution": "#7B1FA2", "fragment": "#757575", "entity": "#00695C"}

# Labels, roles and choice values: anything Label Studio shows, but no comma (Label Studio splits
# whenLabelValue / whenChoiceValue on commas), no control character, no surrounding space.
_LABEL_RE = re.compile(r"^[^\s,\x00-\x1f\x7f](?:[^,\x00-\x1f\x7f]*[^\s,\x00-\x1f\x7f])?$")
# Control names, the text field and attribute names: tag names in the config and JSON keys.
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")


# ---------------------------------------------------------------- the typed taxonomy


@dataclass(frozen=True)
class EntityType:
    name: str
    definition: str
    example: str
    hotkey: str
    color: str


@dataclass(frozen=True)
class Role:
    name: str
    entity_types: tuple[str, ...]


@dataclass(frozen=True)
class EventType:
    name: str
    definition: str
    example: str
    hotkey: str
    color: str
    roles: tuple[Role, ...]

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.roles)


@dataclass(frozen=True)
class Attribute:
    """A per-region choice on the regions of ``layer``; ``label`` limits it to one label's regions."""

    name: str
    definition: str
    values: tuple[str, ...]
    required: bool
    layer: str  # ENTITIES | EVENTS | ATTRIBUTION
    label: str | None = None  # None: every region of the layer
    hotkeys: tuple[tuple[str, str], ...] = ()  # (value, hotkey)
    value_definitions: tuple[tuple[str, str], ...] = ()  # (value, definition)

    def hotkey(self, value: str) -> str | None:
        return dict(self.hotkeys).get(value)

    def value_definition(self, value: str) -> str:
        return dict(self.value_definitions).get(value, "")

    def applies(self, layer: str, label: str) -> bool:
        return self.layer == layer and (self.label is None or self.label == label)


@dataclass(frozen=True)
class AttributionSpan:
    name: str
    definition: str
    example: str
    required: bool
    hotkey: str
    color: str
    role: str = ""  # CUE | CONTENT | SOURCE


@dataclass(frozen=True)
class RelationType:
    """A relation label; ``from_kind``/``to_kind`` are a label name, a layer key or ``any``."""

    name: str
    definition: str
    from_kind: str
    to_kind: str
    group: str  # role | attribution | entity | fragment
    role: str = ""  # attribution relations: HAS_SOURCE | HAS_CONTENT | SOURCE_ENTITY


@dataclass(frozen=True)
class EntityRelation:
    """A typed entity -> entity relation: ``from_types`` / ``to_types`` are entity labels."""

    name: str
    definition: str
    from_types: tuple[str, ...]
    to_types: tuple[str, ...]
    color: str


@dataclass(frozen=True)
class EntityLayer:
    control: str
    types: tuple[EntityType, ...]
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class EventLayer:
    control: str
    types: tuple[EventType, ...]
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class AttributionLayer:
    control: str
    spans: tuple[AttributionSpan, ...]
    relations: tuple[RelationType, ...]
    attributes: tuple[Attribute, ...] = ()

    def span_label(self, role: str) -> str:
        return next(s.name for s in self.spans if s.role == role)

    def relation_label(self, role: str) -> str | None:
        return next((r.name for r in self.relations if r.role == role), None)

    @property
    def cue(self) -> str:
        return self.span_label(CUE)

    @property
    def content(self) -> str:
        return self.span_label(CONTENT)

    @property
    def source(self) -> str:
        return self.span_label(SOURCE)

    @property
    def has_source(self) -> str:
        return self.relation_label(HAS_SOURCE) or ""

    @property
    def has_content(self) -> str:
        return self.relation_label(HAS_CONTENT) or ""

    @property
    def source_entity(self) -> str:
        return self.relation_label(SOURCE_ENTITY) or ""

    def role_of(self, label: str) -> str | None:
        return next((s.role for s in self.spans if s.name == label), None)


@dataclass(frozen=True)
class RelationLayer:
    types: tuple[EntityRelation, ...]
    unlabelled: str = ""  # the type a relation drawn without a label means (configs without <Relation>s)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    text: str  # the <Text> name and the task data key holding the article text
    entity_layer: EntityLayer | None
    event_layer: EventLayer | None
    attribution_layer: AttributionLayer | None
    relation_layer: RelationLayer | None
    fragment_relation: RelationType
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    text_key: str = ""  # the task data key of the text when it differs from ``text`` (value="$KEY")
    document_attributes: tuple[Attribute, ...] = ()  # choices on the whole task (kept in record meta)
    foreign: bool = False  # derived from another project's label config (corpus.core.scheme)
    # answers of the lookups the converters ask per region (the taxonomy is immutable)
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    @property
    def data_key(self) -> str:
        """The task data key holding the article text."""
        return self.text_key or self.text

    def _cached(self, key: Any, make: Any) -> Any:
        memo = self._memo
        if key not in memo:
            memo[key] = make()
        return memo[key]

    # -- layers
    def has(self, layer: str) -> bool:
        return self.layer(layer) is not None

    def layer(self, layer: str) -> EntityLayer | EventLayer | AttributionLayer | RelationLayer | None:
        if layer == ENTITIES:
            return self.entity_layer
        if layer == EVENTS:
            return self.event_layer
        if layer == ATTRIBUTION:
            return self.attribution_layer
        return self.relation_layer if layer == RELATIONS else None

    def layers(self) -> tuple[str, ...]:
        """Keys of the layers this taxonomy has, in file order."""
        return tuple(k for k in LAYERS if self.has(k))

    def control(self, layer: str) -> str | None:
        """The ``<Labels>`` control name of a span layer (None when the layer is absent)."""
        lay = self.layer(layer)
        return getattr(lay, "control", None)

    def label_controls(self) -> tuple[str, ...]:
        return self._cached("label_controls", lambda: tuple(c for c in (self.control(k) for k in SPAN_LAYERS) if c))

    def layer_of(self, control: str) -> str | None:
        """The layer key of a ``<Labels>`` control name."""
        by_control = self._cached("layer_of", lambda: {self.control(k): k for k in SPAN_LAYERS if self.control(k)})
        return by_control.get(control)

    # -- plain accessors (what push, pull, validate and release use)
    @property
    def entities(self) -> tuple[EntityType, ...]:
        return self.entity_layer.types if self.entity_layer else ()

    @property
    def events(self) -> tuple[EventType, ...]:
        return self.event_layer.types if self.event_layer else ()

    @property
    def entity_attributes(self) -> tuple[Attribute, ...]:
        return self.entity_layer.attributes if self.entity_layer else ()

    @property
    def event_attributes(self) -> tuple[Attribute, ...]:
        return self.event_layer.attributes if self.event_layer else ()

    @property
    def attribution_spans(self) -> tuple[AttributionSpan, ...]:
        return self.attribution_layer.spans if self.attribution_layer else ()

    @property
    def attribution_relations(self) -> tuple[RelationType, ...]:
        return self.attribution_layer.relations if self.attribution_layer else ()

    @property
    def attribution_attributes(self) -> tuple[Attribute, ...]:
        return self.attribution_layer.attributes if self.attribution_layer else ()

    @property
    def entity_relations(self) -> tuple[EntityRelation, ...]:
        return self.relation_layer.types if self.relation_layer else ()

    def entity_relation(self, name: str) -> EntityRelation | None:
        return next((r for r in self.entity_relations if r.name == name), None)

    def entity_labels(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities)

    def event_types(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.events)

    def event(self, name: str) -> EventType | None:
        return self._cached("event", lambda: {e.name: e for e in self.events}).get(name)

    def roles(self, event_type: str | None = None) -> tuple[str, ...]:
        """Role names of one event type, or the union over all types in taxonomy order."""
        if event_type is not None:
            ev = self.event(event_type)
            return ev.role_names if ev else ()

        def union() -> tuple[str, ...]:
            out: list[str] = []
            for ev in self.events:
                out += [r for r in ev.role_names if r not in out]
            return tuple(out)

        return self._cached("roles", union)

    def role_entity_types(self, event_type: str, role: str) -> tuple[str, ...]:
        ev = self.event(event_type)
        r = ev.role(role) if ev else None
        return r.entity_types if r else ()

    def attribution_span_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.attribution_spans)

    def attributes(self) -> tuple[Attribute, ...]:
        """Every attribute, in config order: entities, events, attribution."""
        return self._cached(
            "attributes", lambda: self.entity_attributes + self.event_attributes + self.attribution_attributes
        )

    def attribute(self, name: str) -> Attribute | None:
        by_name = self._cached("attribute", lambda: {a.name: a for a in self.attributes()})
        return by_name.get(name)

    def attributes_on(self, layer: str, label: str | None = None) -> tuple[Attribute, ...]:
        """Attributes a region of ``layer`` with ``label`` carries (every one of the layer when None).

        For the attribution layer ``label`` is the span label the attribute sits on; an
        attribution record carries the attributes of all its spans.
        """
        return self._cached(
            ("attributes_on", layer, label),
            lambda: tuple(
                a for a in self.attributes() if a.layer == layer and (label is None or a.applies(layer, label))
            ),
        )

    def attribute_slots(self, layer: str, label: str | None = None) -> dict[str, str | None]:
        """``{name: None}`` for the attributes of such a region: a record's unset attributes."""
        return {a.name: None for a in self.attributes_on(layer, label)}

    def attribute_values(self, name: str) -> tuple[str, ...]:
        a = self.attribute(name)
        return a.values if a else ()

    def relation_types(self) -> tuple[RelationType, ...]:
        """Every relation label of the config: event roles, attribution, entity relations, ``continues``."""
        ent, evt = ENTITIES, EVENTS
        roles = tuple(RelationType(r, f"Event argument: {r}.", evt, ent, "role") for r in self.roles())
        rels = tuple(RelationType(r.name, r.definition, ent, ent, "entity") for r in self.entity_relations)
        return roles + self.attribution_relations + rels + (self.fragment_relation,)

    def relation_labels(self) -> tuple[str, ...]:
        return self._cached("relation_labels", lambda: tuple(r.name for r in self.relation_types()))

    def labels_of(self, control: str) -> tuple[str, ...]:
        """Label values of a Labels control."""
        return {
            ENTITIES: self.entity_labels(),
            EVENTS: self.event_types(),
            ATTRIBUTION: self.attribution_span_names(),
        }.get(self.layer_of(control) or "", ())

    def hotkeys(self) -> list[tuple[str, str]]:
        """(where, hotkey) for every label and choice that has one, in config order."""
        out = [(f"{self.control(ENTITIES)}:{e.name}", e.hotkey) for e in self.entities]
        out += [(f"{self.control(EVENTS)}:{e.name}", e.hotkey) for e in self.events]
        out += [(f"{self.control(ATTRIBUTION)}:{s.name}", s.hotkey) for s in self.attribution_spans]
        for a in self.attributes():
            out += [(f"{a.name}:{v}", k) for v, k in a.hotkeys]
        return [(w, k) for w, k in out if k]


# ---------------------------------------------------------------- loading and checks


def normalize_hotkey(key: str) -> str:
    """Canonical spelling for clash checks: lower case, modifiers sorted, ``cmd`` -> ``command``."""
    alias = {"cmd": "command", "control": "ctrl", "option": "alt", "esc": "escape", "return": "enter"}
    parts = [alias.get(p.strip().lower(), p.strip().lower()) for p in str(key).split("+")]
    *mods, last = parts
    return "+".join(sorted(mods) + [last])


_RESERVED_NORMALIZED = frozenset(normalize_hotkey(k) for k in LS_RESERVED_HOTKEYS)


def _err(path: str, message: str, hint: str | None = None) -> TaxonomyError:
    return TaxonomyError(
        f"{path}: {message}", hint=hint or "fix schemas/taxonomy.yaml, then run `corpus taxonomy generate`"
    )


def _text(d: dict[str, Any], key: str, where: str, path: str, required: bool = True) -> str:
    v = d.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise _err(path, f"{where} has no {key}")
        return ""
    if not isinstance(v, (str, int, float)):
        raise _err(path, f"{where}: {key} must be a string, not {type(v).__name__}")
    return str(v).strip()


def _seq(v: Any, where: str, path: str) -> list[Any]:
    if not isinstance(v, list) or not v:
        raise _err(path, f"{where} must be a non-empty list")
    return v


def _map(v: Any, where: str, path: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _err(path, f"{where} must be a mapping")
    return v


def _unique(names: list[str], what: str, path: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise _err(path, f"duplicate {what} {n!r}")
        seen.add(n)


def _name(v: Any, where: str, path: str) -> str:
    """A label, role or value: any text Label Studio shows, without commas or control characters."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str) or not _LABEL_RE.match(v):
        raise _err(
            path,
            f"{where}: invalid name {v!r} (non-empty; no comma, no control character, no leading or trailing space)",
        )
    return v


def _ident(v: Any, where: str, path: str) -> str:
    """A control name, the text field or an attribute name: used as a config tag name and a JSON key."""
    if not isinstance(v, str) or not _IDENT_RE.match(v):
        raise _err(path, f"{where}: invalid name {v!r} (letters, digits, _ and - only, starting with a letter or _)")
    return v


def _color(d: dict[str, Any], palette: list[str], i: int, where: str, path: str) -> str:
    c = d.get("color")
    if c is None:
        return palette[i % len(palette)]
    if not isinstance(c, str) or not _COLOR_RE.match(c):
        raise _err(path, f"{where}: color must be #RRGGBB, not {c!r}")
    return c


def _bool(d: dict[str, Any], key: str, where: str, path: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise _err(path, f"{where}.{key} must be true or false")
    return v


def _attributes(
    d: Any,
    layer: str,
    where: str,
    path: str,
    labels: tuple[str, ...],
    reserved: frozenset[str],
    default_label: str | None = None,
) -> tuple[Attribute, ...]:
    out = []
    for name, spec in _map(d or {}, where, path).items():
        _ident(name, where, path)
        if name in reserved:
            raise _err(
                path,
                f"{where}.{name}: {name!r} is a key of the record itself, not a possible attribute name",
                f"reserved here: {', '.join(sorted(reserved))}",
            )
        spec = _map(spec, f"{where}.{name}", path)
        values = [
            _name(v, f"{where}.{name}.values", path) for v in _seq(spec.get("values"), f"{where}.{name}.values", path)
        ]
        _unique(values, f"value of {where}.{name}", path)
        keys = _map(spec.get("hotkeys") or {}, f"{where}.{name}.hotkeys", path)
        unknown = [k for k in keys if str(k) not in values]
        if unknown:
            raise _err(path, f"{where}.{name}.hotkeys names values that do not exist: {unknown}")
        keys = {str(k): v for k, v in keys.items()}
        defs = _map(spec.get("value_definitions") or {}, f"{where}.{name}.value_definitions", path)
        unknown = [k for k in defs if str(k) not in values]
        if unknown:
            raise _err(path, f"{where}.{name}.value_definitions names values that do not exist: {unknown}")
        defs = {str(k): v for k, v in defs.items()}
        label = spec.get("applies_to", default_label)
        if label is not None:
            label = _name(label, f"{where}.{name}.applies_to", path)
            if label not in labels:
                raise _err(
                    path,
                    f"{where}.{name}.applies_to: unknown label {label!r}",
                    f"one of the layer's labels: {', '.join(labels)}",
                )
        out.append(
            Attribute(
                name,
                _text(spec, "definition", f"{where}.{name}", path),
                tuple(values),
                _bool(spec, "required", f"{where}.{name}", path),
                layer,
                label,
                tuple((v, str(keys[v])) for v in values if keys.get(v)),
                tuple((v, str(defs[v]).strip()) for v in values if defs.get(v)),
            )
        )
    return tuple(out)


def _control(d: dict[str, Any], layer: str, path: str) -> str:
    v = d.get("control", DEFAULT_CONTROLS[layer])
    return _ident(v, f"{layer}.control", path)


def _entity_layer(v: Any, path: str) -> EntityLayer:
    spec: dict[str, Any] = {"labels": v} if isinstance(v, list) else _map(v, ENTITIES, path)
    types = []
    for i, e in enumerate(_seq(spec.get("labels"), f"{ENTITIES}.labels", path)):
        e = _map(e, f"{ENTITIES}[{i}]", path)
        n = _name(e.get("name"), f"{ENTITIES}[{i}]", path)
        types.append(
            EntityType(
                n,
                _text(e, "definition", n, path),
                _text(e, "example", n, path),
                _text(e, "hotkey", n, path, required=False),
                _color(e, PALETTES[ENTITIES], i, n, path),
            )
        )
    names = tuple(t.name for t in types)
    _unique(list(names), "entity type", path)
    attrs = _attributes(spec.get("attributes"), ENTITIES, f"{ENTITIES}.attributes", path, names, ENTITY_KEYS)
    return EntityLayer(_control(spec, ENTITIES, path), tuple(types), attrs)


def _event_layer(v: Any, ent_names: tuple[str, ...], path: str) -> EventLayer:
    ev = _map(v, EVENTS, path)
    events = []
    for i, t in enumerate(_seq(ev.get("types"), f"{EVENTS}.types", path)):
        t = _map(t, f"{EVENTS}.types[{i}]", path)
        n = _name(t.get("name"), f"{EVENTS}.types[{i}]", path)
        roles = []
        for rname, types in _map(t.get("roles") or {}, f"{n}.roles", path).items():
            _name(rname, f"{n}.roles", path)
            types = [str(x) for x in _seq(types, f"{n}.roles.{rname}", path)]
            bad = [x for x in types if x not in ent_names]
            if bad:
                raise _err(
                    path,
                    f"event type {n}: role {rname} accepts unknown entity types {bad}",
                    f"use entity names from `{ENTITIES}:` ({', '.join(ent_names) or 'there is no entities layer'})",
                )
            _unique(types, f"entity type in {n}.roles.{rname}", path)
            roles.append(Role(rname, tuple(types)))
        events.append(
            EventType(
                n,
                _text(t, "definition", n, path),
                _text(t, "example", n, path),
                _text(t, "hotkey", n, path, required=False),
                _color(t, PALETTES[EVENTS], i, n, path),
                tuple(roles),
            )
        )
    names = tuple(e.name for e in events)
    _unique(list(names), "event type", path)
    attrs = _attributes(ev.get("attributes"), EVENTS, f"{EVENTS}.attributes", path, names, EVENT_KEYS)
    return EventLayer(_control(ev, EVENTS, path), tuple(events), attrs)


def _attribution_layer(v: Any, has_entities: bool, path: str) -> AttributionLayer:
    att = _map(v, ATTRIBUTION, path)
    spans = []
    for i, s in enumerate(_seq(att.get("spans"), f"{ATTRIBUTION}.spans", path)):
        s = _map(s, f"{ATTRIBUTION}.spans[{i}]", path)
        n = _name(s.get("name"), f"{ATTRIBUTION}.spans[{i}]", path)
        role = str(s.get("role") or n.lower())
        if role not in SPAN_ROLES:
            raise _err(
                path,
                f"attribution span {n}: role {role!r} is not one of {', '.join(SPAN_ROLES)}",
                "add `role: cue|content|source` to each attribution span",
            )
        spans.append(
            AttributionSpan(
                n,
                _text(s, "definition", n, path),
                _text(s, "example", n, path),
                _bool(s, "required", f"attribution span {n}", path),
                _text(s, "hotkey", n, path, required=False),
                _color(s, PALETTES[ATTRIBUTION], i, n, path),
                role,
            )
        )
    span_names = tuple(s.name for s in spans)
    _unique(list(span_names), "attribution span", path)
    roles = [s.role for s in spans]
    if sorted(roles) != sorted(SPAN_ROLES):
        raise _err(
            path,
            f"attribution.spans must have exactly one span per role ({', '.join(SPAN_ROLES)}): the canonical "
            f"model's cue/content/source; found roles {roles} for {list(span_names)}",
        )
    by_role = {s.role: s.name for s in spans}
    relations = []
    for i, r in enumerate(_seq(att.get("relations"), f"{ATTRIBUTION}.relations", path)):
        r = _map(r, f"{ATTRIBUTION}.relations[{i}]", path)
        n = _name(r.get("name"), f"{ATTRIBUTION}.relations[{i}]", path)
        fr, to = _text(r, "from", n, path), _text(r, "to", n, path)
        for end in (fr, to):
            if end not in span_names and end != "entity" and end != ENTITIES:
                raise _err(path, f"relation {n}: unknown end {end!r} (an attribution span name or `entity`)")
        ends = tuple(ENTITIES if e in ("entity", ENTITIES) else e for e in (fr, to))
        role = r.get("role") or (n if n in RELATION_ROLES else "")
        if not role:
            role = next((k for k, (a, b) in RELATION_ROLES.items() if (by_role[a], by_role.get(b, b)) == ends), "")
        relations.append(RelationType(n, _text(r, "definition", n, path), ends[0], ends[1], "attribution", str(role)))
    for role, (a, b) in RELATION_ROLES.items():
        want = (by_role[a], by_role.get(b, b))
        r = next((x for x in relations if x.role == role), None)
        if role == SOURCE_ENTITY and not has_entities:
            if r is not None:
                raise _err(
                    path, f"attribution relation {r.name} links a source to an entity: there is no entities layer"
                )
            continue
        if r is None or (r.from_kind, r.to_kind) != want:
            raise _err(
                path,
                f"attribution.relations must define {role}: {want[0]} -> {'entity' if want[1] == ENTITIES else want[1]}",
            )
    _unique([r.role for r in relations if r.role], "attribution relation role", path)
    attrs = _attributes(
        att.get("attributes"),
        ATTRIBUTION,
        f"{ATTRIBUTION}.attributes",
        path,
        span_names,
        ATTRIBUTION_KEYS,
        by_role[CUE],
    )
    return AttributionLayer(_control(att, ATTRIBUTION, path), tuple(spans), tuple(relations), attrs)


def _relation_layer(v: Any, ent_names: tuple[str, ...], path: str) -> RelationLayer:
    spec: dict[str, Any] = {"types": v} if isinstance(v, list) else _map(v, RELATIONS, path)
    out = []
    for i, r in enumerate(_seq(spec.get("types"), f"{RELATIONS}.types", path)):
        r = _map(r, f"{RELATIONS}.types[{i}]", path)
        n = _name(r.get("name"), f"{RELATIONS}.types[{i}]", path)
        ends = []
        for key in ("from", "to"):
            val = r.get(key)
            types = [str(x) for x in (_seq(val, f"{RELATIONS}.{n}.{key}", path) if isinstance(val, list) else [val])]
            if not val:
                raise _err(path, f"relation {n} has no {key} (the entity labels it may start / end at)")
            bad = [x for x in types if x not in ent_names]
            if bad:
                raise _err(
                    path,
                    f"relation {n}: {key} names unknown entity types {bad}",
                    f"use entity names from `{ENTITIES}:` ({', '.join(ent_names)})",
                )
            _unique(types, f"entity type in {RELATIONS}.{n}.{key}", path)
            ends.append(tuple(types))
        c = r.get("color", RELATION_COLORS["entity"])
        if not isinstance(c, str) or not _COLOR_RE.match(c):
            raise _err(path, f"relation {n}: color must be #RRGGBB, not {c!r}")
        out.append(EntityRelation(n, _text(r, "definition", n, path), ends[0], ends[1], c))
    _unique([r.name for r in out], "relation type", path)
    return RelationLayer(tuple(out))


def parse(data: Any, path: str = "<taxonomy>") -> Taxonomy:
    """Build and check a :class:`Taxonomy` from the YAML mapping; raise ``TaxonomyError`` on any flaw."""
    d = _map(data, "the top level", path)
    version = d.get("version")
    if version is None or str(version).strip() == "":
        raise _err(path, "no version", 'add `version: "1.0.0"` and bump it whenever a label changes')
    if not any(d.get(k) is not None for k in SPAN_LAYERS):
        raise _err(path, f"no layer: a taxonomy needs at least one of {', '.join(SPAN_LAYERS)}")
    text = _ident(d.get("text_field", DEFAULT_TEXT), "text_field", path)

    ent = _entity_layer(d[ENTITIES], path) if d.get(ENTITIES) is not None else None
    ent_names = tuple(t.name for t in ent.types) if ent else ()
    evt = _event_layer(d[EVENTS], ent_names, path) if d.get(EVENTS) is not None else None
    att = _attribution_layer(d[ATTRIBUTION], ent is not None, path) if d.get(ATTRIBUTION) is not None else None
    rel = None
    if d.get(RELATIONS) is not None:
        if ent is None:
            raise _err(path, f"the {RELATIONS} layer links entities: it needs an {ENTITIES} layer")
        rel = _relation_layer(d[RELATIONS], ent_names, path)

    fr = _map(d.get("fragment_relation"), "fragment_relation", path)
    frag = RelationType(
        _name(fr.get("name"), "fragment_relation", path),
        _text(fr, "definition", "fragment_relation", path),
        "any",
        "any",
        "fragment",
    )

    tax = Taxonomy(str(d.get("name") or "taxonomy"), str(version).strip(), text, ent, evt, att, rel, frag, path, d)

    # names shared between kinds would make a Label Studio result ambiguous
    span_names = list(tax.attribution_span_names())
    _unique(list(tax.entity_labels()) + list(tax.event_types()) + span_names, "label (entity/event/attribution)", path)
    _unique(
        list(tax.roles())
        + [r.name for r in tax.attribution_relations]
        + [r.name for r in tax.entity_relations]
        + [frag.name],
        "relation label (roles, attribution relations, relations, continues)",
        path,
    )
    _unique(
        [a.name for a in tax.attributes()] + list(tax.label_controls()) + [tax.text], "attribute / control name", path
    )
    seen: dict[str, str] = {}
    for where, key in tax.hotkeys():
        k = normalize_hotkey(key)
        if k in _RESERVED_NORMALIZED:
            raise _err(
                path,
                f"hotkey {key!r} of {where} is one of Label Studio's own shortcuts",
                "pick another key; see LS_RESERVED_HOTKEYS in corpus/core/taxonomy.py",
            )
        if k in seen:
            raise _err(path, f"hotkey {key!r} is used twice: {seen[k]} and {where}")
        seen[k] = where
    return tax


_selected: Path | None = None


def select(path: str | os.PathLike[str] | None) -> None:
    """Make ``path`` the taxonomy of this process (the CLI's ``--taxonomy``); None undoes it."""
    global _selected
    _selected = Path(path) if path is not None else None


def default_path() -> Path:
    """The taxonomy used when none is passed: the selected one, else ``$CORPUS_TAXONOMY``, else
    the packaged default (a copy of ``schemas/taxonomy.yaml``)."""
    return _selected or Path(os.environ.get("CORPUS_TAXONOMY") or DEFAULT_PATH)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> Taxonomy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise TaxonomyError(f"cannot read taxonomy {path}: {e.strerror}", hint=_READ_HINT) from e
    except UnicodeDecodeError as e:
        raise TaxonomyError(f"taxonomy {path} is not UTF-8: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TaxonomyError(f"taxonomy {path} is not valid YAML: {e}") from e
    return parse(data, str(path))


def load(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """The taxonomy at ``path`` (default: :func:`default_path`), checked."""
    p = Path(path) if path is not None else default_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as e:
        raise TaxonomyError(f"cannot read taxonomy {p}: {e.strerror}", hint=_READ_HINT) from e
    return _load_cached(str(p), mtime)


def _tax(tax: Taxonomy | None) -> Taxonomy:
    return tax if tax is not None else load()


# Module-level accessors for callers that only need one list.
def entity_labels(tax: Taxonomy | None = None) -> tuple[str, ...]:
    return _tax(tax).entity_labels()


def event_types(tax: Taxonomy | None = None) -> tuple[str, ...]:
    return _tax(tax).event_types()


def roles(event_type: str | None = None, tax: Taxonomy | None = None) -> tuple[str, ...]:
    return _tax(tax).roles(event_type)


def attribution_spans(tax: Taxonomy | None = None) -> tuple[str, ...]:
    return _tax(tax).attribution_span_names()


def attribute_values(name: str, tax: Taxonomy | None = None) -> tuple[str, ...]:
    return _tax(tax).attribute_values(name)


def relation_labels(tax: Taxonomy | None = None) -> tuple[str, ...]:
    return _tax(tax).relation_labels()


# ---------------------------------------------------------------- Label Studio labeling config


def _attrs(**kw: Any) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in kw.items() if v not in (None, ""))


def _comment(text: str) -> str:
    return "<!-- " + text.replace("--", "- -") + " -->"


def region_kind(tax: Taxonomy, layer: str, label: str | None) -> str:
    """How guidelines and the config name the regions of ``layer`` (with ``label``): ``event trigger``."""
    if layer == EVENTS:
        return f"{label} trigger" if label else "event trigger"
    if layer == ENTITIES:
        return f"{label} entity" if label else "entity"
    return f"{label} region" if label else "attribution span"


def _conventions(tax: Taxonomy) -> str:
    parts = ["Conventions (corpus.annotations.lsformat): one region per span fragment."]
    if tax.event_layer:
        parts.append(
            "Event = trigger region labelled with the event type; its arguments are relations trigger -> entity "
            "labelled with the role."
        )
    if tax.attribution_layer:
        a = tax.attribution_layer
        tail = f" {a.source_entity} from the {a.source} region to an entity." if a.source_entity else ""
        parts.append(f"Attribution = {a.cue} region; {a.has_source} / {a.has_content} relations from the cue;{tail}")
    if tax.relation_layer:
        parts.append("Relation = a relation from one entity region to another, labelled with the relation type.")
    parts.append(
        f"{tax.fragment_relation.name} joins the first fragment of a discontinuous span to each further fragment."
    )
    return " ".join(parts)


def labelstudio_config(tax: Taxonomy | None = None) -> str:
    """The labeling config XML (``schemas/labelstudio-config.xml``), deterministic for one taxonomy."""
    tax = _tax(tax)
    L: list[str] = ["<View>"]
    add = L.append
    add(
        f"  {_comment(f'Generated from schemas/taxonomy.yaml ({tax.name} {tax.version}) by corpus.core.taxonomy. Do not edit: change the taxonomy and run `corpus taxonomy generate`.')}"
    )
    add(
        f"  {_comment(f'granularity={GRANULARITY!r}: a selection snaps to whole words, so spans never start or end inside a word. Parts of words (the U.S. in U.S.-led) are rare in news; annotators then select the whole token and say so in the region note.')}"
    )
    add(f"  {_comment(_conventions(tax))}")

    def labels_block(control: str, title: str, items: list[tuple[str, str, str, str]]) -> None:
        add(f"  <Header{_attrs(value=title, size='5')}/>")
        add(f"  <Labels{_attrs(name=control, toName=tax.text, choice='single', showInline='true')}>")
        for value, hint, hotkey, color in items:
            add(f"    <Label{_attrs(value=value, hint=hint, hotkey=hotkey, background=color)}/>")
        add("  </Labels>")

    if tax.entity_layer:
        labels_block(
            tax.entity_layer.control, "Entities", [(e.name, e.definition, e.hotkey, e.color) for e in tax.entities]
        )
    if tax.event_layer:
        labels_block(
            tax.event_layer.control,
            "Events (label the trigger word with the event type)",
            [(e.name, e.definition, e.hotkey, e.color) for e in tax.events],
        )
    if tax.attribution_layer:
        labels_block(
            tax.attribution_layer.control,
            f"Attribution ({', '.join(tax.attribution_span_names())})",
            [(s.name, s.definition, s.hotkey, s.color) for s in tax.attribution_spans],
        )
    add(f"  <Text{_attrs(name=tax.text, value='$' + tax.text, granularity=GRANULARITY)}/>")
    add("  <Relations>")
    colors = {r.name: r.color for r in tax.entity_relations}
    for r in tax.relation_types():
        hint = r.definition
        if r.group == "role":
            accepted = sorted(
                {t for ev in tax.events for t in tax.role_entity_types(ev.name, r.name)}, key=tax.entity_labels().index
            )
            hint = f"Event argument {r.name}: draw from the trigger to an entity ({', '.join(accepted)})."
        elif r.group == "entity":
            er = tax.entity_relation(r.name)
            assert er is not None
            hint = (
                f"{r.definition} Draw from a {' / '.join(er.from_types)} entity to a {' / '.join(er.to_types)} entity."
            )
        add(
            f"    <Relation{_attrs(value=r.name, hint=hint, background=colors.get(r.name, RELATION_COLORS[r.group]))}/>"
        )
    add("  </Relations>")
    for a in tax.attributes():
        when = {"whenTagName": tax.control(a.layer), "whenLabelValue": a.label}
        target = region_kind(tax, a.layer, a.label)
        add(f"  <View{_attrs(visibleWhen='region-selected', **when)}>")
        add(f"    <Header{_attrs(value=f'{a.name} ({target}): {a.definition}', size='6')}/>")
        add(
            f"    <Choices{_attrs(name=a.name, toName=tax.text, perRegion='true', choice='single-radio', showInline='true', required='true' if a.required else None, requiredMessage=f'Choose {a.name} for every {target}.' if a.required else None, visibleWhen='region-selected', **when)}>"
        )
        for v in a.values:
            add(f"      <Choice{_attrs(value=v, hint=a.value_definition(v) or f'{a.name}: {v}', hotkey=a.hotkey(v))}/>")
        add("    </Choices>")
        add("  </View>")
    add("</View>")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- project instructions


def markdown_to_html(md: str) -> str:
    """A tiny Markdown subset -> HTML for Label Studio's instruction panel.

    Headings, paragraphs, bullet and numbered lists, pipe tables, block quotes, fenced code,
    ``code``, **bold**, *italic*; HTML comments dropped and everything else escaped. Enough for
    annotations/guidelines.md without a Markdown dependency.
    """

    def inline(s: str) -> str:
        s = html.escape(s, quote=False)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        s = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)
        s = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", s)
        return s

    md = re.sub(r"<!--.*?-->", "", md, flags=re.S)
    out: list[str] = []
    para: list[str] = []
    lst: str | None = None
    table: list[list[str]] = []
    code: list[str] | None = None

    def flush() -> None:
        nonlocal lst, table
        if para:
            out.append("<p>" + inline(" ".join(para)) + "</p>")
            para.clear()
        if lst:
            out.append(f"</{lst}>")
            lst = None
        if table:
            head, *body = [r for r in table if not all(re.fullmatch(r":?-+:?", c.strip()) for c in r)]
            out.append(
                "<table><tr>"
                + "".join(f"<th>{inline(c.strip())}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{inline(c.strip())}</td>" for c in r) + "</tr>" for r in body)
                + "</table>"
            )
            table = []

    for line in md.splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                out.append("<pre>" + html.escape("\n".join(code), quote=False) + "</pre>")
                code = None
            else:
                code.append(line)
            continue
        s = line.strip()
        if s.startswith("```"):
            flush()
            code = []
        elif not s:
            flush()
        elif m := re.match(r"^(#{1,6})\s+(.*)$", s):
            flush()
            n = len(m.group(1))
            out.append(f"<h{n}>{inline(m.group(2))}</h{n}>")
        elif s.startswith("|"):
            if para or lst:
                flush()
            table.append(s.strip("|").split("|"))
        elif m := re.match(r"^([-*]|\d+\.)\s+(.*)$", s):
            kind = "ol" if m.group(1)[0].isdigit() else "ul"
            if para or table or (lst and lst != kind):
                flush()
            if not lst:
                out.append(f"<{kind}>")
                lst = kind
            out.append(f"<li>{inline(m.group(2))}</li>")
        elif s.startswith(">"):
            flush()
            out.append(f"<blockquote>{inline(s.lstrip('> '))}</blockquote>")
        elif lst and line.startswith((" ", "\t")) and out and out[-1].endswith("</li>"):
            out[-1] = out[-1][: -len("</li>")] + " " + inline(s) + "</li>"
        else:
            if lst or table:
                flush()
            para.append(s)
    if code is not None:
        out.append("<pre>" + html.escape("\n".join(code), quote=False) + "</pre>")
    flush()
    return "\n".join(out) + "\n"


def expert_instruction(tax: Taxonomy | None = None, guidelines: str | os.PathLike[str] | None = None) -> str:
    """The project's instructions (``expert_instruction``): the packaged guidelines as HTML."""
    path = Path(guidelines) if guidelines is not None else GUIDELINES_PATH
    try:
        md = path.read_text(encoding="utf-8")
    except OSError:
        tax = _tax(tax)
        md = f"# {tax.name} {tax.version}\n\nThe annotation guidelines ({path}) are missing.\n"
    return markdown_to_html(md)


expert_instruction_html = expert_instruction
