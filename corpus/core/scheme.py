"""A Label Studio project's own label scheme, as plain data, and the taxonomy it amounts to.

``corpus.labelstudio.client.parse_label_config`` reads a labeling config with Label Studio's own
parser (``LabelInterface``) into a :class:`LabelScheme`; :func:`scheme_taxonomy` turns that into
a :class:`~corpus.core.taxonomy.Taxonomy`, so the validator and the converter check an export of
*any* text project exactly as they check our own: controls, labels, ``to_name``, relation labels
(or none), per-region choices and document-level choices all come from that project's config.

How a config maps: the first ``<Labels>`` (or ``<HyperTextLabels>``-less text labels) control is
the entities layer, a second one the events layer (types without roles: every relation label
is allowed between any two regions); ``<Relations>`` labels are entity -> entity relations;
with no ``<Relation>`` labels, relations are unlabelled (read as :data:`UNLABELLED`); a
per-region ``<Choices>`` is an attribute (``whenLabelValue`` limits it to one label); a
``<Choices>`` that is not per region is a document attribute (kept in the record's meta).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from corpus.core import taxonomy as taxmod
from corpus.core.errors import UsageError

UNLABELLED = "(unlabelled)"  # the relation type of a relation drawn without a label
FRAGMENT = "continues"  # our discontinuous-span relation; a foreign config has none


@dataclass(frozen=True)
class LabelsControl:
    name: str
    to_name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ChoicesControl:
    name: str
    to_name: str
    values: tuple[str, ...]
    per_region: bool
    when_label: str | None = None  # whenLabelValue: only on regions with this label
    required: bool = False


@dataclass(frozen=True)
class LabelScheme:
    """What one labeling config declares (text projects: ``<Text>`` objects)."""

    text_name: str  # the <Text name=...>: every region's to_name
    text_key: str  # the task data key of its value ($text -> text)
    labels: tuple[LabelsControl, ...]
    choices: tuple[ChoicesControl, ...] = ()
    relations: tuple[str, ...] = ()  # <Relation value=...> labels; () = relations have no label
    has_relations_tag: bool = False
    other_controls: tuple[str, ...] = ()  # controls the canonical model cannot hold (TextArea, Rating, ...)
    title: str = "labelstudio"
    extra: dict[str, str] = field(default_factory=dict)


def scheme_taxonomy(scheme: LabelScheme, version: str = "labelstudio") -> taxmod.Taxonomy:
    """The taxonomy a project's config amounts to (see the module text)."""
    if not scheme.labels:
        raise UsageError(
            "the label config has no <Labels> control on a <Text> object: nothing to validate spans against",
            hint="give the project's labeling config (Settings > Labeling Interface > Code)",
        )
    if len(scheme.labels) > 2:
        extra = ", ".join(c.name for c in scheme.labels[2:])
        raise UsageError(
            f"the label config has {len(scheme.labels)} <Labels> controls; two are supported (entities, events)",
            hint=f"not supported: {extra}",
        )

    def lab(name: str) -> dict[str, str]:
        return {"name": name, "definition": f"{name} (from the Label Studio config)", "example": name}

    def attrs(ctrl_labels: tuple[str, ...]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for c in scheme.choices:
            if not c.per_region:
                continue
            if c.when_label is not None and c.when_label not in ctrl_labels:
                continue
            if c.when_label is None and not ctrl_labels:
                continue
            spec: dict[str, Any] = {"definition": f"{c.name} (from the Label Studio config)", "values": list(c.values)}
            if c.when_label is not None:
                spec["applies_to"] = c.when_label
            if c.required:
                spec["required"] = True
            out[c.name] = spec
        return out

    ent = scheme.labels[0]
    data: dict = {
        "name": scheme.title,
        "version": version,
        "text_field": scheme.text_name,
        "entities": {"control": ent.name, "labels": [lab(x) for x in ent.labels], "attributes": attrs(ent.labels)},
        "fragment_relation": {"name": FRAGMENT, "definition": "fragments of one span"},
    }
    placed = set(data["entities"]["attributes"])
    if len(scheme.labels) > 1:
        ev = scheme.labels[1]
        ev_attrs = {k: v for k, v in attrs(ev.labels).items() if k not in placed}
        data["events"] = {
            "control": ev.name,
            "types": [lab(x) for x in ev.labels],
            "attributes": ev_attrs,
        }
    rel_names = list(scheme.relations) or [UNLABELLED]
    data["relations"] = {
        "types": [
            {
                "name": r,
                "definition": f"{r} (from the Label Studio config)",
                "from": list(ent.labels),
                "to": list(ent.labels),
            }
            for r in rel_names
        ]
    }
    tax = taxmod.parse(data, f"<label config {scheme.title}>")
    doc_attrs = tuple(
        taxmod.Attribute(c.name, f"{c.name} (document choice)", c.values, c.required, "document")
        for c in scheme.choices
        if not c.per_region
    )
    rel_layer = tax.relation_layer
    assert rel_layer is not None
    return dataclasses.replace(
        tax,
        text_key=scheme.text_key,
        document_attributes=doc_attrs,
        relation_layer=dataclasses.replace(rel_layer, unlabelled="" if scheme.relations else UNLABELLED),
        foreign=True,
    )
