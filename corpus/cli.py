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


# ================================================================ brat, agreement, adjudicate
