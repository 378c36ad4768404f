"""brat standoff <-> canonical annotations.

brat (and INCEpTION's brat export) store one document as ``NAME.txt`` and its annotations as a
``.ann`` file of tab-separated lines: ``T`` text-bound spans (possibly discontinuous,
``Content 1775 1995;1998 2184``), ``E`` events (``Attribution:T4 Content:T3 Cue:T2``), ``R``
relations, ``A``/``M`` attributes, ``#`` notes, ``N`` normalizations and ``*`` equivalences.

The module has three layers:

* ``parse_ann`` / ``write_ann``: text <-> ``BratDocument`` (no knowledge of the taxonomy);
* ``brat_to_annotation`` / ``annotation_to_brat``: ``BratDocument`` <-> ``model.Annotation``,
  driven by a mapping file (``schemas/brat-polnear.yaml``). Offsets are mapped from the raw
  ``.txt`` to the stored (NFC-normalized) text through ``normalize.normalize_with_map``, never
  copied: 23 PolNeAR texts are not NFC. Whatever brat holds that the taxonomy cannot
  (orphan spans, attributions without content, review marks, brat ids and line order) is kept
  in ``Annotation.meta["brat"]`` so that export writes the same file back;
* ``import_brat`` / ``export_brat``: the workflows behind ``corpus import --format brat`` and
  ``corpus export --format brat`` (they touch the store, imported lazily).

Bad lines never stop a file: each becomes a ``BratIssue`` naming file and line; ``error``
issues are lines that were not imported, ``warning`` issues were imported or kept for the
round trip but deserve a look.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.core.errors import InputError, UsageError
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Fragment, Span
from corpus.store.snapshot import iter_snapshot_records, new_snapshot_path, write_snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAPPING = REPO_ROOT / "schemas" / "brat-polnear.yaml"
DEFAULT_ANNOTATOR = "brat"

# ---------------------------------------------------------------- parsed brat


@dataclass
class BratIssue:
    path: str
    line: int | None
    severity: str  # "error": not imported; "warning": imported or kept, but look at it
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TextBound:
    id: str
    type: str
    fragments: list[tuple[int, int]]  # in the order written on the line
    text: str | None
    line: int
    continuation: list[str] = field(default_factory=list)  # unparseable lines that followed
    continuation_lines: list[int] = field(default_factory=list)


@dataclass
class EventLine:
    id: str
    type: str
    trigger: str
    args: list[tuple[str, str]]
    line: int


@dataclass
class RelationLine:
    id: str
    type: str
    args: list[tuple[str, str]]
    line: int


@dataclass
class AttributeLine:
    id: str
    name: str
    target: str
    value: str | None
    line: int


@dataclass
class NoteLine:
    id: str
    type: str
    target: str
    text: str
    line: int


@dataclass
class BratDocument:
    path: str = ""
    textbounds: dict[str, TextBound] = field(default_factory=dict)
    events: dict[str, EventLine] = field(default_factory=dict)
    relations: dict[str, RelationLine] = field(default_factory=dict)
    attributes: dict[str, AttributeLine] = field(default_factory=dict)
    notes: dict[str, NoteLine] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # N and * lines, kept verbatim
    order: list[str] = field(default_factory=list)  # ids in file order
    issues: list[BratIssue] = field(default_factory=list)


_T = re.compile(r"^(T\S*)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)(?:\t(.*))?$")
_E = re.compile(r"^(E\S*)\t(\S+?):(\S+)((?: +\S+:\S+)*) *$")
_R = re.compile(r"^(R\S*)\t(\S+) (\S+):(\S+) (\S+):(\S+) *$")
_A = re.compile(r"^([AM]\S*)\t(\S+) (\S+)(?: (\S+))? *$")
_NOTE = re.compile(r"^(#\S*)\t(\S+) (\S+)\t(.*)$")
_NORM = re.compile(r"^(N\S*)\t\S+ \S+ \S+(?:\t.*)?$")
_EQUIV = re.compile(r"^\*\t\S+(?: \S+)+ *$")


def parse_ann(content: str, path: str = "") -> BratDocument:
    """Parse the text of a ``.ann`` file. Never raises on bad lines: they become issues.

    A line that parses as nothing right after a ``T`` line is remembered as a possible
    continuation of that span's text: brat writes a span's text verbatim, so a span crossing a
    line break spills onto the next lines (3 PolNeAR files). ``brat_to_annotation`` decides,
    with the article text at hand, whether it was one.
    """
    doc = BratDocument(path=path)
    last_t: TextBound | None = None
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for no, raw_line in enumerate(lines, start=1):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        kind = line[:1]
        item_id = None
        if kind == "T" and (m := _T.match(line)):
            frags = [tuple(int(x) for x in part.split()) for part in m.group(3).split(";")]
            tb = TextBound(m.group(1), m.group(2), frags, m.group(4), no)  # type: ignore[arg-type]
            item_id = tb.id
            if _add(doc, doc.textbounds, tb, no):
                last_t = tb
                continue
            last_t = None
            continue
        if kind == "E" and (m := _E.match(line)):
            args = [tuple(a.split(":", 1)) for a in m.group(4).split()]
            item_id = m.group(1)
            _add(doc, doc.events, EventLine(item_id, m.group(2), m.group(3), args, no), no)  # type: ignore[arg-type]
        elif kind == "R" and (m := _R.match(line)):
            item_id = m.group(1)
            rel = RelationLine(item_id, m.group(2), [(m.group(3), m.group(4)), (m.group(5), m.group(6))], no)
            _add(doc, doc.relations, rel, no)
        elif kind in "AM" and line and (m := _A.match(line)):
            item_id = m.group(1)
            _add(doc, doc.attributes, AttributeLine(item_id, m.group(2), m.group(3), m.group(4), no), no)
        elif kind == "#" and (m := _NOTE.match(line)):
            item_id = m.group(1)
            _add(doc, doc.notes, NoteLine(item_id, m.group(2), m.group(3), m.group(4), no), no)
        elif kind == "N" and (m := _NORM.match(line)):
            item_id = m.group(1)
            if item_id not in doc.raw:
                doc.raw[item_id] = line
                doc.order.append(item_id)
        elif kind == "*" and _EQUIV.match(line):
            item_id = f"*{no}"
            doc.raw[item_id] = line
            doc.order.append(item_id)
        elif last_t is not None:
            last_t.continuation.append(line)
            last_t.continuation_lines.append(no)
            continue
        elif line.strip():
            doc.issues.append(BratIssue(path, no, "error", "malformed", f"not a brat standoff line: {line[:80]!r}"))
        last_t = None
    return doc


def _add(doc: BratDocument, table: dict, item: Any, no: int) -> bool:
    if item.id in doc.order:
        doc.issues.append(
            BratIssue(
                doc.path, no, "error", "duplicate-id", f"id {item.id} already used earlier in the file; line ignored"
            )
        )
        return False
    table[item.id] = item
    doc.order.append(item.id)
    return True


def _offsets(frags: Iterable[tuple[int, int]]) -> str:
    return ";".join(f"{s} {e}" for s, e in frags)


def format_textbound(tb: TextBound) -> str:
    head = f"{tb.id}\t{tb.type} {_offsets(tb.fragments)}"
    return head if tb.text is None else f"{head}\t{tb.text}"


def write_ann(doc: BratDocument) -> str:
    """Lines in ``doc.order``; items missing from the order follow. Continuations are dropped."""
    out: list[str] = []
    seen: set[str] = set()
    ids = list(doc.order) + [
        i
        for table in (doc.textbounds, doc.events, doc.relations, doc.attributes, doc.notes, doc.raw)
        for i in table
        if i not in doc.order
    ]
    for i in ids:
        if i in seen:
            continue
        seen.add(i)
        if i in doc.textbounds:
            out.append(format_textbound(doc.textbounds[i]))
        elif i in doc.events:
            ev = doc.events[i]
            out.append(f"{ev.id}\t{ev.type}:{ev.trigger}" + "".join(f" {r}:{a}" for r, a in ev.args))
        elif i in doc.relations:
            r = doc.relations[i]
            out.append(f"{r.id}\t{r.type} " + " ".join(f"{k}:{v}" for k, v in r.args))
        elif i in doc.attributes:
            a = doc.attributes[i]
            out.append(f"{a.id}\t{a.name} {a.target}" + (f" {a.value}" if a.value is not None else ""))
        elif i in doc.notes:
            n = doc.notes[i]
            out.append(f"{n.id}\t{n.type} {n.target}\t{n.text}")
        elif i in doc.raw:
            out.append(doc.raw[i])
    return "".join(line + "\n" for line in out)


# ---------------------------------------------------------------- mapping file


@dataclass
class BratMapping:
    """The parsed mapping file; see ``schemas/brat-polnear.yaml`` for the meaning of each key."""

    name: str = "brat"
    entity_identity: bool = True
    entity_map: dict[str, str] = field(default_factory=dict)
    event_identity: bool = True
    event_map: dict[str, str] = field(default_factory=dict)
    event_roles: dict[str, str] = field(default_factory=dict)
    attribution_events: dict[str, str] = field(default_factory=dict)  # brat E type -> "optional" | "none"
    attribution_roles: dict[str, str] = field(default_factory=dict)  # brat role -> cue|content|source
    export_with_source: str = "Attribution"
    export_without_source: str = "Attribution-no-source"
    flags: list[str] = field(default_factory=list)
    attribute_identity: bool = True
    attribute_map: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)
    # from the taxonomy
    taxonomy_version: str | None = None
    entity_labels: tuple[str, ...] = ()
    event_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attribute_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    # -- import direction
    def entity_label(self, brat_type: str) -> str | None:
        if brat_type in self.entity_map:
            return self.entity_map[brat_type]
        if self.entity_identity and brat_type in self.entity_labels:
            return brat_type
        return None

    def event_type(self, brat_type: str) -> str | None:
        if brat_type in self.event_map:
            return self.event_map[brat_type]
        if self.event_identity:
            for name in self.event_types:
                if brat_type in (name, name.replace(":", "-")):
                    return name
        return None

    def event_role(self, brat_role: str) -> str:
        base = _role_base(brat_role)
        return self.event_roles.get(brat_role, self.event_roles.get(base, base))

    def attribution_part(self, brat_role: str) -> str | None:
        return self.attribution_roles.get(brat_role) or self.attribution_roles.get(_role_base(brat_role))

    def attribute(self, name: str, value: str | None) -> tuple[str, str] | None:
        """(taxonomy field, taxonomy value) for a brat attribute, or None when it is not mapped."""
        spec = self.attribute_map.get(name)
        if spec is not None:
            fld = spec["field"]
            if "value" in spec:
                return (fld, spec["value"]) if value is None else None
            val = (spec.get("values") or {}).get(value, value)
        elif self.attribute_identity and name in self.attribute_values:
            fld, val = name, value
        else:
            return None
        allowed = self.attribute_values.get(fld, ())
        if val is not None and val not in allowed and val.replace("_", " ") in allowed:
            val = val.replace("_", " ")  # brat values cannot hold spaces: "named_person"
        return (fld, val) if val in allowed else None

    # -- export direction
    def brat_entity_type(self, label: str) -> str:
        for k, v in self.entity_map.items():
            if v == label:
                return k
        return label

    def brat_event_type(self, etype: str) -> str:
        for k, v in self.event_map.items():
            if v == etype:
                return k
        return etype.replace(":", "-")

    def brat_event_role(self, role: str) -> str:
        for k, v in self.event_roles.items():
            if v == role:
                return k
        return role

    def brat_attribute(self, fld: str, value: str) -> tuple[str, str | None]:
        for name, spec in self.attribute_map.items():
            if spec.get("field") == fld and spec.get("value") == value:
                return name, None
        return fld, value.replace(" ", "_")

    def attribution_role_name(self, part: str) -> str:
        for k, v in self.attribution_roles.items():
            if v == part:
                return k
        return part.capitalize()


def _role_base(role: str) -> str:
    """brat numbers repeated roles: Content2 -> Content."""
    return role.rstrip("0123456789") or role


def _load_taxonomy() -> dict[str, Any]:
    """The taxonomy as plain data, through ``corpus.core.taxonomy`` when it offers a loader."""
    try:
        from corpus.core import taxonomy as tx  # noqa: WPS433 (sibling module, may not exist yet)

        loader = getattr(tx, "load_taxonomy", None) or getattr(tx, "load", None)
        if loader is not None:
            obj = loader()
            raw = getattr(obj, "raw", None)
            if isinstance(raw, dict):
                return raw
            if isinstance(obj, dict):
                return obj
    except Exception:  # pragma: no cover - fall back to the file itself
        pass
    import yaml

    return yaml.safe_load((REPO_ROOT / "schemas" / "taxonomy.yaml").read_text(encoding="utf-8"))


def load_mapping(mapping: str | Path | dict | BratMapping | None = None) -> BratMapping:
    """Read a mapping file (default ``schemas/brat-polnear.yaml``) and attach the taxonomy's names."""
    if isinstance(mapping, BratMapping):
        return mapping
    import yaml

    if mapping is None or isinstance(mapping, (str, Path)):
        path = Path(mapping) if mapping is not None else DEFAULT_MAPPING
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise UsageError(f"cannot read brat mapping file {path}: {e.strerror}", hint="pass --mapping PATH") from e
        except yaml.YAMLError as e:
            raise UsageError(f"brat mapping file {path} is not valid YAML: {e}") from e
    else:
        data = dict(mapping)
    tax = _load_taxonomy()
    ents = data.get("entities") or {}
    evs = data.get("events") or {}
    att = data.get("attribution") or {}
    attrs = data.get("attributes") or {}
    m = BratMapping(
        name=str(data.get("name", "brat")),
        entity_identity=bool(ents.get("identity", True)),
        entity_map=dict(ents.get("map") or {}),
        event_identity=bool(evs.get("identity", True)),
        event_map=dict(evs.get("map") or {}),
        event_roles=dict(evs.get("roles") or {}),
        attribution_events={k: str((v or {}).get("source", "optional")) for k, v in (att.get("events") or {}).items()},
        attribution_roles=dict(att.get("roles") or {}),
        export_with_source=str(att.get("export_event_with_source", "Attribution")),
        export_without_source=str(att.get("export_event_without_source", "Attribution-no-source")),
        flags=list(data.get("flags") or []),
        attribute_identity=bool(attrs.get("identity", True)),
        attribute_map={k: dict(v) for k, v in (attrs.get("map") or {}).items()},
        relations=dict(data.get("relations") or {}),
        taxonomy_version=str(tax.get("version")) if tax.get("version") is not None else None,
        entity_labels=tuple(e["name"] for e in tax.get("entities", [])),
        event_types={
            t["name"]: tuple((t.get("roles") or {}).keys()) for t in (tax.get("events") or {}).get("types", [])
        },
        attribute_values={
            **{k: tuple(v["values"]) for k, v in ((tax.get("events") or {}).get("attributes") or {}).items()},
            **{k: tuple(v["values"]) for k, v in ((tax.get("attribution") or {}).get("attributes") or {}).items()},
        },
    )
    bad = [v for v in m.entity_map.values() if v not in m.entity_labels]
    bad += [v for v in m.event_map.values() if v not in m.event_types]
    bad += [str(v.get("field")) for v in m.attribute_map.values() if v.get("field") not in m.attribute_values]
    bad += [v for v in m.attribution_roles.values() if v not in ("cue", "content", "source")]
    if bad:
        raise UsageError(
            f"brat mapping {m.name!r} maps to names the taxonomy does not have: {', '.join(sorted(set(bad)))}",
            hint="fix the mapping file or schemas/taxonomy.yaml",
        )
    return m


EVENT_FIELDS = ("realis", "polarity")
ATTRIBUTION_FIELDS = ("quote_type", "source_type", "commitment")

# ---------------------------------------------------------------- brat -> canonical


def _linebreaks_as_spaces(s: str) -> str:
    return s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _frags_key(span: Span) -> list[list[int]]:
    return [[f.start, f.end] for f in span.fragments]


def _overlaps(a: Span, b: Span) -> bool:
    return any(x.start < y.end and y.start < x.end for x in a.fragments for y in b.fragments)


def brat_to_annotation(
    doc: BratDocument,
    *,
    raw_text: str,
    stored_text: str,
    offset_map: Sequence[int] | None,
    mapping: BratMapping,
    doc_id: str,
    annotator: str,
    text_sha256: str,
    name: str | None = None,
) -> tuple[Annotation, list[BratIssue]]:
    """One ``.ann`` file -> one canonical annotation, plus every issue found.

    ``raw_text`` is the ``.txt`` as brat saw it (offsets refer to it); ``stored_text`` is the
    normalized text in the corpus; ``offset_map[i]`` is the stored offset of raw offset ``i``.
    """
    path = doc.path
    issues = list(doc.issues)
    omap = offset_map if offset_map is not None else range(len(raw_text) + 1)

    def warn(line: int | None, code: str, msg: str) -> None:
        issues.append(BratIssue(path, line, "warning", code, msg))

    def error(line: int | None, code: str, msg: str) -> None:
        issues.append(BratIssue(path, line, "error", code, msg))

    # 1. every span checked against the article text, then mapped to stored offsets
    spans: dict[str, Span] = {}
    frag_order: dict[str, list[int]] = {}
    n = len(raw_text)
    for tb in doc.textbounds.values():
        if any(not (0 <= s <= e <= n) for s, e in tb.fragments):
            error(
                tb.line, "offsets", f"{tb.id} offsets {_offsets(tb.fragments)} fall outside the text ({n} characters)"
            )
            for no in tb.continuation_lines:
                error(no, "malformed", f"not a brat standoff line (after {tb.id})")
            continue
        expected = " ".join(raw_text[s:e] for s, e in tb.fragments)
        cont_ok = False
        if tb.text is None or tb.text == expected or tb.text == _linebreaks_as_spaces(expected):
            ok = True
        elif tb.continuation and "\n".join([tb.text, *tb.continuation]) == expected:
            ok = cont_ok = True
        else:
            ok = False
        if cont_ok:
            lines_txt = ", ".join(map(str, tb.continuation_lines))
            warn(
                tb.line,
                "continuation",
                f"{tb.id}'s text goes on over lines {lines_txt} (a line break inside a span); joined, exported on one line",
            )
        if tb.continuation:
            for no, cont in zip(tb.continuation_lines, tb.continuation):
                if cont_ok:
                    warn(
                        no,
                        "continuation",
                        f"line continues {tb.id}'s text across a line break (brat cannot write one); joined to it",
                    )
                elif cont.strip():
                    error(no, "malformed", f"not a brat standoff line: {cont[:80]!r}")
        if not ok:
            error(
                tb.line,
                "text-mismatch",
                f"{tb.id} text {tb.text[:60]!r} does not match the article text at {_offsets(tb.fragments)}: {expected[:60]!r}",
            )
            continue
        sorted_frags = sorted(tb.fragments)
        if sorted_frags != list(tb.fragments):
            frag_order[tb.id] = [sorted_frags.index(f) for f in tb.fragments]
        spans[tb.id] = Span.from_offsets(stored_text, [(omap[s], omap[e]) for s, e in tb.fragments])

    consumed: set[str] = set()
    unmapped: list[dict[str, Any]] = []
    unmapped_ids: set[str] = set()

    def keep_unmapped_t(tid: str) -> None:
        if tid in unmapped_ids or tid not in spans:
            return
        unmapped_ids.add(tid)
        unmapped.append({"kind": "T", "id": tid, "type": doc.textbounds[tid].type, "fragments": _frags_key(spans[tid])})

    def keep_unmapped_e(ev: Any, refs: Iterable[str]) -> None:
        """An E line the taxonomy cannot hold: kept (with its spans) for a faithful brat export."""
        unmapped.append(
            {"kind": "E", "id": ev.id, "type": ev.type, "trigger": ev.trigger, "args": [list(a) for a in ev.args]}
        )
        unmapped_ids.add(ev.id)
        for r in refs:
            keep_unmapped_t(r)

    # 2. entities
    entities: list[Entity] = []
    for tid, tb in doc.textbounds.items():
        label = mapping.entity_label(tb.type)
        if label is not None and tid in spans:
            entities.append(Entity(tid, label, spans[tid]))
            consumed.add(tid)
    entity_ids = {e.id for e in entities}

    # 3. events: attributions and taxonomy events
    attributions: list[Attribution] = []
    events: list[Event] = []
    attr_meta: dict[str, dict[str, Any]] = {}
    event_meta: dict[str, dict[str, Any]] = {}
    part_of: dict[str, str] = {}  # T id -> canonical object id (for notes and attributes)
    for ev in doc.events.values():
        refs = [ev.trigger, *[a for _, a in ev.args]]
        missing = [r for r in refs if r not in spans and r not in doc.events]
        if missing:
            error(
                ev.line,
                "dangling",
                f"{ev.id} refers to {', '.join(missing)}, which is missing or was not imported; line ignored",
            )
            continue
        if ev.type in mapping.attribution_events:
            parts: dict[str, list[str]] = {"cue": [], "content": [], "source": []}
            unknown = []
            for role, tid in ev.args:
                part = mapping.attribution_part(role)
                if part is None or tid not in spans:
                    unknown.append(f"{role}:{tid}")
                else:
                    parts[part].append(tid)
            lacking = [p for p in ("cue", "content") if not parts[p]]
            if unknown or lacking or ev.trigger not in spans:
                why = (
                    f"unknown roles {' '.join(unknown)}"
                    if unknown
                    else f"no {' or '.join(lacking)} (the taxonomy requires cue and content)"
                )
                warn(
                    ev.line,
                    "incomplete",
                    f"{ev.id} ({ev.type}) has {why}: kept for brat export, not imported as an attribution",
                )
                keep_unmapped_e(ev, refs)
                continue
            if mapping.attribution_events[ev.type] == "none" and parts["source"]:
                warn(ev.line, "source-in-no-source", f"{ev.id} is {ev.type} but has a Source; the source is kept")

            def merged(tids: list[str]) -> Span:
                frags = sorted({f for t in tids for f in spans[t].fragments})
                return Span.from_offsets(stored_text, [(f.start, f.end) for f in frags])

            cue, content = merged(parts["cue"]), merged(parts["content"])
            source = merged(parts["source"]) if parts["source"] else None
            attributions.append(Attribution(ev.id, cue, content, source))
            meta: dict[str, Any] = {"type": ev.type, "trigger": ev.trigger, "roles": [list(a) for a in ev.args]}
            if spans[ev.trigger].fragments != cue.fragments:
                meta["trigger_fragments"] = _frags_key(spans[ev.trigger])
            if doc.textbounds[ev.trigger].type != ev.type:
                meta.setdefault("types", {})[ev.trigger] = doc.textbounds[ev.trigger].type
            for role, tid in ev.args:
                if doc.textbounds[tid].type != _role_base(role):
                    meta.setdefault("types", {})[tid] = doc.textbounds[tid].type
            for tids in parts.values():
                if len(tids) > 1:
                    meta.setdefault("parts", {}).update({t: _frags_key(spans[t]) for t in tids})
            attr_meta[ev.id] = meta
            for t in refs:
                consumed.add(t)
                part_of.setdefault(t, ev.id)
            continue
        etype = mapping.event_type(ev.type)
        if etype is None or ev.trigger not in spans:
            warn(
                ev.line,
                "unmapped-type",
                f"{ev.id}: event type {ev.type!r} is not in the mapping or the taxonomy; kept for brat export only",
            )
            keep_unmapped_e(ev, refs)
            continue
        args: list[Argument] = []
        loose: list[list[str]] = []
        for role, tid in ev.args:
            if tid in entity_ids:
                args.append(Argument(mapping.event_role(role), tid))
            else:
                warn(ev.line, "argument", f"{ev.id}: argument {role}:{tid} is not an entity; kept for brat export only")
                loose.append([role, tid])
                keep_unmapped_t(tid)
        events.append(Event(ev.id, etype, spans[ev.trigger], args))
        event_meta[ev.id] = {"type": ev.type, "trigger": ev.trigger, "roles": [list(a) for a in ev.args]}
        if loose:
            event_meta[ev.id]["loose_args"] = loose
        consumed.add(ev.trigger)
        part_of.setdefault(ev.trigger, ev.id)

    # 4. review marks (Discuss / Discard) -> flags on the attributions they overlap
    flag_spans: list[dict[str, Any]] = []
    for tid, tb in doc.textbounds.items():
        if tid not in spans or tb.type not in mapping.flags:
            continue
        if tid in consumed:  # a flag span used as a role filler: flag that attribution
            owner = part_of.get(tid)
            for a in attributions:
                if a.id == owner and tb.type not in a.flags:
                    a.flags.append(tb.type)
            continue
        consumed.add(tid)
        flag_spans.append({"id": tid, "type": tb.type, "fragments": _frags_key(spans[tid])})
        for a in attributions:
            if tb.type not in a.flags and any(_overlaps(spans[tid], s) for s in (a.cue, a.content, a.source) if s):
                a.flags.append(tb.type)

    # 5. attributes
    by_id_event = {e.id: e for e in events}
    by_id_attr = {a.id: a for a in attributions}
    attr_lines: dict[str, dict[str, Any]] = {}
    for al in doc.attributes.values():
        target = al.target if al.target in by_id_event or al.target in by_id_attr else part_of.get(al.target)
        obj: Any = by_id_event.get(target) or by_id_attr.get(target) if target else None
        mapped = mapping.attribute(al.name, al.value)
        if isinstance(obj, Attribution) and al.name in mapping.flags and al.value is None:
            if al.name not in obj.flags:
                obj.flags.append(al.name)
            attr_lines[al.id] = {"target": al.target, "name": al.name, "flag": True}
            continue
        fields = EVENT_FIELDS if isinstance(obj, Event) else ATTRIBUTION_FIELDS if isinstance(obj, Attribution) else ()
        if obj is None or mapped is None or mapped[0] not in fields:
            warn(
                al.line,
                "unmapped-attribute",
                f"{al.id}: attribute {al.name}{' ' + al.value if al.value else ''} on {al.target} is not in the mapping; kept for brat export only",
            )
            unmapped.append({"kind": "A", "id": al.id, "name": al.name, "target": al.target, "value": al.value})
            continue
        setattr(obj, mapped[0], mapped[1])
        attr_lines[al.id] = {"target": al.target, "name": al.name, "field": mapped[0]}

    # 6. relations
    rel_lines: dict[str, dict[str, Any]] = {}
    for rl in doc.relations.values():
        kind = mapping.relations.get(rl.type)
        (r1, a1), (r2, a2) = rl.args
        owners = [
            a for a in attributions if a.source is not None and a1 in _role_tids(attr_meta[a.id], "source", mapping)
        ]
        if kind == "source_entity" and owners and a2 in entity_ids:
            for a in owners:
                a.source_entity_id = a2
            rel_lines[rl.id] = {"type": rl.type, "args": [list(x) for x in rl.args]}
            continue
        warn(
            rl.line,
            "unmapped-relation",
            f"{rl.id}: relation {rl.type} {r1}:{a1} {r2}:{a2} is not in the mapping; kept for brat export only",
        )
        unmapped.append({"kind": "R", "id": rl.id, "type": rl.type, "args": [list(x) for x in rl.args]})

    # 7. notes
    notes: list[dict[str, str]] = []
    note_meta: list[dict[str, str]] = []
    for nl in doc.notes.values():
        tgt = (
            nl.target
            if (nl.target in entity_ids or nl.target in by_id_event or nl.target in by_id_attr)
            else part_of.get(nl.target, nl.target)
        )
        notes.append({"target": tgt, "text": nl.text})
        note_meta.append({"id": nl.id, "type": nl.type, "target": nl.target})

    # 8. anything left over is kept for the round trip, and said
    for tid, tb in doc.textbounds.items():
        if tid in spans and tid not in consumed and tid not in unmapped_ids:
            warn(
                tb.line,
                "orphan",
                f"{tid} ({tb.type}) belongs to no attribution, entity or event; kept for brat export only",
            )
            keep_unmapped_t(tid)
    for rid, line in doc.raw.items():
        unmapped.append({"kind": "raw", "id": rid, "line": line})

    brat_meta: dict[str, Any] = {"file": Path(path).name if path else None, "order": list(doc.order)}
    if name:
        brat_meta["name"] = name
    for key, val in (
        ("attributions", attr_meta),
        ("events", event_meta),
        ("attributes", attr_lines),
        ("relations", rel_lines),
        ("notes", note_meta),
        ("flag_spans", flag_spans),
        ("fragment_order", {k: v for k, v in frag_order.items() if k in spans}),
        ("unmapped", unmapped),
    ):
        if val:
            brat_meta[key] = val
    ann = Annotation(
        doc_id=doc_id,
        text_sha256=text_sha256,
        annotator=annotator,
        entities=entities,
        events=events,
        attributions=attributions,
        origin="brat",
        taxonomy_version=mapping.taxonomy_version,
        notes=notes,
        meta={"brat": brat_meta},
    )
    return ann, issues


def _role_tids(meta: dict[str, Any], part: str, mapping: BratMapping) -> list[str]:
    return [tid for role, tid in meta.get("roles", []) if mapping.attribution_part(role) == part]


# ---------------------------------------------------------------- canonical -> brat


class _IdPool:
    """Hands out fresh brat ids (T12, E3, ...) that collide with nothing already used."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(taken)
        self.next: dict[str, int] = {}
        for i in self.taken:
            m = re.match(r"^([A-Z#])(\d+)$", i)
            if m:
                self.next[m.group(1)] = max(self.next.get(m.group(1), 0), int(m.group(2)))

    def fresh(self, prefix: str) -> str:
        k = self.next.get(prefix, 0) + 1
        while f"{prefix}{k}" in self.taken:
            k += 1
        self.next[prefix] = k
        self.taken.add(f"{prefix}{k}")
        return f"{prefix}{k}"


def annotation_to_brat(ann: Annotation, text: str, mapping: BratMapping, path: str = "") -> BratDocument:
    """One canonical annotation -> a brat document whose offsets index ``text`` (the stored text).

    brat ids, line order, fragment order, review marks and unmapped lines come back from
    ``meta["brat"]`` when the record was imported from brat; anything new gets fresh ids.
    Span texts with line breaks are written with spaces: a brat line cannot hold one.
    """
    bm: dict[str, Any] = dict(ann.meta.get("brat") or {})
    frag_order: dict[str, list[int]] = bm.get("fragment_order") or {}
    doc = BratDocument(path=path)
    reserved = set(bm.get("order") or [])
    pool = _IdPool(
        reserved | {e.id for e in ann.entities} | {e.id for e in ann.events} | {a.id for a in ann.attributions}
    )
    emitted_t: dict[str, list[list[int]]] = {}

    def t_line(tid: str | None, ttype: str, frags: list[list[int]]) -> str:
        """Write a T line (once per id); a clashing reuse of an id gets a fresh one."""
        if tid is None or not tid.startswith("T") or (tid in emitted_t and emitted_t[tid] != frags):
            tid = pool.fresh("T")
        if tid in emitted_t:
            return tid
        emitted_t[tid] = frags
        order = frag_order.get(tid)
        written = (
            [tuple(frags[i]) for i in order]
            if order and sorted(order) == list(range(len(frags)))
            else [tuple(f) for f in frags]
        )
        txt = _linebreaks_as_spaces(" ".join(text[s:e] for s, e in written))
        doc.textbounds[tid] = TextBound(tid, ttype, written, txt, 0)  # type: ignore[arg-type]
        return tid

    def eid_for(obj_id: str) -> str:
        if re.match(r"^E\S*$", obj_id) and obj_id not in doc.events:
            return obj_id
        return pool.fresh("E")

    # entities keep their T ids
    ent_t: dict[str, str] = {}
    for e in ann.entities:
        ent_t[e.id] = t_line(
            e.id if e.id.startswith("T") else None, mapping.brat_entity_type(e.label), _frags_key(e.span)
        )

    # taxonomy events
    ev_meta: dict[str, Any] = bm.get("events") or {}
    obj_e: dict[str, str] = {}
    for ev in ann.events:
        em = ev_meta.get(ev.id) or {}
        btype = em.get("type") or mapping.brat_event_type(ev.type)
        if mapping.event_type(btype) != ev.type:
            btype = mapping.brat_event_type(ev.type)
        trig = t_line(em.get("trigger"), btype, _frags_key(ev.trigger))
        args: list[tuple[str, str]] = []
        remaining = [(a.role, a.entity_id) for a in ev.arguments]
        for role, tid in em.get("roles") or []:
            key = (mapping.event_role(role), tid)
            if key in remaining:
                remaining.remove(key)
                args.append((role, ent_t.get(tid, tid)))
            elif [role, tid] in (em.get("loose_args") or []):
                args.append((role, tid))
        args += [(mapping.brat_event_role(r), ent_t.get(t, t)) for r, t in remaining]
        eid = eid_for(ev.id)
        obj_e[ev.id] = eid
        doc.events[eid] = EventLine(eid, btype, trig, args, 0)

    # attributions
    at_meta: dict[str, Any] = bm.get("attributions") or {}
    flagged_by_span: dict[str, set[str]] = {}
    for fs in bm.get("flag_spans") or []:
        fspan = Span([Fragment(s, e) for s, e in fs["fragments"]], "")
        for a in ann.attributions:
            if any(_overlaps(fspan, s) for s in (a.cue, a.content, a.source) if s):
                flagged_by_span.setdefault(a.id, set()).add(fs["type"])
    for a in ann.attributions:
        am = at_meta.get(a.id) or {}
        types: dict[str, str] = am.get("types") or {}
        etype = am.get("type")
        if etype not in mapping.attribution_events:
            etype = mapping.export_with_source if a.source else mapping.export_without_source
        canon = {"cue": a.cue, "content": a.content, "source": a.source}
        roles: list[tuple[str, str]] = []
        done: set[str] = set()
        meta_roles = [(r, t) for r, t in (am.get("roles") or [])]
        for role, tid in meta_roles:
            part = mapping.attribution_part(role)
            if part is None or canon.get(part) is None:
                continue
            span = canon[part]
            group = [t for r, t in meta_roles if mapping.attribution_part(r) == part]
            stored_parts = am.get("parts") or {}
            if (
                len(group) > 1
                and all(t in stored_parts for t in group)
                and sorted(f for t in group for f in map(tuple, stored_parts[t]))
                == sorted(tuple(f) for f in _frags_key(span))
            ):
                frags = stored_parts[tid]
            elif part in done:
                continue  # pieces no longer match: the first T carries the whole span
            else:
                frags = _frags_key(span)
            roles.append((role, t_line(tid, types.get(tid, _role_base(role)), frags)))
            done.add(part)
        for part in ("cue", "content", "source"):
            if part not in done and canon[part] is not None:
                role = mapping.attribution_role_name(part)
                roles.append((role, t_line(None, role, _frags_key(canon[part]))))  # type: ignore[arg-type]
        trig_frags = am.get("trigger_fragments") or _frags_key(a.cue)
        trig = t_line(am.get("trigger"), types.get(am.get("trigger", ""), etype), trig_frags)
        eid = eid_for(a.id)
        obj_e[a.id] = eid
        doc.events[eid] = EventLine(eid, etype, trig, roles, 0)
        # source entity relation
        if a.source_entity_id and a.source_entity_id in ent_t:
            src_t = next((t for r, t in roles if mapping.attribution_part(r) == "source"), None)
            if src_t:
                rid = next(
                    (
                        k
                        for k, v in (bm.get("relations") or {}).items()
                        if v["args"][0][1] == src_t and v["args"][1][1] == a.source_entity_id
                    ),
                    None,
                )
                if rid is None or rid in doc.relations:
                    rid = pool.fresh("R")
                rname = next((k for k, v in mapping.relations.items() if v == "source_entity"), "source_entity")
                doc.relations[rid] = RelationLine(rid, rname, [("Arg1", src_t), ("Arg2", ent_t[a.source_entity_id])], 0)

    # attributes (realis, polarity, quote_type, ... and flags not carried by a review span)
    al_meta: dict[str, Any] = bm.get("attributes") or {}
    targets = [(ev.id, ev, EVENT_FIELDS) for ev in ann.events] + [
        (a.id, a, ATTRIBUTION_FIELDS) for a in ann.attributions
    ]
    for oid, obj, fields in targets:
        eid = obj_e[oid]
        for fld in fields:
            val = getattr(obj, fld)
            if val is None:
                continue
            prev = next(
                (
                    k
                    for k, v in al_meta.items()
                    if v.get("field") == fld and (v["target"] == eid or v["target"] == oid) and k not in doc.attributes
                ),
                None,
            )
            name, value = mapping.brat_attribute(fld, val)
            if prev is not None:
                name = al_meta[prev]["name"]
                value = None if mapping.attribute_map.get(name, {}).get("value") is not None else value
                target = al_meta[prev]["target"]
            else:
                prev, target = pool.fresh("A"), eid
            doc.attributes[prev] = AttributeLine(prev, name, target, value, 0)
        if isinstance(obj, Attribution):
            role_types = set(((at_meta.get(oid) or {}).get("types") or {}).values())
            for flag in obj.flags:
                if flag in flagged_by_span.get(oid, set()) or flag in role_types:
                    continue
                prev = next(
                    (
                        k
                        for k, v in al_meta.items()
                        if v.get("flag") and v["name"] == flag and v["target"] in (eid, oid)
                    ),
                    None,
                )
                if prev is None or prev in doc.attributes:
                    prev = pool.fresh("A")
                doc.attributes[prev] = AttributeLine(prev, flag, eid, None, 0)

    # review-mark spans and unmapped lines, as imported
    for fs in bm.get("flag_spans") or []:
        t_line(fs["id"], fs["type"], fs["fragments"])
    for um in bm.get("unmapped") or []:
        k = um["kind"]
        if k == "T":
            t_line(um["id"], um["type"], um["fragments"])
        elif k == "E" and um["id"] not in doc.events:
            doc.events[um["id"]] = EventLine(um["id"], um["type"], um["trigger"], [tuple(x) for x in um["args"]], 0)  # type: ignore[misc]
        elif k == "R" and um["id"] not in doc.relations:
            doc.relations[um["id"]] = RelationLine(um["id"], um["type"], [tuple(x) for x in um["args"]], 0)  # type: ignore[misc]
        elif k == "A" and um["id"] not in doc.attributes:
            doc.attributes[um["id"]] = AttributeLine(um["id"], um["name"], um["target"], um.get("value"), 0)
        elif k == "raw":
            doc.raw[um["id"]] = um["line"]

    # notes: brat targets come back from meta where the note is unchanged
    note_meta: list[dict[str, str]] = bm.get("notes") or []
    brat_target = {**ent_t, **obj_e}
    for i, note in enumerate(ann.notes):
        nm = note_meta[i] if i < len(note_meta) else {}
        nid = nm.get("id") if nm.get("id") and nm["id"] not in doc.notes else pool.fresh("#")
        target = nm.get("target") if nm else brat_target.get(note.get("target", ""), note.get("target", ""))
        doc.notes[nid] = NoteLine(
            nid, nm.get("type", "AnnotatorNotes"), target, note.get("text", "").replace("\n", " "), 0
        )  # type: ignore[arg-type]

    # line order: as imported, then the new items in the order they were made
    present = (
        set(doc.textbounds) | set(doc.events) | set(doc.relations) | set(doc.attributes) | set(doc.notes) | set(doc.raw)
    )
    doc.order = [i for i in (bm.get("order") or []) if i in present]
    return doc


def annotation_conf(mapping: BratMapping) -> str:
    """A brat ``annotation.conf`` declaring every type an export can contain."""
    tax = _load_taxonomy()
    ent = [mapping.brat_entity_type(e) for e in mapping.entity_labels]
    roles = {v: k for k, v in mapping.attribution_roles.items()}
    span_types = [roles.get(p, p.capitalize()) for p in ("cue", "content", "source")]
    lines = [
        "# written by newscorpus (corpus export --format brat) from the taxonomy and the brat mapping",
        "[entities]",
    ]
    lines += [*ent, *span_types, *mapping.flags, "", "[relations]"]
    rname = next((k for k, v in mapping.relations.items() if v == "source_entity"), None)
    if rname and ent:
        lines.append(f"{rname}\tArg1:{roles.get('source', 'Source')}, Arg2:{'|'.join(ent)}")
    lines += ["<OVERLAP>\tArg1:<ANY>, Arg2:<ANY>, <OVL-TYPE>:<ANY>", "", "[events]"]
    cue, content, source = span_types
    for etype, src in mapping.attribution_events.items():
        args = f"{cue}:{cue}, {content}+:{content}" + (f", {source}?:{source}" if src != "none" else "")
        lines.append(f"{etype}\t{args}")
    for t in (tax.get("events") or {}).get("types", []):
        args = ", ".join(
            f"{mapping.brat_event_role(r)}*:{'|'.join(mapping.brat_entity_type(x) for x in ents)}"
            for r, ents in (t.get("roles") or {}).items()
        )
        lines.append(f"{mapping.brat_event_type(t['name'])}\t{args}")
    lines += ["", "[attributes]"]
    ev_types = "|".join(mapping.brat_event_type(t) for t in mapping.event_types)
    at_types = "|".join(mapping.attribution_events)
    for fld in EVENT_FIELDS:
        if fld in mapping.attribute_values and ev_types:
            lines.append(f"{fld}\tArg:{ev_types}, Value:{'|'.join(mapping.attribute_values[fld])}")
    for name, spec in mapping.attribute_map.items():
        if "value" in spec and spec.get("field") in EVENT_FIELDS and ev_types:
            lines.append(f"{name}\tArg:{ev_types}")
    for fld in ATTRIBUTION_FIELDS:
        if fld in mapping.attribute_values and at_types:
            lines.append(
                f"{fld}\tArg:{at_types}, Value:{'|'.join(v.replace(' ', '_') for v in mapping.attribute_values[fld])}"
            )
    # flags are declared as entity types above (review spans); brat does not allow the same
    # name again as an attribute, so a flag written as an A line shows as undeclared in brat
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files and layouts


@dataclass
class BratFiles:
    """One document: its text file, its source key (for the doc id) and its ``.ann`` files."""

    name: str
    txt: Path
    rel: str  # path of the .txt relative to the import root, posix
    anns: list[tuple[str, Path]] = field(default_factory=list)  # (annotator, path)
    metadata: dict[str, str] = field(default_factory=dict)


def discover(
    paths_or_dir: str | Path | Sequence[str | Path], *, annotator: str | None = None
) -> tuple[list[BratFiles], list[BratIssue]]:
    """Find documents in either layout.

    * PolNeAR: ``DIR/text/NAME.txt`` + ``DIR/attributions/NAME_ANNOTATOR.ann`` (annotator = the
      suffix after the last underscore); ``DIR`` may also hold several such compartments.
    * side by side: ``NAME.txt`` + ``NAME.ann`` (annotator: ``annotator`` or "brat"), and
      ``NAME_ANNOTATOR.ann`` next to ``NAME.txt``.
    ``metadata.tsv`` in DIR or its parent fills title, publisher and date.
    """
    items = [paths_or_dir] if isinstance(paths_or_dir, (str, Path)) else list(paths_or_dir)
    docs: list[BratFiles] = []
    issues: list[BratIssue] = []
    for item in items:
        root = Path(item)
        if not root.exists():
            raise UsageError(
                f"{root} does not exist",
                hint="give a brat directory (NAME.txt + NAME.ann, or PolNeAR's text/ + attributions/)",
            )
        if root.is_file():
            root = root.parent
        compartments = (
            [root] if (root / "text").is_dir() else sorted(p for p in root.iterdir() if (p / "text").is_dir())
        )
        if compartments:
            meta = _read_metadata(root)
            for comp in compartments:
                docs += _polnear_layout(comp, meta, issues)
        else:
            docs += _side_by_side(root, annotator or DEFAULT_ANNOTATOR, _read_metadata(root), issues)
    return docs, issues


def _read_metadata(root: Path) -> dict[str, dict[str, str]]:
    """Rows of the nearest ``metadata.tsv`` (DIR, its parent, or grandparent), by file stem."""
    from corpus.ingest.readers.metadata import load_metadata

    for cand in (root / "metadata.tsv", root.parent / "metadata.tsv", root.parent.parent / "metadata.tsv"):
        if cand.is_file():
            table = load_metadata(cand)
            return {Path(k).stem: v for k, v in table.rows.items()}
    return {}


def _polnear_layout(comp: Path, meta: dict[str, dict[str, str]], issues: list[BratIssue]) -> list[BratFiles]:
    text_dir = comp / "text"
    docs = {
        p.stem: BratFiles(p.stem, p, p.relative_to(text_dir).as_posix(), metadata=meta.get(p.stem, {}))
        for p in sorted(text_dir.glob("*.txt"))
    }
    ann_dir = comp / "attributions"
    for p in sorted(ann_dir.glob("*.ann")) if ann_dir.is_dir() else []:
        name, _, who = p.stem.rpartition("_")
        if not name or name not in docs:
            issues.append(
                BratIssue(str(p), None, "error", "no-text", f"no text/{name or p.stem}.txt for this annotation file")
            )
            continue
        docs[name].anns.append((who, p))
    return list(docs.values())


def _side_by_side(
    root: Path, annotator: str, meta: dict[str, dict[str, str]], issues: list[BratIssue]
) -> list[BratFiles]:
    docs: dict[Path, BratFiles] = {}
    for p in sorted(root.rglob("*.txt")):
        docs[p.with_suffix("")] = BratFiles(p.stem, p, p.relative_to(root).as_posix(), metadata=meta.get(p.stem, {}))
    for p in sorted(root.rglob("*.ann")):
        base = p.with_suffix("")
        if base in docs:
            docs[base].anns.append((annotator, p))
            continue
        head, _, who = p.stem.rpartition("_")
        if head and p.with_name(head) in docs:
            docs[p.with_name(head)].anns.append((who, p))
        else:
            issues.append(BratIssue(str(p), None, "error", "no-text", f"no {p.stem}.txt beside this annotation file"))
    return list(docs.values())


# ---------------------------------------------------------------- snapshot files


# ---------------------------------------------------------------- import / export workflows


@dataclass
class BratReport:
    documents: int = 0
    ann_files: int = 0
    annotations: int = 0
    entities: int = 0
    events: int = 0
    attributions: int = 0
    flags: int = 0
    notes: int = 0
    unmapped: int = 0
    snapshot: str | None = None
    issues: list[BratIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[BratIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[BratIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "issues"}
        d["errors"] = [i.to_dict() for i in self.errors]
        d["warnings"] = [i.to_dict() for i in self.warnings]
        return d


def _article_for(
    files: BratFiles, doc_id: str, key: str, stored: str, raw: str, raw_sha: str, source: str | None
) -> Any:
    """The Article the plain-text import would make of this file (same key, title, meta), with
    the metadata table applied, and the text normalized here so brat offsets can be mapped."""
    from corpus.core.model import Article
    from corpus.ingest.readers.base import RawRecord, first_line
    from corpus.ingest.readers.metadata import MetadataTable

    rec = RawRecord(
        source_key=key, text=stored, title=first_line(raw), source=source, meta={"path": files.rel}, raw_sha256=raw_sha
    )
    if files.metadata:
        MetadataTable({files.txt.name: files.metadata}).apply(rec, files.txt)
    return Article(
        doc_id=doc_id,
        text=stored,
        title=rec.title,
        source=rec.source,
        url=rec.url,
        published=rec.published,
        language=rec.language,
        raw_sha256=raw_sha,
        meta=dict(rec.meta),
    )


def import_brat(
    paths_or_dir: str | Path | Sequence[str | Path],
    store: Any,
    *,
    source: str | None = None,
    annotations_out: str | Path | None = None,
    mapping: str | Path | dict | BratMapping | None = None,
    message: str | None = None,
    progress: bool = False,
    annotator: str | None = None,
) -> tuple[Any, BratReport]:
    """Texts into the corpus (through ``ingest``), ``.ann`` files into one annotation snapshot.

    Returns (ImportReport, BratReport). The snapshot is written only when ``annotations_out``
    is given (a directory ``annotations/NAME`` or a ``.jsonl`` path).
    """
    import hashlib

    from corpus.core import normalize
    from corpus.core.model import make_doc_id, sha256_text
    from corpus.ingest import importer as ingest

    mp = load_mapping(mapping)
    docs, issues = discover(paths_or_dir, annotator=annotator)
    report = BratReport(issues=list(issues))
    prepared: list[tuple[BratFiles, str, str, list[int]]] = []
    articles = []
    for files in docs:
        try:
            data = files.txt.read_bytes()
            raw = data.decode("utf-8")  # brat's view: offsets count code points of this
        except OSError as e:
            report.issues.append(BratIssue(str(files.txt), None, "error", "unreadable", f"cannot read: {e.strerror}"))
            continue
        except UnicodeDecodeError:
            try:
                raw, _meta = normalize.decode(data)
            except InputError as e:
                report.issues.append(BratIssue(str(files.txt), None, "error", "unreadable", e.message))
                continue
        body = raw[1:] if raw.startswith("\ufeff") else raw  # the stored text has no BOM
        stored, omap = normalize.normalize_with_map(body)
        if body is not raw:
            omap = [0, *omap]
        key = (f"{source}:" if source else "") + files.rel
        art = _article_for(files, make_doc_id(key), key, stored, body, hashlib.sha256(data).hexdigest(), source)
        prepared.append((files, raw, stored, omap))
        articles.append(art)
    ireport = ingest.import_articles(
        store, articles, message=message or f"brat import of {paths_or_dir}", progress=progress
    )
    report.documents = len(prepared)
    # an exact duplicate of an article already stored is kept under the original's doc id
    stored_id = {a.doc_id: (ireport.doc_ids or {}).get(a.doc_id, a.doc_id) for a in articles}
    stored_now: dict[str, Any] = {}
    ids = sorted(set(stored_id.values()))
    for start in range(0, len(ids), 1000):
        stored_now.update(store.get_many(ids[start : start + 1000]))

    records: list[Annotation] = []
    for (files, raw, stored, omap), art in zip(prepared, articles):
        have = stored_now.get(stored_id[art.doc_id])
        if have is None or have.text != stored:
            why = "is not in the store" if have is None else "is stored with a different text (normalization differs)"
            for _who, p in files.anns:
                report.issues.append(
                    BratIssue(str(p), None, "error", "no-article", f"article {art.doc_id} {why}; annotations skipped")
                )
            continue
        sha = sha256_text(stored)
        for who, p in files.anns:
            report.ann_files += 1
            try:
                content = p.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as e:
                report.issues.append(BratIssue(str(p), None, "error", "unreadable", f"cannot read: {e}"))
                continue
            bdoc = parse_ann(content, str(p))
            ann, found = brat_to_annotation(
                bdoc,
                raw_text=raw,
                stored_text=stored,
                offset_map=omap,
                mapping=mp,
                doc_id=stored_id[art.doc_id],
                annotator=who,
                text_sha256=sha,
                name=files.name,
            )
            report.issues += found
            records.append(ann)
            report.entities += len(ann.entities)
            report.events += len(ann.events)
            report.attributions += len(ann.attributions)
            report.flags += sum(len(a.flags) for a in ann.attributions)
            report.notes += len(ann.notes)
            report.unmapped += len(ann.meta["brat"].get("unmapped", []))
    report.annotations = len(records)
    if annotations_out is not None and records:
        path = new_snapshot_path(annotations_out)
        write_snapshot(
            records,
            path,
            origin="brat",
            mapping=mp.name,
            taxonomy_version=mp.taxonomy_version,
            corpus_version=getattr(ireport, "version", None),
            source=str(paths_or_dir) if isinstance(paths_or_dir, (str, Path)) else None,
        )
        report.snapshot = str(path)
    return ireport, report


@dataclass
class BratExportReport:
    out_dir: str
    documents: int = 0
    ann_files: int = 0
    issues: list[BratIssue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "documents": self.documents,
            "ann_files": self.ann_files,
            "errors": [i.to_dict() for i in self.issues],
        }


def export_brat(
    snapshot: str | Path | Sequence[str | Path],
    store: Any,
    out_dir: str | Path,
    version: int | str | None = None,
    *,
    mapping: str | Path | dict | BratMapping | None = None,
) -> BratExportReport:
    """A snapshot -> ``NAME.txt`` + ``NAME_ANNOTATOR.ann`` (+ ``annotation.conf``) in ``out_dir``.

    Offsets index the stored text, which is what ``NAME.txt`` contains. A record whose
    ``text_sha256`` does not match the stored article is skipped and reported.
    """
    import os
    import tempfile

    mp = load_mapping(mapping)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = BratExportReport(str(out))
    by_doc: dict[str, list[tuple[Path, int, Annotation]]] = {}
    for f, no, d in iter_snapshot_records(snapshot):
        try:
            by_doc.setdefault(d["doc_id"], []).append((f, no, Annotation.from_dict(d)))
        except (KeyError, TypeError, ValueError) as e:
            report.issues.append(BratIssue(str(f), no, "error", "record", f"not a canonical annotation record ({e})"))

    def atomic_write(path: Path, content: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
        os.replace(tmp, path)

    ids = list(by_doc)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        articles = store.get_many(chunk, version=version)
        for doc_id in chunk:
            art = articles.get(doc_id)
            recs = by_doc[doc_id]
            if art is None:
                for f, no, _a in recs:
                    report.issues.append(
                        BratIssue(
                            str(f),
                            no,
                            "error",
                            "no-article",
                            f"article {doc_id} is not in the store (version {version or 'latest'})",
                        )
                    )
                continue
            written: set[str] = set()
            used: set[str] = set()
            for f, no, ann in recs:
                name = _export_name(art, ann)
                if ann.text_sha256 and ann.text_sha256 != art.text_sha256:
                    report.issues.append(
                        BratIssue(
                            str(f),
                            no,
                            "error",
                            "text-changed",
                            f"{doc_id}: the stored text changed since this annotation (text_sha256 differs); skipped",
                        )
                    )
                    continue
                who = re.sub(r"[^\w.-]+", "-", ann.annotator or DEFAULT_ANNOTATOR)
                fname = f"{name}_{who}.ann"
                k = 2
                while fname in used:
                    fname, k = f"{name}_{who}-{k}.ann", k + 1
                used.add(fname)
                atomic_write(out / fname, write_ann(annotation_to_brat(ann, art.text, mp, fname)))
                report.ann_files += 1
                written.add(name)
            for name in sorted(written):
                atomic_write(out / f"{name}.txt", art.text)
                report.documents += 1
    atomic_write(out / "annotation.conf", annotation_conf(mp))
    return report


def _export_name(article: Any, ann: Annotation) -> str:
    name = (ann.meta.get("brat") or {}).get("name")
    if not name:
        path = (article.meta or {}).get("path") if getattr(article, "meta", None) else None
        name = Path(path).stem if path else article.doc_id
    return re.sub(r"[^\w.-]+", "-", name)
