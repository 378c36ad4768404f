"""Canonical annotation snapshots -> Label Studio, as annotations (for review) or predictions.

``corpus push --project NAME --annotations SNAPSHOT.jsonl [--as annotations|predictions]``:

1. the documents the records need are pushed first (``corpus.labelstudio.push.push`` with their doc ids:
   idempotent, same tasks as a plain push);
2. each record is checked against the stored text (``corpus.annotations.validate``: JSON Schema + semantics);
   records with errors, or made on another version of the text, are reported and not sent;
3. ``annotations``: each annotator becomes a Label Studio user (``annotator_email``) and the
   record an annotation ``completed_by`` that user. What a Label Studio annotation cannot hold
   -- the original annotator id, origin, the record's ``meta`` (``meta["brat"]``: brat ids and
   line order) and notes attached to no region -- goes into the task's
   ``meta["imported_annotations"][<user e-mail>]``; ``corpus pull`` puts it back
   (``lsformat.restore_imported``), so a pulled record has the original annotator id and a brat
   export of it is the original file again. A (task, user) pair already annotated is skipped:
   re-running adds nothing and never overwrites a review;
4. ``predictions``: one prediction per record, ``model_version`` = ``<origin>:<annotator>``; one
   with the same model version and the same result digest already on the task is skipped.

Adjudication conflicts (``<gold>.conflicts.jsonl`` beside a gold snapshot, found automatically,
or ``--conflicts FILE``) are shown to the reviewer: each conflict about an item the gold record
kept becomes a note (region ``meta.text``) on that item's region, and every conflict of the
document is listed in the task's ``meta["conflicts"]`` (also those about items left out).
"""

from __future__ import annotations

import json
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.annotations import lsformat, validate
from corpus.core import taxonomy
from corpus.core.errors import InputError, UsageError
from corpus.core.model import Annotation
from corpus.core.problems import Problem
from corpus.core.taxonomy import Taxonomy
from corpus.labelstudio.client import LSClient
from corpus.labelstudio.push import push
from corpus.store.snapshot import iter_snapshot_records

MODES = ("annotations", "predictions")
CONFLICTS_KEY = "conflicts"
BATCH = 500  # records per store lookup: memory stays flat on big snapshots


@dataclass
class AnnotationPushReport:
    project_id: int
    mode: str
    documents: dict[str, Any] = field(default_factory=dict)  # the PushReport of the documents
    records: int = 0
    sent: int = 0
    skipped: int = 0  # already in the project
    invalid: int = 0  # validation errors: not sent
    stale: int = 0  # made on another text version, or the document is missing: not sent
    users_created: list[str] = field(default_factory=list)
    conflicts_attached: int = 0  # conflicts that became notes on a region
    conflicts_listed: int = 0  # conflicts written to task meta
    errors: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. an incomplete snapshot skipped

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "errors": [e.to_dict() for e in self.errors]}


# ---------------------------------------------------------------- identities


_LOCAL_OK = re.compile(r"^[A-Za-z0-9._+-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def annotator_email(annotator: str, origin: str | None) -> str:
    """The Label Studio user for an annotator id: an e-mail stays as it is (a Label Studio user
    pulled earlier); any other id becomes ``<id>@<origin>.invalid`` (``4b22@brat.invalid``), an
    address that can never receive mail. The id itself is kept in task meta."""
    if _EMAIL.match(annotator or ""):
        return annotator
    local = (
        annotator
        if _LOCAL_OK.match(annotator or "")
        else re.sub(r"[^A-Za-z0-9._+-]+", "-", annotator or "").strip("-.")
    )
    domain = re.sub(r"[^a-z0-9-]+", "-", (origin or "imported").lower()).strip("-") or "imported"
    return f"{local or 'unknown'}@{domain}.invalid"


def model_version(ann: Annotation) -> str:
    return f"{ann.origin or 'imported'}:{ann.annotator}"


# ---------------------------------------------------------------- conflicts


def conflicts_for(snapshots: Sequence[str | Path], explicit: str | Path | None) -> dict[str, list[dict[str, Any]]]:
    """doc_id -> conflicts, from ``explicit`` or the ``.conflicts.jsonl`` beside each snapshot file."""
    files: list[Path] = []
    if explicit is not None:
        files = [Path(explicit)]
        if not files[0].is_file():
            raise UsageError(f"conflicts file {explicit} does not exist")
    else:
        for s in snapshots:
            p = Path(s)
            cands = [p] if p.is_file() else sorted(p.rglob("*.jsonl")) if p.is_dir() else []
            for c in cands:
                if c.name.endswith(".jsonl") and not c.name.endswith((".conflicts.jsonl", ".errors.jsonl")):
                    side = c.with_name(c.name[: -len(".jsonl")] + ".conflicts.jsonl")
                    if side.is_file():
                        files.append(side)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in files:
        with f.open(encoding="utf-8") as fh:
            for no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    c = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(
                        f"{f}:{no}: not valid JSON ({e.msg})", hint="is this a .conflicts.jsonl file?"
                    ) from e
                if isinstance(c, dict) and c.get("doc_id"):
                    out[str(c["doc_id"])].append(c)
    return dict(out)


def _show(v: Any) -> str:
    if isinstance(v, dict) and "text" in v:
        return repr(v["text"])
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return repr(v) if isinstance(v, str) else str(v)


def conflict_note(c: dict[str, Any]) -> str:
    """One line a reviewer can read: what was disputed, by whom, and what was decided."""
    what = c.get("field") or "span"
    cands = []
    for k in c.get("candidates") or []:
        shown = f"{k.get('label')} {k.get('text')!r}" if "label" in k else _show(k.get("value"))
        cands.append(f"{shown} ({', '.join(k.get('annotators') or [])})")
    return f"conflict: {c.get('layer')} {what}: " + "; ".join(cands) + f" -> {c.get('decision')}"


def _frag_key(frags: Iterable[Any]) -> tuple:
    return tuple((int(f["start"]), int(f["end"])) if isinstance(f, dict) else (f.start, f.end) for f in frags)


def attach_conflicts(ann: Annotation, conflicts: list[dict[str, Any]], tax: Taxonomy | None = None) -> int:
    """Notes on the regions of ``ann`` for the conflicts about items it kept; returns how many."""
    att = (tax or taxonomy.load()).attribution_layer
    ids = {str(region_id) for _, region_id, _ in ann.spans()}
    by_span: dict[tuple, str] = {}
    for e in ann.entities:
        by_span[("entities", e.label, _frag_key(e.span.fragments))] = e.id
    for ev in ann.events:
        by_span[("events", ev.type, _frag_key(ev.trigger.fragments))] = ev.id
    for a in ann.attributions:
        by_span[(taxonomy.ATTRIBUTION, att.cue if att else "", _frag_key(a.cue.fragments))] = a.id
    n = 0
    for c in conflicts:
        target = None
        if c.get("kind") == "attribute":
            dropped = c.get("field") == "content" and c.get("required") and c.get("decision") == "unresolved"
            if not dropped and str(c.get("item")) in ids:  # a dropped attribution's id is re-used
                target = str(c["item"])
        else:
            for k in c.get("candidates") or []:
                if k.get("accepted"):
                    target = by_span.get((c.get("layer"), k.get("label"), _frag_key(k.get("fragments") or [])))
                    if target:
                        break
        if target:
            ann.notes.append({"target": target, "text": conflict_note(c)})
            n += 1
    return n


# ---------------------------------------------------------------- the workflow


def push_annotations(
    client: LSClient,
    store: Any,
    project: str,
    snapshots: Sequence[str | Path],
    *,
    mode: str = "annotations",
    conflicts: str | Path | None = None,
    version: int | str | None = None,
    update_changed: bool = False,
    progress: Callable[[int], None] | None = None,
) -> AnnotationPushReport:
    """Push the records of ``snapshots`` to ``project``; see the module docstring."""
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not snapshots:
        raise UsageError("give at least one annotation snapshot (a .jsonl file or a folder)")
    tax = taxonomy.load()
    validator = validate.validator_for(tax)
    by_doc_conflicts = conflicts_for(snapshots, conflicts)

    # 1. the documents, pushed first (one pass over the records for their ids)
    doc_ids: set[str] = set()
    skipped: list[str] = []
    for _f, _no, d in iter_snapshot_records(snapshots, skipped):
        if isinstance(d, dict) and isinstance(d.get("doc_id"), str):
            doc_ids.add(d["doc_id"])
    docs = push(client, store, project, version=version, doc_ids=doc_ids, update_changed=update_changed)
    report = AnnotationPushReport(project_id=docs.project_id, mode=mode, documents=docs.to_dict(), warnings=skipped)
    corpus_version = store.resolve_version(version)
    tasks: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for tid, meta in client.task_meta(report.project_id):
        key = (str(meta.get("doc_id")), str(meta.get("text_sha256")))
        if key not in tasks or tid < tasks[key][0]:
            tasks[key] = (tid, meta)

    # 2. what is already there
    users = {u.get("email"): u for u in client.users()}
    done_pairs: dict[int, set[int]] = {}  # task id -> user ids with an annotation (read lazily)
    preds: dict[tuple[int, str], set[str]] = defaultdict(set)
    if mode == "predictions":
        for p in client.project_predictions(report.project_id):
            preds[(int(p["task"]), str(p.get("model_version")))].add(lsformat.result_digest(p.get("result") or []))
    listed: set[str] = set()  # docs whose conflicts are already in task meta

    def user_id(email: str, ann: Annotation) -> int:
        if email not in users:
            users[email] = client.create_user(
                email, secrets.token_urlsafe(24), first_name=ann.annotator[:30], last_name=f"({ann.origin})"[:30]
            )
            report.users_created.append(email)
        return int(users[email]["id"])

    def fail(f: Path, no: int, d: dict[str, Any], code: str, msg: str) -> None:
        who = f" (annotator {d['annotator']})" if d.get("annotator") else ""
        report.errors.append(Problem(code, msg + who, file=str(f), line=no, doc_id=d.get("doc_id")))

    def send(batch: list[tuple[Path, int, dict[str, Any]]]) -> None:
        arts = store.get_many(
            {d.get("doc_id") for _f, _n, d in batch if isinstance(d.get("doc_id"), str)}, corpus_version
        )
        meta_updates: dict[int, dict[str, Any]] = {}
        for f, no, d in batch:
            report.records += 1
            if progress is not None:
                progress(1)
            art = arts.get(d.get("doc_id")) if isinstance(d, dict) else None
            if art is None:
                report.stale += 1
                fail(
                    f,
                    no,
                    d if isinstance(d, dict) else {},
                    "article_missing",
                    f"document {d.get('doc_id') if isinstance(d, dict) else '?'} "
                    f"is not in corpus version {corpus_version}",
                )
                continue
            if d.get("text_sha256") != art.text_sha256:
                report.stale += 1
                fail(
                    f,
                    no,
                    d,
                    "stale_annotation",
                    "made on another version of the text (text_sha256 differs from corpus version "
                    f"{corpus_version}); not sent",
                )
                continue
            errors = [x for x in validate.validate_record(d, art.text, tax, validator=validator) if x.is_error]
            if errors:
                report.invalid += 1
                for x in errors:  # each finding names where; the message says the record was not sent
                    x.file, x.line, x.doc_id = str(f), no, d.get("doc_id")
                    x.message = f"not sent: {x.message}"
                report.errors.extend(errors)
                continue
            task = tasks.get((art.doc_id, art.text_sha256))
            if task is None:
                report.stale += 1
                fail(
                    f,
                    no,
                    d,
                    "no_task",
                    "no task with this text in the project (its task has an older text; push the corpus with update_changed)",
                )
                continue
            tid, tmeta = task
            ann = Annotation.from_dict(d)
            doc_conflicts = by_doc_conflicts.get(art.doc_id) or []
            if doc_conflicts:
                report.conflicts_attached += attach_conflicts(ann, doc_conflicts)
                if art.doc_id not in listed:
                    listed.add(art.doc_id)
                    if tmeta.get(CONFLICTS_KEY) != doc_conflicts:
                        meta_updates.setdefault(tid, dict(tmeta))[CONFLICTS_KEY] = doc_conflicts
                    report.conflicts_listed += len(doc_conflicts)
            result = lsformat.to_labelstudio(ann, art.text, tax)
            if mode == "predictions":
                mv = model_version(ann)
                digest = lsformat.result_digest(result)
                if digest in preds[(tid, mv)]:
                    report.skipped += 1
                    continue
                client.create_prediction(tid, result, model_version=mv, score=ann.score)
                preds[(tid, mv)].add(digest)
                report.sent += 1
                continue
            email = annotator_email(ann.annotator, ann.origin)
            uid = user_id(email, ann)
            if tid not in done_pairs:
                done_pairs[tid] = {
                    int(a["completed_by"]) for a in client.annotations(tid) if isinstance(a.get("completed_by"), int)
                }
            if uid in done_pairs[tid]:
                report.skipped += 1  # its kept meta stays as it was, matching that annotation
                continue
            entry = {
                "annotator": ann.annotator,
                "origin": ann.origin,
                "meta": ann.meta,
                "notes": list(d.get("notes") or []),
            }
            imported = dict((meta_updates.get(tid) or tmeta).get(lsformat.IMPORTED_KEY) or {})
            if imported.get(email) != entry:
                imported[email] = entry
                meta_updates.setdefault(tid, dict(tmeta))[lsformat.IMPORTED_KEY] = imported
            # meta first: an annotation never exists without what pull needs to read it back
            if tid in meta_updates:
                client.update_task_meta(tid, meta_updates[tid])
                tasks[(art.doc_id, art.text_sha256)] = (tid, meta_updates.pop(tid))
            client.create_annotation(tid, result, completed_by=uid, lead_time=ann.lead_time)
            done_pairs[tid].add(uid)
            report.sent += 1
        for tid, meta in meta_updates.items():
            client.update_task_meta(tid, meta)
            key = (str(meta.get("doc_id")), str(meta.get("text_sha256")))
            tasks[key] = (tid, meta)

    batch: list[tuple[Path, int, dict[str, Any]]] = []
    for f, no, d in iter_snapshot_records(snapshots):
        if not isinstance(d, dict):
            report.records += 1
            fail(f, no, {}, "invalid", "a record must be a JSON object")
            continue
        batch.append((f, no, d))
        if len(batch) >= BATCH:
            send(batch)
            batch = []
    if batch:
        send(batch)
    return report
