"""Findings: what the converter (:mod:`corpus.annotations.lsformat`) and the validator (:mod:`corpus.annotations.validate`)
report, and the one table of their codes.

A finding is data, never an exception: one bad region must not hide the next one, and pull,
push and ``corpus validate`` each decide what a finding means for them (quarantine, skip,
exit code). ``severity`` is ``error`` (the record is wrong), ``warning`` (suspicious or repaired)
or ``info`` (counted, nothing wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corpus.core.display import printable

ERROR, WARNING, INFO = "error", "warning", "info"

# code -> (default severity, what it means). The only list of codes; tests check every one is used.
CODES: dict[str, tuple[str, str]] = {
    "schema": (ERROR, "the record does not match its JSON Schema"),
    "unreadable": (ERROR, "the file cannot be read, is not UTF-8 or not JSON / JSONL"),
    "offset_out_of_range": (ERROR, "a fragment's offsets are outside the text, empty or reversed"),
    "text_mismatch": (ERROR, "a region's text is not the text at its offsets"),
    "utf16_offsets": (WARNING, "offsets were UTF-16 code units (old Label Studio); converted to code points"),
    "unknown_label": (ERROR, "a label, control or relation name the taxonomy does not have"),
    "duplicate_region_id": (ERROR, "two regions / spans share an id"),
    "dangling_relation": (ERROR, "a relation or reference points to a region that does not exist"),
    "relation_not_allowed": (ERROR, "a relation between region kinds (or entity types) the taxonomy forbids"),
    "missing_trigger": (ERROR, "an event without a trigger span"),
    "missing_cue": (ERROR, "an attribution without a cue (or a Content/Source region no cue links to)"),
    "missing_content": (ERROR, "an attribution without content"),
    "invalid_choice": (ERROR, "a per-region choice the taxonomy does not allow there"),
    "missing_choice": (WARNING, "a required attribute (realis, commitment, ...) has no value"),
    "overlap_same_label": (WARNING, "two spans with the same label overlap"),
    "hash_mismatch": (ERROR, "text_sha256 does not match the text"),
    "text_unavailable": (WARNING, "no text to check offsets against (pass --store, or records with a text field)"),
    "taxonomy_version": (WARNING, "made with another taxonomy version"),
    "no_records": (WARNING, "a snapshot with no annotation records (e.g. a pull before anyone annotated)"),
    "unsupported_result": (WARNING, "a Label Studio result item this config does not produce; ignored"),
}


@dataclass
class Finding:
    code: str
    message: str
    severity: str = ""
    task_id: Any = None
    annotation_id: Any = None
    region_id: str | None = None
    pointer: str = ""
    file: str | None = None
    line: int | None = None
    doc_id: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        if not self.severity:
            self.severity = CODES[self.code][0]

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> dict[str, Any]:
        d = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "task_id": self.task_id,
            "annotation_id": self.annotation_id,
            "region_id": self.region_id,
            "pointer": self.pointer,
        }
        for k in ("file", "line", "doc_id"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(printable(self.file) + (f":{self.line}" if self.line else ""))
        if self.task_id is not None:
            where.append(f"task {self.task_id}")
        if self.annotation_id is not None:
            where.append(f"annotation {self.annotation_id}")
        if self.doc_id and self.task_id is None:
            where.append(f"doc {self.doc_id}")
        if self.region_id is not None:
            where.append(f"region {self.region_id}")
        loc = ", ".join(where)
        ptr = f" at {self.pointer}" if self.pointer else ""
        return f"{self.severity}: [{self.code}] {loc}{ptr}: {printable(self.message, backslashes=False)}"
