"""Label Studio export -> canonical annotations -> validation -> immutable snapshot.

One pull writes, in ``annotations/<project>/``:

* ``<ts>.jsonl``          one canonical ``Annotation`` per line (valid ones only);
* ``<ts>.errors.jsonl``   the annotations that did not validate, with the validator's findings
                          (task, annotation, layer, id, message) — nothing is dropped silently;
* ``<ts>.manifest.json``  project, export time, corpus and taxonomy versions, counts, sha256 of
                          the JSONL. Written last: a snapshot without a manifest is incomplete.

Each file is written to a temporary name and renamed. A snapshot is never rewritten; the next pull
makes a new timestamp. Cancelled (skipped) annotations are counted and left out; drafts are
included only on request (``origin`` stays ``labelstudio``, ``meta.draft`` is true).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from corpus.annotations import lsformat, validate
from corpus.core import atomic, taxonomy
from corpus.core.errors import LabelStudioError, UsageError, on_disk_full
from corpus.core.model import Annotation
from corpus.core.problems import Problem
from corpus.labelstudio.client import LSClient, RetryBudgetSpent, iter_export
from corpus.predict import acceptance
from corpus.store import snapshot


@dataclass
class PullReport:
    project_id: int
    snapshot: str | None = None
    manifest: str | None = None
    errors_file: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    leftovers_removed: list[str] = field(default_factory=list)  # of killed pulls (see clean_leftovers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "snapshot": self.snapshot,
            "manifest": self.manifest,
            "errors_file": self.errors_file,
            **self.counts,
            "leftovers_removed": self.leftovers_removed,
        }


# atomic.atomic_open's temporary names are ".<name>.<random>.tmp"
_LEFTOVER_PATTERNS = (".*.export.json", ".*.jsonl.tmp", ".*.jsonl.*.tmp", ".*.manifest.json.*.tmp")


def clean_leftovers(out_dir: Path) -> list[str]:
    """Remove what killed pulls left in their own output folder: hidden export files, temporary
    snapshot / errors / manifest files, and snapshots (``<ts>.jsonl``, with their errors file)
    that never got their manifest. Call it only while holding ``_folder_lock``: then no other
    pull is writing there. Other writers' snapshots (``gold-<ts>``, hand-made names) are left alone.
    """
    removed: list[str] = []
    for pattern in _LEFTOVER_PATTERNS:
        for f in sorted(out_dir.glob(pattern)):
            f.unlink(missing_ok=True)
            removed.append(f.name)
    for f in sorted(out_dir.glob("*.jsonl")):
        if f.name[:1].isdigit() and snapshot.is_incomplete(f):
            for g in (f, snapshot.side_path(f, "errors")):
                if g.exists():
                    g.unlink(missing_ok=True)
                    removed.append(g.name)
    return removed


class _folder_lock:
    """An exclusive, non-blocking ``flock`` on the output folder itself (no lock file to leave
    behind) for the time of one pull; ``held`` is False when another pull holds it."""

    def __init__(self, folder: Path):
        self.folder, self.fd, self.held = folder, -1, False

    def __enter__(self) -> _folder_lock:
        import fcntl

        self.fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.held = True
        except OSError:
            self.held = False
        return self

    def __exit__(self, *exc: Any) -> None:
        os.close(self.fd)  # releases the lock


def safe_name(project: str) -> str:
    """A project title as a directory name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", project).strip("-.")
    if not name:
        raise UsageError(
            f"cannot make a directory name from project {project!r}", hint="give the snapshot folder (out)"
        )
    return name


def _user_name(user: Any) -> str:
    """An annotator id that stays readable and stable: the e-mail (or the numeric id)."""
    if isinstance(user, dict):
        return str(user.get("email") or user.get("username") or user.get("id") or "unknown")
    return str(user) if user is not None else "unknown"


# ---------------------------------------------------------------- conversion


@dataclass
class Converted:
    annotation: Annotation | None  # None when it did not validate
    errors: list[Problem]  # findings of severity error (converter + validator)
    warnings: list[Problem] = field(default_factory=list)
    repairs: int = 0  # regions whose UTF-16 offsets were converted


def convert(task: dict[str, Any], record: dict[str, Any], *, tax: Any, draft: bool = False) -> Converted:
    """One Label Studio annotation (or draft) of ``task`` -> validated canonical annotation.

    ``lsformat`` does the per-region work (offsets checked against the text, UTF-16 shifts
    repaired, relations resolved); ``validate`` then checks the whole record (JSON Schema and
    semantics against the taxonomy and the text). Every finding keeps task id, annotation id and region id.
    """
    data = task.get("data") or {}
    text_field = (tax or taxonomy.load()).text
    text = data.get(text_field) if isinstance(data.get(text_field), str) else ""
    conv = lsformat.ls_annotation_record(task, record, tax, draft=draft)
    ann: Annotation = conv.annotation
    found = list(conv.findings)
    if not ann.doc_id:
        found.append(Problem("schema", "task has no doc_id", pointer="/data/doc_id"))
    for f in validate.validate_record(ann.to_dict(), text, tax):
        if f not in found:
            found.append(f)
    for f in found:  # every finding names its task and annotation
        f.task_id = task.get("id") if f.task_id is None else f.task_id
        f.annotation_id = (None if draft else record.get("id")) if f.annotation_id is None else f.annotation_id
        f.doc_id = f.doc_id or ann.doc_id or None
    errors = [f for f in found if f.is_error]
    warnings = [f for f in found if not f.is_error]
    if warnings:
        ann.meta["findings"] = [{"code": w.code, "message": w.message, "region_id": w.region_id} for w in warnings]
    return Converted(None if errors else ann, errors, warnings, getattr(conv, "repairs", 0))


# ---------------------------------------------------------------- the workflow


def pull(
    client: LSClient,
    project: str,
    *,
    out: str | os.PathLike[str] | None = None,
    include_drafts: bool = False,
    now: datetime | None = None,
) -> PullReport:
    """Export ``project`` and write a validated snapshot under ``out`` (default annotations/<project>)."""
    proj = client.find_project(project)
    if proj is None:
        raise LabelStudioError(f"no Label Studio project titled {project!r}", hint="push to it first (corpus push)")
    tax = taxonomy.load()
    out_dir = Path(out) if out else Path("annotations") / safe_name(project)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _folder_lock(out_dir) as lock:
        removed = clean_leftovers(out_dir) if lock.held else []  # held by another pull: it is live
        try:
            with on_disk_full("writing the snapshot", out_dir):
                report = _pull(client, proj, project, tax, out_dir, include_drafts, now)
        except RetryBudgetSpent as e:  # nothing was written (temporary files are removed)
            e.report = {
                **PullReport(project_id=int(proj["id"]), leftovers_removed=removed).to_dict(),
                "complete": False,
                "stopped": e.message,
            }
            raise
    report.leftovers_removed = removed
    return report


def _pull(
    client: LSClient, proj: dict[str, Any], project: str, tax: Any, out_dir: Path, include_drafts: bool, now: Any
) -> PullReport:
    jsonl = snapshot.new_snapshot_path(out_dir, now=now)
    name = jsonl.name[: -len(".jsonl")]
    report = PullReport(project_id=int(proj["id"]))

    export_path = out_dir / f".{name}.export.json"
    err_path = snapshot.side_path(jsonl, "errors")
    try:
        exported = client.export_snapshot(report.project_id, export_path, title=f"newscorpus pull {name}")
        # Stream: one task in memory at a time; records go straight to the (atomic) files.
        with atomic.atomic_open(jsonl) as good:
            with atomic.atomic_open(err_path) as bad:
                w = _SnapshotWriter(tax, include_drafts, good, bad)
                for task in iter_export(export_path):
                    w.add_task(task)
                if not w.counts["invalid"]:
                    raise atomic.Discard  # no errors file when everything validated
        report.snapshot = str(jsonl)
        if w.counts["invalid"]:
            report.errors_file = str(err_path)
    finally:
        export_path.unlink(missing_ok=True)
    counts = w.counts
    for k in ("tasks", "annotations", "written", "invalid", "cancelled", "drafts", "drafts_written", "offset_repairs"):
        counts.setdefault(k, 0)
    report.counts = dict(counts)
    manifest = {
        "project": project,
        "project_id": report.project_id,
        "label_studio_url": client.display_url,
        "export_id": exported.get("id"),
        "exported_at": _iso(exported.get("finished_at") or exported.get("created_at")),
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "snapshot": jsonl.name,
        "sha256": w.digest.hexdigest(),
        "errors_file": Path(report.errors_file).name if report.errors_file else None,
        "corpus_versions": sorted(w.corpus_versions, key=str),
        "taxonomy_version": str(tax.version),
        "annotation_taxonomy_versions": sorted(v for v in w.taxonomy_versions if v),
        "include_drafts": include_drafts,
        "counts": report.counts,
        "annotators": dict(sorted(w.annotators.items())),
    }
    report.manifest = str(snapshot.write_manifest(jsonl, manifest))
    return report


class _SnapshotWriter:
    """Converts, validates and writes the annotations (and, on request, drafts) task by task."""

    def __init__(self, tax: Any, include_drafts: bool, good, bad):
        self.tax, self.include_drafts, self.good, self.bad = tax, include_drafts, good, bad
        self.counts: Counter = Counter()
        self.corpus_versions: set[Any] = set()
        self.taxonomy_versions: set[str] = set()
        self.annotators: Counter = Counter()
        self.digest = hashlib.sha256()

    def add_task(self, task: dict[str, Any]) -> None:
        counts = self.counts
        counts["tasks"] += 1
        meta = task.get("meta") or {}
        if meta.get("corpus_version") is not None:
            self.corpus_versions.add(meta["corpus_version"])
        records: list[tuple[dict[str, Any], bool]] = []
        for a in task.get("annotations") or []:
            counts["annotations"] += 1
            if a.get("was_cancelled"):
                counts["cancelled"] += 1
                continue
            records.append((a, False))
        for d in task.get("drafts") or []:
            counts["drafts"] += 1
            if self.include_drafts:
                records.append((d, True))
        parents = _predictions_by_id(task)
        for rec, is_draft in records:
            conv = convert(task, rec, tax=self.tax, draft=is_draft)
            counts["offset_repairs"] += conv.repairs
            if conv.annotation is not None:
                self._compare_with_parent(task, conv.annotation, parents)
            if conv.annotation is None:
                counts["invalid"] += 1
                self.bad.write(
                    json.dumps(
                        {
                            "task_id": task.get("id"),
                            "annotation_id": None if is_draft else rec.get("id"),
                            "draft": is_draft,
                            "doc_id": (task.get("data") or {}).get("doc_id"),
                            "annotator": _user_name(rec.get("user") if is_draft else rec.get("completed_by")),
                            "findings": [f.to_dict() for f in conv.errors],
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                continue
            counts["written"] += 1
            counts["drafts_written"] += int(is_draft)
            self.annotators[conv.annotation.annotator] += 1
            self.taxonomy_versions.add(conv.annotation.taxonomy_version or "")
            line = json.dumps(conv.annotation.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"
            self.digest.update(line.encode("utf-8"))
            self.good.write(line)

    def _compare_with_parent(self, task: dict[str, Any], ann: Annotation, parents: dict[int, dict[str, Any]]) -> None:
        """meta.acceptance: the submitted annotation against the prediction it started from."""
        parent_id = ann.meta.get("parent_prediction")
        parent = parents.get(parent_id) if isinstance(parent_id, int) else None
        if parent is None:
            return
        text = (task.get("data") or {}).get(self.tax.text) or ""
        pred, _findings = lsformat.ls_result_to_annotation(parent.get("result") or [], text, self.tax)
        mv = parent.get("model_version") or None
        ann.meta["parent_model_version"] = mv
        cmp = acceptance.compare(ann, pred)
        cmp.pop("acceptance_rate")  # counts only: `corpus report` and `status` sum them per model version
        ann.meta["acceptance"] = {"model_version": mv, **cmp}
        self.counts["compared_with_prediction"] += 1


def _predictions_by_id(task: dict[str, Any]) -> dict[int, dict[str, Any]]:
    out = {}
    for p in task.get("predictions") or []:
        if isinstance(p, dict) and p.get("id") is not None and isinstance(p.get("result"), list):
            out[int(p["id"])] = p
    return out


def _iso(value: Any) -> str:
    if value is None:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# ---------------------------------------------------------------- project status


def project_status(client: LSClient, project: str, *, workdir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Tasks, annotated, double-annotated and per-annotator counts of a project (from an export).

    Cancelled (skipped) annotations do not count as annotated; "double-annotated" means at least
    two different people completed the task.
    """
    proj = client.find_project(project)
    if proj is None:
        raise LabelStudioError(f"no Label Studio project titled {project!r}")
    c: Counter = Counter()
    per_annotator: Counter = Counter()
    by_model: dict[str, Counter] = {}
    tax = taxonomy.load()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "export.json"
        client.export_snapshot(int(proj["id"]), path, title="newscorpus status")
        for t in iter_export(path):
            anns = t.get("annotations") or []
            done = [a for a in anns if not a.get("was_cancelled")]
            people = {_user_name(a.get("completed_by")) for a in done}
            per_annotator.update(people)
            c["tasks"] += 1
            c["annotated"] += bool(done)
            c["double_annotated"] += len(people) >= 2
            c["annotations"] += len(done)
            c["cancelled"] += len(anns) - len(done)
            _acceptance_counts(t, done, tax, by_model)
    return {
        "project": project,
        "project_id": int(proj["id"]),
        **{k: c[k] for k in ("tasks", "annotated", "double_annotated", "annotations", "cancelled")},
        "maximum_annotations": proj.get("maximum_annotations"),
        "overlap_cohort_percentage": proj.get("overlap_cohort_percentage"),
        "by_annotator": dict(sorted(per_annotator.items())),
        "acceptance": {
            mv: {
                **dict(cnt),
                "acceptance_rate": round(cnt["kept"] / cnt["predicted"], 4) if cnt["predicted"] else None,
            }
            for mv, cnt in sorted(by_model.items())
        },
    }


def _acceptance_counts(
    task: dict[str, Any], done: list[dict[str, Any]], tax: Any, by_model: dict[str, Counter]
) -> None:
    """Per model version: tasks with its predictions, annotations started from one, span outcomes."""
    parents = _predictions_by_id(task)
    for p in parents.values():
        by_model.setdefault(str(p.get("model_version") or "unknown"), Counter())["tasks_with_prediction"] += 1
    text = (task.get("data") or {}).get(tax.text) or ""
    for a in done:
        parent_id = a.get("parent_prediction")
        parent = parents.get(parent_id) if isinstance(parent_id, int) else None
        if parent is None:
            continue
        cnt = by_model.setdefault(str(parent.get("model_version") or "unknown"), Counter())
        ann, _ = lsformat.ls_result_to_annotation(a.get("result") or [], text, tax)
        pred, _ = lsformat.ls_result_to_annotation(parent.get("result") or [], text, tax)
        cmp = acceptance.compare(ann, pred)
        cnt["annotations_from_prediction"] += 1
        for k in (*acceptance.OUTCOMES, "predicted"):
            cnt[k] += cmp[k]
