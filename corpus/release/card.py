"""The dataset card (README.md) of a release, rendered from the build's statistics (pure).

The YAML header is what the Hub and ``load_dataset`` read (configs, data files, features,
split sizes); the body is for people: what the data is, the label definitions, counts, how gold
was chosen, what was left out and why, provenance, how to load it, how to cite it.

Everything here is a function of the release statistics, so two builds of the same inputs give
the same card except for the one ``Built at`` line.
"""

from __future__ import annotations

from typing import Any

import yaml

from corpus.release.rows import LabelSet
from corpus.release.splits import SPLITS

BUILD_TIME_PREFIX = "- Built at: "

CONFIG_DESCRIPTIONS = {
    "documents": "one row per article: text, metadata and the full gold annotation (entities, events, "
    "attributions) with exact character offsets (Unicode code points into `text`)",
    "ner": "one row per sentence: tokens, their character offsets into the article text, and BIO "
    "`ner_tags` over the entity labels",
    "attribution": "one row per article: tokens, their offsets, and one BIO column per attribution span "
    "kind (PolNeAR-style cue / content / source)",
}


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def yaml_header(meta: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _label_tables(labels: LabelSet) -> str:
    parts = []
    titles = {
        "entities": "Entity labels",
        "events": "Event types",
        "attribution": "Attribution spans",
        "relations": "Relation types (entity -> entity)",
    }
    for layer, title in titles.items():
        defs = labels.definitions.get(layer, {})
        if defs:
            parts.append(f"**{title}**\n\n" + _table(["label", "definition"], [[f"`{k}`", v] for k, v in defs.items()]))
    attrs = labels.attributes
    if attrs:
        parts.append(
            "**Attributes** (class labels; null when not annotated)\n\n"
            + _table(["attribute", "values"], [[f"`{k}`", ", ".join(v)] for k, v in attrs.items()])
        )
    if labels.roles:
        parts.append("**Event argument roles**: " + ", ".join(f"`{r}`" for r in labels.roles))
    return "\n\n".join(parts)


def _counts_table(stats: dict[str, Any]) -> str:
    per_split = stats["label_counts"]  # split -> "layer/label" -> n
    keys = sorted({k for s in per_split.values() for k in s}, key=lambda k: (k.split("/")[0], k))
    rows = [["documents", *[stats["documents"].get(s, 0) for s in SPLITS], sum(stats["documents"].values())]]
    for k in keys:
        vals = [per_split.get(s, {}).get(k, 0) for s in SPLITS]
        rows.append([k, *vals, sum(vals)])
    return _table(["layer / label", *SPLITS, "total"], rows)


def render_card(meta: dict[str, Any], stats: dict[str, Any], labels: LabelSet, built_at: str) -> str:
    """The README.md text: YAML header ``meta`` plus the body built from ``stats``."""
    repo = stats["repo"]
    name = stats["name"]
    version = stats["version"]
    cfg_rows = [
        [
            f"`{c}`" + (" (default)" if c == "documents" else ""),
            CONFIG_DESCRIPTIONS[c],
            *[stats["rows"][c].get(s, 0) for s in SPLITS],
        ]
        for c in stats["rows"]
    ]
    tag_rows = []
    for layer, rep in stats["tagging"].items():
        for label in sorted(set(rep["tagged"]) | set(rep["misaligned"]) | set(rep["overlapping"])):
            tag_rows.append(
                [
                    layer,
                    label,
                    rep["tagged"].get(label, 0),
                    rep["misaligned"].get(label, 0),
                    rep["overlapping"].get(label, 0),
                ]
            )
    problems = stats["left_out"]
    snaps = stats["provenance"]["annotation_snapshots"]
    if labels.has_attribution and labels.event_types and labels.entities and not labels.has_relations:
        layers = (  # the default taxonomy's three layers, said as the card always said them
            "in three layers — named entities, events (ACE-style types with typed arguments) and "
            "attribution (who said what: cue, source, content; PARC/PolNeAR style)"
        )
    else:
        present = [
            "named entities" if labels.entities else "",
            "events (types with typed arguments)" if labels.event_types else "",
            "typed relations between entities" if labels.has_relations else "",
            "attribution (who said what: cue, source, content)" if labels.has_attribution else "",
        ]
        layers = "in these layers: " + ", ".join(p for p in present if p)
    loads = [f'{c} = load_dataset("{repo}", "{c}")' for c in stats["rows"] if c != "documents"]
    body = [
        f"# {meta['pretty_name']}",
        "",
        f"Release **{version}** of `{name}`: news articles from a versioned corpus with one gold annotation per "
        f"article {layers}. Offsets are Unicode code "
        "points into the NFC-normalized `text`; every span is a list of fragments (discontinuous spans are "
        "first-class) and its `text` is the fragments' texts joined by one space.",
        "",
        "## Configurations",
        "",
        _table(["config", "content", *SPLITS], cfg_rows),
        "",
        "## How to load",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'docs = load_dataset("{repo}")                       # documents (default config)',
        *loads,
        f'pinned = load_dataset("{repo}", "ner", revision="v{version}")  # exactly this release',
        "",
        'names = ner["train"].features["ner_tags"].feature.names  # BIO tag names',
        "```",
        "",
        "Class-label columns hold integer ids; `features[...].names` (or `.int2str`) gives the label names.",
        "",
        f"## Labels (taxonomy {labels.version})",
        "",
        _label_tables(labels),
        "",
        "## Statistics",
        "",
        "Annotated spans per split (for attributions, the count of the required cue is the number of attributions).",
        "",
        _counts_table(stats),
        "",
        "## Gold annotation",
        "",
        f"Policy `{stats['policy']}`: one annotation per document — the reviewed (`ground_truth`) one if any; "
        "else, when all annotations come from one annotator, that annotator's; else the adjudicated one; "
        "else the most recent (`updated_at`, then `created_at`). The rule used is in the `annotation_policy` "
        "column, the annotator in `annotator`, the origin in `annotation_origin`. Annotations made on an "
        "older text of an article (`text_sha256` changed) are re-anchored only when every fragment's text "
        "occurs exactly once in the current text (`reanchored` = true); otherwise they are left out.",
        "",
        _table(["rule", "documents"], [[k, v] for k, v in sorted(stats["policy_counts"].items())] or [["-", 0]]),
        "",
        f"Re-anchored annotations: {stats['reanchored']}.",
        "",
        "## Token configs",
        "",
        "Tokens come from a fixed rule-based tokenizer (a token is a run of word characters or one other "
        "non-space character) and sentence splitter (line breaks; `. ! ?` before a capitalized word, except "
        "after abbreviations and initials; never inside an entity). `token_starts`/`token_ends` are offsets "
        "into the `documents` text. A span is tagged only when each fragment starts and ends on token "
        "boundaries; others are left out of the BIO columns (never shifted) and counted below. Each fragment "
        "of a discontinuous span is its own `B-`/`I-` run. BIO cannot nest: within one column the outermost "
        "span (earliest start, then longest) is kept and nested ones are counted as overlapping. "
        + (
            "The `attribution` config has one column per span kind ("
            + ", ".join(f"`{c}`" for c, _ in labels.attribution_columns)
            + "), so a cue inside a content is kept; "
            if labels.has_attribution
            else ""
        )
        + ("the" if labels.has_attribution else "The")
        + " `documents` config always has every span exactly.",
        "",
        _table(
            ["layer", "label", "tagged", "misaligned (left out)", "overlapping (left out)"],
            tag_rows or [["-", "-", 0, 0, 0]],
        ),
        "",
    ]
    if stats.get("agreement"):
        body += ["## Agreement", "", _table(["measure", "value"], [[k, v] for k, v in stats["agreement"].items()]), ""]
    body += [
        "## Left out",
        "",
        f"Documents of the corpus version without any annotation (not included): {stats['unannotated']}.",
        "",
        _table(["reason", "annotations / documents"], [[k, v] for k, v in sorted(problems.items())] or [["none", 0]]),
        "",
        "## Provenance",
        "",
        f"- Corpus version: {stats['provenance']['corpus_version']} (store `{stats['provenance']['store']}`)",
        f"- Taxonomy version: {labels.version}; annotations made with taxonomy versions: "
        + (
            ", ".join(f"{k} ({v})" for k, v in sorted(stats["provenance"]["annotation_taxonomy_versions"].items()))
            or "-"
        ),
        f"- Toolkit: newscorpus {stats['provenance']['toolkit_version']}",
        f"- Split: SHA-256 bucket of the document id, ratios train/validation/test = {stats['split_ratios']}; a "
        "document keeps its split in every release built with these ratios.",
        "- Annotation snapshots:",
        *[f"  - `{s['name']}` sha256 `{s['sha256']}` ({s['records']} records)" for s in snaps],
        f"{BUILD_TIME_PREFIX}{built_at}",
        "",
        "## Known limitations",
        "",
        "- One annotation per document is shipped; disagreements between annotators are not represented.",
        "- The tokenizer and sentence splitter are simple rules for English news; spans not on token "
        "boundaries are missing from the "
        + "/".join(f"`{c}`" for c in stats["rows"] if c != "documents")
        + " configs (see the counts above).",
        "- BIO tags cannot represent nested or overlapping spans of one kind; use the `documents` config for "
        "the complete annotation.",
        "- Article texts are as published by their sources; check the source's terms before redistribution.",
        "",
        "## Citation",
        "",
        "```bibtex",
        f"@misc{{{name.replace('-', '_')}_{version.replace('.', '_')},",
        f"  title        = {{{meta['pretty_name']}}},",
        f"  note         = {{Version {version}}},",
        f"  howpublished = {{\\url{{https://huggingface.co/datasets/{repo}}}}},",
        "}",
        "```",
        "",
    ]
    return yaml_header(meta) + "\n" + "\n".join(body)
