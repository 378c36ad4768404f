"""Write (``corpus taxonomy generate``) or check (``corpus taxonomy check``) every file derived
from a taxonomy: the Label Studio config, the three JSON Schemas and the label tables of the
guidelines.

Why a drift check: a committed copy that lags the taxonomy silently misleads annotators (old
labels in the guidelines) and tools (an old schema). ``check`` renders everything in memory and
lists every file whose text differs; CI runs it through the test suite.

Where the files go (:func:`target`):

- an output folder of one's own (``out``): the files of the selected taxonomy (``--taxonomy``,
  ``$CORPUS_TAXONOMY``, else the packaged default), flat: ``labelstudio-config.xml``,
  ``*.schema.json``, ``guidelines.md`` (its prose kept when it exists, else the packaged template's);
- a source checkout (``root``, by default the checkout this package runs from, when it does):
  ``schemas/`` and ``annotations/guidelines.md`` from ``schemas/taxonomy.yaml``, and the packaged
  copies in ``corpus/resources/`` (the taxonomy and brat mapping copied, the rest rendered);
- neither, from an installed wheel: ``check`` compares the packaged files with the packaged
  taxonomy; with a taxonomy of one's own it only checks that taxonomy (there is nothing to compare).

The guidelines are half hand-written: only the text between ``<!-- BEGIN GENERATED: NAME -->``
and ``<!-- END GENERATED: NAME -->`` markers is rendered, the prose around them is kept.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus.core import atomic, resources, taxonomy
from corpus.core.errors import TaxonomyError, UsageError
from corpus.core.taxonomy import ENTITIES, Taxonomy
from corpus.generate import jsonschemas

# in a checkout, relative to its root
CONFIG = Path("schemas/labelstudio-config.xml")
ARTICLE_SCHEMA = Path("schemas/article.schema.json")
ANNOTATION_SCHEMA = Path("schemas/annotation.schema.json")
EXPORT_SCHEMA = Path("schemas/labelstudio-export.schema.json")
GUIDELINES = Path("annotations/guidelines.md")
TAXONOMY = Path("schemas/taxonomy.yaml")
BRAT_MAPPING = Path("schemas/brat-polnear.yaml")
PACKAGED = Path("corpus/resources")  # the package data: copies of the files above

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


def _read(path: Path, hint: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise TaxonomyError(f"cannot read {path}: {e.strerror}", hint=hint) from e


def rendered(tax: Taxonomy, guidelines: str) -> dict[str, str]:
    """Every generated file (by file name) -> its text, the guidelines' prose from ``guidelines``."""
    return {
        resources.CONFIG: taxonomy.labelstudio_config(tax),
        resources.ARTICLE_SCHEMA: _json(jsonschemas.article_schema()),
        resources.ANNOTATION_SCHEMA: _json(jsonschemas.annotation_schema(tax)),
        resources.EXPORT_SCHEMA: _json(jsonschemas.labelstudio_export_schema(tax)),
        resources.GUIDELINES: render_guidelines(tax, guidelines),
    }


def outputs(root: Path, tax: Taxonomy) -> dict[Path, str]:
    """Every generated file of a checkout (path relative to ``root``) -> its expected text."""
    guide = _read(root / GUIDELINES, "the guidelines' prose is hand-written; restore the file from git")
    r = rendered(tax, guide)
    out = {
        CONFIG: r[resources.CONFIG],
        ARTICLE_SCHEMA: r[resources.ARTICLE_SCHEMA],
        ANNOTATION_SCHEMA: r[resources.ANNOTATION_SCHEMA],
        EXPORT_SCHEMA: r[resources.EXPORT_SCHEMA],
        GUIDELINES: r[resources.GUIDELINES],
    }
    out.update({PACKAGED / name: text for name, text in r.items()})
    for src in (TAXONOMY, BRAT_MAPPING):  # sources, copied as they are
        out[PACKAGED / src.name] = _read(root / src, "restore the file from git")
    return out


def folder_outputs(folder: Path, tax: Taxonomy) -> dict[Path, str]:
    """Every generated file of an output folder (file name) -> its expected text; the guidelines'
    prose is the folder's own ``guidelines.md`` when it has one, else the packaged template's."""
    own = folder / resources.GUIDELINES
    guide = own if own.is_file() else resources.path(resources.GUIDELINES)
    return {Path(name): text for name, text in rendered(tax, _read(guide, "restore the file")).items()}


@dataclass
class Target:
    """What ``generate`` writes or ``check`` compares: ``files`` (relative to ``folder``) rendered
    from the taxonomy at ``taxonomy_path``. ``folder`` None: nothing to compare, the taxonomy was
    only loaded and checked."""

    taxonomy_path: Path
    folder: Path | None
    files: dict[Path, str] = field(default_factory=dict)


def target(
    root: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    tax: Taxonomy | None = None,
    *,
    writing: bool = False,
) -> Target:
    """Where the generated files of the selected taxonomy live (see the module docstring)."""
    if out is not None:
        path = taxonomy.default_path()
        t = tax if tax is not None else taxonomy.load(path)
        return Target(path, Path(out), folder_outputs(Path(out), t))
    own = taxonomy.default_path() != taxonomy.DEFAULT_PATH
    if root is None and not own:
        root = resources.checkout_root()
    if root is not None:
        r = Path(root)
        path = r / TAXONOMY
        return Target(path, r, outputs(r, tax if tax is not None else taxonomy.load(path)))
    if writing:
        why = "a taxonomy of one's own" if own else "the packaged files of an installed package"
        raise UsageError(
            f"no output folder for {why} ({taxonomy.default_path()})",
            hint="pass an output folder (out=DIR); only a source checkout is written in place",
        )
    path = taxonomy.default_path()
    t = tax if tax is not None else taxonomy.load(path)
    if own:
        return Target(path, None)
    folder = resources.folder()
    return Target(path, folder, folder_outputs(folder, t))


def stale_files(t: Target) -> list[Path]:
    """Paths (relative to the target's folder) that are missing or differ from what they should be."""
    if t.folder is None:
        return []
    out = []
    for rel, text in t.files.items():
        try:
            if (t.folder / rel).read_text(encoding="utf-8") != text:
                out.append(rel)
        except OSError:
            out.append(rel)
    return out


def stale(
    root: str | os.PathLike[str] | None = None,
    tax: Taxonomy | None = None,
    out: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Relative paths of generated files that are missing or differ from what the taxonomy gives."""
    return stale_files(target(root, out, tax))


def generate(
    root: str | os.PathLike[str] | None = None,
    tax: Taxonomy | None = None,
    out: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write every stale generated file; return the relative paths written."""
    t = target(root, out, tax, writing=True)
    assert t.folder is not None  # a target for writing always has one
    written = []
    for rel in stale_files(t):
        atomic.write_text(t.folder / rel, t.files[rel], newline="\n")
        written.append(rel)
    return written
