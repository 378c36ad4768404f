"""Flags shared by several command families, declared once, and the output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from corpus.core.problems import Problem

store_option = click.option(
    "--store",
    envvar="CORPUS_STORE",
    default="data/corpus",
    show_default=True,
    help="Corpus store URI (any URI deltalake accepts). Env: CORPUS_STORE.",
)


def engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--engine and --ray-address, shared by import and release build."""
    f = click.option(
        "--ray-address",
        envvar="RAY_ADDRESS",
        default=None,
        help="--engine ray: the cluster (auto, or HOST:PORT, or ray://HOST:PORT); "
        "default: a Ray started on this machine for the run. Env: RAY_ADDRESS.",
    )(f)
    return click.option(
        "--engine",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where the work runs: this machine, or a Ray cluster (needs newscorpus[ray]).",
    )(f)


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["corpus.json"] = value  # meta is shared by the whole context chain: the group reads it
    return value


json_option = click.option(
    "--json", "as_json", is_flag=True, callback=_remember_json, help="Print one machine-readable JSON object."
)
version_option = click.option(
    "--version", "version", default=None, help="Corpus version number or tag name (default: latest)."
)

ANNOTATIONS_HELP = (
    "Canonical annotation snapshots: a .jsonl file, or a folder (the latest complete snapshot in each "
    "folder below it). Repeatable."
)


def annotations_option(*, required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--annotations`` (the ``annotations`` parameter, a tuple of paths): one declaration for
    every command that reads annotation snapshots; what the command does with them is in its help."""
    return click.option(
        "--annotations",
        "annotations",
        multiple=True,
        required=required,
        type=click.Path(exists=True),
        help=ANNOTATIONS_HELP,
    )


PREDICTIONS_HELP = (
    "Pre-annotator: `rules` (regex attribution rules), `spacy` (default spaCy pipeline, all three layers), "
    "`spacy:PIPELINE`, `model:PATH` (from `corpus train`) or FILE.jsonl."
)


def predictions_option(*, required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--predictions`` (the ``predictions`` parameter): a pre-annotator, as ``load_preannotator`` reads it."""
    return click.option("--predictions", "predictions", required=required, default=None, help=PREDICTIONS_HELP)


where_option = click.option(
    "--where", "where", multiple=True, help="Filter FIELD=VALUE or FIELD!=VALUE (repeatable), e.g. source=polnear."
)


def layers_option(choices: Iterable[str], help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--layer`` (the ``layers`` parameter, a tuple; repeatable): which of ``choices`` a command works on."""
    return click.option("--layer", "layers", multiple=True, type=click.Choice(list(choices)), help=help)


def json_wanted(ctx: click.Context) -> bool:
    return bool(ctx.meta.get("corpus.json"))


def _select_taxonomy(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from corpus.core import taxonomy

    if value is not None:
        taxonomy.select(value)  # undone when the command ends (corpus.cli.app.CorpusGroup)


# Every command takes it (added by :func:`add_to_every_command`): the taxonomy of the process,
# selected before any other option is read.
taxonomy_option = click.option(
    "--taxonomy",
    envvar="CORPUS_TAXONOMY",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_select_taxonomy,
    help="Taxonomy YAML file (default: the one shipped with the package). Env: CORPUS_TAXONOMY.",
)


def commands(group: click.Group) -> list[click.Command]:
    """Every command under ``group`` (groups themselves excluded), depth first."""
    out: list[click.Command] = []
    for cmd in group.commands.values():
        out += commands(cmd) if isinstance(cmd, click.Group) else [cmd]
    return out


def add_to_every_command(group: click.Group, *options: Callable[[click.Command], click.Command]) -> None:
    """Give every command under ``group`` the ``options`` (a command declaring one itself keeps its own)."""
    for option in options:
        name = option(click.Command("probe")).params[0].name
        for cmd in commands(group):
            if name not in {p.name for p in cmd.params}:
                option(cmd)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (the only thing on stdout when --json is given)."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def echo_problems(problems: Iterable[Problem], *, limit: int | None = 50, err: bool = True) -> None:
    """The text form of problems, one line each (the same fields as their JSON form), then the
    fix of each code once."""
    fixes: dict[str, str] = {}
    n = 0
    for p in problems:
        n += 1
        fixes.setdefault(p.code, p.fix)
        if limit is None or n <= limit:
            click.echo(f"  {p}", err=err)
    if limit is not None and n > limit:
        click.echo(f"  ... and {n - limit} more (see --json)", err=err)
    for code, fix in fixes.items():
        click.echo(f"  fix [{code}]: {fix}", err=err)


def progress_enabled(as_json: bool) -> bool:
    """Progress bars only on a terminal, and never when stdout carries JSON."""
    return not as_json and sys.stderr.isatty()
