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


# ================================================================ release


# ================================================================ brat, agreement, adjudicate
