"""Bring an existing Label Studio project's annotations in (``corpus import-labelstudio``).

An export made by another project (JSON, JSON-MIN or 0.x ``completions``) is read with that
project's own labeling config (:func:`corpus.labelstudio.client.parse_label_config` ->
:func:`corpus.core.scheme.scheme_taxonomy`) and a mapping file (its labels, relation labels and
choices -> the taxonomy, in the style of the brat mapping). The task texts go into the store
through the importer (an exact duplicate of a stored article keeps that article's doc id: the
text hash matches them); each annotation becomes one canonical record with its original
annotator, ids and timestamps, in one snapshot.

Nothing is dropped silently: a region, relation or choice the mapping does not carry is kept in
the record's ``meta["labelstudio"]["unmapped"]`` and reported with its location; an annotation
that still does not validate against the taxonomy is reported and left out; cancelled and empty
annotations, drafts and predictions are counted. ``records in = records out + reported``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.annotations import lsformat, validate
from corpus.core import taxonomy as taxmod
from corpus.core.errors import UsageError
from corpus.core.model import Annotation, Entity, Event, Relation, Span, relation_id, sha256_text
from corpus.core.problems import Problem
from corpus.core.taxonomy import ENTITIES, EVENTS, Taxonomy

# ---------------------------------------------------------------- the mapping file


@dataclass
class LSMapping:
    """Source (the project's config) names -> taxonomy names; ``None`` = not imported (kept in meta)."""

    name: str = "labelstudio"
    identity: bool = True  # a source name spelled like a taxonomy name is that name
    labels: dict[str, str | None] = field(default_factory=dict)
    relations: dict[str, str | None] = field(default_factory=dict)
    attributes: dict[str, str | None] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # attribute -> {source value: taxonomy value}

    def _target(self, table: dict[str, str | None], name: str) -> str | None:
        if name in table:
            return table[name]
        return name if self.identity else None

    def label(self, name: str, tax: Taxonomy) -> tuple[str, str] | None:
        """(layer, taxonomy label) of a source region label, or None."""
        target = self._target(self.labels, name)
        if target is None:
            return None
        if target in tax.entity_labels():
            return ENTITIES, target
        if target in tax.event_types():
            return EVENTS, target
        return None

    def relation(self, name: str, tax: Taxonomy) -> str | None:
        target = self._target(self.relations, name)
        return target if target is not None and tax.entity_relation(target) is not None else None

    def attribute(self, name: str, value: Any, layer: str, label: str, tax: Taxonomy) -> tuple[str, Any] | None:
        target = self._target(self.attributes, name)
        if target is None:
            return None
        a = tax.attribute(target)
        if a is None or not a.applies(layer, label):
            return None
        v = self.values.get(target, {}).get(value, value) if isinstance(value, str) else value
        return (target, v) if v in a.values else None


def load_ls_mapping(mapping: str | Path | dict | LSMapping | None, tax: Taxonomy) -> LSMapping:
    """Read a mapping file; every name it maps *to* must exist in the taxonomy."""
    if isinstance(mapping, LSMapping):
        return mapping
    if mapping is None:
        return LSMapping()
    import yaml

    if isinstance(mapping, (str, Path)):
        try:
            data = yaml.safe_load(Path(mapping).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise UsageError(f"cannot read the mapping file {mapping}: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise UsageError(f"the mapping file {mapping} is not valid YAML: {e}") from e
    else:
        data = dict(mapping)
    if not isinstance(data, dict):
        raise UsageError("a Label Studio mapping is a mapping (labels:, relations:, attributes:)")

    def table(key: str) -> dict[str, Any]:
        v = data.get(key) or {}
        if not isinstance(v, dict):
            raise UsageError(f"mapping {key}: must be a mapping of source name -> taxonomy name (or null)")
        return {str(k): (None if x is None else x) for k, x in v.items()}

    m = LSMapping(
        name=str(data.get("name", "labelstudio")),
        identity=bool(data.get("identity", True)),
        labels={k: None if v is None else str(v) for k, v in table("labels").items()},
        relations={k: None if v is None else str(v) for k, v in table("relations").items()},
        attributes={k: None if v is None else str(v) for k, v in table("attributes").items()},
        values={k: {str(a): str(b) for a, b in (v or {}).items()} for k, v in table("values").items()},
    )
    known = set(tax.entity_labels()) | set(tax.event_types())
    bad = [v for v in m.labels.values() if v is not None and v not in known]
    bad += [v for v in m.relations.values() if v is not None and tax.entity_relation(v) is None]
    bad += [v for v in m.attributes.values() if v is not None and tax.attribute(v) is None]
    if bad:
        raise UsageError(
            f"the mapping {m.name!r} maps to names the taxonomy does not have: {', '.join(sorted(set(bad)))}",
            hint="fix the mapping file or the taxonomy",
        )
    return m


# ---------------------------------------------------------------- one annotation


def map_annotation(
    src: Annotation, mp: LSMapping, tax: Taxonomy, where: dict[str, Any], pointer: str
) -> tuple[Annotation, list[Problem]]:
    """A record in the project's own labels -> a record in the taxonomy's; what does not map is
    kept in ``meta["labelstudio"]["unmapped"]`` and reported (``unknown_label``, warning)."""
    problems: list[Problem] = []
    unmapped: list[dict[str, Any]] = []

    def keep(item: dict[str, Any], msg: str, region: str | None) -> None:
        unmapped.append(item)
        problems.append(Problem("unknown_label", msg, "warning", region_id=region, pointer=pointer, **where))

    out = Annotation(
        doc_id=src.doc_id,
        text_sha256=src.text_sha256,
        annotator=src.annotator,
        origin=src.origin,
        taxonomy_version=tax.version,
        task_id=src.task_id,
        annotation_id=src.annotation_id,
        ground_truth=src.ground_truth,
        created_at=src.created_at,
        updated_at=src.updated_at,
        lead_time=src.lead_time,
        notes=list(src.notes),
        meta=dict(src.meta),
    )
    kept_entities: set[str] = set()
    for e in src.entities:
        target = mp.label(e.label, tax)
        frags = [[f.start, f.end] for f in e.span.fragments]
        if target is None:
            keep(
                {"kind": "region", "id": e.id, "label": e.label, "fragments": frags, "attributes": e.attributes},
                f"region {e.id} label {e.label!r} is not mapped to the taxonomy; kept in meta",
                e.id,
            )
            continue
        layer, label = target
        attrs: dict[str, Any] = dict.fromkeys(a.name for a in tax.attributes_on(layer, label))
        for name, value in e.attributes.items():
            if value is None:
                continue
            got = mp.attribute(name, value, layer, label, tax)
            if got is None:
                keep(
                    {"kind": "choice", "region": e.id, "name": name, "value": value},
                    f"choice {name}={value!r} of region {e.id} is not mapped to the taxonomy; kept in meta",
                    e.id,
                )
                continue
            attrs[got[0]] = got[1]
        if layer == ENTITIES:
            out.entities.append(Entity(e.id, label, Span(list(e.span.fragments), e.span.text), attrs))
            kept_entities.add(e.id)
        else:
            out.events.append(Event(e.id, label, Span(list(e.span.fragments), e.span.text), [], attrs))
    for r in src.relations:
        rel = mp.relation(r.label, tax)
        if rel is None or r.from_id not in kept_entities or r.to_id not in kept_entities:
            why = "is not mapped to the taxonomy" if rel is None else "links a region that was not imported"
            keep(
                {"kind": "relation", "label": r.label, "from_id": r.from_id, "to_id": r.to_id},
                f"relation {r.label} {r.from_id}->{r.to_id} {why}; kept in meta",
                r.from_id,
            )
            continue
        out.relations.append(Relation(relation_id(rel, r.from_id, r.to_id), rel, r.from_id, r.to_id))
    for ev in src.events:  # a second <Labels> control: its regions map like the first one's
        keep(
            {
                "kind": "region",
                "id": ev.id,
                "label": ev.type,
                "fragments": [[f.start, f.end] for f in ev.trigger.fragments],
            },
            f"region {ev.id} label {ev.type!r} is not mapped to the taxonomy; kept in meta",
            ev.id,
        )
    if unmapped:
        out.meta.setdefault("labelstudio", {})["unmapped"] = unmapped
    return out, problems


# ---------------------------------------------------------------- the workflow


@dataclass
class ImportReport:
    tasks: int = 0
    articles: int = 0
    annotations_in: int = 0
    records_out: int = 0
    rejected: int = 0  # annotations reported and left out (errors against the taxonomy)
    skipped: int = 0  # cancelled / empty annotations (counted, nothing to import)
    predictions: int = 0
    drafts: int = 0
    unmapped: int = 0
    snapshot: str | None = None
    version: Any = None
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "problems"}
        d["problems"] = [p.to_dict() for p in self.problems]
        return d


def import_labelstudio(
    export: str | Path,
    source_tax: Taxonomy,
    store: Any,
    out: str | Path,
    *,
    mapping: str | Path | dict | LSMapping | None = None,
    tax: Taxonomy | None = None,
    source: str = "labelstudio",
) -> ImportReport:
    """Texts into the store, annotations into one snapshot under ``out`` (see the module text)."""
    from corpus.core import normalize
    from corpus.core.model import Article, make_doc_id
    from corpus.ingest import importer as ingest
    from corpus.labelstudio.client import iter_export
    from corpus.store.snapshot import new_snapshot_path, write_snapshot

    tax = tax or taxmod.load()
    mp = load_ls_mapping(mapping, tax)
    rep = ImportReport()
    export = Path(export)
    tasks: list[Any] = []  # an export may hold items that are not task objects: reported below
    try:
        raw_tasks = list(iter_export(export))
    except Exception as e:  # noqa: BLE001 - an unreadable export is one problem
        rep.problems.append(Problem("unreadable", f"{export}: {e}", file=str(export)))
        return rep
    json_min = lsformat.is_json_min(raw_tasks, source_tax)
    for task in raw_tasks:
        if json_min and isinstance(task, dict):
            task = lsformat.json_min_to_task(task, source_tax)
        old = lsformat.old_format_task(task)
        task = old if old is not None else task
        if isinstance(task, dict):
            task, _ = lsformat.with_region_ids(task)
        tasks.append(task)
    del raw_tasks

    articles: list[Any] = []
    prepared: list[tuple[int, dict[str, Any], str, str, list[int]]] = []
    for t, task in enumerate(tasks):
        rep.tasks += 1
        if not isinstance(task, dict):
            task = {}  # not a task object: it has no text, reported below
        data = task.get("data")
        if not isinstance(data, dict):
            data = {}
        text = data.get(source_tax.data_key)
        anns = task.get("annotations")
        if not isinstance(anns, list):
            anns = []
        rep.predictions += len(task.get("predictions") or [])
        rep.drafts += len(task.get("drafts") or [])
        if not isinstance(text, str) or not text.strip():
            rep.annotations_in += len(anns)
            rep.rejected += len(anns)
            rep.problems.append(
                Problem(
                    "schema",
                    f"task has no text in data.{source_tax.data_key}; its {len(anns)} annotation(s) cannot be imported",
                    task_id=task.get("id"),
                    pointer=f"/{t}/data/{source_tax.data_key}",
                    file=str(export),
                )
            )
            continue
        stored, omap = normalize.normalize_with_map(text)
        key = f"{source}:{task.get('id')}"
        articles.append(
            Article(
                doc_id=make_doc_id(key),
                text=stored,
                title=str(data.get("title") or stored.split("\n", 1)[0][:200]),
                source=source,
                meta={"labelstudio_task": task.get("id")},
            )
        )
        prepared.append((t, task, text, stored, omap))
    ireport = ingest.import_articles(store, articles, message=f"Label Studio import of {export.name}")
    rep.version = getattr(ireport, "version", None)
    rep.articles = len(articles)
    stored_id = {a.doc_id: (getattr(ireport, "doc_ids", None) or {}).get(a.doc_id, a.doc_id) for a in articles}

    v = validate.validator_for(tax)
    records: list[Annotation] = []
    for (t, task, text, stored, omap), art in zip(prepared, articles):
        doc_id = stored_id[art.doc_id]
        for j, a in enumerate(task.get("annotations") or []):
            rep.annotations_in += 1
            ptr = f"/{t}/annotations/{j}"
            where: dict[str, Any] = {
                "task_id": task.get("id"),
                "annotation_id": a.get("id") if isinstance(a, dict) else None,
            }
            if not isinstance(a, dict) or a.get("was_cancelled") or not a.get("result"):
                rep.skipped += 1
                rep.problems.append(
                    Problem(
                        "not_imported",
                        "cancelled or empty annotation: nothing to import",
                        pointer=ptr,
                        file=str(export),
                        **where,
                    )
                )
                continue
            conv = lsformat.ls_annotation_record(task, a, source_tax)
            src = conv.annotation
            errs = [p for p in conv.findings if p.is_error]
            if stored != text:
                src = _remap(src, stored, omap)
            src.doc_id, src.text_sha256 = doc_id, sha256_text(stored)
            src.meta["labelstudio"] = {"export": export.name, "task_id": task.get("id")}
            mapped, problems = map_annotation(src, mp, tax, where, ptr)
            rep.unmapped += len(problems)
            for p in problems + list(conv.findings):
                p.file = str(export)
                if not p.pointer.startswith(f"/{t}"):
                    p.pointer = ptr + (p.pointer if p.pointer.startswith("/result") else "")
            rep.problems += problems + list(conv.findings)
            found = [f for f in validate.validate_record(mapped.to_dict(), stored, tax, validator=v) if f.is_error]
            for f in found:
                f.file, f.task_id, f.annotation_id = str(export), task.get("id"), a.get("id")
                f.pointer = ptr + f.pointer
            if errs or found:
                rep.rejected += 1
                rep.problems += found
                continue
            records.append(mapped)
    rep.records_out = len(records)
    if records:
        path = new_snapshot_path(out)
        write_snapshot(
            records,
            path,
            origin="labelstudio",
            mapping=mp.name,
            taxonomy_version=tax.version,
            corpus_version=rep.version,
            source=str(export),
        )
        rep.snapshot = str(path)
    return rep


def _remap(ann: Annotation, stored: str, omap: list[int]) -> Annotation:
    """Offsets into the task text -> offsets into the stored (normalized) text."""

    def m(span: Span) -> Span:
        return Span.from_offsets(stored, [(omap[f.start], omap[f.end]) for f in span.fragments])

    for e in ann.entities:
        e.span = m(e.span)
    for ev in ann.events:
        ev.trigger = m(ev.trigger)
    return ann
