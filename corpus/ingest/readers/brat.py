"""brat standoff files: ``.ann`` text <-> :class:`BratDocument` (no knowledge of the taxonomy).

brat (and INCEpTION's brat export) store one document as ``NAME.txt`` and its annotations as a
``.ann`` file of tab-separated lines: ``T`` text-bound spans (possibly discontinuous,
``Content 1775 1995;1998 2184``), ``E`` events (``Attribution:T4 Content:T3 Cue:T2``), ``R``
relations, ``A``/``M`` attributes, ``#`` notes, ``N`` normalizations and ``*`` equivalences.

Bad lines never stop a file: each becomes a :class:`~corpus.core.problems.Problem` naming file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from corpus.core.problems import Problem

# ---------------------------------------------------------------- parsed brat


@dataclass
class TextBound:
    id: str
    type: str
    fragments: list[tuple[int, int]]  # in the order written on the line
    text: str | None
    line: int
    continuation: list[str] = field(default_factory=list)  # unparseable lines that followed
    continuation_lines: list[int] = field(default_factory=list)


@dataclass
class EventLine:
    id: str
    type: str
    trigger: str
    args: list[tuple[str, str]]
    line: int
    tail: str = ""  # whitespace after the last argument, written back as it was


@dataclass
class RelationLine:
    id: str
    type: str
    args: list[tuple[str, str]]
    line: int
    tail: str = ""  # brat itself writes a tab after Arg2


@dataclass
class AttributeLine:
    id: str
    name: str
    target: str
    value: str | None
    line: int


@dataclass
class NoteLine:
    id: str
    type: str
    target: str
    text: str
    line: int


@dataclass
class BratDocument:
    path: str = ""
    textbounds: dict[str, TextBound] = field(default_factory=dict)
    events: dict[str, EventLine] = field(default_factory=dict)
    relations: dict[str, RelationLine] = field(default_factory=dict)
    attributes: dict[str, AttributeLine] = field(default_factory=dict)
    notes: dict[str, NoteLine] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # N and * lines, kept verbatim
    order: list[str] = field(default_factory=list)  # ids in file order
    issues: list[Problem] = field(default_factory=list)


_T = re.compile(r"^(T\S*)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)(?:\t(.*))?$")
_E = re.compile(r"^(E\S*)\t(\S+?):(\S+)((?: +\S+:\S+)*)([ \t]*)$")
_R = re.compile(r"^(R\S*)\t(\S+) (\S+):(\S+) (\S+):(\S+)([ \t]*)$")
_A = re.compile(r"^([AM]\S*)\t(\S+) (\S+)(?: (\S+))? *$")
_NOTE = re.compile(r"^(#\S*)\t(\S+) (\S+)\t(.*)$")
_NORM = re.compile(r"^(N\S*)\t\S+ \S+ \S+(?:\t.*)?$")
_EQUIV = re.compile(r"^\*\t\S+(?: \S+)+ *$")


def parse_ann(content: str, path: str = "") -> BratDocument:
    """Parse the text of a ``.ann`` file. Never raises on bad lines: they become issues.

    A line that parses as nothing right after a ``T`` line is remembered as a possible
    continuation of that span's text: brat writes a span's text verbatim, so a span crossing a
    line break spills onto the next lines (3 PolNeAR files). ``brat_to_annotation`` decides,
    with the article text at hand, whether it was one.
    """
    doc = BratDocument(path=path)
    last_t: TextBound | None = None
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for no, raw_line in enumerate(lines, start=1):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        kind = line[:1]
        item_id = None
        if kind == "T" and (m := _T.match(line)):
            frags = [(int(s), int(e)) for s, e in (part.split(" ") for part in m.group(3).split(";"))]
            tb = TextBound(m.group(1), m.group(2), frags, m.group(4), no)
            item_id = tb.id
            if _add(doc, doc.textbounds, tb, no):
                last_t = tb
                continue
            last_t = None
            continue
        if kind == "E" and (m := _E.match(line)):
            args = [tuple(a.split(":", 1)) for a in m.group(4).split()]
            item_id = m.group(1)
            ev = EventLine(item_id, m.group(2), m.group(3), args, no, m.group(5))
            _add(doc, doc.events, ev, no)
        elif kind == "R" and (m := _R.match(line)):
            item_id = m.group(1)
            args = [(m.group(3), m.group(4)), (m.group(5), m.group(6))]
            rel = RelationLine(item_id, m.group(2), args, no, m.group(7))
            _add(doc, doc.relations, rel, no)
        elif kind in "AM" and line and (m := _A.match(line)):
            item_id = m.group(1)
            _add(doc, doc.attributes, AttributeLine(item_id, m.group(2), m.group(3), m.group(4), no), no)
        elif kind == "#" and (m := _NOTE.match(line)):
            item_id = m.group(1)
            _add(doc, doc.notes, NoteLine(item_id, m.group(2), m.group(3), m.group(4), no), no)
        elif kind == "N" and (m := _NORM.match(line)):
            item_id = m.group(1)
            if item_id not in doc.raw:
                doc.raw[item_id] = line
                doc.order.append(item_id)
        elif kind == "*" and _EQUIV.match(line):
            item_id = f"*{no}"
            doc.raw[item_id] = line
            doc.order.append(item_id)
        elif last_t is not None:
            last_t.continuation.append(line)
            last_t.continuation_lines.append(no)
            continue
        elif line.strip():
            doc.issues.append(
                Problem("brat_malformed_line", f"not a brat standoff line: {line[:80]!r}", file=path, line=no)
            )
        last_t = None
    return doc


def _add(doc: BratDocument, table: dict, item: Any, no: int) -> bool:
    if item.id in doc.order:
        doc.issues.append(
            Problem(
                "brat_duplicate_id",
                f"id {item.id} already used earlier in the file; line ignored",
                file=doc.path,
                line=no,
            )
        )
        return False
    table[item.id] = item
    doc.order.append(item.id)
    return True


def _offsets(frags: Iterable[tuple[int, int]]) -> str:
    return ";".join(f"{s} {e}" for s, e in frags)


def format_textbound(tb: TextBound) -> str:
    head = f"{tb.id}\t{tb.type} {_offsets(tb.fragments)}"
    return head if tb.text is None else f"{head}\t{tb.text}"


def write_ann(doc: BratDocument) -> str:
    """Lines in ``doc.order``; items missing from the order follow. Continuations are dropped."""
    out: list[str] = []
    seen: set[str] = set()
    ids = list(doc.order) + [
        i
        for table in (doc.textbounds, doc.events, doc.relations, doc.attributes, doc.notes, doc.raw)
        for i in table
        if i not in doc.order
    ]
    for i in ids:
        if i in seen:
            continue
        seen.add(i)
        if i in doc.textbounds:
            out.append(format_textbound(doc.textbounds[i]))
        elif i in doc.events:
            ev = doc.events[i]
            out.append(f"{ev.id}\t{ev.type}:{ev.trigger}" + "".join(f" {r}:{a}" for r, a in ev.args) + ev.tail)
        elif i in doc.relations:
            r = doc.relations[i]
            out.append(f"{r.id}\t{r.type} " + " ".join(f"{k}:{v}" for k, v in r.args) + r.tail)
        elif i in doc.attributes:
            a = doc.attributes[i]
            out.append(f"{a.id}\t{a.name} {a.target}" + (f" {a.value}" if a.value is not None else ""))
        elif i in doc.notes:
            n = doc.notes[i]
            out.append(f"{n.id}\t{n.type} {n.target}\t{n.text}")
        elif i in doc.raw:
            out.append(doc.raw[i])
    return "".join(line + "\n" for line in out)


# ---------------------------------------------------------------- mapping file
