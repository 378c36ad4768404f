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

from corpus import lsformat, taxonomy, validate
from corpus.errors import LabelStudioError, UsageError
from corpus.labelstudio import LSClient, read_export
from corpus.model import Annotation, sha256_text


@dataclass
class PullReport:
    project_id: int
    snapshot: str | None = None
    manifest: str | None = None
    errors_file: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "snapshot": self.snapshot,
            "manifest": self.manifest,
            "errors_file": self.errors_file,
            **self.counts,
        }


def safe_name(project: str) -> str:
    """A project title as a directory name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", project).strip("-.")
    if not name:
        raise UsageError(f"cannot make a directory name from project {project!r}", hint="use --out")
    return name


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _user_name(user: Any) -> str:
    """An annotator id that stays readable and stable: the e-mail (or the numeric id)."""
    if isinstance(user, dict):
        return str(user.get("email") or user.get("username") or user.get("id") or "unknown")
    return str(user) if user is not None else "unknown"


# ---------------------------------------------------------------- conversion


@dataclass
class Converted:
    annotation: Annotation | None  # None when it did not validate
    errors: list[dict[str, Any]]  # findings of severity error (converter + validator)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    repairs: int = 0  # regions whose UTF-16 offsets were converted


def convert(task: dict[str, Any], record: dict[str, Any], *, tax: Any, draft: bool = False) -> Converted:
    """One Label Studio annotation (or draft) of ``task`` -> validated canonical annotation.

    ``lsformat`` does the per-region work (offsets checked against the text, UTF-16 shifts
    repaired, relations resolved); ``validate`` then checks the whole record (JSON Schema and
    semantics against the taxonomy and the text). Every finding keeps task id, annotation id and region id.
    """
    data = task.get("data") or {}
    text = data.get("text") if isinstance(data.get("text"), str) else ""
    conv = lsformat.ls_annotation_record(task, record, tax, draft=draft)
    ann: Annotation = conv.annotation
    where = {"task_id": task.get("id"), "annotation_id": None if draft else record.get("id"), "doc_id": ann.doc_id}
    found = [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in conv.findings]
    if not ann.doc_id:
        found.append({"severity": "error", "code": "schema", "message": "task has no doc_id", "pointer": "/data/doc_id"})
    stored = data.get("text_sha256")
    if stored and stored != sha256_text(text):
        found.append({"severity": "error", "code": "hash_mismatch", "pointer": "/data/text",
                      "message": "the task text no longer matches its text_sha256 (edited in Label Studio?)"})
    for f in validate.validate_record(ann.to_dict(), text, tax):
        fd = f.to_dict() if hasattr(f, "to_dict") else dict(f)
        if fd not in found:
            found.append(fd)
    found = [{**where, **{k: v for k, v in f.items() if v is not None}} for f in found]
    errors = [f for f in found if f.get("severity", "error") == "error"]
    warnings = [f for f in found if f.get("severity", "error") != "error"]
    if warnings:
        ann.meta["findings"] = [{"code": w.get("code"), "message": w.get("message"), "region_id": w.get("region_id")}
                                for w in warnings]
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
    stamp = utc_stamp(now)
    base = out_dir / stamp
    n = 1
    while base.with_suffix(".jsonl").exists() or base.with_suffix(".manifest.json").exists():
        base = out_dir / f"{stamp}-{n}"  # two pulls in one second never overwrite each other
        n += 1
    report = PullReport(project_id=int(proj["id"]))

    export_path = out_dir / f".{base.name}.export.json"
    try:
        exported = client.export_snapshot(report.project_id, export_path, title=f"newscorpus pull {base.name}")
        tasks = read_export(export_path)
    finally:
        export_path.unlink(missing_ok=True)

    counts: Counter = Counter()
    corpus_versions: set[Any] = set()
    taxonomy_versions: set[str] = set()
    annotators: Counter = Counter()
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for task in tasks:
        counts["tasks"] += 1
        meta = task.get("meta") or {}
        if meta.get("corpus_version") is not None:
            corpus_versions.add(meta["corpus_version"])
        records: list[tuple[dict[str, Any], bool]] = []
        for a in task.get("annotations") or []:
            counts["annotations"] += 1
            if a.get("was_cancelled"):
                counts["cancelled"] += 1
                continue
            records.append((a, False))
        for d in task.get("drafts") or []:
            counts["drafts"] += 1
            if include_drafts:
                records.append((d, True))
        for rec, is_draft in records:
            conv = convert(task, rec, tax=tax, draft=is_draft)
            counts["offset_repairs"] += conv.repairs
            if conv.annotation is None:
                counts["invalid"] += 1
                bad.append({
                    "task_id": task.get("id"), "annotation_id": None if is_draft else rec.get("id"),
                    "draft": is_draft, "doc_id": (task.get("data") or {}).get("doc_id"),
                    "annotator": _user_name(rec.get("user") if is_draft else rec.get("completed_by")),
                    "findings": conv.errors,
                })
                continue
            counts["written"] += 1
            counts["drafts_written"] += int(is_draft)
            annotators[conv.annotation.annotator] += 1
            taxonomy_versions.add(conv.annotation.taxonomy_version or "")
            good.append(conv.annotation.to_dict())

    jsonl = base.with_suffix(".jsonl")
    digest = hashlib.sha256()

    def write_jsonl(f) -> None:
        for rec in good:
            line = json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n"
            digest.update(line.encode("utf-8"))
            f.write(line)

    _atomic_write(jsonl, write_jsonl)
    report.snapshot = str(jsonl)
    if bad:
        err_path = base.with_name(base.name + ".errors.jsonl")
        _atomic_write(err_path, lambda f: f.writelines(json.dumps(b, ensure_ascii=False) + "\n" for b in bad))
        report.errors_file = str(err_path)
    for k in ("tasks", "annotations", "written", "invalid", "cancelled", "drafts", "drafts_written", "offset_repairs"):
        counts.setdefault(k, 0)
    report.counts = dict(counts)
    manifest = {
        "project": project,
        "project_id": report.project_id,
        "label_studio_url": client.url,
        "export_id": exported.get("id"),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "snapshot": jsonl.name,
        "sha256": digest.hexdigest(),
        "errors_file": Path(report.errors_file).name if report.errors_file else None,
        "corpus_versions": sorted(corpus_versions, key=str),
        "taxonomy_version": str(tax.version),
        "annotation_taxonomy_versions": sorted(v for v in taxonomy_versions if v),
        "include_drafts": include_drafts,
        "counts": report.counts,
        "annotators": dict(sorted(annotators.items())),
    }
    man_path = base.with_name(base.name + ".manifest.json")
    _atomic_write(man_path, lambda f: f.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"))
    report.manifest = str(man_path)
    return report


def read_snapshot(path: str | os.PathLike[str]) -> list[Annotation]:
    with open(path, encoding="utf-8") as f:
        return [Annotation.from_dict(json.loads(line)) for line in f if line.strip()]


# ---------------------------------------------------------------- project status


def project_status(client: LSClient, project: str, *, workdir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Tasks, annotated, double-annotated and per-annotator counts of a project (from an export)."""
    proj = client.find_project(project)
    if proj is None:
        raise LabelStudioError(f"no Label Studio project titled {project!r}")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "export.json"
        client.export_snapshot(int(proj["id"]), path, title="newscorpus status")
        tasks = read_export(path)
    per_annotator: Counter = Counter()
    annotated = double = cancelled = total_ann = 0
    for t in tasks:
        done = [a for a in t.get("annotations") or [] if not a.get("was_cancelled")]
        cancelled += sum(1 for a in t.get("annotations") or [] if a.get("was_cancelled"))
        total_ann += len(done)
        people = {_user_name(a.get("completed_by")) for a in done}
        for p in people:
            per_annotator[p] += 1
        annotated += bool(done)
        double += len(people) >= 2
    return {
        "project": project,
        "project_id": int(proj["id"]),
        "tasks": len(tasks),
        "annotated": annotated,
        "double_annotated": double,
        "annotations": total_ann,
        "cancelled": cancelled,
        "maximum_annotations": proj.get("maximum_annotations"),
        "overlap_cohort_percentage": proj.get("overlap_cohort_percentage"),
        "by_annotator": dict(sorted(per_annotator.items())),
    }
