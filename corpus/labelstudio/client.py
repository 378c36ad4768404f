"""The only module that talks to Label Studio's API (through ``label_studio_sdk`` 2.x).

Everything above it (push, pull, status, tests) gets plain dicts and lists back, and
``LabelStudioError`` with a hint instead of SDK exceptions. Written against Label Studio 1.23 /
label-studio-sdk 2.1.

Two SDK defaults are overridden on purpose:

* automatic retries are OFF for task imports: the SDK re-sends a POST after a 5xx or a dropped
  connection, and a re-sent import duplicates tasks. ``push`` does its own retry, which first
  looks at what landed;
* the HTTP client ignores proxy variables: the server is local (127.0.0.1) by design.

Waiting is bounded: a client has one ``RetryBudget`` (default ``DEFAULT_RETRY_BUDGET`` seconds) for
the whole command. A call that can be repeated safely (reads, PATCHes, export downloads) is
retried with backoff while the budget lasts; a call that must not be repeated blindly (imports,
creating annotations / predictions / users / projects) is not retried here, its caller decides
(``push`` first looks at what landed). Time spent in failed calls and in waiting is charged to
the budget; once it is spent, ``RetryBudgetSpent`` (an ``EnvironmentProblem``, exit 3) ends the
command, which reports what it did; a rerun resumes.

The token is handed to the SDK and never appears in messages or logs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from corpus.core import atomic
from corpus.core.display import redact_url
from corpus.core.errors import LabelStudioError, LabelStudioRejected, LabelStudioUnavailable
from corpus.labelstudio.server import connection_settings

NO_RETRY = {"max_retries": 0}
DEFAULT_RETRY_BUDGET = 60.0  # seconds a command may spend waiting for a server that does not answer
MIN_REQUEST_TIMEOUT = 1.0  # a request gets at least this long, even when the budget is (nearly) spent


class RetryBudgetSpent(LabelStudioUnavailable):
    """Label Studio did not answer within the retry budget. ``report`` (set by the command that
    stopped) says what was done and what is left."""

    code = "E503"

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.report: dict[str, Any] | None = None


class RetryBudget:
    """Seconds one command may spend on a Label Studio that fails, in total, across all calls."""

    def __init__(self, seconds: float = DEFAULT_RETRY_BUDGET):
        if seconds < 0:
            raise ValueError("retry_budget must be >= 0 seconds")
        self.seconds = float(seconds)
        self.spent = 0.0

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self.spent)

    def charge(self, seconds: float) -> None:
        self.spent += max(0.0, seconds)

    def wait(self, delay: float, error: LabelStudioUnavailable) -> None:
        """Sleep ``delay`` (at most what is left) before a retry; once the budget is spent, raise
        ``RetryBudgetSpent`` carrying the last error."""
        if self.left <= 0:
            raise RetryBudgetSpent(
                f"gave up after {self.seconds:g} s of retries (the retry budget): {error.message}",
                hint="start Label Studio again (corpus labelstudio start) and run the same command: it "
                "resumes where it stopped; a bigger retry budget (retry_budget, in seconds) waits longer",
            ) from None
        d = min(delay, self.left)
        time.sleep(d)
        self.charge(d)


def _detail(e: ApiError) -> str:
    body = e.body
    if isinstance(body, dict):
        for key in ("validation_errors", "detail", "label_config", "message"):
            if key in body:
                return f"{body[key]}"
        return json.dumps(body, ensure_ascii=False)[:1500]
    return str(body)[:1500]


class LSClient:
    """A connection to one Label Studio server.

    ``sdk`` is the underlying ``label_studio_sdk.LabelStudio`` client, for tests and one-off calls.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 300,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
    ):
        self.budget = RetryBudget(retry_budget)
        if url is None or token is None:
            env_url, env_token = connection_settings()
            url, token = url or env_url, token or env_token
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.display_url = redact_url(self.url)  # for messages: never the password of a user:pass@ URL
        self._http = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=True)
        self.sdk = LabelStudio(base_url=self.url, api_key=token, httpx_client=self._http, timeout=timeout)

    def __repr__(self) -> str:
        return f"LSClient({self.display_url!r})"

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------ plumbing

    def _call(self, what: str, fn, *args, _retry: bool = True, **kwargs):
        """Run one SDK call, translating its failures into LabelStudioError; a call that may be
        repeated (``_retry``; not one sent with ``NO_RETRY``) is retried within the budget."""
        retry = _retry and kwargs.get("request_options") is not NO_RETRY
        attempt = 0
        while True:
            self._bound_timeout()
            t0 = time.monotonic()
            try:
                return self._call_once(what, fn, *args, **kwargs)
            except LabelStudioUnavailable as e:
                self.budget.charge(time.monotonic() - t0)
                if not retry:
                    raise
                attempt += 1
                self.budget.wait(min(0.25 * 2**attempt, 5.0), e)

    def request_timeout(self) -> float:
        """Seconds the next request may take: the HTTP timeout, but never more than the retry
        budget has left (and at least ``MIN_REQUEST_TIMEOUT``)."""
        return min(self.timeout, max(self.budget.left, MIN_REQUEST_TIMEOUT))

    def _bound_timeout(self) -> None:
        t = self.request_timeout()
        self.sdk._client_wrapper._timeout = t  # the SDK asks its wrapper for each request's timeout
        self._http.timeout = httpx.Timeout(t)

    def _call_once(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ApiError as e:
            if e.status_code == 401:
                raise LabelStudioError(
                    f"Label Studio at {self.display_url} rejected the API token ({what})",
                    hint="check LABEL_STUDIO_API_KEY (or the token in the newscorpus config file); a data dir "
                    "keeps the token it was first started with",
                ) from None
            if e.status_code is None or e.status_code >= 500 or e.status_code == 429:
                raise LabelStudioUnavailable(
                    f"Label Studio failed to {what}: HTTP {e.status_code}: {_detail(e)}"
                ) from None
            raise LabelStudioRejected(
                f"Label Studio refused to {what}: HTTP {e.status_code}: {_detail(e)}", status=e.status_code
            ) from None
        except httpx.TransportError as e:
            raise LabelStudioUnavailable(
                f"cannot reach Label Studio at {self.display_url} ({what}): {type(e).__name__}",
                hint="start it with `corpus labelstudio start` (or `make labelstudio`), or set LABEL_STUDIO_URL",
            ) from None

    def _raw(self, method: str, path: str, *, what: str, retries: bool = True, **kwargs) -> Any:
        """A plain API request for endpoints the SDK does not wrap (drafts, task listing by fields)."""
        idempotent = retries and method in ("GET", "PATCH", "PUT", "DELETE")
        opts = None if idempotent else NO_RETRY  # the SDK would repeat a POST on a 5xx too

        def go():
            r = self.sdk._client_wrapper.httpx_client.request(path, method=method, request_options=opts, **kwargs)
            if r.status_code >= 400:
                try:
                    body = r.json()
                except ValueError:
                    body = r.text
                raise ApiError(status_code=r.status_code, headers=dict(r.headers), body=body)
            return r.json() if r.content else None

        return self._call(what, go, _retry=idempotent)

    @staticmethod
    def _dump(obj: Any) -> dict[str, Any]:
        return obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)

    # ------------------------------------------------------------ users

    def whoami(self) -> dict[str, Any]:
        return self._dump(self._call("identify the API user", self.sdk.users.whoami))

    def users(self) -> list[dict[str, Any]]:
        return [self._dump(u) for u in self._call("list users", self.sdk.users.list)]

    def create_user(self, email: str, password: str, *, first_name: str = "", last_name: str = "") -> dict[str, Any]:
        """A user in the server's organization (POST /api/users/); returns it, or the existing one."""
        for u in self.users():
            if u.get("email") == email:
                return u
        u = self._call(
            f"create user {email}",
            self.sdk.users.create,
            username=email.split("@")[0],
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            _retry=False,
        )
        return self._dump(u)

    # ------------------------------------------------------------ projects

    PROJECT_FIELDS = (
        "id",
        "title",
        "label_config",
        "created_at",
        "expert_instruction",
        "show_instruction",
        "maximum_annotations",
        "overlap_cohort_percentage",
        "task_number",
    )

    def find_project(self, title: str, fields: Iterable[str] | None = PROJECT_FIELDS) -> dict[str, Any] | None:
        """The project with exactly this title (the oldest when several share it).

        The title filter of the API is a substring match, so results are checked and paged.
        Only ``fields`` are asked for (None: all): the full record makes the server count
        things, which costs more than the rest of a re-push.
        """
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._raw(
                "GET",
                "api/projects",
                what=f"find project {title!r}",
                params={
                    "title": title,
                    "page_size": 100,
                    "page": page,
                    "ordering": "id",
                    **({"include": ",".join(fields)} if fields else {}),
                },
            )
            results = body.get("results", []) if isinstance(body, dict) else body
            found += [p for p in results if p.get("title") == title]
            if found or not isinstance(body, dict) or not body.get("next"):
                break
            page += 1
        return min(found, key=lambda p: p["id"]) if found else None

    def get_project(self, project_id: int) -> dict[str, Any]:
        """The project as Label Studio's JSON (same shape as ``find_project``)."""
        return self._raw("GET", f"api/projects/{project_id}", what=f"read project {project_id}")

    def create_project(self, title: str, label_config: str, **settings: Any) -> dict[str, Any]:
        """Create a project; returns Label Studio's JSON for it (as ``get_project`` does)."""
        return self._raw(
            "POST",
            "api/projects",
            what=f"create project {title!r}",
            retries=False,
            json={"title": title, "label_config": label_config, **settings},
        )

    def validate_label_config(self, project_id: int, label_config: str) -> None:
        """Ask Label Studio whether the project can take ``label_config`` (POST .../validate).

        This is the strict check its UI runs before saving: it refuses a config that would drop
        labels existing annotations or drafts use. A plain PATCH only logs that (LS 1.23).
        """
        self._call(
            f"accept the new labeling config for project {project_id}",
            self.sdk.projects.validate_label_config,
            project_id,
            label_config=label_config,
        )

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        self._call(f"update project {project_id}", self.sdk.projects.update, project_id, **fields)
        return self.get_project(project_id)

    def delete_project(self, project_id: int) -> None:
        self._call(f"delete project {project_id}", self.sdk.projects.delete, project_id)

    # ------------------------------------------------------------ tasks

    def task_meta(self, project_id: int, *, page_size: int = 5000) -> Iterator[tuple[int, dict[str, Any]]]:
        """(task id, task meta) of every task, without the (large) task data."""
        page = 1
        while True:
            body = self._raw(
                "GET",
                "api/tasks",
                what=f"list the tasks of project {project_id}",
                params={"project": project_id, "include": "id,meta", "page": page, "page_size": page_size},
            )
            tasks = body.get("tasks", []) if isinstance(body, dict) else body
            for t in tasks:
                yield int(t["id"]), t.get("meta") or {}
            total = body.get("total", 0) if isinstance(body, dict) else 0
            if not tasks or page * page_size >= total:
                return
            page += 1

    def task_fingerprint(self, project_id: int) -> tuple[int, int]:
        """(number of tasks, highest task id): changes whenever a task is added or deleted.

        Task ids only grow (AUTOINCREMENT), so an unchanged pair means an unchanged task set.
        One small request, instead of listing every task (about 0.5 ms per task in LS 1.23).
        """
        body = self._raw(
            "GET",
            "api/tasks",
            what=f"count the tasks of project {project_id}",
            params={
                "project": project_id,
                "include": "id",
                "page_size": 1,
                "query": json.dumps({"ordering": ["-tasks:id"]}),
            },
        )
        tasks = body.get("tasks", [])
        return int(body.get("total", 0)), int(tasks[0]["id"]) if tasks else 0

    def task_data(self, project_id: int, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every task with id, data and meta (for tasks pushed without our meta keys)."""
        page = 1
        while True:
            body = self._raw(
                "GET",
                "api/tasks",
                what=f"list the tasks of project {project_id}",
                params={"project": project_id, "include": "id,meta,data", "page": page, "page_size": page_size},
            )
            tasks = body.get("tasks", [])
            yield from tasks
            if not tasks or page * page_size >= body.get("total", 0):
                return
            page += 1

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """One import request, never retried by the SDK (a re-sent import duplicates tasks)."""
        r = self._call(
            f"import {len(tasks)} tasks into project {project_id}",
            self.sdk.projects.import_tasks,
            project_id,
            request=tasks,
            return_task_ids=True,
            request_options=NO_RETRY,
        )
        return list(r.task_ids or [])

    def get_task(self, task_id: int) -> dict[str, Any]:
        return self._dump(self._call(f"read task {task_id}", self.sdk.tasks.get, task_id))

    def predictions(self, task_id: int) -> list[dict[str, Any]]:
        return [
            self._dump(p)
            for p in self._call(f"list predictions of task {task_id}", self.sdk.predictions.list, task=task_id)
        ]

    def update_task_meta(self, task_id: int, meta: dict[str, Any]) -> None:
        """Replace a task's ``meta`` (PATCH; the caller merges with what was there)."""
        self._call(f"update the meta of task {task_id}", self.sdk.tasks.update, str(task_id), meta=meta)

    def project_predictions(self, project_id: int) -> list[dict[str, Any]]:
        """Every prediction of the project (task, model_version, result, ...), in one request."""
        return [
            self._dump(p)
            for p in self._call(
                f"list predictions of project {project_id}", self.sdk.predictions.list, project=project_id
            )
        ]

    def create_prediction(
        self, task_id: int, result: list[dict[str, Any]], *, model_version: str, score: float | None = None
    ) -> dict[str, Any]:
        """One prediction on an existing task; not retried by the SDK (a re-sent POST duplicates)."""
        kwargs: dict[str, Any] = {"task": task_id, "result": result, "model_version": model_version}
        if score is not None:
            kwargs["score"] = float(score)
        p = self._call(
            f"add a prediction to task {task_id}", self.sdk.predictions.create, **kwargs, request_options=NO_RETRY
        )
        return self._dump(p)

    def annotations(self, task_id: int) -> list[dict[str, Any]]:
        """The annotations of one task (``completed_by`` is the user id)."""
        return [
            self._dump(a) for a in self._call(f"list annotations of task {task_id}", self.sdk.annotations.list, task_id)
        ]

    # ------------------------------------------------------------ annotations (tests, demo, scripts)

    def create_annotation(
        self,
        task_id: int,
        result: list[dict[str, Any]],
        *,
        completed_by: int | None = None,
        lead_time: float | None = None,
        was_cancelled: bool = False,
        ground_truth: bool = False,
        parent_prediction: int | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"result": result, "was_cancelled": was_cancelled, "ground_truth": ground_truth}
        if parent_prediction is not None:
            kwargs["parent_prediction"] = parent_prediction
        if completed_by is not None:
            kwargs["completed_by"] = completed_by
        if lead_time is not None:
            kwargs["lead_time"] = lead_time
        # never repeated, by us or by the SDK (which retries a 5xx by default): a POST whose response
        # was lost may have landed, and a repeat would give the annotator a second annotation
        a = self._call(
            f"annotate task {task_id}", self.sdk.annotations.create, task_id, request_options=NO_RETRY, **kwargs
        )
        return self._dump(a)

    def create_draft(
        self, task_id: int, result: list[dict[str, Any]], *, lead_time: float | None = None
    ) -> dict[str, Any]:
        """A draft of the API user (POST /api/tasks/{id}/drafts: the SDK has no wrapper for it)."""
        body: dict[str, Any] = {"result": result}
        if lead_time is not None:
            body["lead_time"] = lead_time
        return self._raw("POST", f"api/tasks/{task_id}/drafts", what=f"save a draft on task {task_id}", json=body)

    # ------------------------------------------------------------ export

    def export_snapshot(
        self, project_id: int, dest: Path, *, title: str = "newscorpus pull", timeout: float = 600
    ) -> dict[str, Any]:
        """Create a snapshot export of ALL tasks (with drafts, predictions and their results, annotators) into ``dest``.

        Cancelled (skipped) annotations are included so they can be counted; the caller filters.
        Returns the export record (id, status, counters). The file is streamed, not held in memory.
        """
        ex = self._call(
            f"export project {project_id}",
            self.sdk.projects.exports.create,
            project_id,
            title=title,
            serialization_options={
                "drafts": {"only_id": False},
                "predictions": {"only_id": False},  # pull compares annotations with their parent prediction
                "annotations__completed_by": {"only_id": False},
                "include_annotation_history": False,
            },
            annotation_filter_options={"usual": True, "ground_truth": True, "skipped": True},
        )
        deadline = time.monotonic() + timeout
        while str(getattr(ex, "status", "")) not in ("completed", "failed"):
            if time.monotonic() > deadline:
                raise LabelStudioError(f"export {ex.id} of project {project_id} did not finish in {timeout:.0f} s")
            time.sleep(0.5)
            ex = self._call(f"check export {ex.id}", self.sdk.projects.exports.get, project_id, ex.id)
        if str(ex.status) == "failed":
            raise LabelStudioError(f"Label Studio could not export project {project_id} (export {ex.id} failed)")
        dest.parent.mkdir(parents=True, exist_ok=True)

        def download():
            with atomic.atomic_open(dest, "wb") as f:
                for chunk in self.sdk.projects.exports.download(project_id, ex.id, export_type="JSON"):
                    f.write(chunk)

        self._call(f"download export {ex.id}", download)
        return self._dump(ex)


def iter_export(path: Path, *, chunk_size: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """Tasks of a downloaded JSON export, one at a time (memory: one task, not the export)."""
    dec = json.JSONDecoder()
    bad = LabelStudioError(f"unexpected export format in {path}: expected a JSON list of task objects")
    with open(path, encoding="utf-8") as f:
        buf, pos, eof = "", 0, False

        def fill() -> None:
            nonlocal buf, pos, eof
            more = f.read(chunk_size)
            eof = eof or not more
            buf, pos = buf[pos:] + more, 0

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or eof:
                    return
                fill()

        fill()
        skip_ws()
        if buf[pos : pos + 1] != "[":
            raise bad
        pos += 1
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                raise LabelStudioError(f"export {path} is truncated")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise bad
                pos += 1
                skip_ws()
            first = False
            if buf[pos : pos + 1] != "{":
                raise bad
            while True:
                try:
                    obj, pos = dec.raw_decode(buf, pos)  # an object only decodes once complete
                    break
                except json.JSONDecodeError:
                    if eof:
                        raise LabelStudioError(f"export {path} is truncated or not JSON") from None
                    fill()
            yield obj


def read_export(path: Path) -> list[dict[str, Any]]:
    """All tasks of a downloaded JSON export (small exports; pull streams with iter_export)."""
    return list(iter_export(path))


# ---------------------------------------------------------------- another project's labeling config


def parse_label_config(xml: str, title: str = "labelstudio") -> Any:
    """A labeling config -> :class:`corpus.core.scheme.LabelScheme`, read by Label Studio's own
    parser (``LabelInterface``). Raises ``UsageError`` when it is not a config of a text project."""
    from label_studio_sdk.label_interface import LabelInterface

    from corpus.core.errors import UsageError
    from corpus.core.scheme import ChoicesControl, LabelScheme, LabelsControl

    try:
        li = LabelInterface(xml)
    except Exception as e:  # noqa: BLE001 - lxml / SDK errors of a bad config
        raise UsageError(
            f"the label config cannot be parsed: {type(e).__name__}: {str(e)[:200]}",
            hint="give the project's labeling config XML (Settings > Labeling Interface > Code)",
        ) from e
    texts = [o for o in li.objects if o.tag == "Text"]
    if not texts:
        raise UsageError("the label config has no <Text> object: only text projects can be read")
    labels_ctrls = [c for c in li.controls if c.tag == "Labels"]
    target = next((t for t in texts if any(t.name in (c.to_name or []) for c in labels_ctrls)), texts[0])
    value = str(target.value or "")
    key = value[1:] if value.startswith("$") else target.name

    def on_text(c: Any) -> bool:
        return target.name in (c.to_name or [])

    labels = tuple(LabelsControl(c.name, target.name, tuple(c.labels or ())) for c in labels_ctrls if on_text(c))
    choices = []
    for c in li.controls:
        if c.tag != "Choices" or not on_text(c):
            continue
        when = c.attr.get("whenLabelValue")
        choices.append(
            ChoicesControl(
                c.name,
                target.name,
                tuple(c.labels or ()),
                str(c.attr.get("perRegion", "")).lower() == "true",
                when if when and "," not in when else None,
                str(c.attr.get("required", "")).lower() == "true",
            )
        )
    known = {c.name for c in labels_ctrls} | {c.name for c in li.controls if c.tag == "Choices"}
    relations = tuple(str(e.get("value")) for e in li._tree.iter("Relation") if e.get("value"))
    has_tag = any(True for _ in li._tree.iter("Relations"))
    return LabelScheme(
        text_name=target.name,
        text_key=key,
        labels=labels,
        choices=tuple(choices),
        relations=relations,
        has_relations_tag=has_tag,
        other_controls=tuple(c.name for c in li.controls if c.name not in known),
        title=title,
    )


def project_label_config(client: LSClient, title: str) -> str:
    """The labeling config XML of the project called ``title`` (``corpus validate --project``)."""
    from corpus.core.errors import UsageError

    proj = client.find_project(title, fields=("id", "title", "label_config"))
    if proj is None:
        raise UsageError(f"no Label Studio project called {title!r}", hint="check the title (corpus status lists them)")
    return str(proj.get("label_config") or "")
