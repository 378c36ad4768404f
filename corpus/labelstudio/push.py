"""Corpus -> Label Studio tasks, idempotently, with optional pre-annotations.

The project itself is the record of what was pushed: every task carries ``doc_id`` and
``text_sha256`` (in ``data`` for annotators and scripts, and in ``meta`` so they can be listed
without downloading the texts). Before pushing we list them; a document already there with the
same text hash is skipped, one with another hash is *changed* (its old task and annotations
stay; the new revision is pushed only with ``update_changed``).

Imports go in batches. The SDK's automatic retries are off for imports (a re-sent POST
duplicates tasks); when a batch fails we list the project again, drop what did land, and
send the rest. So a push killed at any moment and run again ends with each document once.

Two pushes into one project at once would each list the project, both find a document missing
and both import it. A push therefore holds the project's push lock (``ProjectLock``: an ``flock``
on a file named after server and project title) from finding the project to its last batch; a
second push waits for it and then finds the first one's tasks (the index cache is checked against
the project's task fingerprint), so it skips them. The kernel drops the lock of a killed push.
Pushes from other machines do not see that lock; for them each batch is re-checked: when the
project's task fingerprint is not the one this push expects, the project is listed again and
what already landed is dropped from the batch (a narrow window remains between that check and
the import).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import secrets
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corpus.annotations import lsformat, validate
from corpus.core import atomic, taxonomy
from corpus.core.errors import LabelStudioError, LabelStudioRejected, LabelStudioUnavailable, UsageError
from corpus.core.model import MACHINE_ANNOTATOR as _MACHINE_ANNOTATOR
from corpus.core.model import Annotation, Article
from corpus.core.problems import Problem
from corpus.labelstudio.client import LSClient, RetryBudgetSpent
from corpus.predict.preannotate import JsonlPredictions, PreAnnotator

CRASH_ENV = "CORPUS_TEST_CRASH_AFTER_BATCHES"  # test hook: SIGKILL ourselves after N imported batches
TASK_DATA_FIELDS = ("text", "doc_id", "text_sha256", "title", "source", "published", "url")
WHERE_FIELDS = ("doc_id", "source", "language", "title", "url", "published")
INDEX_FIELDS = {"doc_id", "source", "title"}  # filterable without reading the texts (store.list_docs)


# ---------------------------------------------------------------- report


@dataclass
class PushReport:
    project_id: int
    project_action: str = "unchanged"  # created | unchanged | updated (label config)
    pushed: int = 0
    skipped: int = 0
    changed: int = 0
    errors: list[Problem] = field(default_factory=list)
    predictions: int = 0
    predictions_invalid: int = 0
    predictions_failed: int = 0
    changed_doc_ids: list[str] = field(default_factory=list)
    retries: int = 0
    corpus_version: int | None = None
    taxonomy_version: str | None = None
    complete: bool = True  # False: stopped early (retry budget spent); a rerun resumes
    left: int = 0  # documents planned for this push and not (yet) in the project when it stopped
    stopped: str | None = None  # why it stopped early
    skipped_late: int = 0  # of ``skipped``: planned, but found in the project just before their batch

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "pushed": self.pushed,
            "skipped": self.skipped,
            "changed": self.changed,
            "errors": [e.to_dict() for e in self.errors],
            "project_action": self.project_action,
            "predictions": self.predictions,
            "predictions_invalid": self.predictions_invalid,
            "predictions_failed": self.predictions_failed,
            "changed_doc_ids": self.changed_doc_ids,
            "retries": self.retries,
            "corpus_version": self.corpus_version,
            "taxonomy_version": self.taxonomy_version,
            "complete": self.complete,
            "left": self.left,
            "stopped": self.stopped,
        }


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Where:
    """A document filter: every test must hold. ``fields``: what the tests read (a filter on
    index fields only needs no texts, see :func:`select_docs`)."""

    tests: tuple[Callable[[Any], bool], ...]
    fields: frozenset[str]

    def __call__(self, doc: Any) -> bool:
        return all(t(doc) for t in self.tests)


def _where_test(name: str, value: str, *, equal: bool) -> Callable[[Any], bool]:
    return lambda a: (str(_field(a, name) or "") == value) == equal


def parse_where(clauses: Iterable[str] | None) -> Where:
    """``field=value`` / ``field!=value`` clauses, all of which must hold (e.g. ``source=polnear``)."""
    tests: list[Callable[[Any], bool]] = []
    fields: set[str] = set()
    for clause in clauses or ():
        op = "!=" if "!=" in clause else "=" if "=" in clause else None
        if op is None:
            raise UsageError(f"where {clause!r}: expected FIELD=VALUE or FIELD!=VALUE")
        name, value = (p.strip() for p in clause.split(op, 1))
        if name not in WHERE_FIELDS:
            raise UsageError(f"where: unknown field {name!r}", hint=f"fields: {', '.join(WHERE_FIELDS)}")
        tests.append(_where_test(name, value, equal=op == "="))
        fields.add(name)
    return Where(tuple(tests), frozenset(fields))


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


# ---------------------------------------------------------------- project


def _norm_config(xml: str) -> str:
    """A labeling config without comments and inter-tag whitespace (for comparing)."""
    return re.sub(r">\s+<", "><", re.sub(r"<!--.*?-->", "", xml or "", flags=re.S)).strip()


def _plain(html_text: str) -> str:
    """The words of an HTML text: Label Studio sanitizes (bleach) the instruction it stores, so
    a stored instruction is compared by its text, not byte for byte."""
    prev = None
    while prev != html_text:
        prev, html_text = html_text, html.unescape(html_text)
    return " ".join(re.sub(r"<[^>]*>", " ", html_text).split())


def ensure_project(
    client: LSClient,
    title: str,
    label_config: str,
    *,
    instruction: str | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """The project titled ``title`` with ``label_config``: created, unchanged or updated.

    A changed config is sent to Label Studio, which refuses it when existing annotations use
    labels it would remove; then we stop with its reason instead of pushing into a stale project.
    """
    settings = {k: v for k, v in (settings or {}).items() if v is not None}
    project = client.find_project(title)
    if project is None:
        extra = {"expert_instruction": instruction, "show_instruction": True} if instruction else {}
        return client.create_project(title, label_config, **extra, **settings), "created"
    action = "unchanged"
    changes: dict[str, Any] = {}
    if _norm_config(project.get("label_config", "")) != _norm_config(label_config):
        changes["label_config"] = label_config
        action = "updated"
    if instruction and _plain(project.get("expert_instruction") or "") != _plain(instruction):
        changes["expert_instruction"] = instruction
    for k, v in settings.items():
        if project.get(k) != v:
            changes[k] = v
    if changes:
        try:
            if "label_config" in changes:
                client.validate_label_config(project["id"], label_config)
            project = client.update_project(project["id"], **changes)
        except LabelStudioRejected as e:
            raise LabelStudioError(
                f"project {title!r} (id {project['id']}) has another labeling config, and Label Studio refused "
                f"the one generated from the taxonomy: {e.message}",
                hint="annotations in the project probably use labels the new taxonomy removes or renames; push "
                "to a new project (another project name), or migrate those annotations first",
            ) from None
    return project, action


# ---------------------------------------------------------------- index of what is in the project


@dataclass
class ProjectIndex:
    """doc_id -> set of text hashes that have a task in the project, and the number of tasks."""

    hashes: dict[str, set[str]] = field(default_factory=dict)
    tasks: int = 0  # all tasks seen, ours or not
    max_id: int = 0  # highest task id seen

    def add(self, doc_id: str, sha: str) -> None:
        self.hashes.setdefault(doc_id, set()).add(sha)
        self.tasks += 1

    def has(self, doc_id: str, sha: str) -> bool:
        return sha in self.hashes.get(doc_id, ())


def project_index(client: LSClient, project_id: int) -> ProjectIndex:
    """List every task of the project (its meta only) into an index."""
    idx = ProjectIndex()
    missing = 0
    for tid, meta in client.task_meta(project_id):
        idx.max_id = max(idx.max_id, tid)
        if meta.get("doc_id") and meta.get("text_sha256"):
            idx.add(str(meta["doc_id"]), str(meta["text_sha256"]))
        else:
            missing += 1
    if missing:  # tasks made by hand or by an older tool: fall back to their data
        idx = ProjectIndex()
        for t in client.task_data(project_id):
            idx.max_id = max(idx.max_id, int(t["id"]))
            d = t.get("data") or {}
            m = t.get("meta") or {}
            doc_id, sha = m.get("doc_id") or d.get("doc_id"), m.get("text_sha256") or d.get("text_sha256")
            if doc_id and sha:
                idx.add(str(doc_id), str(sha))
            else:
                idx.tasks += 1
    return idx


class IndexCache:
    """The project index from the end of the last push, trusted only while the project's task
    set is provably unchanged: same (task count, highest task id) — ids only grow, so any import
    or deletion changes the pair. Listing 5,000 tasks costs Label Studio 1.23 about 2.5 s; this
    check costs one small request, which is what makes a re-push cheap. Keyed by server URL,
    project id and project creation time, so a re-created server or project never matches.
    """

    def __init__(self, client: LSClient, project: dict[str, Any]):
        from corpus.labelstudio.server import cache_dir

        self.client = client
        self.project_id = int(project["id"])
        self.key = f"{client.url}|{self.project_id}|{project.get('created_at')}"
        name = hashlib.sha256(self.key.encode()).hexdigest()[:24]
        self.path = cache_dir() / "push-index" / f"{name}.json"

    def load(self, *, new_project: bool = False) -> ProjectIndex:
        self.valid = False
        if new_project:
            return ProjectIndex()
        fingerprint = list(self.client.task_fingerprint(self.project_id))
        try:
            cached = json.loads(self.path.read_text(encoding="utf-8"))
            if cached.get("key") == self.key and cached.get("fingerprint") == fingerprint:
                self.valid = True
                return ProjectIndex(
                    {k: set(v) for k, v in cached["hashes"].items()}, int(cached["tasks"]), int(fingerprint[1])
                )
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if fingerprint[0] == 0:
            return ProjectIndex()
        return project_index(self.client, self.project_id)

    def save(self, index: ProjectIndex, *, changed: bool = True, certain: bool = True) -> None:
        """Record the index with the fingerprint it implies.

        ``certain`` means every task we sent is accounted for by id (no failed request whose
        outcome we had to re-list); then the fingerprint is computed locally. If someone else
        changed the project meanwhile, the server's fingerprint differs and the next push lists
        the project again — a stale cache is never trusted, only rebuilt.
        """
        if self.valid and not changed:
            return  # the cache already describes the project as it was found
        if certain:
            fingerprint = [index.tasks, index.max_id]
        else:
            fingerprint = list(self.client.task_fingerprint(self.project_id))
            if fingerprint[0] != index.tasks:
                self.path.unlink(missing_ok=True)
                return
        data = {
            "key": self.key,
            "fingerprint": fingerprint,
            "tasks": index.tasks,
            "hashes": {k: sorted(v) for k, v in index.hashes.items()},
        }
        atomic.write_text(self.path, json.dumps(data))
        self._prune()

    def _prune(self, keep: int = 64) -> None:
        """Keep the most recently used indexes only (projects come and go; tests make many)."""
        try:
            files = sorted(self.path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in files[keep:]:
            old.unlink(missing_ok=True)


class ProjectLock:
    """The push lock of one project on one server: an exclusive, blocking ``flock`` on
    ``<cache>/push-lock/<sha of url and title>.lock`` for the time of a push. The file stays (a
    few bytes, reused by the next push); the lock itself goes with the process, even a killed one."""

    def __init__(self, url: str, title: str):
        from corpus.labelstudio.server import cache_dir

        name = hashlib.sha256(f"{url}|{title}".encode()).hexdigest()[:24]
        self.path = cache_dir() / "push-lock" / f"{name}.lock"
        self.fd = -1

    def __enter__(self) -> ProjectLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)  # waits while another push into this project runs
        return self

    def __exit__(self, *exc: Any) -> None:
        os.close(self.fd)  # releases the lock


# ---------------------------------------------------------------- tasks and predictions


class Predictor:
    """Runs a pre-annotator, validates what it proposes, converts it to Label Studio predictions."""

    def __init__(self, preannotator: PreAnnotator, tax: Any, report: PushReport):
        self.pre = preannotator
        self.tax = tax
        self.report = report

    def predictions_for_batch(self, articles: list[Article]) -> list[list[dict[str, Any]]]:
        """Predictions per article; a pre-annotator with ``predict_many`` sees the batch at once.

        A document the pre-annotator fails on is reported and gets no predictions: a model never
        blocks a push."""
        many = getattr(self.pre, "predict_many", None)
        if many is not None and not isinstance(self.pre, JsonlPredictions):
            try:
                found = list(many(articles))
            except Exception:  # one bad document must not fail the batch: retry one by one
                found = None
            if found is not None and len(found) == len(articles):
                return [self._convert(a, [p] if p is not None else []) for a, p in zip(articles, found)]
        return [self.predictions_for(a) for a in articles]

    def predictions_for(self, article: Article) -> list[dict[str, Any]]:
        try:
            if isinstance(self.pre, JsonlPredictions):
                anns = self.pre.predict_all(article)
            else:
                one = self.pre.predict(article)
                anns = [one] if one is not None else []
        except Exception as e:  # reported, the task goes without predictions
            self.report.predictions_failed += 1
            self.report.errors.append(
                Problem(
                    "preannotator_failed",
                    f"{getattr(self.pre, 'model_version', None)} failed on this document "
                    f"({type(e).__name__}: {e}); pushed without predictions",
                    doc_id=article.doc_id,
                )
            )
            return []
        return self._convert(article, anns)

    def _convert(self, article: Article, anns: list[Annotation]) -> list[dict[str, Any]]:
        out = []
        for ann in anns:
            ann.origin = "prediction"
            ann.model_version = ann.model_version or self.pre.model_version
            ann.taxonomy_version = ann.taxonomy_version or self.tax.version
            errors = [f for f in validate.validate_record(ann.to_dict(), article.text, self.tax) if f.is_error]
            if errors:
                self.report.predictions_invalid += 1
                for f in errors:  # each finding names where; the message says what was not sent
                    f.doc_id = article.doc_id
                    f.message = f"prediction {ann.model_version} not sent: {f.message}"
                self.report.errors.extend(errors)
                continue
            pred: dict[str, Any] = {
                "model_version": ann.model_version,
                "result": lsformat.to_labelstudio(ann, article.text, self.tax),
            }
            if ann.score is not None:
                pred["score"] = float(ann.score)
            out.append(pred)
        return out


ORDERS = ("store", "uncertainty")


def task_uncertainty(task: dict[str, Any]) -> float:
    """How unsure the model is about a task: 1 - the lowest prediction score; -1 without predictions,
    so tasks the model proposed nothing for come after the ones it hesitated on."""
    scores = [p["score"] for p in task.get("predictions") or [] if isinstance(p.get("score"), (int, float))]
    if not task.get("predictions"):
        return -1.0
    return 1.0 - min(scores) if scores else 0.5


class RankedTasks:
    """``push --order uncertainty``: tasks spill to a temporary file; only (rank, offset) stay in memory,
    then the tasks are sent least certain first (Label Studio shows tasks in import order)."""

    def __init__(self) -> None:
        import tempfile

        self.file = tempfile.TemporaryFile(mode="w+b")
        self.index: list[tuple[float, int, int]] = []

    def add(self, tasks: list[dict[str, Any]]) -> None:
        for t in tasks:
            offset = self.file.tell()
            self.file.write(json.dumps(t, ensure_ascii=False).encode("utf-8") + b"\n")
            self.index.append((-task_uncertainty(t), len(self.index), offset))

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        self.index.sort()
        try:
            batch: list[dict[str, Any]] = []
            for _, _, offset in self.index:
                self.file.seek(offset)
                batch.append(json.loads(self.file.readline()))
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            self.file.close()


def make_task(article: Article, corpus_version: int, taxonomy_version: str, text_field: str = "text") -> dict[str, Any]:
    """One Label Studio task; the article text under the taxonomy's text field (``text_field``)."""
    data = {(text_field if k == "text" else k): getattr(article, k) for k in TASK_DATA_FIELDS}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    return {
        "data": data,
        "meta": {
            "corpus_version": corpus_version,
            "taxonomy_version": taxonomy_version,
            "doc_id": article.doc_id,
            "text_sha256": article.text_sha256,
        },
    }


# ---------------------------------------------------------------- importing with our own retry


class Importer:
    """Sends batches; on failure checks what landed (by doc_id + hash) and re-sends the rest."""

    def __init__(
        self,
        client: LSClient,
        project_id: int,
        index: ProjectIndex,
        report: PushReport,
        *,
        backoff: float = 1.0,
    ):
        self.client, self.project_id, self.index, self.report = client, project_id, index, report
        self.backoff = backoff
        self.batches_done = 0
        self.uncertain = False
        crash = os.environ.get(CRASH_ENV)
        self.crash_after = int(crash) if crash and crash.isdigit() else None

    def send(self, tasks: list[dict[str, Any]]) -> None:
        """Import ``tasks``, retrying what did not land while the client's retry budget lasts
        (``RetryBudgetSpent`` when it is spent: the caller reports what is done and left)."""
        pending = self._not_there_yet(tasks)
        attempt = 0
        while pending:
            try:
                ids = self.client.import_tasks(self.project_id, pending)
                self._landed(pending, ids)
                break
            except LabelStudioRejected as e:
                self._one_by_one(pending, e)
                break
            except LabelStudioUnavailable as e:
                self.report.retries += 1
                attempt += 1
                self.uncertain = True
                self.client.budget.wait(min(self.backoff * attempt, 5.0), e)
                pending = self._not_landed(pending)
        self.batches_done += 1
        if self.crash_after is not None and self.batches_done >= self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)  # a hard kill mid-push, for the resume test

    def _not_there_yet(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Before a batch: when the project's (task count, highest id) is not what this push knows,
        someone else imported meanwhile (another machine's push): list again, drop what is there."""
        if (self.index.tasks, self.index.max_id) == self.client.task_fingerprint(self.project_id):
            return tasks
        fresh = project_index(self.client, self.project_id)
        self.index.hashes, self.index.tasks, self.index.max_id = fresh.hashes, fresh.tasks, fresh.max_id
        rest = [t for t in tasks if not fresh.has(t["meta"]["doc_id"], t["meta"]["text_sha256"])]
        self.report.skipped += len(tasks) - len(rest)
        self.report.skipped_late += len(tasks) - len(rest)
        return rest

    def _landed(self, tasks: list[dict[str, Any]], ids: list[int] | None = None) -> None:
        if ids is None or len(ids) != len(tasks):
            self.uncertain = True  # landed, but we do not know the ids
        else:
            self.index.max_id = max([self.index.max_id, *ids])
        for t in tasks:
            self.index.add(t["meta"]["doc_id"], t["meta"]["text_sha256"])
            self.report.pushed += 1

    def _not_landed(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Re-read the project; count what landed from the failed request, return the rest.
        (Listing is retried by the client within the retry budget.)"""
        fresh = project_index(self.client, self.project_id)
        rest = []
        for t in tasks:
            m = t["meta"]
            if fresh.has(m["doc_id"], m["text_sha256"]) and not self.index.has(m["doc_id"], m["text_sha256"]):
                self._landed([t])
            else:
                rest.append(t)
        return rest

    def _one_by_one(self, tasks: list[dict[str, Any]], first: LabelStudioRejected) -> None:
        """A refused batch: send each task alone so the good ones go in and the bad ones are named."""
        if len(tasks) == 1:
            self.report.errors.append(Problem(first.code, first.message, doc_id=tasks[0]["meta"]["doc_id"]))
            return
        for t in tasks:
            try:
                ids = self.client.import_tasks(self.project_id, [t])
                self._landed([t], ids)
            except LabelStudioRejected as e:
                self.report.errors.append(Problem(e.code, e.message, doc_id=t["meta"]["doc_id"]))
            except LabelStudioUnavailable as e:
                self.uncertain = True
                self.client.budget.wait(self.backoff, e)
                rest = self._not_landed([t])
                if rest:
                    self.send(rest)


# ---------------------------------------------------------------- the workflow


def select_docs(store: Any, version: int, where: Callable[[Any], bool], limit: int | None) -> Iterator[Any]:
    """The selected documents, in store order: ``list_docs`` rows (no texts) when the filter allows,
    else full articles. Texts are read only for what is actually pushed (a re-push reads none)."""
    light = getattr(where, "fields", set()) <= INDEX_FIELDS
    source = store.list_docs(version) if light else store.iter_articles(version, batch_size=500)
    n = 0
    for doc in source:
        if limit is not None and n >= limit:
            return
        if where(doc):
            n += 1
            yield doc


def push(
    client: LSClient,
    store: Any,
    project: str,
    *,
    version: int | str | None = None,
    where: Iterable[str] | None = None,
    limit: int | None = None,
    preannotator: PreAnnotator | None = None,
    update_changed: bool = False,
    batch_size: int = 2000,
    overlap: float | None = None,
    annotators_per_task: int | None = None,
    progress: Callable[[int], None] | None = None,
    doc_ids: Iterable[str] | None = None,
    order: str = "store",
) -> PushReport:
    """Push the selected articles of a corpus version to the project ``project`` (created if needed).

    ``doc_ids`` restricts the selection to those documents (``corpus push --annotations`` pushes
    the documents its records need this way).
    """
    if limit is not None and limit < 0:
        raise UsageError("limit must be >= 0")
    if order not in ORDERS:
        raise UsageError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if order == "uncertainty" and preannotator is None:
        raise UsageError("order 'uncertainty' needs predictions (a pre-annotator) to rank the tasks by")
    if overlap is not None and not 0 <= overlap <= 1:
        raise UsageError("overlap is a fraction between 0 and 1 (e.g. 0.2)")
    if annotators_per_task is not None and annotators_per_task < 1:
        raise UsageError("annotators_per_task must be >= 1")
    keep = parse_where(where)
    if doc_ids is not None:
        wanted = set(doc_ids)
        keep = Where((lambda a: _field(a, "doc_id") in wanted, *keep.tests), keep.fields | {"doc_id"})
    corpus_version = store.resolve_version(version)
    tax = taxonomy.load()
    settings: dict[str, Any] = {}
    if annotators_per_task is not None:
        settings["maximum_annotations"] = annotators_per_task
    if overlap is not None:
        settings["overlap_cohort_percentage"] = int(round(overlap * 100))
        settings.setdefault("maximum_annotations", 2)
    with ProjectLock(client.url, project):
        return _push_locked(
            client, store, project, tax, settings, corpus_version, keep, limit, preannotator, update_changed,
            batch_size, progress, order,
        )  # fmt: skip


def _push_locked(
    client: LSClient,
    store: Any,
    project: str,
    tax: Any,
    settings: dict[str, Any],
    corpus_version: int,
    keep: Callable[[Any], bool],
    limit: int | None,
    preannotator: PreAnnotator | None,
    update_changed: bool,
    batch_size: int,
    progress: Callable[[int], None] | None,
    order: str,
) -> PushReport:
    proj, action = ensure_project(
        client,
        project,
        taxonomy.labelstudio_config(tax),
        instruction=taxonomy.expert_instruction(tax),
        settings=settings,
    )
    report = PushReport(
        project_id=int(proj["id"]),
        project_action=action,
        corpus_version=corpus_version,
        taxonomy_version=str(tax.version),
    )
    planned = [0]  # documents to push (counted as they are planned)
    try:
        _push_planned(
            client, store, report, proj, action, corpus_version, tax, keep, limit, preannotator, update_changed,
            batch_size, progress, planned, order,
        )  # fmt: skip
    except RetryBudgetSpent as e:
        report.complete = False
        report.left = max(
            0,
            planned[0]
            - report.pushed
            - report.skipped_late
            - sum(1 for x in report.errors if x.doc_id and "prediction" not in x.code),
        )
        report.stopped = e.message
        e.report = report.to_dict()
        raise
    return report


def _push_planned(
    client: LSClient,
    store: Any,
    report: PushReport,
    proj: dict[str, Any],
    action: str,
    corpus_version: int,
    tax: Any,
    keep: Callable[[Any], bool],
    limit: int | None,
    preannotator: PreAnnotator | None,
    update_changed: bool,
    batch_size: int,
    progress: Callable[[int], None] | None,
    planned: list[int],
    order: str = "store",
) -> None:
    cache = IndexCache(client, proj)
    index = cache.load(new_project=action == "created")
    importer = Importer(client, report.project_id, index, report)
    predictor = Predictor(preannotator, tax, report) if preannotator is not None else None
    ranked = RankedTasks() if order == "uncertainty" else None

    def send(articles: list[Article]) -> None:
        tasks = []
        batch_preds = predictor.predictions_for_batch(articles) if predictor is not None else None
        for k, art in enumerate(articles):
            task = make_task(art, corpus_version, str(tax.version), tax.text)
            if batch_preds is not None:
                preds = batch_preds[k]
                if preds:
                    task["predictions"] = preds
                    report.predictions += len(preds)
            tasks.append(task)
        if tasks and ranked is not None:
            ranked.add(tasks)
        elif tasks:
            importer.send(tasks)
        if progress is not None:
            progress(len(articles))

    # Plan: decide per document from (doc_id, text hash) alone; texts are not needed for that.
    to_push: list[Any] = []  # doc ids (or whole articles when the filter needed them)
    for doc in select_docs(store, corpus_version, keep, limit):
        doc_id, sha = _field(doc, "doc_id"), _field(doc, "text_sha256")
        if index.has(doc_id, sha):
            report.skipped += 1
        elif doc_id in index.hashes and not update_changed:
            report.changed += 1
            report.changed_doc_ids.append(doc_id)
        else:
            if doc_id in index.hashes:
                report.changed += 1
                report.changed_doc_ids.append(doc_id)
            planned[0] += 1
            if isinstance(doc, Article):
                to_push.append(doc)
                if len(to_push) >= batch_size:
                    send(to_push)
                    to_push = []
                continue
            to_push.append(doc_id)
            continue
        if progress is not None:
            progress(1)
    if to_push and isinstance(to_push[0], Article):
        send(to_push)
    elif len(to_push) <= 2 * batch_size:
        # A few documents: fetch them by id.
        for i in range(0, len(to_push), batch_size):
            ids = to_push[i : i + batch_size]
            loaded = store.get_many(ids, corpus_version)
            send([loaded[d] for d in ids if d in loaded])
    else:
        # Many: one streaming pass over the version is cheaper than lookups by id.
        wanted = set(to_push)
        batch: list[Article] = []
        for art in store.iter_articles(corpus_version, batch_size=500):
            if art.doc_id in wanted:
                batch.append(art)
                if len(batch) >= batch_size:
                    send(batch)
                    batch = []
        if batch:
            send(batch)
    if ranked is not None:
        for tasks in ranked.batches(batch_size):
            importer.send(tasks)
    cache.save(index, changed=importer.batches_done > 0, certain=not importer.uncertain)
    if isinstance(preannotator, JsonlPredictions):
        report.errors.extend(preannotator.errors)


# ---------------------------------------------------------------- demo: accept predictions

MACHINE_ANNOTATOR = _MACHINE_ANNOTATOR  # named in corpus.core.model (the release reads it too)


def accept_predictions(client: LSClient, project: str) -> dict[str, int]:
    """Demo only: turn each unannotated task's latest prediction into an annotation.

    The annotation is made by a dedicated user, ``MACHINE_ANNOTATOR``, with ``parent_prediction``
    set, so a pull shows it as machine-made (annotator = the bot, ``meta.parent_prediction``) and
    nobody mistakes it for human work. Tasks that already have an annotation are left alone, so a
    second run adds nothing.
    """
    proj = client.find_project(project)
    if proj is None:
        raise LabelStudioError(f"no Label Studio project titled {project!r}", hint="run `corpus push` first")
    bot = client.create_user(MACHINE_ANNOTATOR, secrets.token_urlsafe(24), first_name="prediction", last_name="bot")
    counts = {"accepted": 0, "already_annotated": 0, "without_prediction": 0}
    for task_id, _meta in client.task_meta(int(proj["id"])):
        task = client.get_task(task_id)
        if task.get("total_annotations") or task.get("annotations"):
            counts["already_annotated"] += 1
            continue
        preds = client.predictions(task_id)
        if not preds:
            counts["without_prediction"] += 1
            continue
        latest = max(preds, key=lambda p: p.get("id") or 0)
        client.create_annotation(
            task_id,
            latest.get("result") or [],
            completed_by=int(bot["id"]),
            lead_time=0.0,
            parent_prediction=int(latest["id"]),
        )
        counts["accepted"] += 1
    return counts
