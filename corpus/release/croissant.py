"""``croissant.json``: the release described in Croissant 1.0 (JSON-LD), for the Hub and any
Croissant reader (pure; the tests validate it with ``mlcroissant``, offline).

One FileSet per config (its Parquet shards, ``<config>/*.parquet``) and one RecordSet per config
whose fields are the flat and list-of-scalar columns (class-label columns as integers, their
names in the field description). The nested annotation columns of ``documents`` (entities,
events, attributions) are named in the record set's description; the card and ``Features`` give
their full structure.
"""

from __future__ import annotations

from typing import Any

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
SCALAR_TYPES = {
    "string": "sc:Text",
    "large_string": "sc:Text",
    "bool": "sc:Boolean",
    "int32": "sc:Integer",
    "int64": "sc:Integer",
    "float": "sc:Float",
    "double": "sc:Float",
}


def _field(config: str, name: str, feature: Any) -> dict[str, Any] | None:
    """A Croissant field for a ``datasets`` feature: Value, ClassLabel, or a list of those."""
    from_type = type(feature).__name__
    repeated = False
    if from_type in ("List", "Sequence", "LargeList"):
        feature = feature.feature
        from_type = type(feature).__name__
        repeated = True
    if from_type == "ClassLabel":
        dtype, desc = "sc:Integer", "class label ids: " + ", ".join(f"{i} {n}" for i, n in enumerate(feature.names))
    elif from_type == "Value" and feature.dtype in SCALAR_TYPES:
        dtype, desc = SCALAR_TYPES[feature.dtype], None
    else:
        return None  # nested structure: described on the record set
    f: dict[str, Any] = {
        "@type": "cr:Field",
        "@id": f"{config}/{name}",
        "name": name,
        "dataType": dtype,
        "source": {"fileSet": {"@id": f"{config}-parquet"}, "extract": {"column": name}},
    }
    if desc:
        f["description"] = desc
    if repeated:
        f["repeated"] = True
    return f


def croissant(
    meta: dict[str, Any],
    stats: dict[str, Any],
    features: dict[str, Any],
    descriptions: dict[str, str],
    license_url: str | None,
    citation: str,
) -> dict[str, Any]:
    repo = stats["repo"]
    cit = stats.get("citation") or {}
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": stats["name"],
        "description": (
            f"{meta['pretty_name']}: news articles with one gold annotation per article in three layers "
            "(named entities, events with arguments, attribution: cue, source, content)."
        ),
        "version": stats["version"],
        "url": cit.get("url") or f"https://huggingface.co/datasets/{repo}",
        "citeAs": citation,
        "inLanguage": meta.get("language", ["en"])[0],
        "keywords": meta.get("tags", []),
    }
    if license_url:
        out["license"] = license_url
    if cit.get("authors"):
        out["creator"] = [{"@type": "sc:Person", "name": a} for a in cit["authors"]]
    if cit.get("year"):
        out["datePublished"] = str(cit["year"])
    out["distribution"] = []
    out["recordSet"] = []
    for config, feats in features.items():
        if not any(stats["rows"].get(config, {}).values()):
            continue
        out["distribution"].append(
            {
                "@type": "cr:FileSet",
                "@id": f"{config}-parquet",
                "name": f"{config}-parquet",
                "description": f"Parquet shards of the {config} config (every split).",
                "encodingFormat": "application/x-parquet",
                "includes": f"{config}/*.parquet",
            }
        )
        fields = [f for name, feat in feats.items() if (f := _field(config, name, feat)) is not None]
        nested = [name for name, feat in feats.items() if _field(config, name, feat) is None]
        desc = descriptions.get(config, config)
        if nested:
            desc += ". Nested columns not listed as fields (see the dataset card): " + ", ".join(nested)
        out["recordSet"].append(
            {"@type": "cr:RecordSet", "@id": config, "name": config, "description": desc, "field": fields}
        )
    return out
