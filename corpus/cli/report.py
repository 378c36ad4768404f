"""The report command: figures and one HTML page about a corpus version and its annotations."""

from __future__ import annotations

import click

from corpus.cli.app import command
from corpus.cli.options import annotations_option, emit_json, json_option, store_option, version_option


@command("report")
@store_option
@version_option
@annotations_option()
@click.option("--out", default="report", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--title", default=None, help="Page title (default: 'Corpus report, version N').")
@click.option("--split-ratios", default="0.8,0.1,0.1", show_default=True, help="train,validation,test ratios.")
@click.option("--show-emails", is_flag=True, help="Show annotators' e-mail addresses (default: pseudonyms).")
@json_option
def report_cmd(
    store: str,
    version: str | None,
    annotations: tuple[str, ...],
    out: str,
    title: str | None,
    split_ratios: str,
    show_emails: bool,
    as_json: bool,
) -> None:
    """Write OUT/report.html (self-contained: figures embedded), OUT/figures/*.png, OUT/report.json.

    Corpus growth over versions, articles per source and month, duplicates; annotation progress
    per day and annotator, lead time; agreement per label and per annotator pair (documents with
    two or more annotators); label distribution per split; pre-annotation acceptance per model
    version. A section without data says so.
    """
    from corpus.release.report import write_report
    from corpus.store.table import CorpusStore

    result = write_report(
        CorpusStore(store),
        list(annotations),
        out,
        version,
        title=title,
        split_ratios=split_ratios,
        show_emails=show_emails,
    )
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"Wrote {result.html} and {len(result.figures)} figures in {out}/figures/")
    for name, state in result.sections.items():
        if state != "figure":
            click.echo(f"  {name}: {state}")
