"""Command line: flags -> library calls, errors -> exit codes. No logic lives here.

Exit codes are decided in one place (``main``): 0 success, 1 a ``CorpusError`` or some input
failed (the command says which), 2 a usage error.

Each command family lives in its own section below; shared flags are declared once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from corpus.core.errors import CorpusError, UsageError

# ---------------------------------------------------------------- shared options and helpers

store_option = click.option(
    "--store",
    envvar="CORPUS_STORE",
    default="data/corpus",
    show_default=True,
    help="Corpus store URI (any URI deltalake accepts). Env: CORPUS_STORE.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one machine-readable JSON object.")
version_option = click.option(
    "--version", "version", default=None, help="Corpus version number or tag name (default: latest)."
)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (the only thing on stdout when --json is given)."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def progress_enabled(as_json: bool) -> bool:
    """Progress bars only on a terminal, and never when stdout carries JSON."""
    return not as_json and sys.stderr.isatty()


class CorpusGroup(click.Group):
    """Turns library errors into ``Error: ...`` and the exit-code ladder, without tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(2)
        except CorpusError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(1)


@click.group(cls=CorpusGroup)
@click.version_option(package_name="newscorpus")
def main() -> None:
    """newscorpus: versioned news corpus, Label Studio annotation, Hugging Face release."""


def command(*args: Any, **kwargs: Any) -> Callable:
    return main.command(*args, **kwargs)


# ================================================================ foundation: import, log, diff, show, export, tag, vacuum

_FIELD_OPTIONS = ("text", "id", "title", "url", "date", "source", "language")


def _field_options(f: Callable) -> Callable:
    for name in reversed(_FIELD_OPTIONS):
        f = click.option(
            f"--{name}-field",
            f"{name}_field",
            default=None,
            metavar="F",
            help=f"JSONL/CSV field holding the {name} (default: common names).",
        )(f)
    return f


def _echo_errors(errors: list[dict[str, Any]], limit: int = 50) -> None:
    for e in errors[:limit]:
        where = e.get("path") or "?"
        if e.get("line") is not None:
            where += f":{e['line']}"
        click.echo(f"  error: {where}: {e.get('error')}", err=True)
    if len(errors) > limit:
        click.echo(f"  ... and {len(errors) - limit} more errors (see --json)", err=True)


def _import_summary(r: Any) -> str:
    counts = (
        f"added {r.added}, updated {r.updated}, unchanged {r.unchanged}, duplicates {r.duplicates}, "
        f"near-duplicates {r.near_duplicates}, errors {len(r.errors)}"
    )
    if r.created:
        return f"version {r.version}: {counts}"
    where = f"stays at version {r.version}" if r.version is not None else "is still empty"
    return f"nothing new, no version created (the store {where}): {counts}"


@command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "txt", "html", "jsonl", "csv", "brat"]),
    default="auto",
    show_default=True,
    help="Input format (auto: by file extension).",
)
@click.option("--source", default=None, help="Source name; prefixes source keys, so it is part of every doc id.")
@click.option("--message", "-m", default=None, help="Commit message shown by `corpus log`.")
@_field_options
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TSV/CSV joined by file name (column filename): title, publication_date, url, others to meta.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=10 * 1024 * 1024,
    show_default=True,
    help="Larger files (JSONL/CSV: records) are reported and skipped.",
)
@click.option(
    "--near-dup-threshold",
    type=click.FloatRange(0.01, 1.0),
    default=0.9,
    show_default=True,
    help="MinHash Jaccard similarity from which an article is flagged as a near-duplicate.",
)
@click.option("--annotations-out", default=None, help="brat only: write the .ann files as a snapshot here.")
@click.option("--mapping", default=None, help="brat only: brat-to-taxonomy mapping file (default: PolNeAR).")
@store_option
@json_option
def import_cmd(
    paths,
    fmt,
    source,
    message,
    text_field,
    id_field,
    title_field,
    url_field,
    date_field,
    source_field,
    language_field,
    metadata,
    max_bytes,
    near_dup_threshold,
    annotations_out,
    mapping,
    store,
    as_json,
) -> None:
    """Import articles (files, directories) into the corpus as one new version.

    Bad items are reported (path and line) and skipped; the good ones are committed.
    Exit code 1 when anything failed.
    """
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    if fmt == "brat":
        from corpus.annotations.brat import import_brat  # lazily: brat pulls in the annotation model

        target = paths[0] if len(paths) == 1 else list(paths)
        ireport, breport = import_brat(
            target,
            st,
            source=source,
            annotations_out=annotations_out,
            mapping=mapping,
            message=message,
            progress=progress_enabled(as_json),
        )
        errors = list(ireport.errors) + [e for e in breport.to_dict().get("errors", [])]
        if as_json:
            emit_json({**ireport.to_dict(), "brat": breport.to_dict()})
        else:
            click.echo(_import_summary(ireport))
            b = breport.to_dict()
            click.echo(
                f"brat: {b.get('annotations', 0)} annotations" + (f" -> {b['snapshot']}" if b.get("snapshot") else "")
            )
            _echo_errors(errors)
        if errors:
            sys.exit(1)
        return
    if annotations_out or mapping:
        raise UsageError("--annotations-out and --mapping only apply to --format brat")
    from corpus.ingest.importer import import_paths

    field_map = {
        k: v
        for k, v in {
            "text": text_field,
            "id": id_field,
            "title": title_field,
            "url": url_field,
            "published": date_field,
            "source": source_field,
            "language": language_field,
        }.items()
        if v
    }
    report = import_paths(
        paths,
        st,
        fmt=fmt,
        source=source,
        message=message,
        field_map=field_map,
        progress=progress_enabled(as_json),
        metadata=metadata,
        max_bytes=max_bytes,
        threshold=near_dup_threshold,
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(_import_summary(report))
        for d in report.duplicate_of[:10]:
            click.echo(f"  duplicate: {d['source_key']} = {d['duplicate_of']} (not added)")
        for d in report.near_duplicate_of[:10]:
            click.echo(
                f"  near-duplicate: {d['source_key']} ({d['doc_id']}) ~ {d['similar_to']} "
                f"(similarity {d['similarity']:.2f}, cluster {d['cluster']})"
            )
        _echo_errors(report.errors)
    if report.errors:
        sys.exit(1)


@command("log")
@store_option
@json_option
def log_cmd(store, as_json) -> None:
    """List corpus versions: number, time, message, counts, tags."""
    from corpus.store.table import CorpusStore

    versions = CorpusStore(store).history()
    if as_json:
        emit_json({"versions": [v.to_dict() for v in versions]})
        return
    for v in reversed(versions):
        c = v.counts
        counts = ", ".join(
            f"{k.replace('_', '-')} {c[k]}"
            for k in ("added", "updated", "duplicates", "near_duplicates", "unchanged", "errors")
            if k in c
        )
        tags = f" [{', '.join(v.tags)}]" if v.tags else ""
        click.echo(f"version {v.version}{tags}  {v.timestamp}  {v.operation}")
        if v.message:
            click.echo(f"    {v.message}")
        if counts:
            click.echo(f"    {counts}")


@command("diff")
@click.argument("version_a")
@click.argument("version_b", required=False)
@store_option
@json_option
def diff_cmd(version_a, version_b, store, as_json) -> None:
    """Doc ids added, updated and removed between two versions (B default: latest)."""
    from corpus.store.table import CorpusStore

    d = CorpusStore(store).diff(version_a, version_b)
    if as_json:
        emit_json(d.to_dict())
        return
    click.echo(
        f"{d.version_a} -> {d.version_b}: {len(d.added)} added, {len(d.updated)} updated, {len(d.removed)} removed"
    )
    for name, ids in (("+", d.added), ("~", d.updated), ("-", d.removed)):
        for i in ids:
            click.echo(f"{name} {i}")


@command("show")
@click.argument("doc_id")
@version_option
@store_option
@json_option
def show_cmd(doc_id, version, store, as_json) -> None:
    """Show one stored article (at a version)."""
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    n = st.resolve_version(version)
    a = st.get(doc_id, n)
    if a is None:
        raise _not_found(doc_id, n)
    if as_json:
        emit_json({"version": n, **a.to_dict()})
        return
    click.echo(f"doc_id:      {a.doc_id}  (version {n})")
    for k in ("title", "source", "url", "published", "language", "text_sha256"):
        if getattr(a, k):
            click.echo(f"{k + ':':<12} {getattr(a, k)}")
    for k, v in sorted(a.meta.items()):
        click.echo(f"meta.{k}: {v}")
    click.echo("")
    click.echo(a.text)


def _not_found(doc_id: str, version: int) -> CorpusError:
    from corpus.core.errors import StoreError

    return StoreError(f"no article {doc_id!r} at version {version}", hint="list ids with: corpus ls")


@command("ls")
@version_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N articles.")
@store_option
@json_option
def ls_cmd(version, limit, store, as_json) -> None:
    """List the articles of a version: doc id, title (and near-duplicate cluster)."""
    import itertools

    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    n = st.resolve_version(version)
    docs = itertools.islice(st.list_docs(n), limit)
    if as_json:
        emit_json({"version": n, "docs": list(docs)})
        return
    for d in docs:
        cluster = f"  [near-dup of {d['near_dup_cluster']}]" if d.get("near_dup_cluster") else ""
        click.echo(f"{d['doc_id']}  {d.get('title') or ''}{cluster}")


@command("export")
@version_option
@click.option(
    "--out", required=True, type=click.Path(), help="Output: FILE.jsonl, FILE.parquet, or a directory (brat)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet", "brat"]),
    default=None,
    help="Default: from the --out file extension.",
)
@click.option("--annotations", multiple=True, help="brat: the annotation snapshot(s) to export.")
@click.option("--mapping", default=None, help="brat: brat-to-taxonomy mapping file (default: PolNeAR).")
@store_option
@json_option
def export_cmd(version, out, fmt, annotations, mapping, store, as_json) -> None:
    """Export a version's articles (streamed) as JSONL or Parquet, or as brat with annotations."""
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    if fmt == "brat":
        if not annotations:
            raise UsageError("--format brat needs --annotations SNAPSHOT")
        from corpus.annotations.brat import export_brat

        snap = annotations[0] if len(annotations) == 1 else list(annotations)
        rep = export_brat(snap, st, out, version, mapping=mapping)
        d = rep.to_dict()
        if as_json:
            emit_json(d)
        else:
            click.echo(f"wrote {d.get('documents', 0)} documents, {d.get('ann_files', 0)} .ann files to {out}")
            _echo_errors(d.get("errors", []))
        if d.get("errors"):
            sys.exit(1)
        return
    if annotations:
        raise UsageError("--annotations only applies to --format brat")
    n = st.resolve_version(version)
    count = st.export(out, n, fmt)
    if as_json:
        emit_json({"version": n, "out": out, "articles": count})
    else:
        click.echo(f"exported {count} articles of version {n} to {out}")


@command("tag")
@click.argument("name")
@version_option
@click.option("--force", is_flag=True, help="Move an existing tag.")
@click.option("--delete", is_flag=True, help="Remove the tag.")
@store_option
@json_option
def tag_cmd(name, version, force, delete, store, as_json) -> None:
    """Name a version (e.g. a release); NAME then works wherever --version is taken."""
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    if delete:
        st.untag(name)
        result = {"tag": name, "deleted": True}
    else:
        result = {"tag": name, "version": st.tag(name, version, force=force)}
    if as_json:
        emit_json({**result, "tags": st.tags()})
    elif delete:
        click.echo(f"deleted tag {name}")
    else:
        click.echo(f"tagged version {result['version']} as {name}")


@command("vacuum")
@click.option(
    "--retain-hours",
    type=click.FloatRange(min=0),
    default=None,
    help="Delete files unused for this long (default: keep everything). Tagged versions are always kept.",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@store_option
@json_option
def vacuum_cmd(retain_hours, dry_run, store, as_json) -> None:
    """Delete data files no version needs any more; tagged versions stay readable."""
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    files = st.vacuum(retain_hours=retain_hours, dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "files": files, "count": len(files), "kept_tags": st.tags()})
    else:
        click.echo(f"{'would delete' if dry_run else 'deleted'} {len(files)} files")


# ================================================================ taxonomy and validate


@main.group("taxonomy")
def taxonomy_group() -> None:
    """Generate or check the files derived from schemas/taxonomy.yaml."""


@taxonomy_group.command("generate")
@click.option("--root", default=None, help="Repository root (default: the one holding this package).")
@json_option
def taxonomy_generate(root: str | None, as_json: bool) -> None:
    """Write the Label Studio config, JSON Schemas and guideline tables (only files that changed)."""
    from corpus import generate

    written = [str(p) for p in generate.generate(root)]
    if as_json:
        emit_json({"written": written})
    else:
        click.echo("\n".join(f"wrote {p}" for p in written) or "all generated files are up to date")


@taxonomy_group.command("check")
@click.option("--root", default=None, help="Repository root (default: the one holding this package).")
@json_option
def taxonomy_check(root: str | None, as_json: bool) -> None:
    """Exit 1 when a generated file is missing or stale."""
    from corpus import generate

    stale = [str(p) for p in generate.stale(root)]
    if as_json:
        emit_json({"ok": not stale, "stale": stale})
    elif stale:
        click.echo("\n".join(f"stale: {p}" for p in stale), err=True)
        click.echo("run `corpus taxonomy generate` and commit the result", err=True)
    else:
        click.echo("all generated files are up to date")
    if stale:
        raise SystemExit(1)


@command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--store",
    default=None,
    envvar="CORPUS_STORE",
    help="Corpus store for the texts of canonical records without a text field. Env: CORPUS_STORE.",
)
@version_option
@click.option(
    "--fix-offsets",
    is_flag=True,
    help="Write a copy with UTF-16 offsets converted to code points next to each input (NAME.fixed.EXT).",
)
@json_option
def validate_cmd(
    files: tuple[str, ...], store: str | None, version: str | None, fix_offsets: bool, as_json: bool
) -> None:
    """Validate Label Studio JSON exports or canonical annotation JSONL (schema + semantics).

    A folder stands for its latest complete snapshot per sub-folder (what a release would read).
    """
    from corpus.annotations import validate
    from corpus.store.snapshot import snapshot_files

    if any(Path(f).is_dir() for f in files):
        files = tuple(str(f) for f in snapshot_files(files))
        if not files:
            raise UsageError("no annotation snapshot (*.jsonl) in the given folders")

    texts = None
    if store:
        opened: list = []  # the store is opened once, on the first batch that needs texts

        def texts(ids: list[str]) -> dict[str, str]:
            from corpus.store.table import CorpusStore

            if not opened:
                s = CorpusStore(store)
                if not s.exists():
                    raise UsageError(f"no corpus store at {store}")
                opened.append((s, s.resolve_version(version)))
            s, v = opened[0]
            return {k: a.text for k, a in s.get_many(ids, v).items()}

    rep = validate.validate_files(files, texts=texts, fix_offsets=fix_offsets)
    if as_json:
        emit_json(rep.to_dict())
    else:
        for f in rep.findings:
            click.echo(str(f))
        s = rep.summary()["counts"]
        parts = [f"{k}={v}" for k, v in s.items() if not k.startswith("format_")]
        click.echo(("OK " if rep.ok else "FAILED ") + " ".join(parts), err=True)
        for p in rep.fixed:
            click.echo(f"wrote {p}", err=True)
    if not rep.ok:
        raise SystemExit(1)


# ================================================================ Label Studio: labelstudio, push, pull, status

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
@json_option
def labelstudio_start(port: int, data_dir: str, timeout: float, reuse: bool, as_json: bool) -> None:
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
    binary = lsserver.find_binary()
    creds = lsserver.load_credentials()
    notify = None if as_json else (lambda msg: click.echo(msg, err=True))
    info = lsserver.start(data_dir, port, creds=creds, binary=binary, timeout=timeout, notify=notify)
    lsserver.remember_url(info.url)
    if as_json:
        emit_json({**info.to_dict(), "username": creds.username, "credentials_from": creds.origin})
        return
    where = (
        "LABEL_STUDIO_PASSWORD / LABEL_STUDIO_USER_TOKEN in your environment"
        if creds.origin == "environment"
        else f'{creds.origin} (keys "password" and "token", file mode 600)'
    )
    click.echo(f"Label Studio is running at {info.url}  (pid {info.pid}, data {info.data_dir})")
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
@click.option(
    "--where", "where", multiple=True, help="Filter FIELD=VALUE or FIELD!=VALUE (repeatable), e.g. source=polnear."
)
@click.option("--limit", type=int, default=None, help="Push at most N (selected) articles.")
@click.option(
    "--predictions", default=None, help="Pre-annotations: `rules` (built-in attribution rules) or FILE.jsonl."
)
@click.option("--update-changed", is_flag=True, help="Also push the new revision of articles whose text changed.")
@click.option("--overlap", type=float, default=None, help="Fraction of tasks annotated by several people (e.g. 0.2).")
@click.option("--annotators-per-task", type=int, default=None, help="Annotations wanted on overlapping tasks.")
@click.option(
    "--batch-size",
    type=int,
    default=2000,
    show_default=True,
    help="Tasks per import request (each request costs Label Studio ~0.2 s on top).",
)
@click.option(
    "--annotations",
    "annotation_snapshots",
    multiple=True,
    type=click.Path(exists=True),
    help="Push these canonical annotation snapshots (e.g. from a brat import or adjudication) instead; "
    "their documents are pushed first. Repeatable.",
)
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
@json_option
def push_cmd(
    project,
    store,
    version,
    where,
    limit,
    predictions,
    update_changed,
    overlap,
    annotators_per_task,
    batch_size,
    annotation_snapshots,
    push_as,
    conflicts,
    as_json,
) -> None:
    """Push corpus articles to Label Studio as tasks (idempotent), optionally with pre-annotations."""
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.push import push
    from corpus.predict.preannotate import load_preannotator
    from corpus.store.table import CorpusStore

    if batch_size < 1:
        raise UsageError("--batch-size must be >= 1")
    if annotation_snapshots:
        _push_annotation_snapshots(
            project,
            store,
            version,
            annotation_snapshots,
            push_as,
            conflicts,
            update_changed,
            bool(where or limit is not None or predictions or overlap is not None or annotators_per_task is not None),
            as_json,
        )
        return
    st = CorpusStore(store)
    pre = load_preannotator(predictions)
    client = LSClient()
    total = None
    if progress_enabled(as_json) and not where:
        total = st.count(version)
        total = min(total, limit) if limit is not None else total
    with _ls_progress(as_json, total, f"push -> {project}") as advance:
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
        for e in report.errors[:20]:
            click.echo(f"  error: {e.get('doc_id', '')}: {e.get('error')}", err=True)
        if len(report.errors) > 20:
            click.echo(f"  ... and {len(report.errors) - 20} more errors (see --json)", err=True)
    if report.errors:
        sys.exit(1)


def _push_annotation_snapshots(
    project, store, version, snapshots, push_as, conflicts, update_changed, other_flags, as_json
) -> None:
    """`corpus push --annotations`: canonical records -> annotations or predictions (corpus.labelstudio.push_annotations)."""
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.push_annotations import push_annotations
    from corpus.store.table import CorpusStore

    if other_flags:
        raise UsageError(
            "--annotations pushes the documents its records need; --where, --limit, --predictions, "
            "--overlap and --annotators-per-task do not apply to it"
        )
    with _ls_progress(as_json, None, f"push annotations -> {project}") as advance:
        rep = push_annotations(
            LSClient(),
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
        for e in rep.errors[:20]:
            click.echo(
                f"  error: {e['file']}:{e['line']}: {e.get('doc_id')} ({e.get('annotator')}): {e['error']}", err=True
            )
            for f in (e.get("findings") or [])[:3]:
                click.echo(f"    {f.get('code')} at {f.get('pointer')}: {f.get('message')}", err=True)
        if len(rep.errors) > 20:
            click.echo(f"  ... and {len(rep.errors) - 20} more (see --json)", err=True)
    if rep.errors:
        sys.exit(1)


@command("pull")
@click.option("--project", required=True, help="Label Studio project title.")
@click.option(
    "--out", default=None, type=click.Path(file_okay=False), help="Snapshot directory (default annotations/PROJECT)."
)
@click.option("--include-drafts", is_flag=True, help="Also write drafts (meta.draft = true).")
@json_option
def pull_cmd(project, out, include_drafts, as_json) -> None:
    """Export annotations, validate them, write an immutable snapshot + manifest (+ errors report)."""
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.pull import pull

    report = pull(LSClient(), project, out=out, include_drafts=include_drafts)
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
    if report.errors_file:
        sys.exit(1)


@command("status")
@click.option("--project", required=True, help="Label Studio project title.")
@json_option
def status_cmd(project, as_json) -> None:
    """Annotation progress: tasks, annotated, double-annotated, per annotator."""
    from corpus.labelstudio.client import LSClient
    from corpus.labelstudio.pull import project_status

    st = project_status(LSClient(), project)
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


# ================================================================ release


@main.group("release")
def release_group() -> None:
    """Build a Hugging Face dataset release (Parquet + card) and publish it to the Hub."""


@release_group.command("build")
@click.option("--version", "release_version", required=True, help="Release version X.Y.Z (the Hub tag is vX.Y.Z).")
@store_option
@click.option("--corpus-version", default=None, help="Corpus version number or tag to pin (default: latest).")
@click.option(
    "--annotations",
    multiple=True,
    required=True,
    type=click.Path(exists=True),
    help="Annotation snapshot .jsonl, or a folder (its latest snapshot per sub-folder). Repeatable.",
)
@click.option(
    "--policy",
    type=click.Choice(["default", "latest", "reviewed"]),
    default="default",
    show_default=True,
    help="Gold selection: default = ground_truth > single annotator > adjudicated > most recent.",
)
@click.option("--out", default="dist", show_default=True, type=click.Path(file_okay=False), help="Parent folder.")
@click.option("--name", default="newscorpus", show_default=True, help="Dataset name (folder <name>-<version>).")
@click.option(
    "--repo", envvar="HF_REPO", default=None, help="ORG/NAME used in the card's load instructions. Env: HF_REPO."
)
@click.option("--split-ratios", default="0.8,0.1,0.1", show_default=True, help="train,validation,test ratios.")
@click.option("--agreement", type=click.Path(exists=True, dir_okay=False), help="Agreement JSON to quote in the card.")
@click.option("--license", "license_", default="other", show_default=True, help="License id for the card header.")
@click.option("--language", default="en", show_default=True, help="Language code for the card header.")
@click.option(
    "--include-origin",
    multiple=True,
    help="Also accept annotations of this origin as gold (by default 'prediction' is never gold).",
)
@click.option("--force", is_flag=True, help="Rebuild even if the release folder exists.")
@json_option
def release_build(
    release_version: str,
    store: str,
    corpus_version: str | None,
    annotations: tuple[str, ...],
    policy: str,
    out: str,
    name: str,
    repo: str | None,
    split_ratios: str,
    agreement: str | None,
    license_: str,
    language: str,
    include_origin: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Join a pinned corpus version with annotation snapshots into dist/<name>-<version>/.

    Exit code 1 when some annotation could not be shipped (unreadable, unknown label, stale and
    not re-anchorable); the folder is still written and the card counts what was left out.
    """
    from corpus.release import build as release
    from corpus.release import splits
    from corpus.release.gold import DEFAULT_EXCLUDED_ORIGINS
    from corpus.store.table import CorpusStore

    opts = release.BuildOptions(
        version=release_version,
        annotations=list(annotations),
        out=out,
        name=name,
        repo=repo,
        corpus_version=corpus_version,
        policy=policy,
        split_ratios=splits.parse_ratios(split_ratios),
        agreement=agreement,
        license=license_,
        language=language,
        exclude_origins=tuple(o for o in DEFAULT_EXCLUDED_ORIGINS if o not in include_origin),
        force=force,
    )
    if progress_enabled(as_json):
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("Building release", total=None)
            report = release.build_release(
                opts, CorpusStore(store), progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    else:
        report = release.build_release(opts, CorpusStore(store))
    if as_json:
        emit_json(report.to_dict())
    else:
        for p in report.problems:
            if p["kind"] in release.FAILURE_KINDS:
                where = f"{p['path']}:{p['line']}: " if p.get("path") else ""
                doc = f"document {p['doc_id']}: " if p.get("doc_id") else ""
                click.echo(f"{where}{p['kind']}: {doc}{p['message']}", err=True)
        click.echo(f"Built {report.folder} from corpus version {report.corpus_version}")
        for c, per_split in report.rows.items():
            click.echo(f"  {c:12s} " + "  ".join(f"{s} {n}" for s, n in per_split.items()))
        if report.left_out:
            click.echo("  left out: " + ", ".join(f"{k} {v}" for k, v in sorted(report.left_out.items())))
    if report.failed:
        click.echo(f"Error: {report.failed} annotation(s) could not be shipped (see above / release.json)", err=True)
        click.get_current_context().exit(1)


@release_group.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", envvar="HF_REPO", required=True, help="Hub dataset repo ORG/NAME. Env: HF_REPO.")
@click.option("--private", is_flag=True, help="Create the repo private (when it does not exist yet).")
@click.option("--dry-run", is_flag=True, help="Print the plan (files, sizes, repo, tag); contact nobody.")
@json_option
def release_publish(folder: str, repo: str, private: bool, dry_run: bool, as_json: bool) -> None:
    """Upload a built release in one commit and tag it vX.Y.Z (token from HF_TOKEN).

    An existing tag is never moved: publishing a version twice fails.
    """
    from corpus.release import build as release

    plan = release.publish(folder, repo, private=private, dry_run=dry_run)
    if as_json:
        emit_json(plan.to_dict())
        return
    total = sum(f["size"] for f in plan.files)
    head = "Would upload" if dry_run else "Uploaded"
    click.echo(
        f"{head} {len(plan.files)} files ({total:,} bytes) to datasets/{repo}, tag {plan.tag}"
        + (" (private)" if private else "")
    )
    for f in plan.files:
        click.echo(f"  {f['size']:>12,}  {f['path']}")
    if plan.commit:
        click.echo(f"Commit {plan.commit}, tagged {plan.tag}")


@release_group.command("summary")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@json_option
def release_summary(folder: str, as_json: bool) -> None:
    """Load a built release with `datasets.load_dataset` and print what it holds."""
    from corpus.release import build as release

    s = release.summarize(folder)
    if as_json:
        emit_json(s)
        return
    click.echo(f"{s['folder']}: {s['documents']} annotated documents")
    for config, splits in s["configs"].items():
        click.echo(f"  load_dataset({s['folder']!r}, {config!r}): " + ", ".join(f"{k} {v}" for k, v in splits.items()))
    click.echo("  spans: " + ", ".join(f"{k} {v}" for k, v in s["spans"].items()))
    for layer, counts in s["labels"].items():
        if counts:
            click.echo(f"  {layer}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


# ---- end of release commands


# ================================================================ brat, agreement, adjudicate
# (brat import/export are `corpus import --format brat` and `corpus export --format brat`,
# in the foundation section; they call corpus.annotations.brat.import_brat / export_brat.)


def _print_agreement(rep: Any, show_labels: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()

    def pct(x: Any) -> str:
        return "—" if x is None else f"{100 * x:.1f}%"

    d = rep.to_dict()
    con.print(
        f"{d['documents']} documents with 2+ annotators ({d['pairs']} annotator pairs; "
        f"{d['documents_with_one_annotator']} single-annotator documents ignored); annotators: {', '.join(d['annotators'])}"
    )
    if d["documents_without_text"]:
        con.print(
            f"[yellow]{d['documents_without_text']} documents have no matching text in the store: left out of token alpha[/]"
        )
    for name, lay in d["layers"].items():
        t = Table(title=f"{name}: {lay['spans']} spans", show_header=True)
        t.add_column("measure")
        t.add_column("value", justify="right")
        t.add_row("span F1, exact", pct(lay["exact"]["f1"]))
        t.add_row("span F1, overlap", pct(lay["overlap"]["f1"]))
        t.add_row(f"token Krippendorff's alpha ({lay['alpha_tokens']} tokens)", pct(lay["alpha"]))
        if "attribution_agreement" in lay:
            agr = lay["attribution_agreement"]
            t.add_row("attribution-wise agr (cue overlap)", pct(agr["cue"]["agr"]))
            t.add_row("attribution-wise agr (cue and content overlap)", pct(agr["cue_content"]["agr"]))
            t.add_row("attribution-wise agr (any span overlap)", pct(agr["any"]["agr"]))
        if "triples" in lay:
            t.add_row("event (trigger, role, argument) F1", pct(lay["triples"]["f1"]))
        con.print(t)
        if show_labels and lay["by_label"]:
            lt = Table(title=f"{name} by label")
            for col in ("label", "spans", "exact F1", "overlap F1", "token alpha"):
                lt.add_column(col, justify="left" if col == "label" else "right")
            for lab, v in lay["by_label"].items():
                lt.add_row(lab, str(v["spans"]), pct(v["exact_f1"]), pct(v["overlap_f1"]), pct(v.get("alpha")))
            con.print(lt)
        if lay["pairwise"]:
            pt = Table(title=f"{name} pairwise")
            for col in ("a", "b", "documents", "exact F1", "overlap F1"):
                pt.add_column(col, justify="left" if col in "ab" else "right")
            for p in lay["pairwise"]:
                pt.add_row(p["a"], p["b"], str(p["documents"]), pct(p["exact_f1"]), pct(p["overlap_f1"]))
            con.print(pt)


@command("agreement")
@click.argument("snapshots", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Choice(["entities", "events", "attribution"]),
    help="Layer(s) to measure (repeatable; default: all).",
)
@click.option("--by", "by", type=click.Choice(["label"]), default=None, help="Also show per-label figures.")
@store_option
@version_option
@json_option
def agreement_cmd(
    snapshots: tuple[str, ...], layers: tuple[str, ...], by: str | None, store: str, version: str | None, as_json: bool
) -> None:
    """Inter-annotator agreement on documents annotated by two or more annotators.

    SNAPSHOTS are .jsonl snapshot files or directories of them. Span F1 (exact and overlap),
    token-level Krippendorff's alpha (texts read from --store), PolNeAR's attribution-wise
    agreement and event triple F1. Definitions: corpus/agreement.py and the README.
    """
    from corpus.annotations import agreement as ag
    from corpus.core.errors import CorpusError
    from corpus.store.snapshot import load_annotations

    anns = load_annotations(list(snapshots))
    docs, _ = ag.group_by_document(a for a in anns if a.origin not in ("prediction", "adjudicated"))
    multi = [d for d, per in docs.items() if len(per) >= 2]
    if not multi:
        raise CorpusError(
            f"no document in {', '.join(snapshots)} has two or more annotators ({len(docs)} documents, {len(anns)} records)",
            hint="give the snapshots of all annotators together",
        )
    texts: dict[str, str] = {}
    try:
        from corpus.store.table import CorpusStore

        st = CorpusStore(store)
        if st.exists():
            texts = {k: a.text for k, a in st.get_many(multi, version=version).items()}
    except CorpusError as e:
        click.echo(f"Warning: no texts from the store ({e.message}); token alpha skipped", err=True)
    rep = ag.agreement(anns, texts, layers=layers or ag.LAYERS)
    if as_json:
        emit_json(rep.to_dict())
    else:
        _print_agreement(rep, by == "label")


@command("adjudicate")
@click.argument("snapshots", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(),
    help="Gold snapshot: annotations/NAME/gold-<ts>.jsonl, or a directory (annotations/NAME) to create it in.",
)
@click.option(
    "--min-votes",
    type=click.IntRange(min=1),
    default=None,
    help="Votes a span needs (default: strict majority of the document's annotators).",
)
@click.option("--reviewer", default=None, help="Annotator whose annotation wins where they annotated.")
@json_option
def adjudicate_cmd(
    snapshots: tuple[str, ...], out: str, min_votes: int | None, reviewer: str | None, as_json: bool
) -> None:
    """Merge several annotators' annotations into one gold annotation per document.

    Majority vote on spans and attributes; the reviewer's annotation wins where given. Every
    conflict goes to <out>.conflicts.jsonl; the gold records have origin "adjudicated".
    Exit 1 when records had to be left out (stale text, too few annotators for --min-votes).
    """
    from corpus.annotations.adjudicate import adjudicate, write_adjudication
    from corpus.store.snapshot import load_annotations

    anns = load_annotations(list(snapshots))
    gold, conflicts, rep = adjudicate(anns, min_votes=min_votes, reviewer=reviewer)
    paths = (
        write_adjudication(gold, conflicts, out, inputs=list(snapshots), min_votes=min_votes, reviewer=reviewer)
        if gold
        else {}
    )
    result = {**rep.to_dict(), **paths}
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"{rep.gold} gold records from {rep.documents} documents; {rep.conflicts} conflicts "
            f"({rep.unresolved} unresolved)"
            + (f" -> {paths['gold_path']}, conflicts in {paths['conflicts_path']}" if paths else "")
        )
        for s in rep.stale:
            click.echo(f"left out: {s['doc_id']} by {s['annotator']}: annotates another version of the text", err=True)
        for d in rep.under_quorum:
            click.echo(f"left out: {d}: fewer annotators than --min-votes {min_votes}", err=True)
    if rep.stale or rep.under_quorum or not gold:
        sys.exit(1)


# ---- end of brat, agreement, adjudicate commands
