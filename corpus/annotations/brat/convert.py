"""``BratDocument`` <-> canonical ``Annotation``, driven by a :class:`~corpus.annotations.brat.mapping.BratMapping`.

Offsets are mapped from the raw ``.txt`` to the stored (NFC-normalized) text through
``normalize.normalize_with_map``, never copied: 23 PolNeAR texts are not NFC. Whatever brat holds
that the taxonomy cannot (orphan spans, attributions without content, review marks, brat ids and
line order) is kept in ``Annotation.meta["brat"]`` so that export writes the same file back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from corpus.annotations.brat.mapping import BratMapping, _role_base
from corpus.core import taxonomy as taxmod
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Fragment, Relation, Span
from corpus.core.problems import ERROR, WARNING, Problem
from corpus.ingest.readers.brat import (
    AttributeLine,
    BratDocument,
    EventLine,
    NoteLine,
    RelationLine,
    TextBound,
    _offsets,
)

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
) -> tuple[Annotation, list[Problem]]:
    """One ``.ann`` file -> one canonical annotation, plus every issue found.

    ``raw_text`` is the ``.txt`` as brat saw it (offsets refer to it); ``stored_text`` is the
    normalized text in the corpus; ``offset_map[i]`` is the stored offset of raw offset ``i``.
    """
    path = doc.path
    issues = list(doc.issues)
    omap = offset_map if offset_map is not None else range(len(raw_text) + 1)

    def warn(line: int | None, code: str, msg: str) -> None:
        issues.append(Problem(code, msg, WARNING, file=path, line=line))

    def error(line: int | None, code: str, msg: str) -> None:
        issues.append(Problem(code, msg, ERROR, file=path, line=line))

    # 1. every span checked against the article text, then mapped to stored offsets
    spans: dict[str, Span] = {}
    frag_order: dict[str, list[int]] = {}
    n = len(raw_text)
    for tb in doc.textbounds.values():
        if any(not (0 <= s <= e <= n) for s, e in tb.fragments):
            error(
                tb.line,
                "brat_offsets_outside_text",
                f"{tb.id} offsets {_offsets(tb.fragments)} fall outside the text ({n} characters)",
            )
            for no in tb.continuation_lines:
                error(no, "brat_malformed_line", f"not a brat standoff line (after {tb.id})")
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
                "brat_continuation",
                f"{tb.id}'s text goes on over lines {lines_txt} (a line break inside a span); joined, exported on one line",
            )
        if tb.continuation:
            for no, cont in zip(tb.continuation_lines, tb.continuation):
                if cont_ok:
                    warn(
                        no,
                        "brat_continuation",
                        f"line continues {tb.id}'s text across a line break (brat cannot write one); joined to it",
                    )
                elif cont.strip():
                    error(no, "brat_malformed_line", f"not a brat standoff line: {cont[:80]!r}")
        if not ok:
            error(
                tb.line,
                "brat_text_mismatch",
                f"{tb.id} text {(tb.text or '')[:60]!r} does not match the article text at {_offsets(tb.fragments)}: {expected[:60]!r}",
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
            entities.append(Entity(tid, label, spans[tid], mapping.slots(taxmod.ENTITIES, label)))
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
                "brat_dangling",
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
                    "brat_incomplete_attribution",
                    f"{ev.id} ({ev.type}) has {why}: kept for brat export, not imported as an attribution",
                )
                keep_unmapped_e(ev, refs)
                continue
            if mapping.attribution_events[ev.type] == "none" and parts["source"]:
                warn(ev.line, "brat_source_in_no_source", f"{ev.id} is {ev.type} but has a Source; the source is kept")

            def merged(tids: list[str]) -> Span:
                frags = sorted({f for t in tids for f in spans[t].fragments})
                return Span.from_offsets(stored_text, [(f.start, f.end) for f in frags])

            cue, content = merged(parts["cue"]), merged(parts["content"])
            source = merged(parts["source"]) if parts["source"] else None
            attributions.append(
                Attribution(ev.id, cue, content, source, attributes=mapping.slots(taxmod.ATTRIBUTION, None))
            )
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
                "brat_unmapped_event_type",
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
                warn(
                    ev.line,
                    "brat_argument_not_entity",
                    f"{ev.id}: argument {role}:{tid} is not an entity; kept for brat export only",
                )
                loose.append([role, tid])
                keep_unmapped_t(tid)
        events.append(Event(ev.id, etype, spans[ev.trigger], args, mapping.slots(taxmod.EVENTS, etype)))
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
    by_id_entity = {e.id: e for e in entities}
    attr_lines: dict[str, dict[str, Any]] = {}
    for al in doc.attributes.values():
        target = (
            al.target
            if al.target in by_id_event or al.target in by_id_attr or al.target in by_id_entity
            else part_of.get(al.target)
        )
        obj: Any = (by_id_event.get(target) or by_id_attr.get(target) or by_id_entity.get(target)) if target else None
        mapped = mapping.attribute(al.name, al.value)
        if isinstance(obj, Attribution) and al.name in mapping.flags and al.value is None:
            if al.name not in obj.flags:
                obj.flags.append(al.name)
            attr_lines[al.id] = {"target": al.target, "name": al.name, "flag": True}
            continue
        fields = (
            mapping.event_fields
            if isinstance(obj, Event)
            else mapping.attribution_fields
            if isinstance(obj, Attribution)
            else mapping.entity_fields
            if isinstance(obj, Entity)
            else ()
        )
        if obj is None or mapped is None or mapped[0] not in fields:
            warn(
                al.line,
                "brat_unmapped_attribute",
                f"{al.id}: attribute {al.name}{' ' + al.value if al.value else ''} on {al.target} is not in the mapping; kept for brat export only",
            )
            unmapped.append({"kind": "A", "id": al.id, "name": al.name, "target": al.target, "value": al.value})
            continue
        obj.attributes[mapped[0]] = mapped[1]
        attr_lines[al.id] = {"target": al.target, "name": al.name, "field": mapped[0]}

    # 6. relations
    rel_lines: dict[str, dict[str, Any]] = {}
    relations: list[Relation] = []
    for rl in doc.relations.values():
        kind = mapping.relations.get(rl.type)
        (r1, a1), (r2, a2) = rl.args
        owners = [
            a for a in attributions if a.source is not None and a1 in _role_tids(attr_meta[a.id], "source", mapping)
        ]
        if kind == taxmod.SOURCE_ENTITY and owners and a2 in entity_ids:
            for a in owners:
                a.source_entity_id = a2
            rel_lines[rl.id] = {"type": rl.type, "args": [list(x) for x in rl.args]}
            continue
        label = mapping.relation_label(rl.type)
        if label is not None and a1 in entity_ids and a2 in entity_ids:
            relations.append(Relation(rl.id, label, a1, a2))
            continue
        warn(
            rl.line,
            "brat_unmapped_relation",
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
                "brat_orphan_span",
                f"{tid} ({tb.type}) belongs to no attribution, entity or event; kept for brat export only",
            )
            keep_unmapped_t(tid)
    for rid, line in doc.raw.items():
        unmapped.append({"kind": "raw", "id": rid, "line": line})

    brat_meta: dict[str, Any] = {"file": Path(path).name if path else None, "order": list(doc.order)}
    if name:
        brat_meta["name"] = name
    tails = {i: x.tail for table in (doc.events, doc.relations) for i, x in table.items() if x.tail}
    for key, val in (
        ("attributions", attr_meta),
        ("events", event_meta),
        ("attributes", attr_lines),
        ("relations", rel_lines),
        ("notes", note_meta),
        ("flag_spans", flag_spans),
        ("fragment_order", {k: v for k, v in frag_order.items() if k in spans}),
        ("unmapped", unmapped),
        ("tails", tails),
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
        relations=relations,
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
        reserved
        | {e.id for e in ann.entities}
        | {e.id for e in ann.events}
        | {a.id for a in ann.attributions}
        | {r.id for r in ann.relations}
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
            [(frags[i][0], frags[i][1]) for i in order]
            if order and sorted(order) == list(range(len(frags)))
            else [(f[0], f[1]) for f in frags]
        )
        txt = _linebreaks_as_spaces(" ".join(text[s:e] for s, e in written))
        doc.textbounds[tid] = TextBound(tid, ttype, written, txt, 0)
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
            span = canon.get(part) if part is not None else None
            if part is None or span is None:
                continue
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
        for part, span in canon.items():
            if part not in done and span is not None:
                role = mapping.attribution_role_name(part)
                roles.append((role, t_line(None, role, _frags_key(span))))
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
                rname = next(
                    (k for k, v in mapping.relations.items() if v == taxmod.SOURCE_ENTITY), taxmod.SOURCE_ENTITY
                )
                doc.relations[rid] = RelationLine(rid, rname, [("Arg1", src_t), ("Arg2", ent_t[a.source_entity_id])], 0)

    # entity relations (the taxonomy's relations layer)
    for r in ann.relations:
        if r.from_id in ent_t and r.to_id in ent_t:
            rid = r.id if re.match(r"^R\d+$", r.id) and r.id not in doc.relations else pool.fresh("R")
            args = [("Arg1", ent_t[r.from_id]), ("Arg2", ent_t[r.to_id])]
            doc.relations[rid] = RelationLine(rid, mapping.brat_relation_type(r.label), args, 0)

    # attributes (the taxonomy's, on entities, events and attributions; flags not carried by a review span)
    al_meta: dict[str, Any] = bm.get("attributes") or {}
    targets: list[tuple[str, Any, tuple[str, ...], str]] = [
        (ev.id, ev, mapping.event_fields, obj_e[ev.id]) for ev in ann.events
    ]
    targets += [(a.id, a, mapping.attribution_fields, obj_e[a.id]) for a in ann.attributions]
    targets += [(e.id, e, mapping.entity_fields, ent_t[e.id]) for e in ann.entities if e.id in ent_t]
    for oid, obj, fields, eid in targets:
        for fld in fields:
            val = obj.attributes.get(fld)
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
            doc.events[um["id"]] = EventLine(um["id"], um["type"], um["trigger"], [tuple(x) for x in um["args"]], 0)
        elif k == "R" and um["id"] not in doc.relations:
            doc.relations[um["id"]] = RelationLine(um["id"], um["type"], [tuple(x) for x in um["args"]], 0)
        elif k == "A" and um["id"] not in doc.attributes:
            doc.attributes[um["id"]] = AttributeLine(um["id"], um["name"], um["target"], um.get("value"), 0)
        elif k == "raw":
            doc.raw[um["id"]] = um["line"]

    # notes: brat targets come back from meta where the note is unchanged
    note_meta: list[dict[str, str]] = bm.get("notes") or []
    brat_target = {**ent_t, **obj_e}
    for i, note in enumerate(ann.notes):
        nm = note_meta[i] if i < len(note_meta) else {}
        kept_id = nm.get("id")
        nid = kept_id if kept_id and kept_id not in doc.notes else pool.fresh("#")
        # the kept brat target (always written with the note's meta), else the note's target mapped to brat ids
        target = nm.get("target") or brat_target.get(note.get("target", ""), note.get("target", ""))
        doc.notes[nid] = NoteLine(
            nid, nm.get("type", "AnnotatorNotes"), target, note.get("text", "").replace("\n", " "), 0
        )

    # whitespace brat wrote after an E / R line's last argument (its own R lines end in a tab)
    for i, tail in (bm.get("tails") or {}).items():
        line = doc.events.get(i) or doc.relations.get(i)
        if line is not None:
            line.tail = tail

    # line order: as imported, then the new items in the order they were made
    present = (
        set(doc.textbounds) | set(doc.events) | set(doc.relations) | set(doc.attributes) | set(doc.notes) | set(doc.raw)
    )
    doc.order = [i for i in (bm.get("order") or []) if i in present]
    return doc


def annotation_conf(mapping: BratMapping) -> str:
    """A brat ``annotation.conf`` declaring every type an export can contain."""
    tax = taxmod.load()
    ent = [mapping.brat_entity_type(e) for e in mapping.entity_labels]
    roles = {v: k for k, v in mapping.attribution_roles.items()}
    span_types = [roles.get(p, p.capitalize()) for p in ("cue", "content", "source")]
    lines = [
        "# written by newscorpus (corpus export --format brat) from the taxonomy and the brat mapping",
        "[entities]",
    ]
    lines += [*ent, *span_types, *mapping.flags, "", "[relations]"]
    rname = next((k for k, v in mapping.relations.items() if v == taxmod.SOURCE_ENTITY), None)
    if rname and ent:
        lines.append(f"{rname}\tArg1:{roles.get('source', 'Source')}, Arg2:{'|'.join(ent)}")
    for er in tax.entity_relations:
        a1 = "|".join(mapping.brat_entity_type(x) for x in er.from_types)
        a2 = "|".join(mapping.brat_entity_type(x) for x in er.to_types)
        lines.append(f"{mapping.brat_relation_type(er.name)}\tArg1:{a1}, Arg2:{a2}")
    lines += ["<OVERLAP>\tArg1:<ANY>, Arg2:<ANY>, <OVL-TYPE>:<ANY>", "", "[events]"]
    cue, content, source = span_types
    for etype, src in mapping.attribution_events.items():
        args = f"{cue}:{cue}, {content}+:{content}" + (f", {source}?:{source}" if src != "none" else "")
        lines.append(f"{etype}\t{args}")
    for t in tax.events:
        args = ", ".join(
            f"{mapping.brat_event_role(r.name)}*:{'|'.join(mapping.brat_entity_type(x) for x in r.entity_types)}"
            for r in t.roles
        )
        lines.append(f"{mapping.brat_event_type(t.name)}\t{args}")
    lines += ["", "[attributes]"]
    ev_types = "|".join(mapping.brat_event_type(t) for t in mapping.event_types)
    at_types = "|".join(mapping.attribution_events)
    for fld in mapping.entity_fields:
        if fld in mapping.attribute_values and ent:
            values = "|".join(v.replace(" ", "_") for v in mapping.attribute_values[fld])
            lines.append(f"{fld}\tArg:{'|'.join(ent)}, Value:{values}")
    for fld in mapping.event_fields:
        if fld in mapping.attribute_values and ev_types:
            lines.append(f"{fld}\tArg:{ev_types}, Value:{'|'.join(mapping.attribute_values[fld])}")
    for name, spec in mapping.attribute_map.items():
        if "value" in spec and spec.get("field") in mapping.event_fields and ev_types:
            lines.append(f"{name}\tArg:{ev_types}")
    for fld in mapping.attribution_fields:
        if fld in mapping.attribute_values and at_types:
            lines.append(
                f"{fld}\tArg:{at_types}, Value:{'|'.join(v.replace(' ', '_') for v in mapping.attribute_values[fld])}"
            )
    # flags are declared as entity types above (review spans); brat does not allow the same
    # name again as an attribute, so a flag written as an A line shows as undeclared in brat
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files and layouts
