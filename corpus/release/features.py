"""The release's explicit ``datasets.Features`` (from the taxonomy's labels) and loading a built
release back with ``datasets.load_dataset``. The only module importing ``datasets``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Features, List, Value

from corpus.core.errors import UsageError
from corpus.release.rows import CONFIGS, LabelSet

# ---------------------------------------------------------------- taxonomy -> features


def label_set(path: str | None = None) -> LabelSet:
    """The label set of the taxonomy (``schemas/taxonomy.yaml`` unless ``path``)."""
    from corpus.core import taxonomy

    return LabelSet.from_taxonomy(taxonomy.load(path))


def _span_feature() -> dict[str, Any]:
    return {"fragments": List({"start": Value("int32"), "end": Value("int32")}), "text": Value("string")}


def dataset_features(labels: LabelSet) -> dict[str, Features]:
    """The explicit ``Features`` of every config; the one schema used for every split."""
    cl = lambda names: ClassLabel(names=list(names))  # noqa: E731
    attrs = lambda names: {k: cl(v) for k, v in names.items()}  # noqa: E731
    tokens = {
        "tokens": List(Value("string")),
        "token_starts": List(Value("int32")),
        "token_ends": List(Value("int32")),
    }
    documents = Features(
        {
            "id": Value("string"),
            "title": Value("string"),
            "text": Value("string"),
            "source": Value("string"),
            "url": Value("string"),
            "published": Value("string"),
            "text_sha256": Value("string"),
            "annotator": Value("string"),
            "annotation_origin": Value("string"),
            "annotation_policy": Value("string"),
            "reanchored": Value("bool"),
            "entities": List(
                {
                    "id": Value("string"),
                    "label": cl(labels.entities),
                    "fragments": List({"start": Value("int32"), "end": Value("int32")}),
                    "text": Value("string"),
                    **attrs(labels.entity_attributes),
                }
            ),
            "events": List(
                {
                    "id": Value("string"),
                    "type": cl(labels.event_types),
                    "trigger": _span_feature(),
                    "arguments": List({"role": cl(labels.roles), "entity_id": Value("string")}),
                    **attrs(labels.event_attributes),
                }
            ),
            "attributions": List(
                {
                    "id": Value("string"),
                    "cue": _span_feature(),
                    "content": _span_feature(),
                    "source": _span_feature(),
                    "source_entity_id": Value("string"),
                    **attrs(labels.attribution_attributes),
                    "flags": List(Value("string")),
                }
            ),
            **(
                {
                    "relations": List(
                        {
                            "id": Value("string"),
                            "label": cl(labels.relations),
                            "from_id": Value("string"),
                            "to_id": Value("string"),
                        }
                    )
                }
                if labels.has_relations
                else {}
            ),
        }
    )
    ner = Features(
        {
            "id": Value("string"),
            "doc_id": Value("string"),
            "sentence": Value("int32"),
            **tokens,
            "ner_tags": List(cl(labels.ner_names)),
        }
    )
    attribution = Features(
        {
            "id": Value("string"),
            "doc_id": Value("string"),
            **tokens,
            **{col: List(cl(labels.attribution_names(name))) for col, name in labels.attribution_columns},
        }
    )
    out = {"documents": documents, "ner": ner, "attribution": attribution}
    return {c: out[c] for c in labels.configs}


# ---------------------------------------------------------------- loading a release back


def summarize(folder: str | Path) -> dict[str, Any]:
    """Load every config of a built release with ``datasets.load_dataset`` (as an ML team would)
    and count what it holds: rows per config and split, spans per layer, labels per layer.

    Reads the folder only (offline), so it proves the release loads, not merely that files exist.
    """
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # stdout/stderr carry the summary, not per-split bars
    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise UsageError(
            f"{folder} is not a release folder (no README.md)", hint="build one with `corpus release build`"
        )
    out: dict[str, Any] = {"folder": str(folder), "configs": {}}
    spans: Counter[str] = Counter()
    labels: dict[str, Counter] = {"entities": Counter(), "events": Counter(), "attributions": Counter()}
    for config in CONFIGS:
        try:
            ds = load_dataset(str(folder), config)
        except ValueError:  # a config this release does not have (no attribution layer)
            if config == "documents":
                raise
            continue
        out["configs"][config] = {split: d.num_rows for split, d in ds.items()}
        if config != "documents":
            continue
        for d in ds.values():
            ent_names = d.features["entities"].feature["label"].names
            ev_names = d.features["events"].feature["type"].names
            rel_names = d.features["relations"].feature["label"].names if "relations" in d.features else []
            for row in d:
                spans["documents"] += 1
                spans["entities"] += len(row["entities"])
                spans["events"] += len(row["events"])
                spans["attributions"] += len(row["attributions"])
                labels["entities"].update(ent_names[e["label"]] for e in row["entities"])
                labels["events"].update(ev_names[e["type"]] for e in row["events"])
                if rel_names:
                    spans["relations"] += len(row["relations"])
                    labels.setdefault("relations", Counter()).update(rel_names[r["label"]] for r in row["relations"])
                labels["attributions"].update(
                    part for a in row["attributions"] for part in ("cue", "content", "source") if a.get(part)
                )
    out["documents"] = spans.pop("documents", 0)
    out["spans"] = dict(spans)
    out["labels"] = {layer: dict(sorted(c.items())) for layer, c in labels.items()}
    return out
