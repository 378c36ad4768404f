"""``corpus train``: a spaCy model trained on the team's own gold, and ``--predictions model:PATH``.

One pipeline per layer present in the gold, each a tokenizer + one NER trained on CPU with a
fixed seed (``corpus.predict.spacy_model.train_ner``):

* ``entities/``: the entity labels;
* ``events/``: event triggers, labelled by event type (arguments are not learned);
* ``attribution/``: cue, source and content spans (labels ``cue`` / ``source`` / ``content``;
  one NER suffices: in PolNeAR they never overlap, a nested attribution is cut out of the outer
  content); attributions are assembled per sentence (``attribution_sentences``: a title such as
  "Sen." ends none): each content piece goes to the nearest cue of its sentence it does not
  contain (or, without any, of the sentence before or after it), several pieces becoming one
  discontinuous span; each cue takes the nearest source of its sentence; a cue left without a
  content piece gets the longer side of its sentence as a less sure guess (on PolNeAR's held-out
  tenth a fifth of the model's cues had none and were dropped before).

With ``ensemble=N`` (``corpus train --ensemble N``) each layer gets N such NERs with seeds
``seed`` .. ``seed + N - 1``, trained in parallel processes (one core each), whose spans are
combined (``combine_spans``: the first model's, then the others' where they overlap none kept);
they are stored as ``attribution/``, ``attribution.2/`` ...

Each pipeline is the default spaCy pipeline's tokenizer with an NER whose token encoder starts from
that pipeline's pretrained ``tok2vec`` weights (fine-tuned), early-stopped on the validation
documents. For attribution, the dependency rules' attributions whose cue overlaps none of the
model's are added when that raises the validation score (``union_with_rules`` in the card).

Which documents: one annotation per document (reviewed, then adjudicated, then the first
annotator by name); the caller's ``split_of(doc_id)`` (the release split) decides: ``train``
documents train, ``validation`` ones pick the best epoch, ``test`` ones are scored in the model
card (pooled gold, the matching of ``corpus agreement``) and never seen in training.

``models/NAME/card.json`` (and ``README.md``) is the model card: corpus version, snapshot
sha256s, taxonomy version, seed, training time, documents per split, held-out scores.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.core import taxonomy as taxonomy_mod
from corpus.core.errors import InputError, UsageError
from corpus.core.model import Annotation, Article
from corpus.predict import spacy_model as sm
from corpus.predict.attribution import AttributionGuess, trim
from corpus.predict.evaluate import evaluate
from corpus.predict.events import EventGuess
from corpus.predict.preannotate import sentences

LAYERS = ("entities", "events", "attribution")
ATTRIBUTION_PARTS = ("cue", "source", "content")
CARD = "card.json"
PRIORITY = {"labelstudio": 0, "adjudicated": 1}


def _frags(span: Any) -> list[tuple[int, int]]:
    return [(f.start, f.end) for f in span.fragments]


def training_spans(ann: Annotation, layer: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every fragment of the layer's spans in one annotation."""
    out: list[tuple[int, int, str]] = []
    if layer == "entities":
        for e in ann.entities:
            out += [(s, t, e.label) for s, t in _frags(e.span)]
    elif layer == "events":
        for ev in ann.events:
            out += [(s, t, ev.type) for s, t in _frags(ev.trigger)]
    elif layer == "attribution":
        for a in ann.attributions:
            for part in ATTRIBUTION_PARTS:
                span = getattr(a, part)
                if span is not None:
                    out += [(s, t, part) for s, t in _frags(span)]
    return out


def choose_gold(anns: Iterable[Annotation]) -> dict[str, Annotation]:
    """One annotation per document: ground truth, then adjudicated, then the first annotator by name."""
    best: dict[str, Annotation] = {}
    for a in anns:
        if a.origin == "prediction":
            continue
        key = (not a.ground_truth, 0 if a.origin == "adjudicated" else 1, a.annotator)
        cur = best.get(a.doc_id)
        if cur is None or key < (not cur.ground_truth, 0 if cur.origin == "adjudicated" else 1, cur.annotator):
            best[a.doc_id] = a
    return best


# ---------------------------------------------------------------- assembling attributions


# a period after these is no sentence end ("Sen. Marco Rubio said"): split there, the simple
# splitter put 7% of PolNeAR's sources in the sentence before their cue
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Gov|Sen|Sens|Rep|Reps|Gen|Lt|Col|Capt|Sgt|Adm|Maj|Prof|Rev|St|Jr|Sr|Inc|Corp|Co|Ltd|"
    r"No|vs|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec)|\b[A-Z])\.[\"”’']?\s*$"
)


def attribution_sentences(text: str) -> list[tuple[int, int]]:
    """The simple splitter's sentences, rejoined after an abbreviation or an initial on one line."""
    out: list[tuple[int, int]] = []
    for s, e in sentences(text) or [(0, len(text))]:
        if out and "\n" not in text[out[-1][1] : s] and _ABBREVIATION.search(text, out[-1][0], out[-1][1]):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def assemble_attributions(
    text: str, spans: list[tuple[int, int, str]], *, fallback_content: bool = True
) -> list[AttributionGuess]:
    """Cue, source and content spans -> attributions (see the module docstring)."""
    sents = attribution_sentences(text)
    starts = [s for s, _ in sents]

    def sent_of(pos: int) -> int:
        return max(0, bisect.bisect_right(starts, pos) - 1)

    def clean(s: int, e: int) -> tuple[int, int]:
        return trim(text, s, e)

    parts: dict[str, list[tuple[int, int]]] = {p: [] for p in ATTRIBUTION_PARTS}
    for s, e, lab in spans:
        s, e = clean(s, e)
        if lab in parts and e > s:
            parts[lab].append((s, e))
    cues = sorted(parts["cue"])
    if not cues:
        return []
    by_sent_cues: dict[int, list[tuple[int, int]]] = {}
    for c in cues:
        by_sent_cues.setdefault(sent_of(c[0]), []).append(c)
    # each content piece goes to the nearest cue of its sentence (or of a neighbouring sentence)
    content_of: dict[tuple[int, int], list[tuple[int, int]]] = {c: [] for c in cues}
    neighbour: set[tuple[int, int]] = set()
    for piece in sorted(parts["content"]):
        si = sent_of(piece[0])
        cands = by_sent_cues.get(si)
        far = False
        if not cands:
            cands = by_sent_cues.get(si + 1) or by_sent_cues.get(si - 1)
            far = True
        cands = [c for c in cands or () if not (c[0] < piece[1] and piece[0] < c[1])]
        if not cands:
            continue
        c = min(cands, key=lambda c: min(abs(c[0] - piece[1]), abs(piece[0] - c[1])))
        content_of[c].append(piece)
        if far:
            neighbour.add(c)
    out = []
    for c in cues:
        content = content_of[c]
        si = sent_of(c[0])
        taken = content + [c]
        srcs = [s for s in parts["source"] if sent_of(s[0]) == si and not any(a < s[1] and s[0] < b for a, b in taken)]
        source = min(srcs, key=lambda s: min(abs(s[0] - c[1]), abs(c[0] - s[1]))) if srcs else None
        score = 0.9 if source else 0.6
        if c in neighbour:
            score -= 0.3
        if not content and fallback_content:
            # the model found the cue but no content piece for it: the longer side of its sentence,
            # less the cue and its source, is the guess (an annotator trims it; scored as less sure)
            side = _sentence_side(text, sents[si], c, source)
            if side is None:
                continue
            content, score = [side], score - 0.4
        if not content:
            continue
        out.append(AttributionGuess([c], sorted(content), [source] if source else None, round(score, 3), ""))
    return out


def _sentence_side(
    text: str, sent: tuple[int, int], cue: tuple[int, int], source: tuple[int, int] | None
) -> tuple[int, int] | None:
    """The longer of the sentence's text before and after the cue (its source cut off), trimmed;
    None when neither has two words."""
    a, b = sent
    before, after = (a, cue[0]), (cue[1], b)
    if source is not None:
        if source[1] <= cue[0]:
            before = (source[1], cue[0]) if source[0] - a < cue[0] - source[1] else (a, source[0])
        elif source[0] >= cue[1]:
            after = (source[1], b) if b - source[1] > source[0] - cue[1] else (cue[1], source[0])
    sides = [trim(text, *before), trim(text, *after)]
    best = max(sides, key=lambda x: x[1] - x[0])
    return best if len(text[best[0] : best[1]].split()) >= 2 else None


# ---------------------------------------------------------------- the trained pre-annotator


def member_folders(layer: str, card: dict[str, Any]) -> list[str]:
    """The folders of a layer's models: ``attribution``, then ``attribution.2`` ... for an ensemble."""
    n = int((card.get("ensemble") or {}).get(layer, 1))
    return [layer] + [f"{layer}.{k}" for k in range(2, n + 1)]


def combine_spans(members: Sequence[list[tuple[int, int, str]]]) -> list[tuple[int, int, str]]:
    """The spans of an ensemble's models: all of the first model's, then each later model's spans
    that overlap none kept so far (whatever their label). A union: on PolNeAR's validation tenth
    two seeds gave cue / source / content overlap F1 0.784 / 0.763 / 0.834 against 0.767 / 0.754 /
    0.826 for the first alone (more recall for a little precision)."""
    out = list(members[0]) if members else []
    for spans in members[1:]:
        for s, e, lab in spans:
            if not any(s < e2 and s2 < e for s2, e2, _ in out):
                out.append((s, e, lab))
    return sorted(out)


class TrainedPreannotator:
    """``--predictions model:models/NAME``: the pipelines ``corpus train`` wrote."""

    def __init__(self, path: str | Path, *, pipelines: dict[str, list[Any]] | None = None, card: dict | None = None):
        self.path = Path(path)
        if card is None:
            card_path = self.path / CARD
            if not card_path.is_file():
                raise UsageError(
                    f"no trained model at {self.path} (missing {CARD})",
                    hint="train one first (corpus.predict.train.train, the `train` command) into that folder",
                )
            card = json.loads(card_path.read_text(encoding="utf-8"))
        self.card = card
        # layer -> its models (one, or an ensemble's)
        self.pipelines: dict[str, list[Any]] = pipelines or {
            layer: [sm.load_pipeline(str(self.path / name)) for name in member_folders(layer, card)]
            for layer in card["layers"]
            if (self.path / layer).is_dir()
        }
        self.tax = taxonomy_mod.load()
        self.name = f"model:{self.path.name}"
        self.model_version = card["model_version"]
        self.event_defaults = sm.default_attribute_values(self.tax, "events")
        self.rules: Any = None  # the dependency rules' parser, when the card says to add their attributions
        if card.get("union_with_rules") and "attribution" in self.pipelines:
            self.use_rules(card["union_with_rules"])

    def use_rules(self, pipeline: str | None) -> None:
        """Add the dependency rules' attributions (``pipeline`` parsed) whose cue overlaps no cue or
        content of the model's; None: the model alone."""
        from corpus.predict.lexicon import load_lexicon

        self.rules = (sm.load_pipeline(pipeline), load_lexicon(self.tax)) if pipeline else None

    def _with_rules(self, texts: list[str], atts: list[list[AttributionGuess]]) -> None:
        from corpus.predict.attribution import find_attributions

        nlp, lexicon = self.rules
        for found, doc in zip(atts, nlp.pipe(texts, batch_size=sm.BATCH_SIZE)):
            taken = [f for g in found for f in g.cue + g.content]
            for g in find_attributions(doc, lexicon):
                if not any(s < e2 and s2 < e for s, e in g.cue for s2, e2 in taken):
                    found.append(g)

    def predict(self, article: Article) -> Annotation | None:
        return self.predict_many([article])[0]

    def predict_many(self, articles: Sequence[Article]) -> list[Annotation | None]:
        texts = [a.text for a in articles]
        per_layer = {
            layer: [combine_spans(spans) for spans in zip(*(sm.predict_spans(nlp, texts) for nlp in members))]
            for layer, members in self.pipelines.items()
        }
        all_atts = [
            assemble_attributions(art.text, per_layer["attribution"][k]) if "attribution" in per_layer else []
            for k, art in enumerate(articles)
        ]
        if self.rules is not None:
            self._with_rules(texts, all_atts)
        out = []
        for k, art in enumerate(articles):
            ents = [(lab, s, e) for s, e, lab in per_layer.get("entities", [[]] * len(articles))[k]]
            events = [
                EventGuess(lab, (s, e), score=0.6) for s, e, lab in per_layer.get("events", [[]] * len(articles))[k]
            ]
            atts = all_atts[k]
            scores = [g.score for g in atts] + [g.score for g in events]
            out.append(
                sm.build_annotation(
                    art,
                    annotator=self.name,
                    model_version=self.model_version,
                    entities=ents,
                    events=events,
                    attributions=atts,
                    event_defaults=self.event_defaults,
                    scores=scores,
                    tax=self.tax,
                )
            )
        return out


# ---------------------------------------------------------------- training


@dataclass
class TrainReport:
    out: str
    model_version: str
    layers: list[str]
    documents: dict[str, int]
    seconds: float
    held_out: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "model_version": self.model_version,
            "layers": self.layers,
            "documents": self.documents,
            "seconds": self.seconds,
            "held_out": self.held_out,
            "training": self.logs,
            "skipped": self.skipped,
        }


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _labels(tax: Any, layer: str) -> list[str]:
    if layer == "entities":
        return list(tax.entity_labels())
    if layer == "events":
        return list(tax.event_types())
    return list(ATTRIBUTION_PARTS)


def _card_markdown(card: dict[str, Any]) -> str:
    lines = [
        f"# {card['name']}",
        "",
        f"- model version: `{card['model_version']}`",
        f"- trained: {card['trained_at']} in {card['training_seconds']} s ({card.get('training_cpu_seconds')} CPU-s) (seed {card['seed']})",
        f"- corpus version: {card['corpus_version']}; taxonomy {card['taxonomy_version']}; toolkit {card['toolkit_version']}",
        f"- layers: {', '.join(card['layers'])}"
        + "".join(
            f"; {layer}: {n} models (seeds from {card['seed']}), spans combined"
            for layer, n in (card.get("ensemble") or {}).items()
            if n > 1
        ),
        f"- documents: {json.dumps(card['documents'])} (release split; validation and test never trained on)",
        "- attribution: "
        + (
            "the model plus the dependency rules' attributions on cues it missed"
            if card.get("union_with_rules")
            else "the model alone"
        )
        + f" (chosen on validation, mean overlap F1: {json.dumps(card.get('validation_attribution_f1'))})",
        "- snapshots: " + ", ".join(f"`{s['path']}` sha256 `{s['sha256']}`" for s in card["snapshots"]),
        "",
        "## Held-out scores (test split, pooled gold, overlap match)",
        "",
        "| layer | label | P | R | F1 |",
        "|---|---|---|---|---|",
    ]
    for layer, lay in (card.get("held_out") or {}).get("layers", {}).items():
        for lab, v in lay["by_label"].items():
            ov = v["overlap"]
            lines.append(f"| {layer} | {lab} | {ov['precision']} | {ov['recall']} | {ov['f1']} |")
    lines.append("")
    return "\n".join(lines)


def train(
    annotations: list[Annotation],
    articles: dict[str, Article],
    out: str | Path,
    *,
    split_of: Callable[[str], str],
    snapshots: Sequence[str | Path] = (),
    corpus_version: int | None = None,
    seed: int = 0,
    epochs: int = 20,
    max_seconds: float | None = 600,
    layers: Iterable[str] | None = None,
    force: bool = False,
    ner_options: dict[str, Any] | None = None,
    log: Callable[[str, dict[str, Any]], None] | None = None,
    ensemble: int = 1,
) -> TrainReport:
    """Train one pipeline per layer present in the gold; write them and the card under ``out``.

    ``max_seconds`` is the budget of all layers together (split evenly), in CPU seconds of the
    training (``train_ner``). ``ensemble`` > 1 trains that many models per layer (seeds ``seed``,
    ``seed + 1`` ...) in parallel processes, each with the whole budget; their spans are combined
    (``combine_spans``)."""
    if ensemble < 1:
        raise UsageError(f"ensemble must be 1 or more, not {ensemble}")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise UsageError(
            f"{out} exists and is not empty", hint="choose another out folder, or pass force=True to replace it"
        )
    tax = taxonomy_mod.load()
    started, cpu0 = time.monotonic(), cpu_seconds()
    gold = choose_gold(annotations)
    skipped = []
    split_docs: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for doc_id, ann in sorted(gold.items()):
        art = articles.get(doc_id)
        if art is None:
            skipped.append({"doc_id": doc_id, "reason": "not in the store"})
            continue
        if ann.text_sha256 and ann.text_sha256 != art.text_sha256:
            skipped.append({"doc_id": doc_id, "reason": "annotates another revision of the text"})
            continue
        split_docs.setdefault(split_of(doc_id), []).append(doc_id)
    if not split_docs["train"]:
        raise InputError(
            "no training documents: every gold document is in the validation or test split, or missing",
            hint="give more annotated documents (the release split keeps ~20% out of training)",
        )
    wanted = set(layers or LAYERS)
    present = [
        layer
        for layer in LAYERS
        if layer in wanted and any(training_spans(gold[d], layer) for d in split_docs["train"])
    ]
    if not present:
        raise InputError("the gold has no spans in the requested layers", hint=f"layers: {', '.join(sorted(wanted))}")
    budget = max_seconds / len(present) if max_seconds else None
    pipelines: dict[str, list[Any]] = {}
    logs: dict[str, Any] = {}
    for layer in present:

        def docs(ids: list[str], layer: str = layer) -> list[sm.TrainDoc]:
            return [(articles[d].text, training_spans(gold[d], layer)) for d in ids]

        kwargs = dict(
            epochs=epochs, max_seconds=budget, dev=docs(split_docs["validation"]) or None, **(ner_options or {})
        )
        if ensemble > 1:
            members, infos = _train_members(out, docs(split_docs["train"]), _labels(tax, layer), seed, ensemble, kwargs)
            if log is not None:
                for k, info in enumerate(infos):
                    for entry in info["epochs"]:
                        log(layer, {"model": k + 1, **entry})
            pipelines[layer], logs[layer] = members, {**infos[0], "ensemble": infos}
            continue
        nlp, info = sm.train_ner(
            docs(split_docs["train"]),
            _labels(tax, layer),
            seed=seed,
            log=(lambda entry, layer=layer: log(layer, entry)) if log else None,
            **kwargs,
        )
        pipelines[layer] = [nlp]
        logs[layer] = info
    seconds = round(time.monotonic() - started, 1)
    cpu_used = round(cpu_seconds() - cpu0, 1)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    snaps = [{"path": str(p), "sha256": sha256_file(p)} for p in snapshots]
    digest = hashlib.sha256(
        json.dumps([s["sha256"] for s in snaps] + [seed, present] + ([ensemble] if ensemble > 1 else [])).encode()
    ).hexdigest()[:8]
    card: dict[str, Any] = {
        "name": out.name,
        "model_version": f"model:{out.name}-{stamp}-{digest}",
        "trained_at": stamp,
        "training_seconds": seconds,
        "training_cpu_seconds": cpu_used,
        "seed": seed,
        "layers": present,
        "corpus_version": corpus_version,
        "taxonomy_version": str(tax.version),
        "toolkit_version": _toolkit_version(),
        "spacy_version": sm.spacy_module().__version__,
        "snapshots": snaps,
        "documents": {k: len(v) for k, v in split_docs.items()},
        "ensemble": {layer: len(members) for layer, members in pipelines.items()},
        "held_out_documents": split_docs["test"],
        "training": logs,
    }
    model = TrainedPreannotator(out, pipelines=pipelines, card=card)
    if "attribution" in present and split_docs["validation"] and sm.pipeline_exists(sm.DEFAULT_PIPELINE):
        # the dependency rules' extra attributions are kept when they raise the validation score
        # (mean overlap F1 of cue, source, content): decided on validation, never on test
        val_arts = [articles[d] for d in split_docs["validation"]]
        val_gold = [a for a in annotations if a.doc_id in set(split_docs["validation"])]
        scores = {}
        for rules in (None, sm.DEFAULT_PIPELINE):
            model.use_rules(rules)
            rep = evaluate(
                dict(zip(split_docs["validation"], model.predict_many(val_arts))),
                val_gold,
                gold_mode="pooled",
                layers=["attribution"],
            ).to_dict()
            f1s = [v["overlap"]["f1"] or 0.0 for v in rep["layers"]["attribution"]["by_label"].values()]
            scores["model + dependency rules" if rules else "model"] = round(sum(f1s) / max(1, len(f1s)), 4)
        union = scores["model + dependency rules"] > scores["model"]
        card["union_with_rules"] = sm.DEFAULT_PIPELINE if union else None
        card["validation_attribution_f1"] = scores
        model.use_rules(card["union_with_rules"])
    if split_docs["test"]:
        test_arts = [articles[d] for d in split_docs["test"]]
        preds = dict(zip(split_docs["test"], model.predict_many(test_arts)))
        test_gold = [a for a in annotations if a.doc_id in preds]
        card["held_out"] = evaluate(preds, test_gold, gold_mode="pooled", layers=present).to_dict()
    _write_model(out, pipelines, card, force=force)
    return TrainReport(
        str(out),
        card["model_version"],
        present,
        card["documents"],
        seconds,
        card.get("held_out", {}),
        logs,
        skipped,
    )


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (an ensemble's trainers)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _train_member(folder: str, train_docs: list, labels: list[str], seed: int, kwargs: dict[str, Any]) -> dict:
    nlp, info = sm.train_ner(train_docs, labels, seed=seed, **kwargs)
    sm.save_pipeline(nlp, folder)
    return info


def _train_members(
    out: Path, train_docs: list, labels: list[str], seed: int, n: int, kwargs: dict[str, Any]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """``n`` models with seeds ``seed`` .. ``seed + n - 1``, each in its own process (spaCy trains
    on one core: two models on two cores take the wall time of one), each with the whole budget."""
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.members-", dir=out.parent) as tmp:
        folders = [str(Path(tmp) / str(k)) for k in range(n)]
        workers = max(1, min(n, os.cpu_count() or 1))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_train_member, folders[k], train_docs, labels, seed + k, kwargs) for k in range(n)]
            infos = [f.result() for f in futures]
        return [sm.load_pipeline(f) for f in folders], infos


def _write_model(out: Path, pipelines: dict[str, list[Any]], card: dict[str, Any], *, force: bool) -> None:
    """Everything into a temporary folder beside ``out``, then one rename: all or nothing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for layer, members in pipelines.items():
            for name, nlp in zip(member_folders(layer, card), members):
                sm.save_pipeline(nlp, tmp / name)
        (tmp / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_card_markdown(card), encoding="utf-8")
        if out.exists():
            if not force:
                raise UsageError(f"{out} appeared while training", hint="pass force=True to replace it")
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _toolkit_version() -> str:
    try:
        from importlib.metadata import version

        return version("newscorpus")
    except Exception:  # not installed (a source checkout)
        return "unknown"


__all__ = ["TrainReport", "TrainedPreannotator", "assemble_attributions", "choose_gold", "train", "training_spans"]
