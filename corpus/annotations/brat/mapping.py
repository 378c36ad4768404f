"""The brat-to-taxonomy mapping (by default the packaged copy of ``schemas/brat-polnear.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.core import resources
from corpus.core import taxonomy as taxmod
from corpus.core.errors import UsageError

DEFAULT_MAPPING = resources.path(resources.BRAT_MAPPING)
DEFAULT_ANNOTATOR = "brat"


@dataclass
class BratMapping:
    """The parsed mapping file; see ``schemas/brat-polnear.yaml`` for the meaning of each key."""

    name: str = "brat"
    entity_identity: bool = True
    entity_map: dict[str, str] = field(default_factory=dict)
    event_identity: bool = True
    event_map: dict[str, str] = field(default_factory=dict)
    event_roles: dict[str, str] = field(default_factory=dict)
    attribution_events: dict[str, str] = field(default_factory=dict)  # brat E type -> "optional" | "none"
    attribution_roles: dict[str, str] = field(default_factory=dict)  # brat role -> cue|content|source
    export_with_source: str = "Attribution"
    export_without_source: str = "Attribution-no-source"
    flags: list[str] = field(default_factory=list)
    attribute_identity: bool = True
    attribute_map: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)
    # from the taxonomy
    taxonomy_version: str | None = None
    entity_labels: tuple[str, ...] = ()
    event_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attribute_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    entity_fields: tuple[str, ...] = ()  # attribute names on entities, events, attributions
    event_fields: tuple[str, ...] = ()
    attribution_fields: tuple[str, ...] = ()
    entity_relations: tuple[str, ...] = ()  # relation labels of the taxonomy's relations layer
    taxonomy: taxmod.Taxonomy | None = field(default=None, repr=False, compare=False)

    def slots(self, layer: str, label: str | None) -> dict[str, str | None]:
        """The unset attributes of a new record of ``layer`` with ``label`` (its JSON keys)."""
        return self.taxonomy.attribute_slots(layer, label) if self.taxonomy else dict.fromkeys(self.fields_of(layer))

    def fields_of(self, layer: str) -> tuple[str, ...]:
        """Attribute names of a region kind (``entities``, ``events``, ``attribution``)."""
        return {
            taxmod.ENTITIES: self.entity_fields,
            taxmod.EVENTS: self.event_fields,
            taxmod.ATTRIBUTION: self.attribution_fields,
        }.get(layer, ())

    def relation_label(self, brat_type: str) -> str | None:
        """The taxonomy's entity relation for a brat R type (mapped as ``relation:LABEL``, or by name)."""
        kind = self.relations.get(brat_type)
        if kind and kind.startswith("relation:") and kind[len("relation:") :] in self.entity_relations:
            return kind[len("relation:") :]
        return brat_type if kind is None and brat_type in self.entity_relations else None

    def brat_relation_type(self, label: str) -> str:
        return next((k for k, v in self.relations.items() if v == f"relation:{label}"), label)

    # -- import direction
    def entity_label(self, brat_type: str) -> str | None:
        if brat_type in self.entity_map:
            return self.entity_map[brat_type]
        if self.entity_identity and brat_type in self.entity_labels:
            return brat_type
        return None

    def event_type(self, brat_type: str) -> str | None:
        if brat_type in self.event_map:
            return self.event_map[brat_type]
        if self.event_identity:
            for name in self.event_types:
                if brat_type in (name, name.replace(":", "-")):
                    return name
        return None

    def event_role(self, brat_role: str) -> str:
        base = _role_base(brat_role)
        return self.event_roles.get(brat_role, self.event_roles.get(base, base))

    def attribution_part(self, brat_role: str) -> str | None:
        return self.attribution_roles.get(brat_role) or self.attribution_roles.get(_role_base(brat_role))

    def attribute(self, name: str, value: str | None) -> tuple[str, str] | None:
        """(taxonomy field, taxonomy value) for a brat attribute, or None when it is not mapped."""
        spec = self.attribute_map.get(name)
        if spec is not None:
            fld = spec["field"]
            if "value" in spec:
                return (fld, spec["value"]) if value is None else None
            val = (spec.get("values") or {}).get(value, value)
        elif self.attribute_identity and name in self.attribute_values:
            fld, val = name, value
        else:
            return None
        allowed = self.attribute_values.get(fld, ())
        if val is not None and val not in allowed and val.replace("_", " ") in allowed:
            val = val.replace("_", " ")  # brat values cannot hold spaces: "named_person"
        return (fld, val) if val in allowed else None

    # -- export direction
    def brat_entity_type(self, label: str) -> str:
        for k, v in self.entity_map.items():
            if v == label:
                return k
        return label

    def brat_event_type(self, etype: str) -> str:
        for k, v in self.event_map.items():
            if v == etype:
                return k
        return etype.replace(":", "-")

    def brat_event_role(self, role: str) -> str:
        for k, v in self.event_roles.items():
            if v == role:
                return k
        return role

    def brat_attribute(self, fld: str, value: str) -> tuple[str, str | None]:
        for name, spec in self.attribute_map.items():
            if spec.get("field") == fld and spec.get("value") == value:
                return name, None
        return fld, value.replace(" ", "_")

    def attribution_role_name(self, part: str) -> str:
        for k, v in self.attribution_roles.items():
            if v == part:
                return k
        return part.capitalize()


def _role_base(role: str) -> str:
    """brat numbers repeated roles: Content2 -> Content."""
    return role.rstrip("0123456789") or role


def load_mapping(
    mapping: str | Path | dict | BratMapping | None = None, tax: taxmod.Taxonomy | None = None
) -> BratMapping:
    """Read a mapping file (default ``schemas/brat-polnear.yaml``) and attach the taxonomy's names."""
    if isinstance(mapping, BratMapping):
        return mapping
    import yaml

    if mapping is None or isinstance(mapping, (str, Path)):
        path = Path(mapping) if mapping is not None else DEFAULT_MAPPING
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise UsageError(
                f"cannot read brat mapping file {path}: {e.strerror}",
                hint="give the path of a brat mapping file (mapping)",
            ) from e
        except yaml.YAMLError as e:
            raise UsageError(f"brat mapping file {path} is not valid YAML: {e}") from e
    else:
        data = dict(mapping)
    tax = tax or taxmod.load()
    ents = data.get("entities") or {}
    evs = data.get("events") or {}
    att = data.get("attribution") or {}
    attrs = data.get("attributes") or {}
    m = BratMapping(
        name=str(data.get("name", "brat")),
        entity_identity=bool(ents.get("identity", True)),
        entity_map=dict(ents.get("map") or {}),
        event_identity=bool(evs.get("identity", True)),
        event_map=dict(evs.get("map") or {}),
        event_roles=dict(evs.get("roles") or {}),
        attribution_events={k: str((v or {}).get("source", "optional")) for k, v in (att.get("events") or {}).items()},
        attribution_roles=dict(att.get("roles") or {}),
        export_with_source=str(att.get("export_event_with_source", "Attribution")),
        export_without_source=str(att.get("export_event_without_source", "Attribution-no-source")),
        flags=list(data.get("flags") or []),
        attribute_identity=bool(attrs.get("identity", True)),
        attribute_map={k: dict(v) for k, v in (attrs.get("map") or {}).items()},
        relations=dict(data.get("relations") or {}),
        taxonomy_version=tax.version,
        entity_labels=tax.entity_labels(),
        event_types={t.name: t.role_names for t in tax.events},
        attribute_values={a.name: a.values for a in tax.attributes()},
        entity_fields=tuple(a.name for a in tax.attributes_on(taxmod.ENTITIES)),
        event_fields=tuple(a.name for a in tax.attributes_on(taxmod.EVENTS)),
        attribution_fields=tuple(a.name for a in tax.attributes_on(taxmod.ATTRIBUTION)),
        entity_relations=tuple(r.name for r in tax.entity_relations),
        taxonomy=tax,
    )
    bad = [v for v in m.entity_map.values() if v not in m.entity_labels]
    bad += [v for v in m.event_map.values() if v not in m.event_types]
    bad += [str(v.get("field")) for v in m.attribute_map.values() if v.get("field") not in m.attribute_values]
    bad += [v for v in m.attribution_roles.values() if v not in ("cue", "content", "source")]
    if bad:
        raise UsageError(
            f"brat mapping {m.name!r} maps to names the taxonomy does not have: {', '.join(sorted(set(bad)))}",
            hint="fix the mapping file or schemas/taxonomy.yaml",
        )
    return m
