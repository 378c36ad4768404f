"""Command line: flags -> library calls, errors -> exit codes. No logic lives here.

One module per command family; each registers its commands on :data:`corpus.cli.app.main`.
"""

from corpus.cli import annotations, labelstudio, release, report, store  # noqa: F401  (they register their commands)
from corpus.cli.app import main

__all__ = ["main"]
