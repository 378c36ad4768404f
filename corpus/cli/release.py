"""Release commands: release build, publish, summary."""

from __future__ import annotations

import click

from corpus.cli.app import Outcome, main
from corpus.cli.options import (
    annotations_option,
    echo_problems,
    emit_json,
    engine_options,
    json_option,
    progress_enabled,
    store_option,
)

# ================================================================ release


@main.group("release")
def release_group() -> None:
    """Build a Hugging Face dataset release (Parquet + card) and publish it to the Hub."""


@release_group.command("build")
@click.option("--version", "release_version", required=True, help="Release version X.Y.Z (the Hub tag is vX.Y.Z).")
@store_option
@click.option("--corpus-version", default=None, help="Corpus version number or tag to pin (default: latest).")
@annotations_option(required=True)
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
@click.option(
    "--license", "license_", default="other", show_default=True, help="SPDX license id (e.g. CC-BY-4.0) for the card."
)
@click.option("--license-name", default=None, help="License name, for a license without an SPDX id.")
@click.option("--license-link", default=None, help="URL of the license text.")
@click.option("--author", "authors", multiple=True, help="Citation author (repeatable, in order).")
@click.option("--year", type=int, default=None, help="Citation year (default: the year of the corpus version).")
@click.option("--url", default=None, help="Citation URL (default: the Hub page of --repo).")
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML with license, license_name, license_link, authors, year, url, pretty_name (flags win).",
)
@click.option(
    "--previous",
    type=click.Path(exists=True, file_okay=False),
    help="A previous release folder: the card lists the changes since it.",
)
@click.option("--show-emails", is_flag=True, help="Keep annotators' e-mail addresses (default: pseudonyms).")
@click.option("--no-figures", is_flag=True, help="Do not draw the figures (figures/*.png) for the card.")
@click.option("--language", default="en", show_default=True, help="Language code for the card header.")
@click.option(
    "--include-origin",
    multiple=True,
    help="Also accept annotations of this origin as gold (by default 'prediction' is never gold).",
)
@click.option("--force", is_flag=True, help="Rebuild even if the release folder exists.")
@engine_options
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
    license_name: str | None,
    license_link: str | None,
    authors: tuple[str, ...],
    year: int | None,
    url: str | None,
    config: str | None,
    previous: str | None,
    show_emails: bool,
    no_figures: bool,
    language: str,
    include_origin: tuple[str, ...],
    force: bool,
    engine: str,
    ray_address: str | None,
    as_json: bool,
) -> Outcome:
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
        license_name=license_name,
        license_link=license_link,
        authors=authors,
        year=year,
        url=url,
        config=config,
        previous=previous,
        show_emails=show_emails,
        figures=not no_figures,
        language=language,
        exclude_origins=tuple(o for o in DEFAULT_EXCLUDED_ORIGINS if o not in include_origin),
        force=force,
    )
    with release.article_source(CorpusStore(store), engine, ray_address) as source:
        if progress_enabled(as_json):
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("Building release", total=None)
                report = release.build_release(
                    opts, source, progress=lambda done, total: bar.update(task, completed=done, total=total)
                )
        else:
            report = release.build_release(opts, source)
    if as_json:
        emit_json(report.to_dict())
    else:
        echo_problems([p for p in report.problems if p.is_error])
        click.echo(f"Built {report.folder} from corpus version {report.corpus_version}")
        for c, per_split in report.rows.items():
            click.echo(f"  {c:12s} " + "  ".join(f"{s} {n}" for s, n in per_split.items()))
        if report.left_out:
            click.echo("  left out: " + ", ".join(f"{k} {v}" for k, v in sorted(report.left_out.items())))
    if report.failed and not as_json:
        click.echo(f"{report.failed} annotation(s) could not be shipped (see above / release.json)", err=True)
    return Outcome(report.problems)


@release_group.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", envvar="HF_REPO", required=True, help="Hub dataset repo ORG/NAME. Env: HF_REPO.")
@click.option("--private", is_flag=True, help="Create the repo private (when it does not exist yet).")
@click.option("--dry-run", is_flag=True, help="Print the plan (files, sizes, repo, tag); contact nobody.")
@json_option
def release_publish(folder: str, repo: str, private: bool, dry_run: bool, as_json: bool) -> None:
    """Upload a built release in one commit and tag it vX.Y.Z (token from HF_TOKEN).

    Checks first (token present, repo id valid, endpoint reachable and token accepted, tag free);
    exit 3 when the Hub cannot be used from here (no token, offline, token rejected), 1 when the
    tag exists. An existing tag is never moved: publishing a version twice fails.
    """
    from corpus.release.publish import publish

    plan = publish(folder, repo, private=private, dry_run=dry_run)
    if as_json:
        emit_json(plan.to_dict())
        return
    head = "Would upload" if dry_run else "Uploaded"
    click.echo(
        f"{head} {len(plan.files)} files ({plan.total_size:,} bytes) to datasets/{repo} at {plan.endpoint}, "
        f"tag {plan.tag}" + (" (private)" if private else "")
    )
    for f in plan.files:
        click.echo(f"  {f['size']:>12,}  {f['path']}")
    if dry_run:
        click.echo(
            "Token: "
            + (
                "found (HF_TOKEN or saved login)"
                if plan.token_present
                else "none found: set HF_TOKEN before publishing"
            )
        )
    for c in plan.checks:
        click.echo(f"  ok: {c}")
    if plan.commit:
        click.echo(f"Commit {plan.commit}, tagged {plan.tag}")


@release_group.command("summary")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@json_option
def release_summary(folder: str, as_json: bool) -> None:
    """Load a built release with `datasets.load_dataset` and print what it holds."""
    from corpus.release.features import summarize

    s = summarize(folder)
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
