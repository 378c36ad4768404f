"""A metadata table joined to files by name (e.g. PolNeAR's ``metadata.tsv``).

The ``filename`` column matches a file's name with or without its extension. Known columns
fill the article fields (title; publication_date/date/published; url; language); every other
column goes to ``meta`` (e.g. publisher, author). Empty cells and ``None``/``NA`` are skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.core.errors import UsageError
from corpus.ingest.readers.base import RawRecord

_MISSING = {"", "none", "null", "na", "n/a", "nan"}
_FIELDS = {
    "title": ("title", "headline"),
    "published": ("publication_date", "published", "date", "pubdate"),
    "url": ("url", "link"),
    "language": ("language", "lang"),
}
_KEY_COLUMNS = ("filename", "file", "file_name", "name", "path")


@dataclass
class MetadataTable:
    rows: dict[str, dict[str, str]]  # file name (and stem) -> row

    def lookup(self, path: Path) -> dict[str, str] | None:
        return self.rows.get(path.name) or self.rows.get(path.stem)

    def apply(self, rec: RawRecord, path: Path) -> None:
        row = self.lookup(path)
        if row is None:
            return
        used = set()
        for field, names in _FIELDS.items():
            for n in names:
                v = row.get(n)
                if v is not None and v.strip().lower() not in _MISSING:
                    setattr(rec, field, v.strip())
                    used.add(n)
                    break
        for k, v in row.items():
            if k in used or k in _KEY_COLUMNS or v is None or v.strip().lower() in _MISSING:
                continue
            rec.meta.setdefault(k, v.strip())


def load_metadata(path: str | Path) -> MetadataTable:
    """Read a .tsv/.csv metadata table (small: held in memory). Bad file -> UsageError."""
    path = Path(path)
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read metadata file {path}: {e}", hint="give a UTF-8 .tsv or .csv file") from e
    delimiter = "\t" if path.suffix.lower() == ".tsv" or ("\t" in text.split("\n", 1)[0]) else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    key = next((k for k in _KEY_COLUMNS if k in fields), None)
    if key is None:
        raise UsageError(
            f"metadata file {path} has no file name column",
            hint=f"name one of the columns {', '.join(_KEY_COLUMNS)}; found: {', '.join(fields) or 'none'}",
        )
    rows: dict[str, dict[str, Any]] = {}
    for raw in reader:
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items() if k is not None}
        name = Path(row.get(key, "").strip()).name
        if name:
            rows[name] = row
    return MetadataTable(rows)
