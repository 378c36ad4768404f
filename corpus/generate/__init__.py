"""Write (``corpus taxonomy generate``) or check (``corpus taxonomy check``) every file derived
from ``schemas/taxonomy.yaml``: the Label Studio config, the three JSON Schemas and the label
tables of ``annotations/guidelines.md``.

Why a drift check: a committed copy that lags the taxonomy silently misleads annotators (old
labels in the guidelines) and tools (an old schema). ``check`` renders everything in memory and
lists every file whose committed text differs; CI runs it through the test suite.

The guidelines are half hand-written: only the text between ``<!-- BEGIN GENERATED: NAME -->``
and ``<!-- END GENERATED: NAME -->`` markers is rendered, the prose around them is kept.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from corpus.core import atomic, taxonomy
from corpus.core.errors import TaxonomyError
from corpus.core.taxonomy import ENTITIES, Taxonomy
from corpus.generate import jsonschemas

CONFIG = Path("schemas/labelstudio-config.xml")
ARTICLE_SCHEMA = Path("schemas/article.schema.json")
ANNOTATION_SCHEMA = Path("schemas/annotation.schema.json")
EXPORT_SCHEMA = Path("schemas/labelstudio-export.schema.json")
GUIDELINES = Path("annotations/guidelines.md")
TAXONOMY = Path("schemas/taxonomy.yaml")

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: ([\w-]+)[^>]*-->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)


def _json(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _key(k: str | None) -> str:
    return f"`{k}`" if k else ""


_ABSENT = "*This taxonomy has no {} layer.*\n"


def guideline_blocks(tax: Taxonomy) -> dict[str, str]:
    """The generated Markdown blocks of the guidelines, by marker name.

    A layer the taxonomy lacks renders as one line saying so; entity attributes follow the
    entity table and entity relations the relation table, so the same markers serve every taxonomy.
    """
    b: dict[str, str] = {}
    b["version"] = f"Taxonomy **{tax.name} {tax.version}** (`schemas/taxonomy.yaml`).\n"
    if tax.entity_layer:
        rows = ["| Label | Hotkey | Definition | Example |", "|---|---|---|---|"]
        rows += [
            f"| **{_cell(e.name)}** | {_key(e.hotkey)} | {_cell(e.definition)} | {_cell(e.example)} |"
            for e in tax.entities
        ]
        b["entities"] = "\n".join(rows) + "\n"
        if tax.entity_attributes:
            b["entities"] += "\n" + _attribute_table(tax, tax.entity_attributes)
    else:
        b["entities"] = _ABSENT.format("entities")
    if tax.event_layer:
        rows = [
            "| Event type | Hotkey | Definition | Trigger example | Roles (accepted entity types) |",
            "|---|---|---|---|---|",
        ]
        for ev in tax.events:
            roles = "; ".join(f"{r.name} ({', '.join(r.entity_types)})" for r in ev.roles)
            rows.append(
                f"| **{_cell(ev.name)}** | {_key(ev.hotkey)} | {_cell(ev.definition)} | {_cell(ev.example)} | "
                f"{_cell(roles)} |"
            )
        b["events"] = "\n".join(rows) + "\n"
        b["event-attributes"] = _attribute_table(tax, tax.event_attributes)
    else:
        b["events"] = b["event-attributes"] = _ABSENT.format("events")
    if tax.attribution_layer:
        rows = ["| Span | Hotkey | Required | Definition | Example |", "|---|---|---|---|---|"]
        rows += [
            f"| **{_cell(s.name)}** | {_key(s.hotkey)} | {'yes' if s.required else 'no'} | {_cell(s.definition)} | "
            f"{_cell(s.example)} |"
            for s in tax.attribution_spans
        ]
        b["attribution"] = "\n".join(rows) + "\n"
        b["attribution-attributes"] = _attribute_table(tax, tax.attribution_attributes)
    else:
        b["attribution"] = b["attribution-attributes"] = _ABSENT.format("attribution")
    rows = ["| Relation | From | To | Definition |", "|---|---|---|---|"]
    for r in tax.attribution_relations:
        to = "entity" if r.to_kind == ENTITIES else r.to_kind
        rows.append(f"| `{r.name}` | {r.from_kind} | {to} | {_cell(r.definition)} |")
    for er in tax.entity_relations:
        rows.append(
            f"| `{er.name}` | {_cell(', '.join(er.from_types))} | {_cell(', '.join(er.to_types))} | "
            f"{_cell(er.definition)} |"
        )
    fr = tax.fragment_relation
    rows.append(f"| `{fr.name}` | first fragment | each further fragment | {_cell(fr.definition)} |")
    if tax.roles():
        examples = ", ".join(f"`{r}`" for r in tax.roles()[:2])
        rows.append(
            f"| *a role* ({examples}, ...) | event trigger | entity | Event argument; the role must be "
            "one of the event type's roles and the entity of an accepted type (table above). |"
        )
    b["relations"] = "\n".join(rows) + "\n"
    return b


def _attribute_table(tax: Taxonomy, attrs: tuple[taxonomy.Attribute, ...]) -> str:
    out = []
    for a in attrs:
        req = "required" if a.required else "optional"
        out.append(f"**{a.name}** ({req}, on every {taxonomy.region_kind(tax, a.layer, a.label)}): {a.definition}\n")
        out.append("| Value | Hotkey | Meaning |\n|---|---|---|")
        out += [f"| {_cell(v)} | {_key(a.hotkey(v))} | {_cell(a.value_definition(v))} |" for v in a.values]
        out.append("")
    return "\n".join(out)


def render_guidelines(tax: Taxonomy, current: str) -> str:
    """``current`` with every generated block re-rendered; hand-written prose untouched."""
    blocks = guideline_blocks(tax)
    found: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in blocks:
            raise TaxonomyError(
                f"{GUIDELINES}: unknown generated block {name!r}", hint=f"known blocks: {', '.join(blocks)}"
            )
        found.add(name)
        return m.group(1) + blocks[name] + m.group(4)

    out = _BLOCK.sub(sub, current)
    missing = [n for n in blocks if n not in found]
    if missing:
        raise TaxonomyError(
            f"{GUIDELINES} lacks the generated block(s) {', '.join(missing)}",
            hint="add <!-- BEGIN GENERATED: NAME --> / <!-- END GENERATED: NAME --> markers where the tables belong",
        )
    return out


def outputs(root: Path, tax: Taxonomy) -> dict[Path, str]:
    """Every generated file (relative path) -> its expected text."""
    try:
        guide = (root / GUIDELINES).read_text(encoding="utf-8")
    except OSError as e:
        raise TaxonomyError(
            f"cannot read {root / GUIDELINES}: {e.strerror}",
            hint="the guidelines' prose is hand-written; restore the file from git",
        ) from e
    return {
        CONFIG: taxonomy.labelstudio_config(tax),
        ARTICLE_SCHEMA: _json(jsonschemas.article_schema()),
        ANNOTATION_SCHEMA: _json(jsonschemas.annotation_schema(tax)),
        EXPORT_SCHEMA: _json(jsonschemas.labelstudio_export_schema(tax)),
        GUIDELINES: render_guidelines(tax, guide),
    }


def _root_and_tax(root: str | os.PathLike[str] | None, tax: Taxonomy | None) -> tuple[Path, Taxonomy]:
    r = Path(root) if root is not None else taxonomy.REPO_ROOT
    return r, tax if tax is not None else taxonomy.load(r / TAXONOMY)


def stale(root: str | os.PathLike[str] | None = None, tax: Taxonomy | None = None) -> list[Path]:
    """Relative paths of generated files that are missing or differ from what the taxonomy gives."""
    r, t = _root_and_tax(root, tax)
    out = []
    for rel, text in outputs(r, t).items():
        try:
            if (r / rel).read_text(encoding="utf-8") != text:
                out.append(rel)
        except OSError:
            out.append(rel)
    return out


def generate(root: str | os.PathLike[str] | None = None, tax: Taxonomy | None = None) -> list[Path]:
    """Write every stale generated file; return the relative paths written."""
    r, t = _root_and_tax(root, tax)
    written = []
    for rel, text in outputs(r, t).items():
        p = r / rel
        try:
            if p.read_text(encoding="utf-8") == text:
                continue
        except OSError:
            pass
        atomic.write_text(p, text, newline="\n")
        written.append(rel)
    return written
