"""JSON Schemas (Draft 2020-12) derived from the taxonomy: the canonical article and annotation
records, and a Label Studio JSON export of a project with the generated labeling config.

Built in memory from :class:`corpus.core.taxonomy.Taxonomy` so the validator always checks against
the taxonomy it was given; ``corpus taxonomy generate`` writes the same dicts to
``schemas/*.schema.json`` for people and other tools, and ``check`` fails when they are stale.
"""

from __future__ import annotations

from typing import Any

from corpus.core.taxonomy import ATTRIBUTION, ENTITIES, EVENTS, Taxonomy

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ORIGINS = ["labelstudio", "prediction", "brat", "adjudicated", "demo"]
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _opt(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def _enum_or_null(values: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"enum": [*values, None]}


def article_schema() -> dict[str, Any]:
    s = {"type": ["string", "null"]}
    return {
        "$schema": DRAFT,
        "$id": "article.schema.json",
        "title": "newscorpus article",
        "description": "One stored article (corpus.core.model.Article.to_dict): NFC-normalized text and metadata.",
        "type": "object",
        "required": ["doc_id", "text", "text_sha256"],
        "additionalProperties": False,
        "properties": {
            "doc_id": {"type": "string", "minLength": 1, "description": "sha256(source key)[:16], stable across edits"},
            "text": {"type": "string", "description": "NFC-normalized text; offsets are code points into it"},
            "title": s,
            "source": s,
            "url": s,
            "published": {**s, "description": "ISO 8601 date or datetime, as found"},
            "language": s,
            "text_sha256": SHA256,
            "raw_sha256": {"type": "string", "pattern": "^([0-9a-f]{64})?$"},
            "meta": {"type": "object"},
        },
    }


def annotation_schema(tax: Taxonomy) -> dict[str, Any]:
    """The canonical annotation record (``Annotation.to_dict()``), label enums from ``tax``."""
    en_attr = {a.name: _enum_or_null(a.values) for a in tax.attributes_on(ENTITIES)}
    ev_attr = {a.name: _enum_or_null(a.values) for a in tax.attributes_on(EVENTS)}
    at_attr = {a.name: _enum_or_null(a.values) for a in tax.attributes_on(ATTRIBUTION)}
    relations: dict[str, Any] = {}
    relation_def: dict[str, Any] = {}
    if tax.relation_layer:
        relations = {"relations": {"type": "array", "items": {"$ref": "#/$defs/relation"}}}
        relation_def = {
            "relation": {
                "type": "object",
                "required": ["id", "label", "from_id", "to_id"],
                "additionalProperties": False,
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "label": {"enum": [r.name for r in tax.entity_relations]},
                    "from_id": {"$ref": "#/$defs/id"},
                    "to_id": {"$ref": "#/$defs/id"},
                },
            }
        }
    return {
        "$schema": DRAFT,
        "$id": "annotation.schema.json",
        "title": f"newscorpus annotation ({tax.name} taxonomy {tax.version})",
        "description": "One annotator's annotation of one document (corpus.core.model.Annotation.to_dict). Offsets are "
        "Unicode code points into the stored NFC text; a span is sorted fragments and their texts "
        "joined by one space.",
        "type": "object",
        "required": ["doc_id", "text_sha256", "annotator", "entities", "events", "attributions"],
        "additionalProperties": False,
        "properties": {
            "doc_id": {"type": "string", "minLength": 1},
            "text_sha256": SHA256,
            "annotator": {"type": "string"},
            "origin": {"enum": ORIGINS},
            "taxonomy_version": {"type": ["string", "null"]},
            "task_id": {"type": ["integer", "string", "null"]},
            "annotation_id": {"type": ["integer", "string", "null"]},
            "ground_truth": {"type": "boolean"},
            "created_at": {"type": ["string", "null"]},
            "updated_at": {"type": ["string", "null"]},
            "lead_time": {"type": ["number", "null"]},
            "model_version": {"type": ["string", "null"]},
            "score": {"type": ["number", "null"]},
            "notes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["target", "text"],
                    "properties": {"target": {"type": "string"}, "text": {"type": "string"}},
                },
            },
            "meta": {"type": "object"},
            "text": {"type": "string", "description": "optional copy of the document text (for standalone checks)"},
            "entities": {"type": "array", "items": {"$ref": "#/$defs/entity"}},
            "events": {"type": "array", "items": {"$ref": "#/$defs/event"}},
            "attributions": {"type": "array", "items": {"$ref": "#/$defs/attribution"}},
            **relations,
        },
        "$defs": {
            "id": {"type": "string", "minLength": 1},
            "fragment": {
                "type": "object",
                "required": ["start", "end"],
                "additionalProperties": False,
                "properties": {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0}},
            },
            "span": {
                "type": "object",
                "required": ["fragments", "text"],
                "additionalProperties": False,
                "properties": {
                    "fragments": {"type": "array", "items": {"$ref": "#/$defs/fragment"}},
                    "text": {"type": "string"},
                },
            },
            "entity": {
                "type": "object",
                "required": ["id", "label", "fragments", "text"],
                "additionalProperties": False,
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "label": {"enum": list(tax.entity_labels())},
                    "fragments": {"type": "array", "items": {"$ref": "#/$defs/fragment"}},
                    "text": {"type": "string"},
                    **en_attr,
                },
            },
            "event": {
                "type": "object",
                "required": ["id", "type", "trigger", "arguments"],
                "additionalProperties": False,
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "type": {"enum": list(tax.event_types())},
                    "trigger": {"$ref": "#/$defs/span"},
                    "arguments": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["role", "entity_id"],
                            "additionalProperties": False,
                            "properties": {"role": {"enum": list(tax.roles())}, "entity_id": {"$ref": "#/$defs/id"}},
                        },
                    },
                    **ev_attr,
                },
            },
            "attribution": {
                "type": "object",
                "required": ["id", "cue", "content"],
                "additionalProperties": False,
                "properties": {
                    "id": {"$ref": "#/$defs/id"},
                    "cue": {"$ref": "#/$defs/span"},
                    "content": {"$ref": "#/$defs/span"},
                    "source": _opt({"$ref": "#/$defs/span"}),
                    "source_entity_id": _opt({"$ref": "#/$defs/id"}),
                    **at_attr,
                    "flags": {"type": "array", "items": {"type": "string"}},
                },
            },
            **relation_def,
        },
    }


def labelstudio_export_schema(tax: Taxonomy) -> dict[str, Any]:
    """A Label Studio JSON export (list of tasks) of a project using the generated config.

    Control names (``from_name``) are enums; label, choice and relation values are left to the
    semantic pass, which reports them with the region id and a specific code.
    """
    # Label and choice *values* are checked by the semantic pass (unknown_label, invalid_choice,
    # with the region id); the schema fixes the structure and the control names.
    offsets = {
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 0},
        "text": {"type": "string"},
    }
    user = {
        "anyOf": [
            {"type": ["integer", "string"]},
            {"type": "null"},
            {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": ["integer", "string"]},
                    "email": {"type": "string"},
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                },
            },
        ]
    }
    return {
        "$schema": DRAFT,
        "$id": "labelstudio-export.schema.json",
        "title": f"Label Studio JSON export of a newscorpus project ({tax.name} taxonomy {tax.version})",
        "description": "The list of tasks Label Studio exports (JSON format). Fields this toolkit does not read "
        "are allowed; the ones it reads are typed. Region offsets are code points (UTF-16 code "
        "units in old Label Studio releases: corpus validate --fix-offsets converts them).",
        "type": "array",
        "items": {"$ref": "#/$defs/task"},
        "$defs": {
            "task": {
                "type": "object",
                "required": ["id", "data", "annotations"],
                "properties": {
                    "id": {"type": ["integer", "string"]},
                    "data": {
                        "type": "object",
                        "required": [tax.data_key],
                        "properties": {
                            tax.data_key: {"type": "string"},
                            "doc_id": {"type": "string"},
                            "text_sha256": {"type": "string"},
                            "title": {"type": ["string", "null"]},
                            "source": {"type": ["string", "null"]},
                            "published": {"type": ["string", "null"]},
                            "url": {"type": ["string", "null"]},
                        },
                    },
                    "meta": {"type": ["object", "null"]},
                    "annotations": {"type": "array", "items": {"$ref": "#/$defs/annotation"}},
                    "drafts": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/draft"}]}},
                    "predictions": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/prediction"}]},
                    },
                    "created_at": {"type": ["string", "null"]},
                    "updated_at": {"type": ["string", "null"]},
                    "inner_id": {"type": ["integer", "null"]},
                    "total_annotations": {"type": "integer"},
                    "cancelled_annotations": {"type": "integer"},
                    "total_predictions": {"type": "integer"},
                    "project": {"type": ["integer", "null"]},
                },
            },
            "annotation": {
                "type": "object",
                "required": ["id", "result"],
                "properties": {
                    "id": {"type": ["integer", "string"]},
                    "result": {"$ref": "#/$defs/result"},
                    "completed_by": user,
                    "was_cancelled": {"type": "boolean"},
                    "ground_truth": {"type": "boolean"},
                    "lead_time": {"type": ["number", "null"]},
                    "created_at": {"type": ["string", "null"]},
                    "updated_at": {"type": ["string", "null"]},
                    "draft_created_at": {"type": ["string", "null"]},
                    "task": {"type": ["integer", "null"]},
                    "project": {"type": ["integer", "null"]},
                    "prediction": {"type": ["object", "integer", "null"]},
                    "parent_prediction": {"type": ["integer", "null"]},
                    "parent_annotation": {"type": ["integer", "null"]},
                    "last_action": {"type": ["string", "null"]},
                    "result_count": {"type": "integer"},
                },
            },
            "draft": {
                "type": "object",
                "required": ["id", "result"],
                "properties": {
                    "id": {"type": ["integer", "string"]},
                    "result": {"$ref": "#/$defs/result"},
                    "user": user,
                    "lead_time": {"type": ["number", "null"]},
                    "was_postponed": {"type": "boolean"},
                    "created_at": {"type": ["string", "null"]},
                    "updated_at": {"type": ["string", "null"]},
                    "annotation": {"type": ["integer", "null"]},
                },
            },
            "prediction": {
                "type": "object",
                "required": ["result"],
                "properties": {
                    "id": {"type": ["integer", "string"]},
                    "result": {"$ref": "#/$defs/result"},
                    "model_version": {"type": ["string", "null"]},
                    "score": {"type": ["number", "null"]},
                },
            },
            "result": {"type": "array", "items": {"$ref": "#/$defs/result_item"}},
            "result_item": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["labels", "choices", "relation"]}},
                "allOf": [
                    {"if": {"properties": {"type": {"const": "labels"}}}, "then": {"$ref": "#/$defs/labels_item"}},
                    {"if": {"properties": {"type": {"const": "choices"}}}, "then": {"$ref": "#/$defs/choices_item"}},
                    {"if": {"properties": {"type": {"const": "relation"}}}, "then": {"$ref": "#/$defs/relation_item"}},
                ],
            },
            "labels_item": {
                "type": "object",
                "required": ["id", "from_name", "to_name", "value"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "from_name": {"enum": list(tax.label_controls())},
                    "to_name": {"const": tax.text},
                    "value": {
                        "type": "object",
                        "required": ["start", "end", "labels"],
                        "properties": {
                            **offsets,
                            "labels": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        },
                    },
                    "meta": {"type": "object"},
                    "origin": {"type": "string"},
                },
            },
            "choices_item": {
                "type": "object",
                "required": ["id", "from_name", "to_name", "value"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "from_name": {"enum": [a.name for a in (*tax.attributes(), *tax.document_attributes)]},
                    "to_name": {"const": tax.text},
                    "value": {
                        "type": "object",
                        "required": ["choices"],
                        "properties": {
                            **offsets,
                            "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        },
                    },
                },
            },
            "relation_item": {
                "type": "object",
                "required": ["from_id", "to_id"]
                if tax.relation_layer is not None and tax.relation_layer.unlabelled
                else ["from_id", "to_id", "labels"],
                "properties": {
                    "from_id": {"type": "string", "minLength": 1},
                    "to_id": {"type": "string", "minLength": 1},
                    "direction": {"enum": ["right", "left", "bi"]},
                    "labels": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    }
