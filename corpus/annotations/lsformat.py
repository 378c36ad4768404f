"""Canonical :class:`~corpus.core.model.Annotation` <-> Label Studio result JSON (pure, no SDK).

This is the offset border: canonical offsets are code points into the stored text; Label Studio
1.23 sends code points for ``<Text>`` too, but older releases sent UTF-16 code units (a JS
string's indices), which differ after every emoji or other astral character. Every region's
``value.text`` is therefore checked against ``text[start:end]``; when the UTF-16 reading of the
offsets is the one that matches, the offsets are converted and a ``utf16_offsets`` warning says so.

Conventions (the labeling config of :func:`corpus.core.taxonomy.labelstudio_config`; every
control name, label and relation label below comes from the loaded taxonomy):

* one region per span fragment; a region is a ``labels`` result of the entity, event (trigger,
  labelled with the event type) or attribution (cue, content, source spans) control;
* a discontinuous span: its first fragment's region (the *head*) carries the span's id, each
  further fragment is a region with the same label joined by a ``continues`` relation head -> it;
* entity id = head region id; event id = trigger head id; attribution id = cue head id;
* event argument = relation trigger head -> entity head, label = role (several roles of one
  entity in one event share one relation with several labels: Label Studio keeps one relation
  per region pair);
* entity relation (the relations layer) = relation entity head -> entity head, label = the
  relation type; several types between one pair share one Label Studio relation;
* attribution: has_content cue -> each content region (several regions = one discontinuous
  content, fragments sorted); has_source cue -> source head; source_entity source head ->
  entity head (or cue -> entity when the attribution has a source entity but no source span);
* per-region ``choices`` (same id as the region): each attribute on the regions the taxonomy
  puts it on (an entity label, event triggers, an attribution span); written on every fragment
  region (Label Studio requires them on each), read from the head;
* region ``meta.text`` carries notes (canonical ``notes`` with that target), cue ``meta.flags``
  the attribution's flags.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from corpus.core import taxonomy as taxmod
from corpus.core.model import (
    FRAGMENT_JOINER,
    Annotation,
    Argument,
    Attribution,
    Entity,
    Event,
    Fragment,
    Relation,
    Span,
    relation_id,
    sha256_text,
)
from corpus.core.problems import Problem
from corpus.core.taxonomy import ATTRIBUTION, CONTENT, CUE, ENTITIES, EVENTS, SOURCE, Taxonomy


def object_at(d: dict[str, Any], key: str) -> dict[str, Any]:
    """``d[key]`` when it is a JSON object, else an empty one (exports hold what they hold)."""
    value = d.get(key)
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- UTF-16 <-> code points


def has_astral(text: str) -> bool:
    """True when UTF-16 and code-point offsets differ somewhere in ``text``."""
    return any(ord(c) > 0xFFFF for c in text)


class Utf16Map:
    """Converts UTF-16 code-unit offsets of ``text`` to code-point offsets (``None`` mid-pair)."""

    def __init__(self, text: str):
        self.astral = [i for i, c in enumerate(text) if ord(c) > 0xFFFF]  # code-point positions
        self.n = len(text)

    def to_cp(self, u: int) -> int | None:
        # code point i starts at UTF-16 unit i + (#astral before i); invert by walking the list
        extra = 0
        for k, pos in enumerate(self.astral):
            unit = pos + k  # UTF-16 index where astral char number k starts
            if u <= unit:
                break
            if u == unit + 1:
                return None  # inside a surrogate pair
            extra = k + 1
        cp = u - extra
        return cp if 0 <= cp <= self.n else None

    def to_utf16(self, cp: int) -> int:
        return cp + bisect_right(self.astral, cp - 1)


def utf16_to_codepoints(text: str, start: int, end: int) -> tuple[int, int] | None:
    m = Utf16Map(text)
    s, e = m.to_cp(start), m.to_cp(end)
    return (s, e) if s is not None and e is not None else None


def codepoints_to_utf16(text: str, start: int, end: int) -> tuple[int, int]:
    m = Utf16Map(text)
    return m.to_utf16(start), m.to_utf16(end)


def check_offsets(
    text: str, start: Any, end: Any, seen_text: str | None, umap: Utf16Map | None = None
) -> tuple[str, int, int]:
    """Judge one region's offsets: ``("ok"|"utf16"|"mismatch"|"range", start, end)``.

    ``utf16`` returns the converted code-point offsets; the others return the input offsets.
    """
    if not (type(start) is int and type(end) is int) or not (0 <= start < end <= len(text)):
        if seen_text is not None and type(start) is int and type(end) is int and start < end:
            conv = _utf16(text, start, end, seen_text, umap)
            if conv:
                return ("utf16", *conv)
        return "range", start, end
    if seen_text is None or text[start:end] == seen_text:
        return "ok", start, end
    conv = _utf16(text, start, end, seen_text, umap)
    if conv:
        return ("utf16", *conv)
    return "mismatch", start, end


def _unescaped(x: str) -> str:
    x = x.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\r", "\n").replace("\\t", "\t")
    x = x.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\u202f", " ")
    return _SPACES.sub(" ", x)


_SPACES = re.compile(r"[ \t]+")


def ls_escaped(seen: str, actual: str) -> bool:
    """True when a region's ``text`` differs from the task text at its offsets only by Label
    Studio's own escaping: line breaks stored as ``\\n``, non-breaking spaces as plain (collapsed)
    spaces. The offsets are right; only the copy of the text is not."""
    return seen != actual and _unescaped(seen) == _unescaped(actual)


def _utf16(text: str, start: int, end: int, seen: str, umap: Utf16Map | None) -> tuple[int, int] | None:
    umap = umap or Utf16Map(text)
    if not umap.astral:
        return None
    s, e = umap.to_cp(start), umap.to_cp(end)
    if s is not None and e is not None and s < e and text[s:e] == seen:
        return s, e
    return None


# ---------------------------------------------------------------- canonical -> Label Studio


def _rel(from_id: str, to_id: str, labels: list[str]) -> dict[str, Any]:
    return {"from_id": from_id, "to_id": to_id, "type": "relation", "direction": "right", "labels": labels}


def annotation_to_ls_result(ann: Annotation, text: str, tax: Taxonomy | None = None) -> list[dict[str, Any]]:
    """The Label Studio ``result`` list for ``ann`` (predictions, or annotations via import).

    Offsets are written as code points (Label Studio >= 1.x for <Text>), ``value.text`` from the
    document. Ids: span ids become head region ids; extra regions get ``<id>-<k>``,
    ``<id>-content``, ``<id>-source`` (suffixed further if that would collide).
    """
    used: set[str] = {str(region_id) for _, region_id, _ in ann.spans()}

    def new_id(base: str) -> str:
        i, cand = 1, base
        while cand in used:
            i += 1
            cand = f"{base}.{i}"
        used.add(cand)
        return cand

    notes: dict[str, list[str]] = {}
    for n in ann.notes:
        if n.get("target") is not None:
            notes.setdefault(str(n["target"]), []).append(str(n.get("text", "")))

    tax = tax or taxmod.load()
    regions: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    fragment_label = tax.fragment_relation.name
    att = tax.attribution_layer

    def choices_of(layer: str, label: str, attrs: dict[str, str | None]) -> dict[str, str | None]:
        return {a.name: attrs.get(a.name) for a in tax.attributes_on(layer, label)}

    def emit_span(
        head: str,
        control: str,
        label: str,
        span: Span,
        choices: dict[str, str | None] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> list[str]:
        ids = []
        for k, f in enumerate(span.fragments):
            rid = head if k == 0 else new_id(f"{head}-{k + 1}")
            ids.append(rid)
            item: dict[str, Any] = {
                "id": rid,
                "from_name": control,
                "to_name": tax.text,
                "type": "labels",
                "value": {"start": f.start, "end": f.end, "text": text[f.start : f.end], "labels": [label]},
            }
            m = dict(meta or {}) if k == 0 else {}
            if k == 0 and head in notes:
                m["text"] = notes[head]
            if m:
                item["meta"] = m
            regions.append(item)
            for name, value in (choices or {}).items():
                if value is not None:
                    regions.append(
                        {
                            "id": rid,
                            "from_name": name,
                            "to_name": tax.text,
                            "type": "choices",
                            "value": {
                                "start": f.start,
                                "end": f.end,
                                "text": text[f.start : f.end],
                                "choices": [value],
                            },
                        }
                    )
            if k:
                relations.append(_rel(head, rid, [fragment_label]))
        return ids

    ent_control, ev_control = tax.control(ENTITIES) or "", tax.control(EVENTS) or ""
    for e in ann.entities:
        emit_span(str(e.id), ent_control, e.label, e.span, choices_of(ENTITIES, e.label, e.attributes))
    for ev in ann.events:
        emit_span(str(ev.id), ev_control, ev.type, ev.trigger, choices_of(EVENTS, ev.type, ev.attributes))
        by_entity: dict[str, list[str]] = {}
        for a in ev.arguments:
            roles = by_entity.setdefault(str(a.entity_id), [])
            if a.role not in roles:
                roles.append(a.role)
        for ent_id, roles in by_entity.items():
            relations.append(_rel(str(ev.id), ent_id, roles))
    for at in ann.attributions if att else ():
        assert att is not None
        cue = str(at.id)
        meta = {"flags": list(at.flags)} if at.flags else None
        emit_span(cue, att.control, att.cue, at.cue, choices_of(ATTRIBUTION, att.cue, at.attributes), meta)
        content_choices = choices_of(ATTRIBUTION, att.content, at.attributes)
        for f in at.content.fragments:
            rid = new_id(f"{cue}-content")
            emit_span(rid, att.control, att.content, Span([f], text[f.start : f.end]), content_choices)
            relations.append(_rel(cue, rid, [att.has_content]))
        src_head = None
        if at.source is not None and at.source.fragments:
            src_head = new_id(f"{cue}-source")
            emit_span(src_head, att.control, att.source, at.source, choices_of(ATTRIBUTION, att.source, at.attributes))
            relations.append(_rel(cue, src_head, [att.has_source]))
        if at.source_entity_id and att.source_entity:
            relations.append(_rel(src_head or cue, str(at.source_entity_id), [att.source_entity]))
    pairs: dict[tuple[str, str], list[str]] = {}
    for r in ann.relations:
        labels = pairs.setdefault((str(r.from_id), str(r.to_id)), [])
        if r.label not in labels:
            labels.append(r.label)
    unlabelled = tax.relation_layer.unlabelled if tax.relation_layer else ""
    relations += [_rel(fr, to, [x for x in labels if x != unlabelled]) for (fr, to), labels in pairs.items()]
    for name, value in (ann.meta.get("choices") or {}).items() if isinstance(ann.meta.get("choices"), dict) else ():
        if any(a.name == name for a in tax.document_attributes):
            regions.append(
                {
                    "id": new_id(f"doc-{name}"),
                    "from_name": name,
                    "to_name": tax.text,
                    "type": "choices",
                    "value": {"choices": list(value) if isinstance(value, list) else [value]},
                }
            )
    return regions + relations


# ---------------------------------------------------------------- Label Studio -> canonical


@dataclass
class _Region:
    id: str
    control: str
    label: str
    start: int
    end: int
    text: str
    index: int
    choices: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conversion:
    """What :func:`from_labelstudio` returns: the annotation, the converter's findings, repairs."""

    annotation: Annotation
    findings: list[Problem] = field(default_factory=list)
    repairs: int = 0  # regions whose UTF-16 offsets were converted
    fixed_result: list[dict[str, Any]] | None = None  # the result with repaired offsets, if any

    def __iter__(self):  # (annotation, findings) unpacking, as ls_result_to_annotation returns
        return iter((self.annotation, self.findings))


def from_labelstudio(
    result: Any, text: str, tax: Taxonomy | None = None, *, pointer: str = "/result", **meta: Any
) -> Conversion:
    """Read one Label Studio ``result`` list against the task text. Never raises on bad data.

    Problems that cannot survive into the canonical record (an unknown control, a dangling or
    misdirected relation, a Content region no cue links to, UTF-16 offsets) become findings
    here; problems the canonical record can still carry (an unknown entity label, a role the
    event type does not have, text that does not match its offsets) are left for
    :func:`corpus.annotations.validate.validate_annotation`, so nothing is reported twice.
    """
    tax = tax or taxmod.load()
    findings: list[Problem] = []
    fragment_label = tax.fragment_relation.name
    task_id, annotation_id = meta.get("task_id"), meta.get("annotation_id")

    def add(code: str, message: str, region_id: Any = None, ptr: str = "", severity: str = "") -> None:
        findings.append(
            Problem(code, message, severity, task_id, annotation_id, None if region_id is None else str(region_id), ptr)
        )

    base: dict[str, Any] = {"doc_id": "", "text_sha256": sha256_text(text), "annotator": ""}
    base.update({k: v for k, v in meta.items() if k in Annotation.__dataclass_fields__})
    ann = Annotation(**base)
    if not isinstance(result, list):
        add("schema", f"result must be a list, not {type(result).__name__}", ptr=pointer)
        return Conversion(ann, findings)

    umap = Utf16Map(text) if has_astral(text) else None
    regions: dict[str, _Region] = {}
    bad_regions: set[str] = set()  # regions dropped with a finding: relations to them are not reported again
    choice_items: list[tuple[int, dict[str, Any]]] = []
    rel_items: list[tuple[int, dict[str, Any]]] = []
    repairs = 0
    fixed: list[dict[str, Any]] | None = None
    controls = set(tax.label_controls())
    att = tax.attribution_layer
    attr_names = {a.name for a in tax.attributes()}
    doc_attrs = {a.name: a for a in tax.document_attributes}

    for i, item in enumerate(result):
        ptr = f"{pointer}/{i}"
        if not isinstance(item, dict):
            add("schema", f"result item must be an object, not {type(item).__name__}", ptr=ptr)
            continue
        typ = item.get("type")
        if typ == "relation":
            rel_items.append((i, item))
            continue
        if typ not in ("labels", "choices"):
            add("unsupported_result", f"result item of type {typ!r} ignored", item.get("id"), ptr)
            continue
        rid = item.get("id")
        value = item.get("value")
        if rid is None and isinstance(value, dict):
            rid = region_id_for(i)  # hosted exports: a region without an id
        if not isinstance(rid, (str, int)) or isinstance(rid, bool) or not isinstance(value, dict):
            add("schema", "region needs an id and a value object", None, ptr)
            continue
        rid = str(rid)
        if typ == "choices" and item.get("from_name") in doc_attrs:
            vals = value.get("choices")
            if not isinstance(vals, list) or not all(isinstance(x, str) for x in vals):
                add("invalid_choice", f"{item.get('from_name')} needs a list of choices", rid, ptr + "/value/choices")
            else:
                bad = [x for x in vals if x not in doc_attrs[item["from_name"]].values]
                if bad:
                    add(
                        "invalid_choice",
                        f"{item['from_name']} {bad[0]!r} is not one of {', '.join(doc_attrs[item['from_name']].values)}",
                        rid,
                        ptr + "/value/choices",
                    )
                ann.meta.setdefault("choices", {})[item["from_name"]] = vals if len(vals) != 1 else vals[0]
            continue
        if typ == "choices":
            choice_items.append((i, item))
            continue
        name = item.get("from_name")
        if name not in controls:
            add(
                "unknown_label", f"labels from control {name!r}, not one of {sorted(controls)}", rid, ptr + "/from_name"
            )
            bad_regions.add(rid)
            continue
        labels = value.get("labels")
        if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
            add("unknown_label", f"a region needs exactly one label, found {labels!r}", rid, ptr + "/value/labels")
            bad_regions.add(rid)
            continue
        seen = value.get("text")
        seen = seen if isinstance(seen, str) else None
        verdict, s, e = check_offsets(text, value.get("start"), value.get("end"), seen, umap)
        if verdict == "range":
            add(
                "offset_out_of_range",
                f"offsets {value.get('start')!r}..{value.get('end')!r} are not a non-empty "
                f"range inside the text (length {len(text)})",
                rid,
                ptr + "/value",
            )
            bad_regions.add(rid)
            continue
        if verdict == "utf16":
            add(
                "utf16_offsets",
                f"offsets {value['start']}..{value['end']} are UTF-16 code units; converted to code points {s}..{e}",
                rid,
                ptr + "/value/start",
            )
            repairs += 1
            if fixed is None:
                fixed = [dict(x) if isinstance(x, dict) else x for x in result]
            fixed[i] = {**item, "value": {**value, "start": s, "end": e}}
        if verdict == "mismatch" and seen is not None and ls_escaped(seen, text[s:e]):
            add(
                "ls_escaped_text",
                f"region text differs from the task text at {s}..{e} only by Label Studio's escaping "
                "(line breaks stored as \\n, non-breaking spaces as collapsed spaces); the offsets are "
                "right and the task text is used",
                rid,
                ptr + "/value/text",
            )
            seen = text[s:e]
        if rid in regions or rid in bad_regions:
            add("duplicate_region_id", f"region id {rid} is used by more than one region", rid, ptr + "/id")
            bad_regions.add(rid)
            regions.pop(rid, None)
            continue
        regions[rid] = _Region(
            rid, name, labels[0], s, e, seen if seen is not None else text[s:e], i, meta=object_at(item, "meta")
        )

    # per-region choices (fixed offsets of choices follow their region)
    for i, item in choice_items:
        ptr = f"{pointer}/{i}"
        rid = str(item["id"])
        name = item.get("from_name")
        choices = item["value"].get("choices")
        if name not in attr_names:
            add(
                "invalid_choice",
                f"choices from control {name!r}, not one of {sorted(attr_names)}",
                rid,
                ptr + "/from_name",
            )
            continue
        reg = regions.get(rid)
        if reg is None:
            if rid not in bad_regions:
                add("dangling_relation", f"{name} choice for region {rid}, which does not exist", rid, ptr + "/id")
            continue
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
            add("invalid_choice", f"{name} needs exactly one choice, found {choices!r}", rid, ptr + "/value/choices")
            continue
        attr = tax.attribute(name)
        assert attr is not None
        if not attr.applies(tax.layer_of(reg.control) or "", reg.label):
            add(
                "invalid_choice",
                f"{name} belongs on {taxmod.region_kind(tax, attr.layer, attr.label)} regions, "
                f"not on a {reg.control} {reg.label} region",
                rid,
                ptr + "/from_name",
            )
            continue
        reg.choices[name] = choices[0]
        if fixed is not None and isinstance(fixed[i], dict) and isinstance(fixed[i].get("value"), dict):
            fixed[i] = {**fixed[i], "value": {**fixed[i]["value"], "start": reg.start, "end": reg.end}}

    # relations
    rel_names = set(tax.relation_labels())
    role_names = set(tax.roles())
    entity_relations = {r.name for r in tax.entity_relations}
    att_roles = {r.name: r.role for r in tax.attribution_relations}
    rels: list[tuple[int, str, str, str]] = []  # (index, label, from, to)
    for i, item in rel_items:
        ptr = f"{pointer}/{i}"
        fr, to = item.get("from_id"), item.get("to_id")
        labels = item.get("labels")
        unlabelled = tax.relation_layer.unlabelled if tax.relation_layer else ""
        if unlabelled and (labels is None or labels == []):
            labels = [unlabelled]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            add(
                "unknown_label",
                f"relation {fr}->{to} has no label (choose one of {', '.join(tax.relation_labels())})",
                None if fr is None else str(fr),
                ptr + "/labels",
            )
            continue
        missing = [str(x) for x in (fr, to) if str(x) not in regions]
        if missing:
            if not all(m in bad_regions for m in missing):
                add(
                    "dangling_relation",
                    f"relation {'/'.join(labels)} {fr}->{to}: region(s) {', '.join(missing)} "
                    "do not exist in this annotation",
                    str(fr),
                    ptr,
                )
            continue
        for lab in labels:
            if lab not in rel_names:
                add("unknown_label", f"relation label {lab!r} is not in the taxonomy", str(fr), ptr + "/labels")
                continue
            rels.append((i, lab, str(fr), str(to)))

    # discontinuous spans: continues head -> tail (chains resolve to the root head)
    parent: dict[str, str] = {}
    for i, lab, fr, to in rels:
        if lab != fragment_label:
            continue
        a, b = regions[fr], regions[to]
        if (a.control, a.label) != (b.control, b.label) or fr == to:
            add(
                "relation_not_allowed",
                f"{fragment_label} joins fragments of one span: {a.label} region {fr} and {b.label} region {to} differ",
                fr,
                f"{pointer}/{i}",
            )
            continue
        if to in parent and parent[to] != fr:
            add(
                "relation_not_allowed", f"region {to} continues two spans ({parent[to]} and {fr})", to, f"{pointer}/{i}"
            )
            continue
        parent[to] = fr

    def root(r: str) -> str:
        seen_: set[str] = set()
        while r in parent and r not in seen_:
            seen_.add(r)
            r = parent[r]
        return r

    cyc = {r for r in parent if root(r) in parent}
    for region_id in sorted(cyc):
        add("relation_not_allowed", f"{fragment_label} relations form a cycle through region {region_id}", region_id)
        parent.pop(region_id, None)
    members: dict[str, list[_Region]] = {}
    for rid, reg in regions.items():
        members.setdefault(root(rid), []).append(reg)

    def span_of(head: str) -> Span:
        regs = sorted(members.get(head, [regions[head]]), key=lambda r: (r.start, r.end))
        return Span([Fragment(r.start, r.end) for r in regs], FRAGMENT_JOINER.join(r.text for r in regs))

    def choice(head: str, name: str) -> Any:
        if name in regions[head].choices:
            return regions[head].choices[name]
        for r in members.get(head, []):
            if name in r.choices:
                return r.choices[name]
        return None

    heads = [r for r in sorted(regions.values(), key=lambda r: r.index) if root(r.id) == r.id]
    kind = {r.id: (tax.layer_of(r.control) or "", r.label) for r in regions.values()}
    linked: set[str] = set()  # Content/Source heads some cue links to
    args: dict[str, list[Argument]] = {}
    content: dict[str, list[str]] = {}
    source: dict[str, list[str]] = {}
    src_entity: dict[str, str] = {}
    for i, lab, fr, to in rels:
        if lab == fragment_label:
            continue
        ptr = f"{pointer}/{i}"
        fh, th = root(fr), root(to)
        fk, tk = kind[fh], kind[th]
        if lab in role_names:
            if fk[0] != EVENTS or tk[0] != ENTITIES:
                add(
                    "relation_not_allowed",
                    f"role {lab} goes from an event trigger to an entity, not from {fk[1]} to {tk[1]}",
                    fh,
                    ptr,
                )
                continue
            lst = args.setdefault(fh, [])
            if not any(a.role == lab and a.entity_id == th for a in lst):
                lst.append(Argument(lab, th))
        elif lab in entity_relations:
            if fk[0] != ENTITIES or tk[0] != ENTITIES:
                add(
                    "relation_not_allowed",
                    f"relation {lab} goes from an entity to an entity, not from {fk[1]} to {tk[1]}",
                    fh,
                    ptr,
                )
                continue
            rel = Relation(relation_id(lab, fh, th), lab, fh, th)
            if rel not in ann.relations:
                ann.relations.append(rel)
        elif att is not None and att_roles.get(lab) in (taxmod.HAS_CONTENT, taxmod.HAS_SOURCE):
            is_content = att_roles[lab] == taxmod.HAS_CONTENT
            want = att.content if is_content else att.source
            if fk != (ATTRIBUTION, att.cue) or tk != (ATTRIBUTION, want):
                add(
                    "relation_not_allowed",
                    f"{lab} goes from a {att.cue} to a {want} region, not from {fk[1]} to {tk[1]}",
                    fh,
                    ptr,
                )
                continue
            targets = (content if is_content else source).setdefault(fh, [])
            if th not in targets:
                targets.append(th)
            linked.add(th)
        elif att is not None and att_roles.get(lab) == taxmod.SOURCE_ENTITY:
            if fk not in ((ATTRIBUTION, att.source), (ATTRIBUTION, att.cue)) or tk[0] != ENTITIES:
                add(
                    "relation_not_allowed",
                    f"{lab} goes from a {att.source} region to an entity, not from {fk[1]} to {tk[1]}",
                    fh,
                    ptr,
                )
                continue
            if fh in src_entity and src_entity[fh] != th:
                add("relation_not_allowed", f"region {fh} has two source entities ({src_entity[fh]}, {th})", fh, ptr)
                continue
            src_entity[fh] = th

    for r in heads:
        notes = r.meta.get("text") if isinstance(r.meta, dict) else None
        for reg in [r] + [m for m in members.get(r.id, []) if m is not r]:
            nt = reg.meta.get("text") if reg is not r and isinstance(reg.meta, dict) else (notes if reg is r else None)
            if isinstance(nt, str):
                nt = [nt]
            for t in nt or []:
                if isinstance(t, str):
                    ann.notes.append({"target": r.id, "text": t})
        layer = kind[r.id][0]
        if layer == ENTITIES:
            attrs = {a.name: choice(r.id, a.name) for a in tax.attributes_on(ENTITIES, r.label)}
            ann.entities.append(Entity(r.id, r.label, span_of(r.id), attrs))
        elif layer == EVENTS:
            attrs = {a.name: choice(r.id, a.name) for a in tax.attributes_on(EVENTS, r.label)}
            ann.events.append(Event(r.id, r.label, span_of(r.id), args.get(r.id, []), attrs))
        elif att is not None and r.label == att.cue:
            cont_heads = content.get(r.id, [])
            frags = sorted((f for h in cont_heads for f in span_of(h).fragments), key=lambda f: (f.start, f.end))
            cont = Span(frags, FRAGMENT_JOINER.join(_frag_text(members, cont_heads, f, text) for f in frags))
            srcs = source.get(r.id, [])
            if len(srcs) > 1:
                add(
                    "relation_not_allowed",
                    f"cue {r.id} has {len(srcs)} sources ({', '.join(srcs)}); an attribution "
                    "has one source (join a discontinuous source with continues)",
                    r.id,
                )
            src = span_of(srcs[0]) if srcs else None
            ent = src_entity.get(srcs[0]) if srcs else None
            ent = ent or src_entity.get(r.id)
            flags = r.meta.get("flags") if isinstance(r.meta, dict) else None
            holder = {CUE: [r.id], CONTENT: cont_heads, SOURCE: srcs[:1]}
            attrs = {}
            for attr in tax.attributes_on(ATTRIBUTION):
                on = holder.get(att.role_of(attr.label or att.cue) or CUE, [])
                attrs[attr.name] = next((v for h in on if (v := choice(h, attr.name)) is not None), None)
            ann.attributions.append(
                Attribution(
                    r.id,
                    span_of(r.id),
                    cont,
                    src,
                    ent,
                    attrs,
                    [str(x) for x in flags] if isinstance(flags, list) else [],
                )
            )
        elif r.id not in linked and att is not None:
            add(
                "missing_cue",
                f"{r.label} region {r.id} is not linked from any {att.cue} "
                f"(draw {att.has_content if r.label == att.content else att.has_source} from its cue)",
                r.id,
                f"{pointer}/{r.index}",
            )
    return Conversion(ann, findings, repairs, fixed)


def _frag_text(members: dict[str, list[_Region]], heads: list[str], f: Fragment, text: str) -> str:
    for h in heads:
        for r in members.get(h, []):
            if r.start == f.start and r.end == f.end:
                return r.text
    return text[f.start : f.end]


def ls_result_to_annotation(
    result: Any, text: str, tax: Taxonomy | None = None, **meta: Any
) -> tuple[Annotation, list[Problem]]:
    """``(annotation, findings)`` for one result list; ``meta`` sets Annotation fields (doc_id, ...)."""
    conv = from_labelstudio(result, text, tax, **meta)
    return conv.annotation, conv.findings


# The names push and pull use.
to_labelstudio = annotation_to_ls_result


# ---------------------------------------------------------------- export records


def completed_by_name(user: Any) -> str:
    """Annotator identity from ``completed_by``: email when expanded, else the user id."""
    if isinstance(user, dict):
        return str(user.get("email") or user.get("username") or user.get("id") or "unknown")
    return str(user) if user is not None else "unknown"


def ls_annotation_record(
    task: dict[str, Any], annotation: dict[str, Any], tax: Taxonomy | None = None, *, draft: bool = False
) -> Conversion:
    """One exported annotation (or draft) of ``task`` -> canonical record with its Label Studio metadata."""
    data = object_at(task, "data")
    tmeta = object_at(task, "meta")
    tax = tax or taxmod.load()
    raw_text = data.get(tax.data_key)
    text = raw_text if isinstance(raw_text, str) else ""
    lead = annotation.get("lead_time")
    fields: dict[str, Any] = dict(
        doc_id=str(data.get("doc_id") or tmeta.get("doc_id") or ""),
        text_sha256=str(data.get("text_sha256") or tmeta.get("text_sha256") or sha256_text(text)),
        annotator=completed_by_name(annotation.get("user") if draft else annotation.get("completed_by")),
        origin="labelstudio",
        taxonomy_version=str(tmeta.get("taxonomy_version") or tax.version),
        task_id=task.get("id"),
        annotation_id=None if draft else annotation.get("id"),
        ground_truth=bool(annotation.get("ground_truth", False)),
        created_at=annotation.get("created_at"),
        updated_at=annotation.get("updated_at"),
        lead_time=float(lead) if isinstance(lead, (int, float)) and not isinstance(lead, bool) else None,
    )
    conv = from_labelstudio(annotation.get("result") or [], text, tax, **fields)
    if tmeta.get("corpus_version") is not None:
        conv.annotation.meta["corpus_version"] = tmeta["corpus_version"]
    if draft:
        conv.annotation.meta.update({"draft": True, "draft_id": annotation.get("id")})
    if annotation.get("parent_prediction") is not None:
        # started from a prediction (accepted in the UI, or by `corpus accept-predictions`)
        conv.annotation.meta["parent_prediction"] = annotation["parent_prediction"]
    restore_imported(conv.annotation, tmeta)
    return conv


# Task meta key where `corpus push --annotations` keeps, per Label Studio user e-mail, what a
# Label Studio annotation cannot hold: the original annotator id, origin, record meta (e.g.
# meta["brat"], ids and line order for a byte-identical brat export) and notes on no region.
IMPORTED_KEY = "imported_annotations"


def restore_imported(ann: Annotation, task_meta: dict[str, Any]) -> None:
    """Give a pulled annotation of an imported record its original annotator id and meta back.

    The Label Studio copy may have been edited since; its spans are what Label Studio holds, the
    kept meta is only a hint (brat export re-uses ids where the spans still match).
    """
    entry = (task_meta.get(IMPORTED_KEY) or {}).get(ann.annotator) if isinstance(task_meta, dict) else None
    if not isinstance(entry, dict) or not entry.get("annotator"):
        return
    email = ann.annotator
    ann.annotator = str(entry["annotator"])
    kept = object_at(entry, "meta")
    ann.meta = {**kept, **ann.meta, "imported": {"origin": entry.get("origin"), "user": email}}
    # notes: those on regions came back through the regions; the others only from here. When
    # together they are the original notes, the original order is kept (brat export pairs note i
    # with its kept brat id); otherwise the kept brat note ids no longer apply.
    known = {str(region_id) for _, region_id, _ in ann.spans()}
    orig = [
        {"target": str(n.get("target", "")), "text": str(n.get("text", ""))}
        for n in entry.get("notes") or []
        if isinstance(n, dict)
    ]
    notes = ann.notes + [n for n in orig if n["target"] not in known]
    key = lambda n: (n["target"], n["text"])  # noqa: E731
    if sorted(map(key, notes)) == sorted(map(key, orig)):
        ann.notes = orig
    else:
        ann.notes = notes
        if isinstance(ann.meta.get("brat"), dict) and "notes" in ann.meta["brat"]:
            ann.meta["brat"] = {k: v for k, v in ann.meta["brat"].items() if k != "notes"}


def result_digest(result: Iterable[dict[str, Any]]) -> str:
    """A short stable digest of a result list (push compares predictions with it)."""
    import json

    return hashlib.sha256(json.dumps(list(result), sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- other export shapes

JSON_MIN_KEYS = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time")


def is_json_min(records: Any, tax: Taxonomy) -> bool:
    """True for a JSON-MIN export: flat records (task data + one annotation's values per control)."""
    if not isinstance(records, list) or not records:
        return False
    first = records[0]
    return (
        isinstance(first, dict)
        and "data" not in first
        and "annotations" not in first
        and tax.data_key in first
        and any(k in first for k in (*JSON_MIN_KEYS, *tax.label_controls()))
    )


def json_min_to_task(rec: dict[str, Any], tax: Taxonomy) -> dict[str, Any]:
    """One JSON-MIN record -> a task of the JSON format with one annotation (regions get ids
    ``<annotation>-<k>``; JSON-MIN has no region ids and no relations)."""
    controls = set(tax.label_controls())
    doc_choices = {a.name for a in tax.document_attributes} | {a.name for a in tax.attributes()}
    aid = rec.get("annotation_id")
    result: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for k, v in rec.items():
        if k in controls and isinstance(v, list):
            for n, r in enumerate(v):
                if isinstance(r, dict):
                    value = {x: r[x] for x in ("start", "end", "text", "labels") if x in r}
                    result.append(
                        {"id": f"{aid}-{n}", "from_name": k, "to_name": tax.text, "type": "labels", "value": value}
                    )
        elif k in doc_choices and (isinstance(v, str) or isinstance(v, dict)):
            choices = [v] if isinstance(v, str) else v.get("choices")
            result.append(
                {
                    "id": f"{aid}-{k}",
                    "from_name": k,
                    "to_name": tax.text,
                    "type": "choices",
                    "value": {"choices": choices},
                }
            )
        elif k not in JSON_MIN_KEYS and k != "id":
            data[k] = v
    ann = {"id": aid, "completed_by": rec.get("annotator"), "result": result}
    for k in ("created_at", "updated_at", "lead_time"):
        if k in rec:
            ann[k] = rec[k]
    return {"id": rec.get("id"), "data": data, "annotations": [ann] if result or aid is not None else []}


def old_format_task(task: Any) -> dict[str, Any] | None:
    """A Label Studio 0.x task (``completions``) as today's shape, or None when it is not one."""
    if isinstance(task, dict) and "annotations" not in task and isinstance(task.get("completions"), list):
        return {**{k: v for k, v in task.items() if k != "completions"}, "annotations": task["completions"]}
    return None


def region_id_for(index: int) -> str:
    """The id given to a region exported without one (its position in the result)."""
    return f"region-{index}"


def with_region_ids(task: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """``task`` with an id on every region that has none (a copy when one was added), and how many."""
    n = 0
    out = task
    for key in ("annotations", "predictions", "drafts"):
        items = task.get(key)
        if not isinstance(items, list):
            continue
        new_items = []
        for a in items:
            res = a.get("result") if isinstance(a, dict) else None
            if isinstance(res, list) and any(
                isinstance(r, dict) and r.get("type") != "relation" and "id" not in r for r in res
            ):
                fixed = []
                for i, r in enumerate(res):
                    if isinstance(r, dict) and r.get("type") != "relation" and "id" not in r:
                        r = {**r, "id": region_id_for(i)}
                        n += 1
                    fixed.append(r)
                a = {**a, "result": fixed}
            new_items.append(a)
        if n:
            out = {**out, key: new_items}
    return out, n
