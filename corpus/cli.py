"""Command line: flags -> library calls, errors -> exit codes. No logic lives here.

Exit codes are decided in one place (``main``): 0 success, 1 a ``CorpusError`` or some input
failed (the command says which), 2 a usage error.

Each command family lives in its own section below; shared flags are declared once.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from corpus.errors import CorpusError, UsageError

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


# ================================================================ taxonomy and validate


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
@json_option
def labelstudio_start(port: int, data_dir: str, timeout: float, as_json: bool) -> None:
    """Start Label Studio and wait until it answers; print the URL and how to log in."""
    from pathlib import Path

    from corpus import lsserver

    binary = lsserver.find_binary()
    creds = lsserver.load_credentials()
    if not as_json and not (Path(data_dir) / "label_studio.sqlite3").exists():
        fresh = not (lsserver.template_dir(binary) / lsserver.TEMPLATE_MARKER).exists()
        click.echo(
            f"Initializing {data_dir}"
            + (" (first time on this machine: database migrations take about a minute)" if fresh else ""),
            err=True,
        )
    info = lsserver.start(data_dir, port, creds=creds, binary=binary, timeout=timeout)
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
    from corpus import lsserver

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
    from corpus import lsserver

    st = lsserver.status(data_dir)
    if as_json:
        emit_json(st)
    elif st["running"]:
        health = "healthy" if st["healthy"] else "NOT answering /health"
        click.echo(f"Label Studio is running at {st['url']} (pid {st['pid']}, {health}, up {st['uptime_s']} s)")
    else:
        click.echo(f"Label Studio is not running for {st['data_dir']}")

# ---- end of labelstudio commands


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
@click.option("--repo", envvar="HF_REPO", default=None, help="ORG/NAME used in the card's load instructions. Env: HF_REPO.")
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
    from corpus import release, splits
    from corpus.gold import DEFAULT_EXCLUDED_ORIGINS
    from corpus.store import CorpusStore

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
    from corpus import release

    plan = release.publish(folder, repo, private=private, dry_run=dry_run)
    if as_json:
        emit_json(plan.to_dict())
        return
    total = sum(f["size"] for f in plan.files)
    head = "Would upload" if dry_run else "Uploaded"
    click.echo(f"{head} {len(plan.files)} files ({total:,} bytes) to datasets/{repo}, tag {plan.tag}" + (" (private)" if private else ""))
    for f in plan.files:
        click.echo(f"  {f['size']:>12,}  {f['path']}")
    if plan.commit:
        click.echo(f"Commit {plan.commit}, tagged {plan.tag}")

# ---- end of release commands


# ================================================================ brat, agreement, adjudicate
# (brat import/export are `corpus import --format brat` and `corpus export --format brat`,
# in the foundation section; they call corpus.brat.import_brat / export_brat.)


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
        con.print(f"[yellow]{d['documents_without_text']} documents have no matching text in the store: left out of token alpha[/]")
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
    "--layer", "layers", multiple=True, type=click.Choice(["entities", "events", "attribution"]),
    help="Layer(s) to measure (repeatable; default: all).",
)
@click.option("--by", "by", type=click.Choice(["label"]), default=None, help="Also show per-label figures.")
@store_option
@version_option
@json_option
def agreement_cmd(snapshots: tuple[str, ...], layers: tuple[str, ...], by: str | None, store: str, version: str | None, as_json: bool) -> None:
    """Inter-annotator agreement on documents annotated by two or more annotators.

    SNAPSHOTS are .jsonl snapshot files or directories of them. Span F1 (exact and overlap),
    token-level Krippendorff's alpha (texts read from --store), PolNeAR's attribution-wise
    agreement and event triple F1. Definitions: corpus/agreement.py and the README.
    """
    from corpus import agreement as ag
    from corpus.brat import load_annotations
    from corpus.errors import CorpusError

    anns = load_annotations(list(snapshots))
    docs, _ = ag.group_by_document(anns)
    multi = [d for d, per in docs.items() if len(per) >= 2]
    if not multi:
        raise CorpusError(
            f"no document in {', '.join(snapshots)} has two or more annotators ({len(docs)} documents, {len(anns)} records)",
            hint="give the snapshots of all annotators together",
        )
    texts: dict[str, str] = {}
    try:
        from corpus.store import CorpusStore

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
    "--out", "out", required=True, type=click.Path(),
    help="Gold snapshot: annotations/NAME/gold-<ts>.jsonl, or a directory (annotations/NAME) to create it in.",
)
@click.option("--min-votes", type=click.IntRange(min=1), default=None, help="Votes a span needs (default: strict majority of the document's annotators).")
@click.option("--reviewer", default=None, help="Annotator whose annotation wins where they annotated.")
@json_option
def adjudicate_cmd(snapshots: tuple[str, ...], out: str, min_votes: int | None, reviewer: str | None, as_json: bool) -> None:
    """Merge several annotators' annotations into one gold annotation per document.

    Majority vote on spans and attributes; the reviewer's annotation wins where given. Every
    conflict goes to <out>.conflicts.jsonl; the gold records have origin "adjudicated".
    Exit 1 when records had to be left out (stale text, too few annotators for --min-votes).
    """
    from corpus.adjudicate import adjudicate, write_adjudication
    from corpus.brat import load_annotations

    anns = load_annotations(list(snapshots))
    gold, conflicts, rep = adjudicate(anns, min_votes=min_votes, reviewer=reviewer)
    paths = write_adjudication(gold, conflicts, out, inputs=list(snapshots), min_votes=min_votes, reviewer=reviewer) if gold else {}
    result = {**rep.to_dict(), **paths}
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"{rep.gold} gold records from {rep.documents} documents; {rep.conflicts} conflicts "
            f"({rep.unresolved} unresolved)" + (f" -> {paths['gold']}, conflicts in {paths['conflicts']}" if paths else "")
        )
        for s in rep.stale:
            click.echo(f"left out: {s['doc_id']} by {s['annotator']}: annotates another version of the text", err=True)
        for d in rep.under_quorum:
            click.echo(f"left out: {d}: fewer annotators than --min-votes {min_votes}", err=True)
    if rep.stale or rep.under_quorum or not gold:
        sys.exit(1)


# ---- end of brat, agreement, adjudicate commands
