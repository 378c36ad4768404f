"""The quality report of a corpus version and its annotation snapshots: figures and one HTML page.

``collect`` reads the corpus store (history, the pinned version's sources, dates and near-
duplicate clusters) and the annotation snapshots (progress, lead time, agreement, label
distributions per split, pre-annotation acceptance) into plain numbers; ``render`` draws them
with matplotlib (Agg backend, offline: the only module importing matplotlib); ``write_report``
writes ``report.html`` (every figure embedded as a ``data:`` URI, so the page is one file that
opens anywhere), the same figures as ``figures/*.png`` and the numbers as ``report.json``.

A section without data (no document with two annotators, no lead time recorded, no record that
started from a prediction) says so instead of drawing an empty plot. Annotators are shown by
``provenance.public_annotator`` (e-mail addresses become pseudonyms unless ``show_emails``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.annotations.agreement import agreement as compute_agreement
from corpus.core import atomic
from corpus.core.model import Annotation
from corpus.release import gold, provenance
from corpus.release.rows import LabelSet, label_counts
from corpus.release.splits import SPLITS, assign_split, parse_ratios
from corpus.store.snapshot import snapshot_files

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})")
MAX_SOURCES = 8  # sources beyond the largest ones are drawn as "other"
MAX_VERSIONS = 200  # corpus growth: the last versions only
REPORT_HTML = "report.html"
FIGURES_DIR = "figures"


@dataclass
class Figure:
    name: str  # file stem: figures/<name>.png
    title: str
    caption: str
    png: bytes | None = None  # None: no data, ``note`` says why
    note: str | None = None


@dataclass
class ReportResult:
    folder: str
    html: str | None
    figures: list[str]  # PNG paths written
    sections: dict[str, str]  # figure name -> "figure" or the note shown instead
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "data"}


# ---------------------------------------------------------------- reading


def _records(files: Sequence[Path], bad: Counter | None = None) -> Iterable[dict[str, Any]]:
    """Annotation record dicts of snapshot files, streamed; unreadable lines counted in ``bad``."""
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except ValueError:
                    d = None
                if not isinstance(d, dict) or not isinstance(d.get("doc_id"), str):
                    if bad is not None:
                        bad["lines"] += 1
                    continue
                yield d


def _month(published: str | None) -> str:
    m = MONTH_RE.match(str(published or ""))
    return f"{m.group(1)}-{m.group(2)}" if m else "unknown"


def _day(rec: dict[str, Any]) -> str | None:
    stamp = str(rec.get("created_at") or rec.get("updated_at") or "")
    return stamp[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", stamp) else None


def corpus_data(store: Any, version: int | str | None = None) -> dict[str, Any]:
    """Growth over versions, articles per source and month, duplicates (from the store)."""
    v = store.resolve_version(version)
    history = [h for h in store.history() if h.version <= v][-MAX_VERSIONS:]
    growth = []
    for h in history:
        try:
            n = store.count(h.version)
        except Exception:  # a vacuumed old version: its size is unknown, the rest still counts
            n = None
        growth.append(
            {
                "version": h.version,
                "timestamp": h.timestamp,
                "documents": n,
                "added": h.counts.get("added", 0),
                "updated": h.counts.get("updated", 0),
                "exact_duplicates": h.counts.get("duplicates", 0),
                "near_duplicates": h.counts.get("near_duplicates", 0),
                "tags": h.tags,
            }
        )
    by_month: dict[str, Counter] = defaultdict(Counter)
    sources: Counter = Counter()
    clusters: Counter = Counter()
    n_docs = 0
    for batch in store.iter_batches(v, columns=["doc_id", "source", "published", "near_dup_cluster"], batch_size=5000):
        d = batch.to_pydict()
        for src, pub, cl in zip(d["source"], d["published"], d["near_dup_cluster"]):
            n_docs += 1
            src = src or "unknown"
            sources[src] += 1
            by_month[_month(pub)][src] += 1
            if cl:
                clusters[cl] += 1
    sizes = Counter(n for n in clusters.values() if n >= 2)
    return {
        "version": v,
        "documents": n_docs,
        "growth": growth,
        "sources": dict(sources.most_common()),
        "by_month": {m: dict(c) for m, c in sorted(by_month.items())},
        "near_duplicate_clusters": sum(sizes.values()),
        "documents_in_near_duplicate_clusters": sum(n for n in clusters.values() if n >= 2),
        "cluster_sizes": {str(k): n for k, n in sorted(sizes.items())},
    }


def annotation_data(files: Sequence[Path], show_emails: bool = False) -> tuple[dict[str, Any], set[str]]:
    """One streamed pass: origins, annotators, progress per day, lead times, pre-annotation
    acceptance per model version; and the documents two or more people annotated."""
    who = lambda d: provenance.public_annotator(d.get("annotator"), show_emails)  # noqa: E731
    progress: dict[str, Counter] = defaultdict(Counter)
    lead: dict[str, list[float]] = defaultdict(list)
    origins: Counter = Counter()
    annotators: Counter = Counter()
    people: dict[str, set[str]] = defaultdict(set)
    acc: dict[str, Counter] = defaultdict(Counter)
    acc_layers: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    preds: Counter = Counter()
    bad: Counter = Counter()
    docs: set[str] = set()
    undated = records = 0
    for d in _records(files, bad):
        records += 1
        docs.add(d["doc_id"])
        o = provenance.record_origin(d)
        origins[o] += 1
        if o == "prediction":
            preds[str(d.get("model_version") or "unknown")] += 1
            continue
        annotators[who(d)] += 1
        if o not in provenance.NOT_ANNOTATORS:
            people[d["doc_id"]].add(str(d.get("annotator") or ""))
        day = _day(d)
        if day is None:
            undated += 1
        else:
            progress[who(d)][day] += 1
        lt = d.get("lead_time")
        if isinstance(lt, (int, float)) and not isinstance(lt, bool) and o != provenance.MACHINE_ACCEPTED:
            lead[who(d)].append(float(lt))
        if o in (provenance.MACHINE_ACCEPTED, provenance.HUMAN_FROM_PREDICTION):
            mv = provenance.prediction_model_version(d) or "unknown"
            acc[mv]["machine_accepted" if o == provenance.MACHINE_ACCEPTED else "human_from_prediction"] += 1
            detail = (d.get("meta") or {}).get("acceptance")
            if isinstance(detail, dict):  # per-region outcomes, when the pull compared them
                for k, v in detail.items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        acc[mv][f"regions_{k}"] += int(v)
                for layer, labels in (detail.get("by_layer") or {}).items():
                    for counts in (labels or {}).values():
                        for k, v in (counts or {}).items():
                            if isinstance(v, int) and not isinstance(v, bool):
                                acc_layers[mv][layer][k] += v
    out = {
        "records": records,
        "unreadable_lines": bad["lines"],
        "documents": len(docs),
        "origins": dict(sorted(origins.items())),
        "annotators": dict(annotators.most_common()),
        "progress": {w: dict(sorted(c.items())) for w, c in sorted(progress.items())},
        "undated": undated,
        "lead_time": {w: sorted(v) for w, v in sorted(lead.items())},
        "acceptance": {mv: dict(c) for mv, c in sorted(acc.items())},
        "acceptance_by_layer": {
            mv: {layer: dict(c) for layer, c in sorted(layers.items())} for mv, layers in sorted(acc_layers.items())
        },
        "predictions": dict(preds),
    }
    return out, {doc for doc, w in people.items() if len(w) >= 2}


def gold_label_data(files: Sequence[Path], labels: LabelSet, ratios: Sequence[float], policy: str = "default"):
    """Label counts per split of the annotation a release ships per document (the gold index,
    read back by file offset: streamed like the build)."""
    index, _, _ = gold.index_snapshots(list(files))
    chosen, _ = gold.select_gold(index, policy)
    per_split: dict[str, Counter] = {s: Counter() for s in SPLITS}
    docs: Counter = Counter()
    rules: Counter = Counter()
    with gold.AnnotationReader(list(files)) as reader:
        for batch in chosen.to_batches(max_chunksize=5000):
            for r in batch.to_pylist():
                try:
                    ann = Annotation.from_dict(reader.read(r["file_idx"], r["offset"]))
                except (ValueError, KeyError, TypeError):
                    continue
                s = assign_split(r["doc_id"], ratios)
                docs[s] += 1
                rules[r["policy"]] += 1
                per_split[s].update(label_counts(ann, labels))
    return {
        "gold_documents": dict(docs),
        "gold_rules": dict(sorted(rules.items())),
        "labels_per_split": {
            s: {f"{layer}/{label}": n for (layer, label), n in sorted(c.items())} for s, c in per_split.items()
        },
    }


def agreement_data(
    files: Sequence[Path], multi: set[str], store: Any, version: int | None, show_emails: bool = False
) -> dict[str, Any] | None:
    """Agreement of people (no predictions, machine-accepted or adjudicated records) on the
    documents two or more of them annotated (only those records are read into memory); None
    when there is no such document."""
    if not multi:
        return None
    anns = []
    for d in _records(files):
        if d["doc_id"] in multi and provenance.record_origin(d) not in provenance.NOT_ANNOTATORS:
            try:
                anns.append(Annotation.from_dict(d))
            except (ValueError, KeyError, TypeError):
                continue
    texts = {k: a.text for k, a in store.get_many(multi, version).items()} if store is not None else {}
    rep = compute_agreement(anns, texts, exclude_origins=())
    if not rep.documents:
        return None
    d = rep.to_dict()
    name = {a: provenance.public_annotator(a, show_emails) for a in rep.annotators}
    d["annotators"] = [name[a] for a in rep.annotators]
    for layer in d["layers"].values():
        for p in layer["pairwise"]:
            p["a"], p["b"] = name.get(p["a"], p["a"]), name.get(p["b"], p["b"])
        for p in (layer.get("attribution_agreement") or {}).get("pairwise", []):
            p["a"], p["b"] = name.get(p["a"], p["a"]), name.get(p["b"], p["b"])
    return d


def collect(
    store: Any,
    annotation_paths: Sequence[str | Path],
    version: int | str | None = None,
    *,
    labels: LabelSet | None = None,
    split_ratios: Sequence[float] | str | None = None,
    show_emails: bool = False,
    files: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """Every number of the report (JSON-ready). Memory: counters, lead times, one set of the
    multiply-annotated documents and their records (for agreement); the rest is streamed."""
    from corpus.release.features import label_set

    labels = labels or label_set()
    ratios = parse_ratios(split_ratios)
    files = list(files) if files is not None else (snapshot_files(annotation_paths) if annotation_paths else [])
    data: dict[str, Any] = {"corpus": corpus_data(store, version) if store is not None else None}
    v = data["corpus"]["version"] if data["corpus"] else None
    ann, multi = annotation_data(files, show_emails)
    ann.update(
        gold_label_data(files, labels, ratios)
        if files
        else {"gold_documents": {}, "gold_rules": {}, "labels_per_split": {s: {} for s in SPLITS}}
    )
    ann["snapshots"] = [f.name for f in files]
    data["annotations"] = ann
    data["agreement"] = agreement_data(files, multi, store, v, show_emails)
    data["split_ratios"] = list(ratios)
    return data


# ---------------------------------------------------------------- drawing


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _png(fig) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _fig_growth(c: dict[str, Any]) -> Figure:
    f = Figure(
        "corpus_growth",
        "Corpus growth over versions",
        "Documents in each corpus version; bars: added and updated by the commit that made the version.",
    )
    g = [x for x in c["growth"] if x["documents"] is not None]
    if not g:
        f.note = "The store has no readable version."
        return f
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xs = [x["version"] for x in g]
    ax.bar([x - 0.2 for x in xs], [x["added"] for x in g], width=0.4, label="added", color="#4c78a8")
    ax.bar([x + 0.2 for x in xs], [x["updated"] for x in g], width=0.4, label="updated", color="#f58518")
    ax2 = ax.twinx()
    ax2.plot(xs, [x["documents"] for x in g], marker="o", color="#222222", label="documents")
    ax2.set_ylabel("documents in version")
    ax.set_xlabel("corpus version")
    ax.set_ylabel("added / updated")
    ax.set_xticks(xs)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    f.png = _png(fig)
    return f


def _fig_sources(c: dict[str, Any]) -> Figure:
    f = Figure(
        "articles_by_source_month",
        "Articles per source and month",
        f"Documents of corpus version {c['version']} by publication month (from `published`; "
        "`unknown` when absent) and source.",
    )
    if not c["documents"]:
        f.note = "The corpus version holds no document."
        return f
    top = list(c["sources"])[:MAX_SOURCES]
    months = list(c["by_month"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    bottom = [0] * len(months)
    cmap = plt.get_cmap("tab10")
    for k, src in enumerate(top + (["other"] if len(c["sources"]) > len(top) else [])):
        vals = [
            (
                c["by_month"][m].get(src, 0)
                if src != "other"
                else sum(n for s, n in c["by_month"][m].items() if s not in top)
            )
            for m in months
        ]
        ax.bar(months, vals, bottom=bottom, label=src, color=cmap(k % 10))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("articles")
    ax.legend(fontsize=7, loc="upper left")
    if len(months) > 8:
        ax.tick_params(axis="x", labelrotation=60)
    f.png = _png(fig)
    return f


def _fig_duplicates(c: dict[str, Any]) -> Figure:
    f = Figure(
        "duplicates",
        "Duplicates",
        "Left: per import, exact duplicates (not added) and near-duplicates (added, flagged with a "
        "cluster). Right: near-duplicate clusters of the version by size.",
    )
    g = c["growth"]
    if not g:
        f.note = "The store has no version."
        return f
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7, 3))
    xs = [x["version"] for x in g]
    a1.bar([x - 0.2 for x in xs], [x["exact_duplicates"] for x in g], width=0.4, label="exact", color="#e45756")
    a1.bar([x + 0.2 for x in xs], [x["near_duplicates"] for x in g], width=0.4, label="near", color="#72b7b2")
    a1.set_xlabel("corpus version")
    a1.set_ylabel("documents")
    a1.set_xticks(xs)
    a1.legend(fontsize=8)
    sizes = c["cluster_sizes"]
    if sizes:
        a2.bar(list(sizes), list(sizes.values()), color="#72b7b2")
        a2.set_xlabel("cluster size (documents)")
        a2.set_ylabel("clusters")
    else:
        a2.text(0.5, 0.5, "no near-duplicate cluster", ha="center", va="center", transform=a2.transAxes)
        a2.set_axis_off()
    f.png = _png(fig)
    return f


def _fig_progress(a: dict[str, Any]) -> Figure:
    f = Figure(
        "annotation_progress",
        "Annotation progress per day and annotator",
        "Cumulative annotations per annotator by the day they were made (`created_at`); predictions not included.",
    )
    if not a["progress"]:
        f.note = "No annotation record carries a date." if a["records"] else "No annotation snapshot was given."
        return f
    plt = _plt()
    import datetime as dt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for who, days in a["progress"].items():
        xs = [dt.date.fromisoformat(d) for d in days]
        total, ys = 0, []
        for n in days.values():
            total += n
            ys.append(total)
        ax.step(xs, ys, where="post", marker="o", markersize=3, label=who)
    ax.set_ylabel("annotations (cumulative)")
    if len(a["progress"]) <= 12:
        ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    f.png = _png(fig)
    return f


def _fig_lead(a: dict[str, Any]) -> Figure:
    f = Figure(
        "lead_time",
        "Lead time per annotator",
        "Seconds spent per annotation (Label Studio `lead_time`), per annotator; machine-accepted "
        "predictions not included.",
    )
    data = {w: v for w, v in a["lead_time"].items() if v}
    if not data:
        f.note = "No annotation record carries a lead time (brat imports and hand-made records do not)."
        return f
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * len(data) + 1.5))
    ax.boxplot(list(data.values()), orientation="horizontal")
    ax.set_yticks(range(1, len(data) + 1), list(data))
    ax.set_xlabel("seconds")
    f.png = _png(fig)
    return f


def _fig_agreement(ag: dict[str, Any] | None) -> Figure:
    f = Figure(
        "agreement_by_label",
        "Agreement per label",
        "Span F1 (overlap, pooled over annotator pairs) per label and layer on the documents two or "
        "more annotators annotated; Krippendorff's alpha of the layer in the title.",
    )
    if not ag:
        f.note = (
            "No document has two or more annotators: agreement cannot be computed "
            "(`corpus push --overlap` asks for double annotation)."
        )
        return f
    layers = {k: v for k, v in ag["layers"].items() if v["by_label"]}
    if not layers:
        f.note = f"{ag['documents']} documents have two or more annotators, but none of them has a span."
        return f
    plt = _plt()
    n = max(len(v["by_label"]) for v in layers.values())
    fig, axes = plt.subplots(1, len(layers), figsize=(3.0 * len(layers) + 1, 0.8 + 0.28 * n + 1), squeeze=False)
    for ax, (layer, v) in zip(axes[0], layers.items()):
        names = list(v["by_label"])
        vals = [v["by_label"][k]["overlap_f1"] or 0 for k in names]
        ax.barh(names, vals, color="#54a24b")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        alpha = v.get("alpha")
        ax.set_title(f"{layer}" + (f" (α {alpha:.2f})" if alpha is not None else ""), fontsize=9)
        ax.set_xlabel("overlap F1")
    f.png = _png(fig)
    return f


def _fig_heatmap(ag: dict[str, Any] | None) -> Figure:
    f = Figure(
        "annotator_heatmap",
        "Pairwise annotator agreement",
        "Span F1 (overlap) of each pair of annotators on the documents both annotated, per layer; "
        "blank where a pair shares no document.",
    )
    if not ag:
        f.note = "No document has two or more annotators: there is no pair to compare."
        return f
    layers = {k: v for k, v in ag["layers"].items() if any(p["overlap_f1"] is not None for p in v["pairwise"])}
    if not layers:
        f.note = "No annotator pair shares a document."
        return f
    import numpy as np

    plt = _plt()
    people = ag["annotators"]
    k = len(people)
    fig, axes = plt.subplots(
        1, len(layers), figsize=(2.2 + (0.45 * k + 1.2) * len(layers), 1.5 + 0.45 * k), squeeze=False
    )
    idx = {p: i for i, p in enumerate(people)}
    for ax, (layer, v) in zip(axes[0], layers.items()):
        m = np.full((k, k), np.nan)
        for p in v["pairwise"]:
            if p["overlap_f1"] is not None:
                i, j = idx[p["a"]], idx[p["b"]]
                m[i, j] = m[j, i] = p["overlap_f1"]
        im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(k), people, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(k), people if ax is axes[0][0] else [""] * k, fontsize=7)
        for i in range(k):
            for j in range(k):
                if not np.isnan(m[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{m[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if m[i, j] < 0.6 else "black",
                    )
        ax.set_title(layer, fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="overlap F1")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    f.png = buf.getvalue()
    return f


def _fig_labels(a: dict[str, Any]) -> Figure:
    f = Figure(
        "labels_by_split",
        "Label distribution per split",
        "Spans per label in the gold annotation of each document (one per document, as a release "
        "ships it), by split (a hash of the document id).",
    )
    per = a["labels_per_split"]
    keys = sorted({k for s in per.values() for k in s}, key=lambda k: (k.split("/")[0], k))
    if not keys:
        f.note = "No gold annotation has a span."
        return f
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.22 * len(keys) * 1.3 + 0.8))
    h = 0.8 / len(SPLITS)
    colors = {"train": "#4c78a8", "validation": "#f58518", "test": "#54a24b"}
    for j, s in enumerate(SPLITS):
        ax.barh(
            [i + j * h for i in range(len(keys))],
            [per[s].get(k, 0) for k in keys],
            height=h,
            label=f"{s} ({a['gold_documents'].get(s, 0)} docs)",
            color=colors.get(s),
        )
    ax.set_yticks([i + h for i in range(len(keys))], keys, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("spans")
    ax.legend(fontsize=7, loc="lower right")
    f.png = _png(fig)
    return f


def _fig_acceptance(a: dict[str, Any]) -> Figure:
    f = Figure(
        "preannotation_acceptance",
        "Pre-annotation acceptance per model version",
        "Annotations that started from a prediction (`parent_prediction` in the pulled record), per "
        "model version of that prediction: accepted by the machine annotator without review, or "
        "submitted by a person (edited or not); region outcomes when the pull compared them.",
    )
    acc = a["acceptance"]
    if not acc:
        f.note = (
            "No pulled annotation record carries a parent prediction (`meta.parent_prediction`): "
            "nothing is known about accepted pre-annotations"
            + (
                f" ({sum(a['predictions'].values())} prediction records are in the snapshots)."
                if a["predictions"]
                else "."
            )
        )
        return f
    plt = _plt()
    keys = sorted({k for c in acc.values() for k in c})
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.5 * len(acc) + 1))
    left = [0] * len(acc)
    cmap = plt.get_cmap("tab10")
    for k, key in enumerate(keys):
        vals = [acc[mv].get(key, 0) for mv in acc]
        ax.barh(list(acc), vals, left=left, label=key.replace("_", " "), color=cmap(k % 10))
        left = [x + y for x, y in zip(left, vals)]
    ax.set_xlabel("annotations / regions")
    ax.legend(fontsize=7, loc="lower right")
    f.png = _png(fig)
    return f


def render(data: dict[str, Any]) -> list[Figure]:
    """Every figure of the report, in page order (``png`` None with a note where there is no data)."""
    figs = []
    if data.get("corpus"):
        figs += [_fig_growth(data["corpus"]), _fig_sources(data["corpus"]), _fig_duplicates(data["corpus"])]
    a = data["annotations"]
    figs += [
        _fig_progress(a),
        _fig_lead(a),
        _fig_agreement(data.get("agreement")),
        _fig_heatmap(data.get("agreement")),
        _fig_labels(a),
        _fig_acceptance(a),
    ]
    return figs


# ---------------------------------------------------------------- writing


def write_figures(figures: Iterable[Figure], folder: str | Path) -> list[Path]:
    """The figures with data as ``<folder>/<name>.png`` (atomic writes)."""
    out = []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for f in figures:
        if f.png is None:
            continue
        path = folder / f"{f.name}.png"
        atomic.write_bytes(path, f.png)
        out.append(path)
    return out


def _summary_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    c = data.get("corpus")
    if c:
        rows += [
            ("corpus version", str(c["version"])),
            ("documents", f"{c['documents']:,}"),
            ("sources", str(len(c["sources"]))),
            ("documents in near-duplicate clusters", str(c["documents_in_near_duplicate_clusters"])),
        ]
    a = data["annotations"]
    rows += [
        ("annotation records", f"{a['records']:,}"),
        ("annotated documents", f"{a['documents']:,}"),
        ("annotators", str(len(a["annotators"]))),
        ("records by origin", ", ".join(f"{k} {v}" for k, v in a["origins"].items()) or "-"),
        ("gold documents per split", ", ".join(f"{s} {a['gold_documents'].get(s, 0)}" for s in SPLITS)),
    ]
    ag = data.get("agreement")
    if ag:
        rows.append(("documents with ≥ 2 annotators", str(ag["documents"])))
        for layer, v in ag["layers"].items():
            f1, alpha = v["overlap"]["f1"], v["alpha"]
            if not v["spans"] or f1 is None:
                rows.append((f"agreement, {layer}", "no spans"))
                continue
            rows.append(
                (
                    f"agreement, {layer}",
                    f"overlap F1 {f1:.3f}" + (f", token α {alpha:.3f}" if alpha is not None else ""),
                )
            )
    if a.get("unreadable_lines"):
        rows.append(("unreadable snapshot lines (left out)", str(a["unreadable_lines"])))
    return rows


def render_html(data: dict[str, Any], figures: list[Figure], title: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
        "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}"
        "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}"
        "figure{margin:0}img{max-width:100%;height:auto}figcaption,.note{color:#555;font-size:.9em}"
        ".note{background:#f6f6f6;padding:.6em 1em;border-left:3px solid #bbb}</style>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
        "<table>",
        *[f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _summary_rows(data)],
        "</table>",
    ]
    for f in figures:
        parts.append(f'<section id="{esc(f.name)}"><h2>{esc(f.title)}</h2>')
        if f.png is not None:
            uri = "data:image/png;base64," + base64.b64encode(f.png).decode("ascii")
            parts.append(
                f'<figure><img src="{uri}" alt="{esc(f.title)}"><figcaption>{esc(f.caption)}</figcaption></figure>'
            )
        else:
            parts.append(f'<p class="note">{esc(f.note or "no data")}</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    store: Any,
    annotation_paths: Sequence[str | Path],
    out: str | Path,
    version: int | str | None = None,
    *,
    title: str | None = None,
    split_ratios: Sequence[float] | str | None = None,
    show_emails: bool = False,
    labels: LabelSet | None = None,
) -> ReportResult:
    """``<out>/report.html`` (self-contained), ``<out>/figures/*.png`` and ``<out>/report.json``."""
    data = collect(store, annotation_paths, version, labels=labels, split_ratios=split_ratios, show_emails=show_emails)
    figures = render(data)
    out = Path(out)
    pngs = write_figures(figures, out / FIGURES_DIR)
    v = data["corpus"]["version"] if data.get("corpus") else None
    page = render_html(data, figures, title or (f"Corpus report, version {v}" if v is not None else "Corpus report"))
    html_path = out / REPORT_HTML
    atomic.write_text(html_path, page)
    atomic.write_text(
        out / "report.json", json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str) + "\n"
    )
    return ReportResult(
        folder=str(out),
        html=str(html_path),
        figures=[str(p) for p in pngs],
        sections={f.name: "figure" if f.png is not None else (f.note or "") for f in figures},
        data=data,
    )
