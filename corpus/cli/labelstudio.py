"""Label Studio commands: labelstudio start/stop/status, push, pull, status, accept-predictions."""

from __future__ import annotations

import click

from corpus.cli.app import Outcome, command, main
from corpus.cli.options import (
    annotations_option,
    echo_problems,
    emit_json,
    json_option,
    predictions_option,
    progress_enabled,
    store_option,
    version_option,
    where_option,
)
from corpus.core.errors import UsageError

# ================================================================ Label Studio: labelstudio, push, pull, status

retry_budget_option = click.option(
    "--retry-budget",
    "retry_budget",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Total time to wait for a Label Studio that does not answer, over all requests; then stop, "
    "report what was done and exit 3 (a rerun resumes).",
)


class _reporting_stop:
    """Around a library call: when it stops on ``exc`` (the retry budget), print its report, then
    let the error go on to the exit ladder (exit 3)."""

    def __init__(self, exc: type[BaseException], as_json: bool):
        self.exc, self.as_json = exc, as_json

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: object) -> None:
        if e is not None and isinstance(e, self.exc):
            _stopped(e, self.as_json)


def _stopped(e, as_json: bool) -> None:
    """A command stopped by its retry budget: say what was done and what is left (with --json
    the report goes into the one JSON object ``cli.app`` prints for the error)."""
    if e.report is None:
        e.report = {"complete": False, "stopped": e.message}
    rep = e.report
    if not as_json:
        done = {k: rep[k] for k in ("pushed", "skipped", "sent", "written") if k in rep}
        click.echo(
            "Stopped early: " + ", ".join(f"{k} {v}" for k, v in done.items()) + f"; left {rep.get('left', '?')}",
            err=True,
        )


ls_data_dir_option = click.option(
    "--data-dir",
    envvar="CORPUS_LS_DATA_DIR",
    default="data/labelstudio",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Label Studio data directory (database, media, pid file, log). Env: CORPUS_LS_DATA_DIR.",
)


@main.group("labelstudio")
def labelstudio_group() -> None:
    """Run a local Label Studio server (127.0.0.1 only) for annotation."""


@labelstudio_group.command("start")
@click.option("--port", type=int, envvar="CORPUS_LS_PORT", default=8080, show_default=True, help="Port on 127.0.0.1.")
@ls_data_dir_option
@click.option("--timeout", type=float, default=180, show_default=True, help="Seconds to wait for /health.")
@click.option("--reuse", is_flag=True, help="If it already runs for this data dir, say where and succeed.")
@click.option(
    "--database",
    type=click.Choice(["sqlite", "postgresql"]),
    envvar="CORPUS_LS_DATABASE",
    default="sqlite",
    show_default=True,
    help="sqlite for trials; postgresql (a cluster under the data dir, system PostgreSQL) for a team. "
    "Env: CORPUS_LS_DATABASE.",
)
@click.option(
    "--label-studio-bin",
    "label_studio_bin",
    default=None,
    type=click.Path(dir_okay=False),
    help="The label-studio executable (default: CORPUS_LABEL_STUDIO_BIN, else label-studio on PATH).",
)
@json_option
def labelstudio_start(
    port: int, data_dir: str, timeout: float, reuse: bool, database: str, label_studio_bin: str | None, as_json: bool
) -> None:
    """Start Label Studio and wait until it answers; print the URL and how to log in."""
    from corpus.labelstudio import server as lsserver

    running = lsserver.status(data_dir)
    if reuse and running["running"] and running["healthy"]:
        lsserver.remember_url(running["url"])
        if as_json:
            emit_json({**running, "reused": True})
        else:
            click.echo(f"Label Studio is already running at {running['url']} (pid {running['pid']})")
        return
    binary = lsserver.find_binary(label_studio_bin)
    creds = lsserver.load_credentials()
    notify = None if as_json else (lambda msg: click.echo(msg, err=True))
    info = lsserver.start(data_dir, port, creds=creds, binary=binary, timeout=timeout, notify=notify, database=database)
    lsserver.remember_url(info.url)
    if as_json:
        emit_json({**info.to_dict(), "username": creds.username, "credentials_from": creds.origin})
        return
    where = (
        "LABEL_STUDIO_PASSWORD / LABEL_STUDIO_USER_TOKEN in your environment"
        if creds.origin == "environment"
        else f'{creds.origin} (keys "password" and "token", file mode 600)'
    )
    click.echo(f"Label Studio is running at {info.url}  (pid {info.pid}, data {info.data_dir}, {info.database})")
    click.echo(f"  Log in as {creds.username}; the password and the API token are in {where}.")
    click.echo(f"  Log: {info.log}")
    click.echo("  Stop it with `corpus labelstudio stop` (or `make labelstudio-stop`).")


@labelstudio_group.command("stop")
@ls_data_dir_option
@json_option
def labelstudio_stop(data_dir: str, as_json: bool) -> None:
    """Stop the server started for the data directory (only that process)."""
    from corpus.labelstudio import server as lsserver

    result = lsserver.stop(data_dir)
    if as_json:
        emit_json(result)
    elif result["stopped"]:
        click.echo(f"Stopped Label Studio (pid {result['pid']}, {result.get('url')})")
    else:
        click.echo(f"Nothing to stop: {result['reason']}")


@labelstudio_group.command("status")
@ls_data_dir_option
@json_option
def labelstudio_status(data_dir: str, as_json: bool) -> None:
    """Say whether the server of the data directory runs and answers /health."""
    from corpus.labelstudio import server as lsserver

    st = lsserver.status(data_dir)
    if as_json:
        emit_json(st)
    elif st["running"]:
        health = "healthy" if st["healthy"] else "NOT answering /health"
        click.echo(f"Label Studio is running at {st['url']} (pid {st['pid']}, {health}, up {st['uptime_s']} s)")
    else:
        click.echo(f"Label Studio is not running for {st['data_dir']}")


def _ls_progress(as_json: bool, total: int | None, what: str):
    """A rich progress bar on a terminal (stderr), or a no-op."""
    import contextlib

    if not progress_enabled(as_json):
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    @contextlib.contextmanager
    def bar():
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as p:
            task = p.add_task(what, total=total)
            yield lambda n=1: p.advance(task, n)

    return bar()


@command("push")
@click.option("--project", required=True, help="Label Studio project title (created when missing).")
@store_option
@version_option
@where_option
@click.option("--limit", type=int, default=None, help="Push at most N (selected) articles.")
@predictions_option()
@click.option("--update-changed", is_flag=True, help="Also push the new revision of articles whose text changed.")
@click.option(
    "--order",
    type=click.Choice(["store", "uncertainty"]),
    default="store",
    show_default=True,
    help="Task order: as stored, or `uncertainty` (with --predictions): the tasks whose predictions the model "
    "is least sure of (lowest score) first.",
)
@click.option("--overlap", type=float, default=None, help="Fraction of tasks annotated by several people (e.g. 0.2).")
@click.option("--annotators-per-task", type=int, default=None, help="Annotations wanted on overlapping tasks.")
@click.option(
    "--batch-size",
    type=int,
    default=2000,
    show_default=True,
    help="Tasks per import request (each request costs Label Studio ~0.2 s on top).",
)
@annotations_option()
@click.option(
    "--as",
    "push_as",
    type=click.Choice(["annotations", "predictions"]),
    default="annotations",
    show_default=True,
    help="With --annotations: as annotations (one Label Studio user per annotator, for "
    "review) or as predictions (model_version ORIGIN:ANNOTATOR).",
)
@click.option(
    "--conflicts",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="With --annotations: adjudication conflicts JSONL to show the reviewer (default: the "
    ".conflicts.jsonl beside each gold snapshot).",
)
@retry_budget_option
@json_option
def push_cmd(
    project,
    store,
    version,
    where,
    limit,
    predictions,
    update_changed,
    order,
    overlap,
    annotators_per_task,
    batch_size,
    annotations,
    push_as,
    conflicts,
    retry_budget,
    as_json,
) -> Outcome:
    """Push corpus articles to Label Studio as tasks (idempotent), optionally with pre-annotations.

    With --annotations: push those canonical annotation snapshots instead (e.g. from a brat import
    or adjudication); their documents are pushed first.
    """
    from corpus.labelstudio.client import LSClient, RetryBudgetSpent
    from corpus.labelstudio.push import push
    from corpus.predict.preannotate import load_preannotator
    from corpus.store.table import CorpusStore

    if batch_size < 1:
        raise UsageError("--batch-size must be >= 1")
    if annotations:
        return _push_annotation_snapshots(
            project,
            store,
            version,
            annotations,
            push_as,
            conflicts,
            update_changed,
            bool(
                where
                or limit is not None
                or predictions
                or order != "store"
                or overlap is not None
                or annotators_per_task is not None
            ),
            as_json,
            retry_budget,
        )
    st = CorpusStore(store)
    pre = load_preannotator(predictions)
    client = LSClient(retry_budget=retry_budget)
    total = None
    if progress_enabled(as_json) and not where:
        total = st.count(version)
        total = min(total, limit) if limit is not None else total
    with _ls_progress(as_json, total, f"push -> {project}") as advance, _reporting_stop(RetryBudgetSpent, as_json):
        report = push(
            client,
            st,
            project,
            version=version,
            where=where,
            limit=limit,
            preannotator=pre,
            update_changed=update_changed,
            batch_size=batch_size,
            order=order,
            overlap=overlap,
            annotators_per_task=annotators_per_task,
            progress=advance,
        )
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(
            f"Project {project!r} (id {report.project_id}, {report.project_action}): pushed {report.pushed}, "
            f"skipped {report.skipped} already there, {report.changed} changed since pushed"
            + ("" if update_changed or not report.changed else " (not pushed; use --update-changed)")
            + (f", {report.predictions} predictions" if pre is not None else "")
        )
        echo_problems(report.errors)
    return Outcome(report.errors)


def _push_annotation_snapshots(
    project, store, version, snapshots, push_as, conflicts, update_changed, other_flags, as_json, retry_budget
) -> Outcome:
    """`corpus push --annotations`: canonical records -> annotations or predictions (corpus.labelstudio.push_annotations)."""
    from corpus.labelstudio.client import LSClient, RetryBudgetSpent
    from corpus.labelstudio.push_annotations import push_annotations
    from corpus.store.table import CorpusStore

    if other_flags:
        raise UsageError(
            "--annotations pushes the documents its records need; --where, --limit, --predictions, "
            "--overlap and --annotators-per-task do not apply to it"
        )
    with (
        _ls_progress(as_json, None, f"push annotations -> {project}") as advance,
        _reporting_stop(RetryBudgetSpent, as_json),
    ):
        rep = push_annotations(
            LSClient(retry_budget=retry_budget),
            CorpusStore(store),
            project,
            list(snapshots),
            mode=push_as,
            conflicts=conflicts,
            version=version,
            update_changed=update_changed,
            progress=advance,
        )
    if as_json:
        emit_json(rep.to_dict())
    else:
        click.echo(
            f"Project {project!r} (id {rep.project_id}): {rep.documents.get('pushed', 0)} documents pushed; "
            f"{rep.records} records: {rep.sent} sent as {push_as}, {rep.skipped} already there, "
            f"{rep.invalid} invalid, {rep.stale} not matching the corpus text"
            + (f"; {rep.conflicts_attached} conflicts shown on regions" if rep.conflicts_listed else "")
        )
        for w in rep.warnings:
            click.echo(f"Warning: {w}", err=True)
        echo_problems(rep.errors)
    return Outcome(rep.errors)


@command("pull")
@click.option("--project", required=True, help="Label Studio project title.")
@click.option(
    "--out", default=None, type=click.Path(file_okay=False), help="Snapshot directory (default annotations/PROJECT)."
)
@click.option("--include-drafts", is_flag=True, help="Also write drafts (meta.draft = true).")
@retry_budget_option
@json_option
def pull_cmd(project, out, include_drafts, retry_budget, as_json) -> Outcome:
    """Export annotations, validate them, write an immutable snapshot + manifest (+ errors report)."""
    from corpus.labelstudio.client import LSClient, RetryBudgetSpent
    from corpus.labelstudio.pull import pull

    with _reporting_stop(RetryBudgetSpent, as_json):
        report = pull(LSClient(retry_budget=retry_budget), project, out=out, include_drafts=include_drafts)
    if as_json:
        emit_json(report.to_dict())
    else:
        c = report.counts
        click.echo(
            f"Pulled project {project!r} (id {report.project_id}): {c['written']} annotations written to "
            f"{report.snapshot}; {c['invalid']} invalid, {c['cancelled']} cancelled left out, "
            f"{c['drafts']} drafts ({'included' if include_drafts else 'left out'}), "
            f"{c['offset_repairs']} offsets repaired"
        )
        if report.errors_file:
            click.echo(f"  invalid annotations and their findings: {report.errors_file}", err=True)
    return Outcome(failed=bool(report.errors_file))


@command("status")
@click.option("--project", required=True, help="Label Studio project title.")
@retry_budget_option
@json_option
def status_cmd(project, retry_budget, as_json) -> None:
    """Annotation progress: tasks, annotated, double-annotated, per annotator; pre-annotation
    acceptance per model version (predicted spans kept, edited, deleted; spans added)."""
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.pull import project_status

    st = project_status(LSClient(retry_budget=retry_budget), project)
    if as_json:
        emit_json(st)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{project} (id {st['project_id']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("tasks", "annotated", "double_annotated", "annotations", "cancelled"):
        table.add_row(key.replace("_", "-"), str(st[key]))
    table.add_row("annotators per task (overlap)", str(st["maximum_annotations"]))
    table.add_row("overlap %", str(st["overlap_cohort_percentage"]))
    for who, n in st["by_annotator"].items():
        table.add_row(f"tasks by {who}", str(n))
    Console(soft_wrap=True).print(table)
    if st.get("acceptance"):
        acc = Table(title="pre-annotation acceptance per model version (spans)")
        for col in ("model version", "tasks", "annotations", "kept", "edited", "deleted", "added", "kept %"):
            acc.add_column(col, justify="left" if col == "model version" else "right")
        for mv, a in st["acceptance"].items():
            rate = a.get("acceptance_rate")
            acc.add_row(
                mv,
                *(str(a.get(k, 0)) for k in ("tasks_with_prediction", "annotations_from_prediction")),
                *(str(a.get(k, 0)) for k in ("kept", "edited", "deleted", "added")),
                "—" if rate is None else f"{100 * rate:.1f}",
            )
        Console(soft_wrap=True).print(acc)


@command("accept-predictions")
@click.option("--project", required=True, help="Label Studio project title.")
@json_option
def accept_predictions_cmd(project, as_json) -> None:
    """Demo only: save each unannotated task's prediction as an annotation by a bot user.

    The annotations are marked machine-made (annotator prediction-bot@newscorpus.invalid,
    parent_prediction set), so they never pass for human work.
    """
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.push import MACHINE_ANNOTATOR, accept_predictions

    counts = accept_predictions(LSClient(), project)
    if as_json:
        emit_json(counts)
    else:
        click.echo(
            f"accepted {counts['accepted']} predictions as annotations by {MACHINE_ANNOTATOR} "
            f"({counts['already_annotated']} tasks already annotated, "
            f"{counts['without_prediction']} without prediction)"
        )


# ---- end of Label Studio commands
