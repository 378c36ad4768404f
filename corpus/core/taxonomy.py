"""The one label scheme: load and check ``schemas/taxonomy.yaml``, answer label questions, and
render the Label Studio labeling config and project instructions from it.

Why one module: every other module asks *this* one which labels, roles and choices exist, so a
label renamed in the YAML changes the config, the JSON Schemas, the validator, the guidelines'
tables and the release features together (``corpus taxonomy check`` fails on any stale copy).

The Label Studio conventions implemented by :mod:`corpus.annotations.lsformat` are fixed here as constants
(control names) and in :func:`labelstudio_config`; see the module docstring of ``lsformat``.
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

from corpus.core.errors import TaxonomyError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "schemas" / "taxonomy.yaml"
GUIDELINES_PATH = REPO_ROOT / "annotations" / "guidelines.md"

# ---------------------------------------------------------------- Label Studio names (conventions)

TEXT = "text"  # <Text name="text" value="$text">
ENTITY = "entity"  # <Labels name="entity">: entity types
EVENT = "event"  # <Labels name="event">: event types, on the trigger region
ATTRIBUTION = "attribution"  # <Labels name="attribution">: Cue, Content, Source
LABEL_CONTROLS = (ENTITY, EVENT, ATTRIBUTION)
RELATIONS = "relations"  # the <Relations> tag has no name in Label Studio; used in messages only
CUE, CONTENT, SOURCE = "Cue", "Content", "Source"
HAS_SOURCE, HAS_CONTENT, SOURCE_ENTITY = "has_source", "has_content", "source_entity"
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
    ENTITY: [
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
    EVENT: [
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
RELATION_COLORS = {"role": "#E65100", "attribution": "#7B1FA2", "fragment": "#757575"}

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_:\- ]*$")
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
    """A per-region choice: ``applies_to`` is the Labels control (``event``) or a label (``Cue``)."""

    name: str
    definition: str
    values: tuple[str, ...]
    required: bool
    applies_to: str
    hotkeys: tuple[tuple[str, str], ...] = ()  # (value, hotkey)
    value_definitions: tuple[tuple[str, str], ...] = ()  # (value, definition)

    def hotkey(self, value: str) -> str | None:
        return dict(self.hotkeys).get(value)

    def value_definition(self, value: str) -> str:
        return dict(self.value_definitions).get(value, "")


@dataclass(frozen=True)
class AttributionSpan:
    name: str
    definition: str
    example: str
    required: bool
    hotkey: str
    color: str


@dataclass(frozen=True)
class RelationType:
    """A relation label; ``from_kind``/``to_kind`` are a label name, ``entity``, ``event`` or ``any``."""

    name: str
    definition: str
    from_kind: str
    to_kind: str
    group: str  # role | attribution | fragment


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    entities: tuple[EntityType, ...]
    events: tuple[EventType, ...]
    event_attributes: tuple[Attribute, ...]
    attribution_spans: tuple[AttributionSpan, ...]
    attribution_relations: tuple[RelationType, ...]
    attribution_attributes: tuple[Attribute, ...]
    fragment_relation: RelationType
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    # -- plain accessors (what push, pull, validate and release use)
    def entity_labels(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities)

    def event_types(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.events)

    def event(self, name: str) -> EventType | None:
        return next((e for e in self.events if e.name == name), None)

    def roles(self, event_type: str | None = None) -> tuple[str, ...]:
        """Role names of one event type, or the union over all types in taxonomy order."""
        if event_type is not None:
            ev = self.event(event_type)
            return ev.role_names if ev else ()
        out: list[str] = []
        for ev in self.events:
            out += [r for r in ev.role_names if r not in out]
        return tuple(out)

    def role_entity_types(self, event_type: str, role: str) -> tuple[str, ...]:
        ev = self.event(event_type)
        r = ev.role(role) if ev else None
        return r.entity_types if r else ()

    def attribution_span_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.attribution_spans)

    def attributes(self) -> tuple[Attribute, ...]:
        return self.event_attributes + self.attribution_attributes

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes() if a.name == name), None)

    def attribute_values(self, name: str) -> tuple[str, ...]:
        a = self.attribute(name)
        return a.values if a else ()

    def relation_types(self) -> tuple[RelationType, ...]:
        """Every relation label of the config: event roles, attribution relations, ``continues``."""
        roles = tuple(RelationType(r, f"Event argument: {r}.", EVENT, ENTITY, "role") for r in self.roles())
        return roles + self.attribution_relations + (self.fragment_relation,)

    def relation_labels(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.relation_types())

    def labels_of(self, control: str) -> tuple[str, ...]:
        """Label values of a Labels control (``entity``, ``event``, ``attribution``)."""
        return {
            ENTITY: self.entity_labels(),
            EVENT: self.event_types(),
            ATTRIBUTION: self.attribution_span_names(),
        }.get(control, ())

    def hotkeys(self) -> list[tuple[str, str]]:
        """(where, hotkey) for every label and choice that has one, in config order."""
        out = [(f"{ENTITY}:{e.name}", e.hotkey) for e in self.entities]
        out += [(f"{EVENT}:{e.name}", e.hotkey) for e in self.events]
        out += [(f"{ATTRIBUTION}:{s.name}", s.hotkey) for s in self.attribution_spans]
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
    if not isinstance(v, str) or not _NAME_RE.match(v):
        raise _err(path, f"{where}: invalid name {v!r} (letters, digits, space, _ : - only, starting with a letter)")
    return v


def _color(d: dict[str, Any], palette: list[str], i: int, where: str, path: str) -> str:
    c = d.get("color")
    if c is None:
        return palette[i % len(palette)]
    if not isinstance(c, str) or not _COLOR_RE.match(c):
        raise _err(path, f"{where}: color must be #RRGGBB, not {c!r}")
    return c


def _attributes(d: Any, applies_to: str, where: str, path: str) -> tuple[Attribute, ...]:
    out = []
    for name, spec in _map(d or {}, where, path).items():
        _name(name, where, path)
        spec = _map(spec, f"{where}.{name}", path)
        values = [str(v) for v in _seq(spec.get("values"), f"{where}.{name}.values", path)]
        _unique(values, f"value of {where}.{name}", path)
        keys = _map(spec.get("hotkeys") or {}, f"{where}.{name}.hotkeys", path)
        unknown = [k for k in keys if k not in values]
        if unknown:
            raise _err(path, f"{where}.{name}.hotkeys names values that do not exist: {unknown}")
        defs = _map(spec.get("value_definitions") or {}, f"{where}.{name}.value_definitions", path)
        unknown = [k for k in defs if k not in values]
        if unknown:
            raise _err(path, f"{where}.{name}.value_definitions names values that do not exist: {unknown}")
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise _err(path, f"{where}.{name}.required must be true or false")
        out.append(
            Attribute(
                name,
                _text(spec, "definition", f"{where}.{name}", path),
                tuple(values),
                required,
                applies_to,
                tuple((v, str(keys[v])) for v in values if keys.get(v)),
                tuple((v, str(defs[v]).strip()) for v in values if defs.get(v)),
            )
        )
    return tuple(out)


def parse(data: Any, path: str = "<taxonomy>") -> Taxonomy:
    """Build and check a :class:`Taxonomy` from the YAML mapping; raise ``TaxonomyError`` on any flaw."""
    d = _map(data, "the top level", path)
    version = d.get("version")
    if version is None or str(version).strip() == "":
        raise _err(path, "no version", 'add `version: "1.0.0"` and bump it whenever a label changes')

    entities = []
    for i, e in enumerate(_seq(d.get("entities"), "entities", path)):
        e = _map(e, f"entities[{i}]", path)
        n = _name(e.get("name"), f"entities[{i}]", path)
        entities.append(
            EntityType(
                n,
                _text(e, "definition", n, path),
                _text(e, "example", n, path),
                _text(e, "hotkey", n, path, required=False),
                _color(e, PALETTES[ENTITY], i, n, path),
            )
        )
    ent_names = [e.name for e in entities]
    _unique(ent_names, "entity type", path)

    ev = _map(d.get("events"), "events", path)
    events = []
    for i, t in enumerate(_seq(ev.get("types"), "events.types", path)):
        t = _map(t, f"events.types[{i}]", path)
        n = _name(t.get("name"), f"events.types[{i}]", path)
        roles = []
        for rname, types in _map(t.get("roles") or {}, f"{n}.roles", path).items():
            _name(rname, f"{n}.roles", path)
            types = [str(x) for x in _seq(types, f"{n}.roles.{rname}", path)]
            bad = [x for x in types if x not in ent_names]
            if bad:
                raise _err(
                    path,
                    f"event type {n}: role {rname} accepts unknown entity types {bad}",
                    f"use entity names from `entities:` ({', '.join(ent_names)})",
                )
            _unique(types, f"entity type in {n}.roles.{rname}", path)
            roles.append(Role(rname, tuple(types)))
        events.append(
            EventType(
                n,
                _text(t, "definition", n, path),
                _text(t, "example", n, path),
                _text(t, "hotkey", n, path, required=False),
                _color(t, PALETTES[EVENT], i, n, path),
                tuple(roles),
            )
        )
    _unique([e.name for e in events], "event type", path)
    ev_attrs = _attributes(ev.get("attributes"), EVENT, "events.attributes", path)

    att = _map(d.get("attribution"), "attribution", path)
    spans = []
    for i, s in enumerate(_seq(att.get("spans"), "attribution.spans", path)):
        s = _map(s, f"attribution.spans[{i}]", path)
        n = _name(s.get("name"), f"attribution.spans[{i}]", path)
        req = s.get("required", False)
        if not isinstance(req, bool):
            raise _err(path, f"attribution span {n}: required must be true or false")
        spans.append(
            AttributionSpan(
                n,
                _text(s, "definition", n, path),
                _text(s, "example", n, path),
                req,
                _text(s, "hotkey", n, path, required=False),
                _color(s, PALETTES[ATTRIBUTION], i, n, path),
            )
        )
    span_names = [s.name for s in spans]
    _unique(span_names, "attribution span", path)
    if sorted(span_names) != sorted([CUE, CONTENT, SOURCE]):
        raise _err(
            path,
            f"attribution.spans must be exactly {CUE}, {CONTENT}, {SOURCE} (the canonical model's "
            f"cue/content/source), found {span_names}",
        )
    relations = []
    for i, r in enumerate(_seq(att.get("relations"), "attribution.relations", path)):
        r = _map(r, f"attribution.relations[{i}]", path)
        n = _name(r.get("name"), f"attribution.relations[{i}]", path)
        fr, to = _text(r, "from", n, path), _text(r, "to", n, path)
        for end in (fr, to):
            if end not in span_names and end != ENTITY:
                raise _err(path, f"relation {n}: unknown end {end!r} (an attribution span name or `entity`)")
        relations.append(RelationType(n, _text(r, "definition", n, path), fr, to, "attribution"))
    rel_names = [r.name for r in relations]
    expected = {HAS_SOURCE: (CUE, SOURCE), HAS_CONTENT: (CUE, CONTENT), SOURCE_ENTITY: (SOURCE, ENTITY)}
    for name, ends in expected.items():
        r = next((x for x in relations if x.name == name), None)
        if r is None or (r.from_kind, r.to_kind) != ends:
            raise _err(path, f"attribution.relations must define {name}: {ends[0]} -> {ends[1]}")
    att_attrs = _attributes(att.get("attributes"), CUE, "attribution.attributes", path)

    fr = _map(d.get("fragment_relation"), "fragment_relation", path)
    frag = RelationType(
        _name(fr.get("name"), "fragment_relation", path),
        _text(fr, "definition", "fragment_relation", path),
        "any",
        "any",
        "fragment",
    )

    tax = Taxonomy(
        str(d.get("name") or "taxonomy"),
        str(version).strip(),
        tuple(entities),
        tuple(events),
        ev_attrs,
        tuple(spans),
        tuple(relations),
        att_attrs,
        frag,
        path,
        d,
    )

    # names shared between kinds would make a Label Studio result ambiguous
    _unique(list(tax.entity_labels()) + list(tax.event_types()) + span_names, "label (entity/event/attribution)", path)
    _unique(
        list(tax.roles()) + rel_names + [frag.name], "relation label (roles, attribution relations, continues)", path
    )
    _unique([a.name for a in tax.attributes()] + list(LABEL_CONTROLS) + [TEXT], "attribute / control name", path)
    seen: dict[str, str] = {}
    for where, key in tax.hotkeys():
        k = normalize_hotkey(key)
        if k in _RESERVED_NORMALIZED:
            raise _err(
                path,
                f"hotkey {key!r} of {where} is one of Label Studio's own shortcuts",
                "pick another key; see LS_RESERVED_HOTKEYS in corpus/taxonomy.py",
            )
        if k in seen:
            raise _err(path, f"hotkey {key!r} is used twice: {seen[k]} and {where}")
        seen[k] = where
    return tax


def default_path() -> Path:
    return Path(os.environ.get("CORPUS_TAXONOMY") or DEFAULT_PATH)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> Taxonomy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise TaxonomyError(
            f"cannot read taxonomy {path}: {e.strerror}", hint="set CORPUS_TAXONOMY or run from the repository"
        ) from e
    except UnicodeDecodeError as e:
        raise TaxonomyError(f"taxonomy {path} is not UTF-8: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TaxonomyError(f"taxonomy {path} is not valid YAML: {e}") from e
    return parse(data, str(path))


def load(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """The taxonomy at ``path`` (default ``$CORPUS_TAXONOMY`` or ``schemas/taxonomy.yaml``), checked."""
    p = Path(path) if path is not None else default_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as e:
        raise TaxonomyError(
            f"cannot read taxonomy {p}: {e.strerror}", hint="set CORPUS_TAXONOMY or run from the repository"
        ) from e
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
    add(
        f"  {_comment('Conventions (corpus.annotations.lsformat): one region per span fragment. Event = trigger region labelled with the event type; its arguments are relations trigger -> entity labelled with the role. Attribution = Cue region; has_source / has_content relations from the cue; source_entity from the Source region to an entity. continues joins the first fragment of a discontinuous span to each further fragment.')}"
    )

    def labels_block(control: str, title: str, items: list[tuple[str, str, str, str]]) -> None:
        add(f"  <Header{_attrs(value=title, size='5')}/>")
        add(f"  <Labels{_attrs(name=control, toName=TEXT, choice='single', showInline='true')}>")
        for value, hint, hotkey, color in items:
            add(f"    <Label{_attrs(value=value, hint=hint, hotkey=hotkey, background=color)}/>")
        add("  </Labels>")

    labels_block(ENTITY, "Entities", [(e.name, e.definition, e.hotkey, e.color) for e in tax.entities])
    labels_block(
        EVENT,
        "Events (label the trigger word with the event type)",
        [(e.name, e.definition, e.hotkey, e.color) for e in tax.events],
    )
    labels_block(
        ATTRIBUTION,
        "Attribution (Cue, Content, Source)",
        [(s.name, s.definition, s.hotkey, s.color) for s in tax.attribution_spans],
    )
    add(f"  <Text{_attrs(name=TEXT, value='$' + TEXT, granularity=GRANULARITY)}/>")
    add("  <Relations>")
    for r in tax.relation_types():
        hint = r.definition
        if r.group == "role":
            accepted = sorted(
                {t for ev in tax.events for t in tax.role_entity_types(ev.name, r.name)}, key=tax.entity_labels().index
            )
            hint = f"Event argument {r.name}: draw from the trigger to an entity ({', '.join(accepted)})."
        add(f"    <Relation{_attrs(value=r.name, hint=hint, background=RELATION_COLORS[r.group])}/>")
    add("  </Relations>")
    for a in tax.attributes():
        when = (
            {"whenTagName": EVENT}
            if a.applies_to == EVENT
            else {"whenTagName": ATTRIBUTION, "whenLabelValue": a.applies_to}
        )
        target = "event trigger" if a.applies_to == EVENT else f"{a.applies_to} region"
        add(f"  <View{_attrs(visibleWhen='region-selected', **when)}>")
        add(f"    <Header{_attrs(value=f'{a.name} ({target}): {a.definition}', size='6')}/>")
        add(
            f"    <Choices{_attrs(name=a.name, toName=TEXT, perRegion='true', choice='single-radio', showInline='true', required='true' if a.required else None, requiredMessage=f'Choose {a.name} for every {target}.' if a.required else None, visibleWhen='region-selected', **when)}>"
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
    """The project's instructions (``expert_instruction``): annotations/guidelines.md as HTML."""
    path = Path(guidelines) if guidelines is not None else GUIDELINES_PATH
    try:
        md = path.read_text(encoding="utf-8")
    except OSError:
        tax = _tax(tax)
        md = f"# {tax.name} {tax.version}\n\nThe annotation guidelines ({path}) are missing.\n"
    return markdown_to_html(md)


expert_instruction_html = expert_instruction
