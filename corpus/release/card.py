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

from corpus.predict.acceptance import OUTCOMES, rate
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


# SPDX id -> (name, the Hub's license id). The card shows the id with its name; anything else
# is "other" on the Hub with the SPDX id as license_name.
LICENSES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International", "cc-by-4.0"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution Share Alike 4.0 International", "cc-by-sa-4.0"),
    "CC-BY-NC-4.0": ("Creative Commons Attribution Non Commercial 4.0 International", "cc-by-nc-4.0"),
    "CC-BY-NC-SA-4.0": ("Creative Commons Attribution Non Commercial Share Alike 4.0 International", "cc-by-nc-sa-4.0"),
    "CC0-1.0": ("Creative Commons Zero v1.0 Universal", "cc0-1.0"),
    "ODC-By-1.0": ("Open Data Commons Attribution License v1.0", "odc-by"),
    "ODbL-1.0": ("Open Data Commons Open Database License v1.0", "odbl"),
    "PDDL-1.0": ("Open Data Commons Public Domain Dedication & License 1.0", "pddl"),
    "CDLA-Permissive-2.0": ("Community Data License Agreement Permissive 2.0", "cdla-permissive-2.0"),
    "Apache-2.0": ("Apache License 2.0", "apache-2.0"),
    "MIT": ("MIT License", "mit"),
    "LDC-1.0": ("LDC User Agreement for Non-Members", "other"),
}


def license_info(spdx: str | None, name: str | None = None) -> tuple[str, str, str]:
    """(SPDX id or 'other', its name, the Hub's license id) for ``--license`` (case-insensitive)."""
    key = next((k for k in LICENSES if k.lower() == str(spdx or "").lower()), None)
    if key:
        return key, name or LICENSES[key][0], LICENSES[key][1]
    if spdx and str(spdx).lower() != "other":
        return str(spdx), name or str(spdx), "other"
    return "other", name or "not specified", "other"


def agreement_summary(ag: dict[str, Any] | None) -> dict[str, Any]:
    """The card's agreement figures from ``corpus.annotations.agreement`` (computed from the
    snapshots): documents, annotators, and per layer overlap / exact span F1 and token alpha."""
    if not ag:
        return {}
    out: dict[str, Any] = {"documents": ag["documents"], "annotators": len(ag["annotators"]), "layers": {}}
    for layer, v in ag["layers"].items():
        if not v["spans"]:
            continue
        row = {"overlap_f1": v["overlap"]["f1"], "exact_f1": v["exact"]["f1"], "alpha": v["alpha"]}
        agr = (v.get("attribution_agreement") or {}).get("cue") or {}
        if agr.get("agr") is not None:
            row["attribution_agr"] = agr["agr"]
        row["by_label"] = {k: x.get("overlap_f1") for k, x in v["by_label"].items()}
        out["layers"][layer] = row
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


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


def _present_splits(stats: dict[str, Any], config: str) -> list[str]:
    return [s for s in SPLITS if stats["rows"].get(config, {}).get(s)]


def _load_section(stats: dict[str, Any], repo: str, version: str) -> list[str]:
    """The load example, on splits that exist (an empty split is not in the data files, so
    ``ds["train"]`` would raise KeyError), one line per config the release has, and the empty
    splits flagged."""
    configs = [c for c in stats["rows"] if c != "documents"]
    doc_split = (_present_splits(stats, "documents") or ["train"])[0]
    lines = [
        "```python",
        "from datasets import load_dataset",
        "",
        f'docs = load_dataset("{repo}")  # documents (default config)',
        *[f'{c} = load_dataset("{repo}", "{c}")' for c in configs],
        "",
    ]
    if "ner" in configs:
        ner_split = (_present_splits(stats, "ner") or ["train"])[0]
        lines.append(f'names = ner["{ner_split}"].features["ner_tags"].feature.names  # BIO tag names')
    lines += [
        f'first = docs["{doc_split}"][0]  # one article with its annotation',
        "```",
        "",
        "Pinned to exactly this release (the Hub tag):",
        "",
        "```python",
        f'docs = load_dataset("{repo}", revision="v{version}")',
        "```",
        "",
    ]
    empty = stats.get("empty_splits") or {}
    if empty:
        lines += [
            "**Empty splits** (no document hashed into them; they are not in the data files, so loading them "
            "raises `KeyError`): " + "; ".join(f"`{c}`: {', '.join(ss)}" for c, ss in empty.items()) + ".",
            "",
        ]
    return lines


def acceptance_lines(acc: dict[str, dict[str, int]], by_layer: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """How much of each model version's pre-annotation the annotators kept (``meta.acceptance`` of
    the pulled records, ``corpus.predict.acceptance``): annotations started from it, its predicted
    regions kept unchanged / edited / deleted, regions added, and the share kept; per layer too."""
    if not acc:
        return []
    counted = any(c.get("regions_predicted") for c in acc.values())
    rows = []
    for mv, c in acc.items():
        pred = c.get("regions_predicted", 0)
        regions = [pred, *(c.get(f"regions_{k}", 0) for k in OUTCOMES)] if pred else ["-"] * (len(OUTCOMES) + 1)
        rows.append(
            [f"`{mv}`", c.get("human_from_prediction", 0), c.get("machine_accepted", 0), *regions, _pct(rate(c))]
        )
    lines = [
        "### Pre-annotation acceptance",
        "",
        "Annotations that started from a prediction, per model version of the prediction: how many "
        "were submitted by a person or accepted by the machine annotator, and what became of the predicted "
        "regions (kept unchanged, edited, deleted; regions the annotator added). Acceptance is the share "
        "of predicted regions kept unchanged.",
        "",
        _table(
            ["model version", "by a person", "machine-accepted", "regions predicted", *OUTCOMES, "acceptance"],
            rows,
        ),
        "",
    ]
    if not counted:
        lines += ["No pulled record compared its annotation with the prediction region by region.", ""]
    layer_rows = [
        [f"`{mv}`", layer, sum(c.get(k, 0) for k in OUTCOMES[:3]), *(c.get(k, 0) for k in OUTCOMES), _pct(rate(c))]
        for mv, layers in by_layer.items()
        for layer, c in layers.items()
    ]
    if layer_rows:
        lines += [
            "Per layer:",
            "",
            _table(["model version", "layer", "regions predicted", *OUTCOMES, "acceptance"], layer_rows),
            "",
        ]
    return lines


def _annotations_section(stats: dict[str, Any]) -> list[str]:
    ann = stats.get("annotations")
    if ann is None:
        return []
    origins = stats.get("origin_counts", {})
    shipped = sum(origins.values())
    machine = origins.get("machine_accepted", 0)
    lines = ["## Annotations", ""]
    people = stats.get("annotator_counts", {})
    lines += [
        f"Shipped documents by annotator ({len(people)} annotator{'s' if len(people) != 1 else ''}; e-mail "
        "addresses are shown as stable "
        "pseudonyms unless the build was asked to show them):",
        "",
        _table(
            ["annotator", "shipped documents", "records in the snapshots"],
            [[f"`{w}`", n, ann["annotators"].get(w, 0)] for w, n in people.items()] or [["-", 0, 0]],
        ),
        "",
        "Shipped documents by origin of their annotation (`annotation_origin`): "
        + (", ".join(f"`{k}` {v}" for k, v in origins.items()) or "none")
        + ".",
        "",
    ]
    if machine:
        lines += [
            f"**{machine} of {shipped} shipped documents carry machine predictions accepted without human "
            "review** (`annotation_origin` = `machine_accepted`, `annotation_policy` = `machine_accepted`): a "
            "pre-annotator's output that the machine annotator submitted. Treat them as silver, not gold; "
            "filter them out with `ds.filter(lambda r: r['annotation_origin'] != 'machine_accepted')`.",
            "",
        ]
    human_pred = origins.get("human_from_prediction", 0)
    if human_pred:
        lines += [
            f"{human_pred} shipped documents were submitted by a person who started from a prediction "
            "(`human_from_prediction`).",
            "",
        ]
    lines += acceptance_lines(ann.get("acceptance") or {}, ann.get("acceptance_by_layer") or {})
    g = stats.get("guidelines")
    tax = stats["provenance"].get("taxonomy_version")
    lines += [
        "Guidelines: "
        + (
            f"[`{g['file']}`]({g['file']}) (ships with this release; tables generated from taxonomy "
            f"{g['taxonomy'] or tax})"
            if g
            else "not shipped with this release"
        )
        + f". Taxonomy of this release: {tax}; annotations were made with taxonomy versions "
        + (
            ", ".join(f"{k} ({v})" for k, v in sorted(stats["provenance"]["annotation_taxonomy_versions"].items()))
            or "-"
        )
        + ".",
        "",
        "### Agreement",
        "",
    ]
    ag = stats.get("computed_agreement") or {}
    if not ag:
        lines += [
            "Not measured: no document of the snapshots was annotated by two or more people (predictions, "
            "machine-accepted and adjudicated records are not annotators).",
            "",
        ]
        return lines
    lines += [
        f"Computed from the annotation snapshots (`corpus.annotations.agreement`) on the {ag['documents']} "
        f"documents that two or more of the {ag['annotators']} annotators annotated; the shipped gold is one "
        "annotation per document, chosen as described below.",
        "",
        _table(
            ["layer", "span F1 (overlap)", "span F1 (exact)", "token α (Krippendorff)", "attribution agr (cue)"],
            [
                [layer, _pct(v["overlap_f1"]), _pct(v["exact_f1"]), _pct(v["alpha"]), _pct(v.get("attribution_agr"))]
                for layer, v in ag["layers"].items()
            ],
        ),
        "",
        "Per label (span F1, overlap): "
        + "; ".join(
            f"{layer}: " + ", ".join(f"{k} {_pct(x)}" for k, x in v["by_label"].items())
            for layer, v in ag["layers"].items()
        )
        + ".",
        "",
    ]
    return lines


def _figures_section(stats: dict[str, Any]) -> list[str]:
    figs = stats.get("figures") or []
    if not figs:
        return []
    lines = ["## Figures", ""]
    for f in figs:
        lines += [f"**{f['title']}**", "", f"![{f['title']}]({f['path']})", "", f"_{f['caption']}_", ""]
    return lines


def _changes_section(stats: dict[str, Any]) -> list[str]:
    ch = stats.get("changes")
    if not ch:
        return []
    moved = ch["label_counts_moved"]
    return [
        f"## Changes since v{ch['since']}",
        "",
        f"- Documents added: {ch['documents_added']}; removed: {ch['documents_removed']}",
        f"- Documents whose text changed: {ch['texts_changed']}; whose annotation changed: {ch['annotations_changed']}",
        "",
        _table(
            ["layer / label", f"v{ch['since']}", "this release", "change"],
            [[k, a, b, f"{b - a:+d}"] for k, (a, b) in moved.items()],
        )
        if moved
        else "Label counts: unchanged.",
        "",
    ]


def _license_section(stats: dict[str, Any]) -> list[str]:
    lic = stats.get("license") or {}
    spdx, name, _ = license_info(lic.get("id"), lic.get("name"))
    if spdx == "other":
        text = f"License: {name} (`other`)." + (
            "" if lic.get("name") else " No license was chosen for this release: ask the maintainers before reuse."
        )
    else:
        text = f"License: `{spdx}` ({name})."
    if lic.get("link"):
        text += f" See {lic['link']}."
    return ["## License", "", text + " Article texts remain under their publishers' terms.", ""]


def _bibtex(stats: dict[str, Any], meta: dict[str, Any], name: str, version: str, repo: str) -> list[str]:
    cit = stats.get("citation") or {}
    url = cit.get("url") or f"https://huggingface.co/datasets/{repo}"
    lines = [f"@misc{{{name.replace('-', '_')}_{version.replace('.', '_')},"]
    if cit.get("authors"):
        lines.append(f"  author       = {{{' and '.join(cit['authors'])}}},")
    lines += [f"  title        = {{{meta['pretty_name']}}},"]
    if cit.get("year"):
        lines.append(f"  year         = {{{cit['year']}}},")
    lines += [
        f"  note         = {{Version {version}}},",
        f"  howpublished = {{\\url{{{url}}}}},",
        "}",
    ]
    return lines


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
        *_load_section(stats, repo, version),
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
        "else the most recent (`updated_at`, then `created_at`). Predictions accepted by the machine annotator "
        "(`machine_accepted`) count only when no person annotated the document. The rule used is in the `annotation_policy` "
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
    body += _annotations_section(stats)
    if stats.get("agreement"):
        body += [
            "Further agreement figures given to the build (an agreement JSON file):",
            "",
            _table(["measure", "value"], [[k, v] for k, v in stats["agreement"].items()]),
            "",
        ]
    body += _figures_section(stats)
    body += _changes_section(stats)
    body += [
        "## Left out",
        "",
        f"Documents of the corpus version without any annotation (not included): {stats['unannotated']}.",
        "",
        _table(["reason", "annotations / documents"], [[k, v] for k, v in sorted(problems.items())] or [["none", 0]]),
        "",
        "## Provenance",
        "",
        f"- Corpus version: {stats['provenance']['corpus_version']}"
        + (f" of Delta table `{stats['provenance']['table_id']}`" if stats["provenance"].get("table_id") else "")
        + (f" (store `{stats['provenance']['store']}`)" if stats["provenance"].get("store") else ""),
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
        *_license_section(stats),
        "## Citation",
        "",
        "```bibtex",
        *_bibtex(stats, meta, name, version, repo),
        "```",
        "",
    ]
    return yaml_header(meta) + "\n" + "\n".join(body)
