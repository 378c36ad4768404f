"""Schema and semantic checks of annotations -> findings. Never prints, never exits.

Two passes per record: the JSON Schema (compiled once per taxonomy, every error with its JSON
pointer), then the semantics against the document text (offsets, region texts, labels,
relations allowed by the taxonomy, required spans, choices, overlaps, the text hash).
Input is a Label Studio JSON export (a list of tasks) or canonical annotation JSONL; the kind is
detected. Pull and push call :func:`validate_ls_task` / :func:`validate_annotation` directly;
``corpus validate`` calls :func:`validate_file`.

Counted, not errors: cancelled annotations, drafts, predictions, empty results, tasks with
several annotators.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from corpus.annotations import lsformat
from corpus.annotations.fastschema import compile_schema
from corpus.core import atomic
from corpus.core import taxonomy as taxmod
from corpus.core.model import FRAGMENT_JOINER, Annotation, Attribution, Entity, Event, Span, sha256_text
from corpus.core.problems import CODES, ERROR, INFO, WARNING, Problem
from corpus.core.taxonomy import ATTRIBUTION, ENTITIES, EVENTS, Taxonomy
from corpus.generate import jsonschemas

__all__ = [
    "CODES",
    "Problem",
    "Report",
    "Validator",
    "validate_annotation",
    "validate_ls_task",
    "validate_file",
    "ERROR",
    "WARNING",
    "INFO",
]

TextLookup = Callable[[list[str]], dict[str, str]]  # doc_ids -> {doc_id: text}
BATCH = 500  # canonical records per text lookup: memory stays flat on big snapshots


# ---------------------------------------------------------------- compiled schemas


class Validator:
    """The JSON Schemas of one taxonomy, compiled once (format checks off: they are slow and unused).

    Each schema has a fast yes/no check (:mod:`corpus.annotations.fastschema`); only records it cannot
    vouch for go through ``jsonschema.iter_errors``, which reports every error with its pointer.
    """

    def __init__(self, tax: Taxonomy | None = None):
        self.tax = tax or taxmod.load()
        export = jsonschemas.labelstudio_export_schema(self.tax)
        task = {"$schema": export["$schema"], "$ref": "#/$defs/task", "$defs": export["$defs"]}
        annotation = jsonschemas.annotation_schema(self.tax)
        self.task = Draft202012Validator(task)
        self.annotation = Draft202012Validator(annotation)
        self._fast = {id(self.task): compile_schema(task), id(self.annotation): compile_schema(annotation)}

    def errors(self, validator: Draft202012Validator, instance: Any, prefix: str = "", **where: Any) -> list[Problem]:
        fast = self._fast.get(id(validator))
        if fast is not None and fast(instance):
            return []
        out = []
        for e in validator.iter_errors(instance):
            ptr = prefix + "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in e.absolute_path)
            out.append(Problem("schema", schema_message(e), pointer=ptr, **where))
        return sorted(out, key=lambda f: f.pointer)


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


def _kind(x: Any) -> str:
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, (int, float)):
        return "a number"
    return _JSON_TYPES.get(type(x), type(x).__name__)


def _short(x: Any) -> str:
    """A value worth quoting in a message: short scalars only (never a record, a text body, a user)."""
    if isinstance(x, str) and len(x) <= 40 and "@" not in x:
        return repr(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return str(x)
    return _kind(x)


def _shape(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "?"
    t = schema.get("type")
    if t is not None:
        return " or ".join(t) if isinstance(t, list) else str(t)
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1].replace("_", " ")
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    return "a value of another shape"


def schema_message(e: Any) -> str:
    """The reason of one JSON Schema error in full, without dumping the instance."""
    kind, want, x = e.validator, e.validator_value, e.instance
    field_ = str(e.path[-1]) if e.path else "the record"
    if kind == "required":
        missing = e.message.split("'")[1] if e.message.count("'") >= 2 else "a property"
        return f"{missing!r} is a required property (of {field_})"
    if kind == "type":
        types = " or ".join(want) if isinstance(want, list) else str(want)
        return f"{field_} is {_kind(x)}, expected {types}"
    if kind == "enum":
        return f"{field_} {_short(x)} is not one of {', '.join(map(str, want))}"
    if kind == "const":
        return f"{field_} {_short(x)} must be {want!r}"
    if kind in ("anyOf", "oneOf"):
        shapes = ", ".join(_shape(s) for s in want)
        return f"{field_} is {_kind(x)}, which fits none of the allowed shapes ({shapes})"
    if kind == "minItems":
        return f"{field_} must have at least {want} item(s), has {len(x) if isinstance(x, list) else 0}"
    if kind == "minLength":
        return f"{field_} must not be empty" if want == 1 else f"{field_} must be at least {want} characters"
    if kind == "minimum":
        return f"{field_} is {_short(x)}, must be at least {want}"
    if kind == "additionalProperties":
        return f"{field_} has properties the schema does not allow"
    return f"{field_} fails the schema's {kind} rule"


_VALIDATORS: dict[int, Validator] = {}


def validator_for(tax: Taxonomy | None = None) -> Validator:
    tax = tax or taxmod.load()
    v = _VALIDATORS.get(id(tax))
    if v is None or v.tax is not tax:
        v = _VALIDATORS[id(tax)] = Validator(tax)
    return v


# ---------------------------------------------------------------- canonical semantics


def _clip(s: Any, n: int = 60) -> str:
    """A span text quoted in a message: at most ``n`` characters (never a text body)."""
    if not isinstance(s, str):
        return repr(s)
    return repr(s) if len(s) <= n else f"{s[:n]!r}... ({len(s)} characters)"


def _where(ann: Annotation) -> dict[str, Any]:
    return {"task_id": ann.task_id, "annotation_id": ann.annotation_id, "doc_id": ann.doc_id or None}


def _utf16_match(text: str, span: Span) -> list[tuple[int, int]] | None:
    """Code-point fragments when reading ``span``'s offsets as UTF-16 makes its text match."""
    if not lsformat.has_astral(text):
        return None
    m = lsformat.Utf16Map(text)
    out = []
    for f in span.fragments:
        s, e = m.to_cp(f.start), m.to_cp(f.end)
        if s is None or e is None or not 0 <= s < e <= len(text):
            return None
        out.append((s, e))
    if FRAGMENT_JOINER.join(text[s:e] for s, e in out) != span.text:
        return None
    return out


def validate_annotation(
    ann: Annotation | dict[str, Any], text: str | None = None, tax: Taxonomy | None = None, *, check_hash: bool = True
) -> list[Problem]:
    """Semantic findings of one canonical annotation against its document ``text``.

    ``text=None`` checks only what needs no text (labels, relations, required spans, choices).
    """
    tax = tax or taxmod.load()
    if isinstance(ann, dict):
        try:
            ann = Annotation.from_dict(ann)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            return [Problem("schema", f"not a canonical annotation record: {type(err).__name__}: {err}")]
    w = _where(ann)
    out: list[Problem] = []

    def add(code: str, msg: str, region: Any = None, ptr: str = "", severity: str = "") -> None:
        out.append(Problem(code, msg, severity, region_id=None if region is None else str(region), pointer=ptr, **w))

    if text is not None and check_hash and ann.text_sha256 and ann.text_sha256 != sha256_text(text):
        add(
            "hash_mismatch",
            "text_sha256 is not the hash of the text: the annotation was made on another version "
            "of the article (re-push the task, or check texts from the right corpus version)",
            ptr="/text_sha256",
        )
    if ann.taxonomy_version and str(ann.taxonomy_version) != tax.version:
        add(
            "taxonomy_version",
            f"made with taxonomy {ann.taxonomy_version}, checked against {tax.version}",
            ptr="/taxonomy_version",
        )

    ids: dict[str, str] = {}
    layers: tuple[tuple[str, Sequence[Entity | Event | Attribution]], ...] = (
        ("entities", ann.entities),
        ("events", ann.events),
        ("attributions", ann.attributions),
    )
    for layer, regions in layers:
        for i, x in enumerate(regions):
            if x.id in ids:
                add(
                    "duplicate_region_id", f"id {x.id} is used by {ids[x.id]} and {layer}/{i}", x.id, f"/{layer}/{i}/id"
                )
            else:
                ids[x.id] = f"{layer}/{i}"

    def check_span(span: Span, ptr: str, region: str, empty_code: str, what: str) -> None:
        if not span.fragments:
            add(empty_code, f"{what} has no fragments", region, f"{ptr}/fragments")
            return
        bad = False
        for k, f in enumerate(span.fragments):
            ok = type(f.start) is int and type(f.end) is int and 0 <= f.start < f.end
            if ok and text is not None:
                ok = f.end <= len(text)
            if not ok:
                bad = True
                limit = f" (text length {len(text)})" if text is not None else ""
                if text is not None and type(f.start) is int and type(f.end) is int and _utf16_match(text, span):
                    continue
                add(
                    "offset_out_of_range",
                    f"{what} fragment {f.start}..{f.end} is empty, reversed or outside the text{limit}",
                    region,
                    f"{ptr}/fragments/{k}",
                )
        if text is None:
            return
        expected = None if bad else span.expected_text(text)
        if expected is not None and expected == span.text:
            return
        fixed = _utf16_match(text, span)
        if fixed is not None:
            add(
                "utf16_offsets",
                f"{what} offsets are UTF-16 code units; as code points they are "
                f"{', '.join(f'{s}..{e}' for s, e in fixed)} (fix_offsets writes the converted copy)",
                region,
                f"{ptr}/fragments",
                severity=ERROR,
            )
        elif not bad:
            add(
                "text_mismatch",
                f"{what} text {_clip(span.text)} is not the text at its offsets {_clip(expected)}",
                region,
                f"{ptr}/text",
            )

    def check_choices(
        values: dict[str, str | None], layer: str, labels: tuple[str, ...], p: str, region: str, what: str
    ) -> None:
        """Attribute values of one record: known on this kind of region, a valid value, required ones set."""
        allowed = {a.name: a for a in tax.attributes_on(layer) if a.label is None or a.label in labels}
        for name, v in values.items():
            if name not in allowed and v is not None:
                a = tax.attribute(name)
                where = (
                    f"it belongs on {taxmod.region_kind(tax, a.layer, a.label)} regions" if a else "not in the taxonomy"
                )
                add("invalid_choice", f"{what} has attribute {name} ({where})", region, f"{p}/{name}")
        for a in allowed.values():
            v = values.get(a.name)
            if v is None:
                if a.required:
                    add(
                        "missing_choice",
                        f"{what} has no {a.name} (one of {', '.join(a.values)})",
                        region,
                        f"{p}/{a.name}",
                    )
            elif v not in a.values:
                add("invalid_choice", f"{a.name} {v!r} is not one of {', '.join(a.values)}", region, f"{p}/{a.name}")

    ent_labels = set(tax.entity_labels())
    entities = {e.id: e for e in ann.entities}
    for i, entity in enumerate(ann.entities):
        p = f"/entities/{i}"
        if entity.label not in ent_labels:
            add(
                "unknown_label",
                f"entity label {entity.label!r} is not one of "
                f"{', '.join(tax.entity_labels()) or '(no entities layer)'}",
                entity.id,
                f"{p}/label",
            )
        check_span(entity.span, p, entity.id, "offset_out_of_range", f"entity {entity.id}")
        check_choices(entity.attributes, ENTITIES, (entity.label,), p, entity.id, f"entity {entity.id}")

    for i, ev in enumerate(ann.events):
        p = f"/events/{i}"
        et = tax.event(ev.type)
        if et is None:
            add(
                "unknown_label",
                f"event type {ev.type!r} is not one of {', '.join(tax.event_types())}",
                ev.id,
                f"{p}/type",
            )
        check_span(ev.trigger, f"{p}/trigger", ev.id, "missing_trigger", f"event {ev.id} trigger")
        check_choices(ev.attributes, EVENTS, (ev.type,), p, ev.id, f"event {ev.id}")
        for k, a in enumerate(ev.arguments):
            ap = f"{p}/arguments/{k}"
            ent = entities.get(a.entity_id)
            if ent is None:
                add(
                    "dangling_relation",
                    f"event {ev.id} argument {a.role} points to entity {a.entity_id}, which does not exist",
                    ev.id,
                    f"{ap}/entity_id",
                )
                continue
            if et is None:
                continue
            role = et.role(a.role)
            if role is None:
                add(
                    "relation_not_allowed",
                    f"{ev.type} has no role {a.role!r} (roles: {', '.join(et.role_names)})",
                    ev.id,
                    f"{ap}/role",
                )
            elif ent.label not in role.entity_types and ent.label in ent_labels:  # unknown labels: said above
                add(
                    "relation_not_allowed",
                    f"{ev.type} {a.role} accepts {', '.join(role.entity_types)}, not {ent.label} entity {ent.id}",
                    ev.id,
                    ap,
                )

    for i, at in enumerate(ann.attributions):
        p = f"/attributions/{i}"
        if tax.attribution_layer is None:
            add("unknown_label", f"attribution {at.id}: the taxonomy has no attribution layer", at.id, p)
            continue
        check_span(at.cue, f"{p}/cue", at.id, "missing_cue", f"attribution {at.id} cue")
        check_span(at.content, f"{p}/content", at.id, "missing_content", f"attribution {at.id} content")
        if at.source is not None:
            check_span(at.source, f"{p}/source", at.id, "offset_out_of_range", f"attribution {at.id} source")
        if at.source_entity_id is not None and at.source_entity_id not in entities:
            add(
                "dangling_relation",
                f"attribution {at.id} source entity {at.source_entity_id} does not exist",
                at.id,
                f"{p}/source_entity_id",
            )
        check_choices(at.attributes, ATTRIBUTION, tax.attribution_span_names(), p, at.id, f"attribution {at.id}")

    for i, r in enumerate(ann.relations):
        p = f"/relations/{i}"
        rt = tax.entity_relation(r.label)
        if rt is None:
            known = ", ".join(x.name for x in tax.entity_relations) or "(no relations layer)"
            add("unknown_label", f"relation label {r.label!r} is not one of {known}", r.from_id, f"{p}/label")
            continue
        ends = [entities.get(r.from_id), entities.get(r.to_id)]
        for key, eid, ent, allowed_types in (
            ("from_id", r.from_id, ends[0], rt.from_types),
            ("to_id", r.to_id, ends[1], rt.to_types),
        ):
            if ent is None:
                add(
                    "dangling_relation",
                    f"relation {r.label} {r.from_id}->{r.to_id}: entity {eid} does not exist",
                    r.from_id,
                    f"{p}/{key}",
                )
            elif ent.label not in allowed_types and ent.label in ent_labels:
                add(
                    "relation_not_allowed",
                    f"relation {r.label} goes {key[:-3]} {', '.join(allowed_types)}, not {ent.label} entity {ent.id}",
                    r.from_id,
                    f"{p}/{key}",
                )

    # overlapping spans with the same label (entities, event triggers, cues)
    groups: dict[str, list[tuple[int, int, str, str]]] = {}
    cue_label = tax.attribution_layer.cue if tax.attribution_layer else "cue"
    for i, entity in enumerate(ann.entities):
        for f in entity.span.fragments:
            groups.setdefault(f"entity {entity.label}", []).append((f.start, f.end, entity.id, f"/entities/{i}"))
    for i, ev in enumerate(ann.events):
        for f in ev.trigger.fragments:
            groups.setdefault(f"event {ev.type}", []).append((f.start, f.end, ev.id, f"/events/{i}/trigger"))
    for i, at in enumerate(ann.attributions):
        for f in at.cue.fragments:
            groups.setdefault(cue_label, []).append((f.start, f.end, at.id, f"/attributions/{i}/cue"))
    for label, items in groups.items():
        items.sort(key=lambda x: (x[0], x[1]) if type(x[0]) is int and type(x[1]) is int else (0, 0))
        reported: set[tuple[str, str]] = set()
        active: list[tuple[int, str]] = []  # (end, id)
        for s, end, rid, ptr in items:
            if type(s) is not int or type(end) is not int:
                continue
            active = [(ae, aid) for ae, aid in active if ae > s]
            for _ae, aid in active:
                if aid != rid and (aid, rid) not in reported:
                    reported.add((aid, rid))
                    add("overlap_same_label", f"{label} spans {aid} and {rid} overlap", rid, ptr)
            active.append((end, rid))
    return out


def _fix_canonical_offsets(rec: dict[str, Any], text: str) -> int:
    """Rewrite UTF-16 fragments of a canonical record dict in place; return how many spans changed."""
    n = 0

    def fix(d: dict[str, Any] | None) -> None:
        nonlocal n
        if not isinstance(d, dict):
            return
        try:
            span = Span.from_dict(d)
        except (KeyError, TypeError, ValueError):
            return
        in_range = all(
            type(f.start) is int and type(f.end) is int and 0 <= f.start < f.end <= len(text) for f in span.fragments
        )
        if span.fragments and (not in_range or span.expected_text(text) != span.text):
            conv = _utf16_match(text, span)
            if conv:
                d["fragments"] = [{"start": s, "end": e} for s, e in conv]
                n += 1

    for e in rec.get("entities") or []:
        fix(e)
    for ev in rec.get("events") or []:
        fix(ev.get("trigger") if isinstance(ev, dict) else None)
    for a in rec.get("attributions") or []:
        if isinstance(a, dict):
            for k in ("cue", "content", "source"):
                fix(a.get(k))
    return n


# ---------------------------------------------------------------- Label Studio tasks


def _region_index(result: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(result, list):
        for i, item in enumerate(result):
            if isinstance(item, dict) and item.get("type") == "labels" and isinstance(item.get("id"), (str, int)):
                out.setdefault(str(item["id"]), i)
    return out


def check_ls_task(
    task: Any,
    tax: Taxonomy | None = None,
    *,
    prefix: str = "",
    counts: Counter | None = None,
    fixes: list[tuple[int, list[dict[str, Any]]]] | None = None,
    validator: Validator | None = None,
    check_predictions: bool = False,
) -> list[Problem]:
    """Findings of one exported task; ``counts`` collects the tallies, ``fixes`` repaired results;
    ``check_predictions`` checks predictions too (``corpus validate``; pull reads annotations only)."""
    v = validator or validator_for(tax)
    tax = v.tax
    counts = counts if counts is not None else Counter()
    counts["tasks"] += 1
    if not isinstance(task, dict):
        return [Problem("schema", f"a task must be an object, not {type(task).__name__}", pointer=prefix or "/")]
    tid = task.get("id")
    old = lsformat.old_format_task(task)
    pre: list[Problem] = []
    if old is not None:
        task = old
        counts["old_format_tasks"] += 1
        pre.append(
            Problem(
                "old_format",
                "this task is in the Label Studio 0.x export format (`completions` instead of "
                "`annotations`); its completions are checked as annotations (re-export from a current "
                "Label Studio to silence this)",
                task_id=tid,
                pointer=f"{prefix}/completions",
            )
        )
    task, added = lsformat.with_region_ids(task)
    counts["regions_without_id"] += added
    out = v.errors(v.task, task, prefix, task_id=tid)
    for f in out:
        _fill_ids(f, task, prefix)
    schema_ptrs = {f.pointer for f in out}
    data = lsformat.object_at(task, "data")
    text = data.get(tax.data_key)
    anns = task.get("annotations") if isinstance(task.get("annotations"), list) else []
    for key in ("drafts", "predictions"):
        if isinstance(task.get(key), list):
            counts[key] += len(task[key])
    if not isinstance(text, str):
        counts["annotations"] += len(anns)
        return pre + _old_pointers(out, old is not None, prefix)
    meta = lsformat.object_at(task, "meta")
    stored = data.get("text_sha256") or meta.get("text_sha256")
    if isinstance(stored, str) and stored and stored != sha256_text(text):
        out.append(
            Problem(
                "hash_mismatch",
                "task text_sha256 is not the hash of task.data.text (the text was "
                "edited in Label Studio, or the task was made from another corpus version)",
                task_id=tid,
                pointer=f"{prefix}/data/text_sha256",
            )
        )
    live = 0
    for j, a in enumerate(anns):
        counts["annotations"] += 1
        if not isinstance(a, dict):
            continue
        if a.get("was_cancelled"):
            counts["cancelled"] += 1
            continue
        result = a.get("result")
        if not result:
            counts["empty_results"] += 1
            continue
        live += 1
        out += _check_result(task, a, text, tax, f"{prefix}/annotations/{j}", schema_ptrs, counts, fixes, j)
    if check_predictions:
        for k, pred in enumerate(task.get("predictions") or []):
            if not isinstance(pred, dict) or not pred.get("result"):
                continue
            counts["predictions_checked"] += 1
            pprefix = f"{prefix}/predictions/{k}"
            as_ann = {**pred, "completed_by": pred.get("model_version") or "prediction"}
            out += _check_result(task, as_ann, text, tax, pprefix, schema_ptrs, counts, None, k)
    if live > 1:
        counts["multi_annotated_tasks"] += 1
    return pre + _old_pointers(out, old is not None, prefix)


def _old_pointers(out: list[Problem], old: bool, prefix: str) -> list[Problem]:
    """Pointers into a 0.x task name its ``completions``, as the file has them."""
    if old:
        for f in out:
            if f.pointer.startswith(f"{prefix}/annotations"):
                f.pointer = f"{prefix}/completions" + f.pointer[len(f"{prefix}/annotations") :]
    return out


def _fill_ids(f: Problem, task: dict[str, Any], prefix: str) -> None:
    """Annotation and region ids of a schema finding, read from the record its pointer names."""
    rel = f.pointer[len(prefix) :] if f.pointer.startswith(prefix) else f.pointer
    parts = [p.replace("~1", "/").replace("~0", "~") for p in rel.split("/")[1:]]
    if len(parts) < 2 or parts[0] not in ("annotations", "predictions", "drafts") or not parts[1].isdigit():
        return
    lst = task.get(parts[0])
    a = lst[int(parts[1])] if isinstance(lst, list) and int(parts[1]) < len(lst) else None
    if not isinstance(a, dict):
        return
    if f.annotation_id is None and isinstance(a.get("id"), (int, str)):
        f.annotation_id = a.get("id")
    res = a.get("result")
    if len(parts) >= 4 and parts[2] == "result" and parts[3].isdigit() and isinstance(res, list):
        i = int(parts[3])
        r = res[i] if i < len(res) else None
        if isinstance(r, dict):
            rid = r.get("id") if r.get("type") != "relation" else r.get("from_id")
            if isinstance(rid, (int, str)) and not isinstance(rid, bool):
                f.region_id = str(rid)


def _check_result(
    task: dict[str, Any],
    a: dict[str, Any],
    text: str,
    tax: Taxonomy,
    aprefix: str,
    schema_ptrs: set[str],
    counts: Counter,
    fixes: list[tuple[int, list[dict[str, Any]]]] | None,
    j: int,
) -> list[Problem]:
    """Semantic findings of one annotation (or prediction) ``a`` of ``task``."""
    tid, aid = task.get("id"), a.get("id")
    result = a.get("result")
    try:
        conv = lsformat.ls_annotation_record(task, a, tax)
        sem = list(conv.findings)
        for f in sem:
            f.pointer = aprefix + f.pointer if f.pointer.startswith("/result") else aprefix
        regions = _region_index(result)
        for f in validate_annotation(conv.annotation, text, tax, check_hash=False):
            f.pointer = f"{aprefix}/result/{regions[f.region_id]}" if f.region_id in regions else aprefix
            sem.append(f)
        counts["regions"] += len(regions)
        counts["utf16_repairs"] += conv.repairs
        if conv.fixed_result is not None and fixes is not None:
            fixes.append((j, conv.fixed_result))
    except Exception as e:  # noqa: BLE001 - hostile input must give a finding, never a traceback
        sem = [
            Problem(
                "schema",
                f"cannot read this annotation: {type(e).__name__}",
                task_id=tid,
                annotation_id=aid,
                pointer=aprefix,
            )
        ]
    out = []
    for f in sem:
        f.task_id, f.annotation_id = tid, aid
        if _said(f.pointer, schema_ptrs):  # the schema already said it (e.g. an unknown control)
            continue
        out.append(f)
    return out


def _said(pointer: str, schema_ptrs: set[str]) -> bool:
    """True when a schema finding already points at this region item (or inside it)."""
    if pointer in schema_ptrs:
        return True
    if "/result/" not in pointer:
        return False
    return any(p.startswith(pointer + "/") for p in schema_ptrs)


def validate_ls_task(task: Any, tax: Taxonomy | None = None, *, prefix: str = "") -> list[Problem]:
    """Findings of one Label Studio task (schema + semantics of every non-cancelled annotation)."""
    return check_ls_task(task, tax, prefix=prefix)


def validate_record(
    rec: Any, text: str | None, tax: Taxonomy | None = None, *, prefix: str = "", validator: Validator | None = None
) -> list[Problem]:
    """Schema + semantic findings of one canonical record dict (a JSONL line)."""
    v = validator or validator_for(tax)
    if not isinstance(rec, dict):
        return [Problem("schema", f"a record must be an object, not {type(rec).__name__}", pointer=prefix or "/")]
    where: dict[str, Any] = {
        "task_id": rec.get("task_id"),
        "annotation_id": rec.get("annotation_id"),
        "doc_id": rec.get("doc_id") if isinstance(rec.get("doc_id"), str) else None,
    }
    schema = v.errors(v.annotation, rec, prefix, **where)
    for f in schema:  # the region a schema finding is about: /entities/3/... -> that entity's id
        parts = f.pointer[len(prefix) :].split("/")[1:]
        if len(parts) >= 2 and parts[1].isdigit() and isinstance(rec.get(parts[0]), list):
            items = rec[parts[0]]
            item = items[int(parts[1])] if int(parts[1]) < len(items) else None
            rid = item.get("id", item.get("from_id")) if isinstance(item, dict) else None
            if isinstance(rid, (str, int)) and not isinstance(rid, bool):
                f.region_id = str(rid)
    try:
        ann = Annotation.from_dict(rec)
        sem = validate_annotation(ann, text, v.tax)
    except Exception:  # noqa: BLE001 - the schema findings say what is wrong
        return schema or [Problem("schema", "not a canonical annotation record", pointer=prefix or "/", **where)]
    for f in sem:
        f.pointer = prefix + f.pointer
    sem_ptrs = {f.pointer for f in sem}
    return [f for f in schema if f.pointer not in sem_ptrs] + sem


# ---------------------------------------------------------------- files


@dataclass
class Report:
    files: list[str] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    fixed: list[str] = field(default_factory=list)  # copies written by --fix-offsets

    @property
    def errors(self) -> list[Problem]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def merge(self, other: Report) -> Report:
        self.files += other.files
        self.findings += other.findings
        self.counts.update(other.counts)
        self.fixed += other.fixed
        return self

    def summary(self) -> dict[str, Any]:
        c = dict(sorted(self.counts.items()))
        c["errors"] = len(self.errors)
        c["warnings"] = len(self.warnings)
        by_code = Counter(f.code for f in self.findings)
        return {"counts": c, "by_code": dict(sorted(by_code.items()))}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            **self.summary(),
            "fixed": self.fixed,
            "findings": [f.to_dict() for f in self.findings],
        }


def _unreadable(path: Path, msg: str, line: int | None = None) -> Problem:
    return Problem("unreadable", msg, file=str(path), line=line)


def _fixed_path(path: Path) -> Path:
    """``x.json`` -> ``x.fixed.json`` (``x.fixed-2.json`` ... if taken): never overwrite a file silently."""
    suffix = "".join(path.suffixes[-1:]) or ".json"
    stem = path.name[: -len(suffix)] if path.name.endswith(suffix) else path.name
    cand = path.with_name(f"{stem}.fixed{suffix}")
    n = 2
    while cand.exists():
        cand = path.with_name(f"{stem}.fixed-{n}{suffix}")
        n += 1
    return cand


def _sniff(path: Path) -> str:
    """``json`` (one document: LS export) or ``jsonl`` (one record per line)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        s = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        while not s and len(head) == 1 << 16:  # a long run of blank space
            head = f.read(1 << 16)
            s = head.lstrip(b" \t\r\n")
        if s[:1] == b"{" and b"\n" not in s:
            s += f.readline()  # a first record longer than the head: read the whole line (any size)
    if not s:
        return "empty"
    if s[:1] == b"[":
        return "json"
    if s[:1] == b"{":
        first = s.split(b"\n", 1)[0].strip()
        try:
            json.loads(first)
            return "jsonl"
        except json.JSONDecodeError:
            return "json"
        except (ValueError, RecursionError):  # a whole line, but hostile (nesting, 4300+ digit integer)
            return "jsonl"
    return "other"


def validate_file(
    path: str | os.PathLike[str],
    tax: Taxonomy | None = None,
    *,
    texts: TextLookup | None = None,
    fix_offsets: bool = False,
) -> Report:
    """Validate a Label Studio export or canonical JSONL file. Bad input gives findings naming the
    file (and line), never an exception; ``texts`` looks up article texts for canonical records
    without a ``text`` field (``corpus validate --store``)."""
    p = Path(path)
    v = validator_for(tax)
    rep = Report(files=[str(p)])
    rep.counts["files"] += 1
    try:
        kind = _sniff(p)
    except OSError as e:
        rep.findings.append(_unreadable(p, f"cannot read {p}: {e.strerror or e}"))
        return rep
    if kind == "empty" and p.suffix == ".jsonl":
        rep.findings.append(Problem("no_records", f"{p} holds no annotation records", file=str(p)))
    elif kind == "empty":
        rep.findings.append(_unreadable(p, f"{p} is empty"))
    elif kind == "other":
        rep.findings.append(
            _unreadable(
                p, f"{p} is neither a Label Studio JSON export (a list of tasks) nor canonical annotation JSONL"
            )
        )
    elif kind == "json":
        _validate_export(p, v, rep, fix_offsets)
    else:
        _validate_jsonl(p, v, rep, texts, fix_offsets)
    for f in rep.findings:
        f.file = f.file or str(p)
    return rep


def _load_json(p: Path, rep: Report) -> Any:
    try:
        raw = p.read_bytes()
    except OSError as e:
        rep.findings.append(_unreadable(p, f"cannot read {p}: {e.strerror or e}"))
        return None
    try:
        s = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        rep.findings.append(
            _unreadable(
                p,
                f"{p} is not UTF-8 (byte {e.start}: {raw[e.start : e.start + 1]!r}); "
                "Label Studio exports are UTF-8, re-export the file",
            )
        )
        return None
    try:
        return json.loads(s)
    except json.JSONDecodeError as e:
        rep.findings.append(
            _unreadable(
                p,
                f"{p} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno} (truncated download?)",
                line=e.lineno,
            )
        )
    except ValueError as e:  # an integer literal over 4300 digits
        rep.findings.append(_unreadable(p, f"{p} is not a Label Studio export: {e}"))
    except RecursionError:
        rep.findings.append(_unreadable(p, f"{p} is nested too deeply to be a Label Studio export"))
    return None


def _looks_canonical(d: Any) -> bool:
    return isinstance(d, dict) and "doc_id" in d and any(k in d for k in ("entities", "events", "attributions"))


def _validate_export(p: Path, v: Validator, rep: Report, fix_offsets: bool) -> None:
    doc = _load_json(p, rep)
    if doc is None:
        return
    if isinstance(doc, dict) and "data" in doc:
        doc, single = [doc], True  # one task exported on its own
    else:
        single = False
    if _looks_canonical(doc):
        rep.counts["records"] += 1
        text = doc.get("text") if isinstance(doc.get("text"), str) else None
        rep.findings += validate_record(doc, text, v.tax, validator=v)
        if text is None:
            rep.counts["records_without_text"] += 1
            rep.findings.append(
                Problem(
                    "text_unavailable",
                    "the record has no text: its offsets and span texts were "
                    "not checked (give texts from a store, or add a text field)",
                    file=str(p),
                )
            )
        return
    if not isinstance(doc, list):
        rep.findings.append(
            _unreadable(
                p,
                f"{p}: the top level is a {type(doc).__name__}; a Label Studio JSON "
                "export is a list of tasks (or give canonical annotation JSONL)",
            )
        )
        return
    rep.counts["format_labelstudio"] = 1
    json_min = lsformat.is_json_min(doc, v.tax)
    if json_min:
        rep.counts["format_json_min"] = 1
        fix_offsets = False  # a JSON-MIN file is not rewritten
    any_fix = False
    for t, task in enumerate(doc):
        fixes: list[tuple[int, list[dict[str, Any]]]] = []
        if json_min and isinstance(task, dict):
            task = lsformat.json_min_to_task(task, v.tax)
        found = check_ls_task(
            task,
            v.tax,
            prefix="" if single else f"/{t}",
            counts=rep.counts,
            fixes=fixes,
            validator=v,
            check_predictions=True,
        )
        if json_min:  # a JSON-MIN record is flat: point at the record and its control
            for f in found:
                f.pointer = _json_min_pointer(f.pointer, f"/{t}", task)
        rep.findings += found
        if fix_offsets and fixes:
            for j, result in fixes:
                task["annotations"][j]["result"] = result
            any_fix = True
    if fix_offsets and any_fix:
        out = _fixed_path(p)
        with atomic.atomic_open(out, newline="\n") as fh:
            json.dump(doc[0] if single else doc, fh, ensure_ascii=False, indent=1)
        rep.fixed.append(str(out))


def _json_min_pointer(ptr: str, prefix: str, task: dict[str, Any]) -> str:
    """``/3/annotations/0/result/2/value`` of the converted task -> ``/3/label/1/...`` of the record."""
    head = f"{prefix}/annotations/0/result/"
    if not ptr.startswith(head):
        return prefix if ptr.startswith(f"{prefix}/annotations") else ptr
    rest = ptr[len(head) :].split("/", 1)
    try:
        item = task["annotations"][0]["result"][int(rest[0])]
        ctrl, k = item["from_name"], str(item["id"]).rsplit("-", 1)[-1]
    except (KeyError, IndexError, ValueError, TypeError):
        return prefix
    tail = rest[1] if len(rest) > 1 else ""
    tail = tail[len("value") :] if tail.startswith("value") else ("/" + tail if tail else "")
    return f"{prefix}/{ctrl}" + (f"/{k}" if k.isdigit() else "") + tail


def _validate_jsonl(p: Path, v: Validator, rep: Report, texts: TextLookup | None, fix_offsets: bool) -> None:
    rep.counts["format_jsonl"] = 1
    out_path = _fixed_path(p) if fix_offsets else None
    stack = contextlib.ExitStack()  # the fixed copy: written as we go, kept only when something was fixed
    tmp_file = stack.enter_context(atomic.atomic_open(out_path, newline="\n")) if out_path is not None else None
    n_fixed = 0
    with stack:
        for batch in _batches(_jsonl_lines(p, rep), BATCH):
            want = sorted(
                {
                    rec["doc_id"]
                    for _, rec, _ in batch
                    if isinstance(rec, dict)
                    and not isinstance(rec.get("text"), str)
                    and isinstance(rec.get("doc_id"), str)
                    and "data" not in rec
                }
            )
            found: dict[str, str] = {}
            if want and texts is not None:
                try:
                    found = texts(want)
                except Exception as e:  # noqa: BLE001 - a store error is reported once per batch
                    rep.findings.append(Problem("text_unavailable", f"text lookup failed: {e}", file=str(p)))
            for line, rec, raw in batch:
                if isinstance(rec, dict) and "data" in rec and "annotations" in rec:
                    fixes: list[tuple[int, list[dict[str, Any]]]] = []
                    fs = check_ls_task(
                        rec, v.tax, prefix="", counts=rep.counts, fixes=fixes, validator=v, check_predictions=True
                    )
                    for j, result in fixes:
                        rec["annotations"][j]["result"] = result
                    if fixes:
                        n_fixed += 1
                        raw = json.dumps(rec, ensure_ascii=False)
                elif isinstance(rec, dict) and "doc_id" not in rec:
                    rep.counts["records"] += 1
                    fs = [
                        Problem(
                            "schema",
                            f"neither a canonical annotation record (doc_id, entities, events, "
                            f"attributions) nor a Label Studio task (data, annotations); keys: "
                            f"{', '.join(sorted(map(str, rec))[:8]) or 'none'}",
                            pointer="",
                        )
                    ]
                else:
                    rep.counts["records"] += 1
                    own_text = rec.get("text") if isinstance(rec, dict) else None
                    doc_id = rec.get("doc_id") if isinstance(rec, dict) else None
                    text = (
                        own_text
                        if isinstance(own_text, str)
                        else found.get(doc_id)
                        if isinstance(doc_id, str)
                        else None
                    )
                    fs = validate_record(rec, text, v.tax, validator=v)
                    if text is None and isinstance(rec, dict):
                        rep.counts["records_without_text"] += 1
                    elif (
                        fix_offsets
                        and isinstance(rec, dict)
                        and text is not None
                        and any(f.code == "utf16_offsets" for f in fs)
                    ):
                        if _fix_canonical_offsets(rec, text):
                            n_fixed += 1
                            rep.counts["utf16_repairs"] += 1
                            raw = json.dumps(rec, ensure_ascii=False)
                for f in fs:
                    f.line = line
                rep.findings += fs
                if tmp_file is not None and raw is not None:
                    tmp_file.write(raw.rstrip("\n") + "\n")
        if rep.counts["records_without_text"]:
            rep.findings.append(
                Problem(
                    "text_unavailable",
                    f"{rep.counts['records_without_text']} record(s) without a text: their offsets "
                    "and span texts were not checked (give texts from a store, or records with a text field)",
                    file=str(p),
                )
            )
        if tmp_file is not None:
            if n_fixed:
                rep.fixed.append(str(out_path))
            else:
                raise atomic.Discard  # nothing fixed: no copy
    rep.findings.sort(key=lambda f: f.line or 1 << 60)  # bad lines were reported while reading ahead


def _jsonl_lines(p: Path, rep: Report) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed record or None, raw line) for every non-blank line; bad lines -> findings."""
    try:
        f = open(p, "rb")
    except OSError as e:
        rep.findings.append(_unreadable(p, f"cannot read {p}: {e.strerror or e}"))
        return
    with f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                s = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                rep.findings.append(_unreadable(p, f"line {n} is not UTF-8 (byte {e.start})", line=n))
                continue
            try:
                rec = json.loads(s)
            except json.JSONDecodeError as e:
                rep.findings.append(_unreadable(p, f"line {n} is not valid JSON: {e.msg} at column {e.colno}", line=n))
                continue
            except ValueError as e:  # an integer literal over 4300 digits
                rep.findings.append(_unreadable(p, f"line {n} is not a record: {e}", line=n))
                continue
            except RecursionError:
                rep.findings.append(_unreadable(p, f"line {n} is nested too deeply", line=n))
                continue
            yield n, rec, s


def _batches(it: Iterable[Any], n: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for x in it:
        batch.append(x)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def validate_files(
    paths: Iterable[str | os.PathLike[str]],
    tax: Taxonomy | None = None,
    *,
    texts: TextLookup | None = None,
    fix_offsets: bool = False,
) -> Report:
    rep = Report()
    for p in paths:
        rep.merge(validate_file(p, tax, texts=texts, fix_offsets=fix_offsets))
    return rep
