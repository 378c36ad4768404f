"""Store commands: import, import-labelstudio, log, diff, show, ls, export, tag, vacuum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from corpus.cli.app import Outcome, command
from corpus.cli.options import (
    annotations_option,
    echo_problems,
    emit_json,
    engine_options,
    json_option,
    progress_enabled,
    store_option,
    version_option,
)
from corpus.core.errors import CorpusError, UsageError

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
@engine_options
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
    engine,
    ray_address,
    store,
    as_json,
) -> Outcome:
    """Import articles (files, directories) into the corpus as one new version.

    Bad items are reported (path and line) and skipped; the good ones are committed.
    Exit code 1 when anything failed.
    """
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    if fmt == "brat" and engine != "local":
        raise UsageError("--format brat runs on the local engine only", hint="drop --engine ray")
    if fmt == "brat":
        from corpus.annotations.brat.collection import import_brat  # lazily: brat pulls in the annotation model

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
        problems = list(ireport.errors) + breport.issues
        if as_json:
            emit_json({**ireport.to_dict(), "brat": breport.to_dict()})
        else:
            click.echo(_import_summary(ireport))
            b = breport.to_dict()
            click.echo(
                f"brat: {b.get('annotations', 0)} annotations" + (f" -> {b['snapshot']}" if b.get("snapshot") else "")
            )
            echo_problems(problems)
        return Outcome(problems)
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
        engine=engine,
        ray_address=ray_address,
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
        echo_problems(report.errors)
    return Outcome(report.errors)


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
@annotations_option()
@click.option("--mapping", default=None, help="brat: brat-to-taxonomy mapping file (default: PolNeAR).")
@store_option
@json_option
def export_cmd(version, out, fmt, annotations, mapping, store, as_json) -> Outcome | None:
    """Export a version's articles (streamed) as JSONL or Parquet, or as brat with the annotations of --annotations."""
    from corpus.store.table import CorpusStore

    st = CorpusStore(store)
    if fmt == "brat":
        if not annotations:
            raise UsageError("--format brat needs --annotations SNAPSHOT")
        from corpus.annotations.brat.collection import export_brat

        snap = annotations[0] if len(annotations) == 1 else list(annotations)
        rep = export_brat(snap, st, out, version, mapping=mapping)
        d = rep.to_dict()
        if as_json:
            emit_json(d)
        else:
            click.echo(f"wrote {d.get('documents', 0)} documents, {d.get('ann_files', 0)} .ann files to {out}")
            echo_problems(rep.issues)
        return Outcome(rep.issues)
    if annotations:
        raise UsageError("--annotations only applies to --format brat")
    n = st.resolve_version(version)
    count = st.export(out, n, fmt)
    if as_json:
        emit_json({"version": n, "out": out, "articles": count})
    else:
        click.echo(f"exported {count} articles of version {n} to {out}")
    return None


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
        emit_json(
            {"dry_run": dry_run, "files": files, "count": len(files), "bytes": files.bytes, "kept_tags": st.tags()}
        )
    else:
        click.echo(f"{'would delete' if dry_run else 'deleted'} {len(files)} files ({files.bytes} bytes)")


@command("import-labelstudio")
@click.argument("export", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--label-config",
    "label_config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The project's labeling config (XML) the export was made with.",
)
@click.option("--project", default=None, help="Read the labeling config from this Label Studio project (by title).")
@click.option(
    "--mapping", default=None, type=click.Path(exists=True, dir_okay=False), help="Labels -> taxonomy (YAML)."
)
@click.option("--out", "out", required=True, type=click.Path(), help="Snapshot folder (or FILE.jsonl) to write.")
@click.option("--source", default="labelstudio", show_default=True, help="Source name of the imported texts.")
@store_option
@json_option
def import_labelstudio_cmd(
    export: str,
    label_config: str | None,
    project: str | None,
    mapping: str | None,
    out: str,
    source: str,
    store: str,
    as_json: bool,
) -> Outcome:
    """Import an existing Label Studio project's export (JSON, JSON-MIN, 0.x): task texts into the
    store (matched by text hash to stored articles), annotations into one canonical snapshot with
    their original annotators, ids and timestamps. What the mapping does not carry is kept in each
    record's meta and reported."""
    from corpus.cli.annotations import scheme_tax
    from corpus.labelstudio.foreign import import_labelstudio
    from corpus.store.table import CorpusStore

    if label_config is None and project is None:
        raise UsageError("give the project's labeling config: --label-config FILE.xml or --project NAME")
    src_tax = scheme_tax(label_config, project)
    rep = import_labelstudio(export, src_tax, CorpusStore(store), out, mapping=mapping, source=source)
    if as_json:
        emit_json(rep.to_dict())
    else:
        click.echo(
            f"{rep.tasks} tasks, {rep.articles} articles (version {rep.version}); {rep.annotations_in} annotations: "
            f"{rep.records_out} imported, {rep.rejected} rejected, {rep.skipped} skipped; {rep.unmapped} unmapped items kept in meta"
            + (f" -> {rep.snapshot}" if rep.snapshot else "")
        )
        echo_problems(rep.problems)
    return Outcome(rep.problems)
