"""Flags shared by several command families, declared once, and the output helpers."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

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
