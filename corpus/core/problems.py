"""Problems: the one shape in which anything that went wrong reaches the user, and the one table
of their codes.

A bad input file or line, a brat line that cannot be mapped, a validation finding, a record a
release leaves out and an environment that failed (a server that does not answer, a disk that
is full) are all a :class:`Problem`: a ``code`` from :data:`CODES` (severity, what went wrong,
what to do), a message, and where (file, line, doc, task, annotation, region, JSON pointer).

A problem is data, never an exception: one bad record must not hide the next one, and each
command decides what a problem means for it (quarantine, skip, exit code). ``severity`` is
``error`` (the record is wrong, not used), ``warning`` (suspicious or repaired) or ``info``
(counted, nothing wrong). Errors the toolkit raises (:mod:`corpus.core.errors`) carry a code
from the same table and become a problem when the CLI prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from corpus.core.display import printable

ERROR, WARNING, INFO = "error", "warning", "info"


class Code(NamedTuple):
    severity: str
    what: str  # what went wrong
    fix: str  # what to do about it


# code -> (default severity, what went wrong, the fix). The only list of codes: a test checks
# that every code here is used in the package and every code used is here.
CODES: dict[str, Code] = {
    # ---- annotations: conversion from Label Studio and validation (lsformat, validate)
    "schema": Code(ERROR, "the record does not match its JSON Schema", "correct the field named by the pointer"),
    "unreadable": Code(
        ERROR, "the file cannot be read, is not UTF-8 or not JSON / JSONL", "check the file; export it again"
    ),
    "offset_out_of_range": Code(
        ERROR, "a fragment's offsets are outside the text, empty or reversed", "fix or delete the region"
    ),
    "text_mismatch": Code(
        ERROR,
        "a region's text is not the text at its offsets",
        "the annotation was made on another text, or its offsets moved: re-annotate the region",
    ),
    "utf16_offsets": Code(
        WARNING,
        "offsets were UTF-16 code units (old Label Studio); converted to code points",
        "write the converted copy (fix_offsets) and use it",
    ),
    "unknown_label": Code(
        ERROR, "a label, control or relation name the taxonomy does not have", "use a name from the taxonomy"
    ),
    "duplicate_region_id": Code(ERROR, "two regions / spans share an id", "give each region its own id"),
    "dangling_relation": Code(
        ERROR, "a relation or reference points to a region that does not exist", "delete the relation or its target"
    ),
    "relation_not_allowed": Code(
        ERROR,
        "a relation between region kinds (or entity types) the taxonomy forbids",
        "link regions of the kinds the taxonomy allows",
    ),
    "missing_trigger": Code(ERROR, "an event without a trigger span", "mark the event's trigger"),
    "missing_cue": Code(
        ERROR,
        "an attribution without a cue (or a Content/Source region no cue links to)",
        "mark the cue and link it to content and source",
    ),
    "missing_content": Code(ERROR, "an attribution without content", "mark the attributed content"),
    "invalid_choice": Code(
        ERROR, "a per-region choice the taxonomy does not allow there", "pick one of the values the taxonomy lists"
    ),
    "missing_choice": Code(
        WARNING, "a required attribute of the taxonomy has no value", "choose a value for the region"
    ),
    "overlap_same_label": Code(
        WARNING, "two spans with the same label overlap", "merge the spans or delete one, unless both are meant"
    ),
    "hash_mismatch": Code(ERROR, "text_sha256 does not match the text", "annotate the stored text again"),
    "text_unavailable": Code(
        WARNING,
        "no text to check offsets against",
        "give the corpus store (store), or records with a text field",
    ),
    "taxonomy_version": Code(
        WARNING, "made with another taxonomy version", "check the labels still mean the same; re-annotate if not"
    ),
    "no_records": Code(
        WARNING,
        "a snapshot with no annotation records (e.g. a pull before anyone annotated)",
        "annotate, then pull again",
    ),
    "incomplete_snapshot": Code(
        WARNING,
        "a snapshot without its manifest (an interrupted pull or import); not read",
        "pull again (a pull removes such leftovers); the newest complete snapshot is used",
    ),
    "unsupported_result": Code(
        WARNING,
        "a Label Studio result item this config does not produce; ignored",
        "check the project's labeling config matches the taxonomy",
    ),
    "ls_escaped_text": Code(
        WARNING,
        "a region text differs from the task text only by Label Studio's escaping (\\n, collapsed non-breaking "
        "spaces); the offsets are right",
        "nothing to do: the task text is used",
    ),
    "not_imported": Code(
        INFO, "an annotation with nothing to import (cancelled or empty)", "nothing to do: it is counted"
    ),
    "old_format": Code(
        WARNING,
        "a Label Studio 0.x export (`completions` instead of `annotations`); read as annotations",
        "re-export the project from a current Label Studio",
    ),
    "stale_generated_file": Code(
        ERROR,
        "a file generated from the taxonomy is missing or out of date",
        "run `corpus taxonomy generate` and commit the result",
    ),
    # ---- input: readers and the importer
    "no_such_file": Code(ERROR, "the path does not exist", "check the path"),
    "unknown_file_type": Code(
        ERROR, "the file extension names no known input format", "give the format (txt, html, jsonl, csv, brat)"
    ),
    "symlink_outside_root": Code(
        ERROR, "a symlink leaves the import root; not followed", "copy the target into the import folder"
    ),
    "symlink_loop": Code(ERROR, "a symlink loop; not followed", "remove the link, or point it at a file"),
    "lone_surrogate": Code(
        ERROR, "a field holds a lone surrogate (an invalid \\u escape)", "fix the escape in the record"
    ),
    "unreadable_file": Code(ERROR, "the file cannot be opened or read", "check the file exists and can be read"),
    "file_too_large": Code(ERROR, "the file is larger than max_bytes; skipped", "split the file, or raise max_bytes"),
    "line_too_long": Code(ERROR, "a line is longer than max_bytes; skipped", "raise max_bytes"),
    "binary_file": Code(ERROR, "a binary file (contains NUL bytes)", "only text formats can be imported"),
    "empty_text": Code(ERROR, "no text (empty, or only whitespace)", "remove the file or record, or fill it"),
    "bad_byte_order_mark": Code(
        ERROR, "starts with a byte order mark but is not valid in that encoding", "convert the file to UTF-8"
    ),
    "unknown_encoding": Code(
        ERROR,
        "not valid UTF-8 and no other encoding detected with confidence",
        "convert the file to UTF-8 (e.g. iconv -f ENCODING -t UTF-8)",
    ),
    "malformed_json": Code(ERROR, "a JSONL line is not valid JSON", "fix or remove the line"),
    "not_json_object": Code(ERROR, "a JSONL line is not a JSON object", "write one object per line"),
    "malformed_csv": Code(ERROR, "the CSV cannot be parsed there", "fix the quoting of that row"),
    "no_text_field": Code(
        ERROR, "a record without a text field", "name the field holding the text (field_map['text'])"
    ),
    "text_not_string": Code(ERROR, "the text field is not a string", "store the text as a string"),
    "html_extraction_failed": Code(ERROR, "the HTML could not be parsed", "check the file is HTML"),
    "no_main_text": Code(ERROR, "no main text found in the HTML", "import the article text as txt instead"),
    "repeated_source_key": Code(
        ERROR,
        "a source key appears more than once in one import; the first is kept",
        "give each record its own id (or URL)",
    ),
    "not_normalized": Code(
        ERROR, "an article's text is not normalized", "normalize it with corpus.core.normalize first"
    ),
    "bad_prediction": Code(
        ERROR, "a predictions line is not a canonical annotation record", "write records as corpus export does"
    ),
    "preannotator_failed": Code(
        ERROR,
        "the pre-annotator failed on a document; it was pushed (or written) without predictions",
        "report the document to whoever maintains the model; the others are not affected",
    ),
    "stale_prediction": Code(
        ERROR,
        "a prediction was made for another revision of the text (text_sha256 differs)",
        "predict again on the stored text",
    ),
    # ---- brat standoff (reading, mapping, import and export)
    "brat_malformed_line": Code(ERROR, "not a brat standoff line; ignored", "fix or remove the line"),
    "brat_duplicate_id": Code(ERROR, "an id already used earlier in the file; line ignored", "renumber the id"),
    "brat_offsets_outside_text": Code(
        ERROR, "a span's offsets fall outside the text", "check the .ann file belongs to this .txt"
    ),
    "brat_continuation": Code(
        WARNING,
        "a span's text goes on over a line break; joined, exported on one line",
        "nothing to do (brat cannot write a line break inside a span)",
    ),
    "brat_text_mismatch": Code(
        ERROR,
        "a span's text does not match the article text at its offsets",
        "check the .ann file belongs to this .txt, or re-annotate the span",
    ),
    "brat_dangling": Code(
        ERROR, "a line refers to an id that is missing or was not imported; ignored", "fix or remove the line"
    ),
    "brat_incomplete_attribution": Code(
        WARNING,
        "an attribution event without cue or content; kept for brat export, not imported",
        "complete the attribution in brat",
    ),
    "brat_source_in_no_source": Code(
        WARNING, "an attribution of a no-source type has a Source; the source is kept", "check the event type"
    ),
    "brat_unmapped_event_type": Code(
        WARNING,
        "an event type not in the mapping or the taxonomy; kept for brat export only",
        "add it to the brat mapping, or to the taxonomy",
    ),
    "brat_argument_not_entity": Code(
        WARNING, "an event argument that is not an entity; kept for brat export only", "check the argument"
    ),
    "brat_unmapped_attribute": Code(
        WARNING, "an attribute not in the mapping; kept for brat export only", "add it to the brat mapping"
    ),
    "brat_unmapped_relation": Code(
        WARNING, "a relation not in the mapping; kept for brat export only", "add it to the brat mapping"
    ),
    "brat_orphan_span": Code(
        WARNING,
        "a span no attribution, entity or event uses; kept for brat export only",
        "add it to the brat mapping, or delete it",
    ),
    "brat_no_text": Code(ERROR, "an annotation file without its text file", "put NAME.txt beside NAME.ann"),
    "brat_no_article": Code(
        ERROR, "the article of an annotation file is not in the store; annotations skipped", "import the texts first"
    ),
    "brat_text_changed": Code(
        ERROR,
        "the stored text changed since this annotation (text_sha256 differs); skipped",
        "pull or re-import annotations made on the stored text",
    ),
    "not_an_annotation": Code(
        ERROR, "a snapshot line is not a canonical annotation record", "use a snapshot written by the toolkit"
    ),
    # ---- pushing annotation records to Label Studio
    "article_missing": Code(
        ERROR, "the record's document is not in the corpus version", "import the document, or choose its version"
    ),
    "stale_annotation": Code(
        ERROR,
        "made on another version of the text (text_sha256 differs)",
        "re-anchor or re-annotate on the stored text",
    ),
    "no_task": Code(ERROR, "no task with this text in the project", "push the corpus with update_changed, then again"),
    # ---- release: records a release leaves out (also: not_an_annotation, stale_annotation, unknown_label)
    "bad_anchor": Code(
        ERROR, "the annotation's spans do not anchor in the text", "validate the snapshot and fix the spans"
    ),
    "not_in_corpus": Code(
        INFO, "the document is not in the pinned corpus version", "pin another version to include it"
    ),
    "excluded_origin": Code(
        INFO, "an annotation whose origin is not gold (e.g. a prediction)", "nothing to do: predictions never ship"
    ),
    "no_reviewed": Code(
        INFO,
        "no reviewed or adjudicated annotation for the document under this gold policy",
        "review or adjudicate it, or choose another gold policy",
    ),
    # ---- errors the toolkit raises (corpus.core.errors): one code per class
    "E000": Code(ERROR, "the command failed", "read the message"),
    "E001": Code(ERROR, "the command was called wrongly", "see the command's help"),
    "E100": Code(ERROR, "the corpus store cannot be read or written", "check the store URI"),
    "E101": Code(ERROR, "no such corpus version or tag", "list versions and tags with: corpus log"),
    "E102": Code(ERROR, "another writer committed to the store at the same time", "run the command again"),
    "E200": Code(ERROR, "an input item could not be read", "fix the item; the others were imported"),
    "E300": Code(ERROR, "the taxonomy is inconsistent, or a generated file is stale", "fix the taxonomy file"),
    "E500": Code(ERROR, "Label Studio could not be started or used", "see the message"),
    "E501": Code(
        ERROR,
        "Label Studio did not answer or failed",
        "start it (corpus labelstudio start) or check its URL, then run the command again",
    ),
    "E502": Code(ERROR, "Label Studio refused the request", "see the message: retrying will not help"),
    "E503": Code(
        ERROR,
        "Label Studio did not answer within the retry budget; the command stopped and reported what it did",
        "start Label Studio again and run the same command: it resumes (to wait longer: a bigger retry_budget)",
    ),
    "E600": Code(ERROR, "a release could not be built or published", "see the message"),
    "E610": Code(ERROR, "the Hugging Face Hub cannot be used from here", "fix the environment, then publish again"),
    "E611": Code(ERROR, "no Hugging Face token", "set HF_TOKEN (or log in with huggingface-cli login)"),
    "E612": Code(
        ERROR, "the Hub endpoint did not answer", "check the network, the proxy and HF_ENDPOINT, then publish again"
    ),
    "E613": Code(ERROR, "the Hub refused the token", "use a token that can write to the repo (HF_TOKEN)"),
    "E614": Code(
        ERROR, "the release tag already exists on the Hub repo", "publish under a new version: tags are never moved"
    ),
    "E900": Code(ERROR, "the environment failed", "fix the environment and run the command again"),
    "E910": Code(
        ERROR, "PostgreSQL is missing, cannot be initialized or does not start", "see the message; or use SQLite"
    ),
    "E901": Code(ERROR, "the disk is full", "free space (or write somewhere else), then run the command again"),
    "E902": Code(ERROR, "a file or folder cannot be written", "check its permissions and that the folder exists"),
    "E903": Code(ERROR, "a program the command needs is missing", "install it, or give its path"),
    "E904": Code(ERROR, "the corpus store cannot be read", "check the store URI and its permissions"),
}

# where a problem is: the fields, in the order they are shown
LOCATION = ("file", "line", "doc_id", "task_id", "annotation_id", "region_id", "pointer")


@dataclass
class Problem:
    """One problem: a code from :data:`CODES`, a message, and where. ``severity`` defaults to
    the code's; ``hint`` replaces the code's fix when this case has a better one."""

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
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown problem code {self.code!r}")
        if not self.severity:
            self.severity = CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def fix(self) -> str:
        return self.hint or CODES[self.code].fix

    def where(self) -> str:
        """``file:line, doc D, task T, annotation A, region R at /pointer`` (the parts known)."""
        parts = []
        if self.file:
            parts.append(printable(self.file, backslashes=False) + (f":{self.line}" if self.line else ""))
        elif self.line:
            parts.append(f"line {self.line}")
        if self.task_id is not None:
            parts.append(f"task {self.task_id}")
        if self.annotation_id is not None:
            parts.append(f"annotation {self.annotation_id}")
        if self.doc_id and self.task_id is None:
            parts.append(f"doc {self.doc_id}")
        if self.region_id is not None:
            parts.append(f"region {self.region_id}")
        return ", ".join(parts) + (f" at {self.pointer}" if self.pointer else "")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: severity, code, message, every location field (null when unknown), fix."""
        d: dict[str, Any] = {"severity": self.severity, "code": self.code, "message": self.message}
        d.update((k, getattr(self, k)) for k in LOCATION)
        d["fix"] = self.fix
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        fix = d.get("fix")
        return cls(
            d["code"],
            d["message"],
            d.get("severity") or "",
            **{k: d[k] for k in LOCATION if d.get(k) is not None},
            hint=fix if fix and fix != CODES[d["code"]].fix else None,
        )

    def __str__(self) -> str:
        """The text form (one line, control characters escaped): ``severity: [code] where: message``."""
        loc = self.where()
        return f"{self.severity}: [{self.code}] {loc + ': ' if loc else ''}{printable(self.message, backslashes=False)}"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]
