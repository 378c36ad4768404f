"""The ``corpus`` group and the exit-code ladder; the command families register on it.

Exit codes are decided here alone: 0 success, 1 a ``CorpusError`` or some input failed (the
command says which), 2 a usage error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from corpus.core.errors import CorpusError


class CorpusGroup(click.Group):
    """Turns library errors into ``Error: ...`` and the exit-code ladder, without tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CorpusError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(e.exit_code)


@click.group(cls=CorpusGroup)
@click.version_option(package_name="newscorpus")
def main() -> None:
    """newscorpus: versioned news corpus, Label Studio annotation, Hugging Face release."""


def command(*args: Any, **kwargs: Any) -> Callable:
    return main.command(*args, **kwargs)
