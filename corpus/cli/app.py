"""The ``corpus`` group and the exit-code ladder; the command families register on it.

Exit codes are decided here alone (named in :mod:`corpus.core.errors`): a command returns (an
:class:`Outcome` when it can finish with problems) or raises; :class:`CorpusGroup` turns that
into 0 all good, 1 finished with problems (reported), 2 usage (click's and ``UsageError``),
3 environment (``EnvironmentProblem``, and any ``OSError`` such as a full disk). No command
calls ``sys.exit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click

from corpus.cli.options import emit_json, json_wanted
from corpus.core import taxonomy
from corpus.core.display import redact_text
from corpus.core.errors import EXIT_PROBLEMS, CorpusError, environment_error
from corpus.core.problems import Problem


@dataclass
class Outcome:
    """What a command that can finish with problems returns: it failed when ``failed`` is set
    or a problem has severity error (the problems were already reported)."""

    problems: Iterable[Problem] = field(default_factory=list)
    failed: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not any(p.is_error for p in self.problems)


class CorpusGroup(click.Group):
    """Runs the command and applies the exit ladder, without tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            rv = super().invoke(ctx)
        except CorpusError as e:
            _fail(ctx, e)
        except OSError as e:  # a full disk, a folder that cannot be written, ...
            _fail(ctx, environment_error(e, str(e.filename) if e.filename else "a file operation"))
        finally:
            taxonomy.select(None)  # --taxonomy holds for one command (CliRunner runs many in one process)
        if isinstance(rv, Outcome) and not rv.ok:
            ctx.exit(EXIT_PROBLEMS)
        return rv


def _fail(ctx: click.Context, e: CorpusError) -> NoReturn:
    """Print the error as a problem (stderr; with --json also as JSON on stdout), and exit."""
    p = e.problem()
    p.message = redact_text(p.message)  # no user:password@ of a URL, ever
    p.hint = redact_text(p.hint) if p.hint else p.hint
    if json_wanted(ctx):  # a command that stopped early (retry budget) adds its report
        emit_json({"ok": False, "problems": [p.to_dict()], **(getattr(e, "report", None) or {})})
    click.echo(str(p), err=True)
    click.echo(f"  fix: {p.fix}", err=True)
    ctx.exit(e.exit_code)


@click.group(cls=CorpusGroup)
@click.version_option(package_name="newscorpus")
def main() -> None:
    """newscorpus: versioned news corpus, Label Studio annotation, Hugging Face release."""


def command(*args: Any, **kwargs: Any) -> Callable:
    return main.command(*args, **kwargs)
