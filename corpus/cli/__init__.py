"""Command line: flags -> library calls, errors -> exit codes. No logic lives here.

One module per command family; each registers its commands on :data:`corpus.cli.app.main`.
"""

from corpus.cli import (  # noqa: F401  (they register their commands)
    annotations,
    labelstudio,
    predict,
    release,
    report,
    store,
)
from corpus.cli.app import main
from corpus.cli.options import add_to_every_command, taxonomy_option

add_to_every_command(main, taxonomy_option)

__all__ = ["main"]
