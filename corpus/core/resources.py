"""The files the toolkit reads at run time, shipped inside the package (``corpus/resources/``).

Why packaged copies: a wheel installed with pip has no checkout around it, so the default
taxonomy, the brat mapping and the guideline template must travel with the code. The top-level
``schemas/`` and ``annotations/guidelines.md`` stay the sources people edit; ``corpus taxonomy
generate`` refreshes the copies here and ``corpus taxonomy check`` (and a test) fail when they lag.

Nothing reads files relative to a checkout at run time; :func:`checkout_root` only serves the
two things that are about the checkout itself: ``taxonomy generate/check`` writing and checking
its files, and the Label Studio server of ``make install-labelstudio`` (``.venv-labelstudio``).
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

PACKAGE = "corpus.resources"
TAXONOMY = "taxonomy.yaml"
BRAT_MAPPING = "brat-polnear.yaml"
GUIDELINES = "guidelines.md"  # the guideline template: hand-written prose + tables of the default taxonomy
CONFIG = "labelstudio-config.xml"
ARTICLE_SCHEMA = "article.schema.json"
ANNOTATION_SCHEMA = "annotation.schema.json"
EXPORT_SCHEMA = "labelstudio-export.schema.json"

_files = ExitStack()
atexit.register(_files.close)


def folder() -> Path:
    """The folder of the packaged files (a real folder: wheels install unpacked)."""
    return path(TAXONOMY).parent


def path(name: str) -> Path:
    """A packaged file as a file system path (extracted once if the package sits in a zip)."""
    ref = resources.files(PACKAGE) / name
    if isinstance(ref, Path):
        return ref
    return Path(_files.enter_context(resources.as_file(ref)))


def checkout_root() -> Path | None:
    """The source checkout this package runs from (``corpus/`` beside newscorpus's
    ``pyproject.toml`` and ``schemas/``), or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    if 'name = "newscorpus"' in project and (root / "schemas" / TAXONOMY).is_file():
        return root
    return None
