"""Model commands: predict (pre-annotations to a JSONL file), evaluate (against gold), train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from corpus.cli.app import Outcome, command
from corpus.cli.options import (
    PREDICTIONS_HELP,
    annotations_option,
    echo_problems,
    emit_json,
    json_option,
    layers_option,
    predictions_option,
    store_option,
    version_option,
    where_option,
)
from corpus.core.errors import UsageError
from corpus.core.taxonomy import ATTRIBUTION, ENTITIES, EVENTS

if TYPE_CHECKING:
    from corpus.predict.preannotate import PreAnnotator

MODEL_LAYERS = (ENTITIES, EVENTS, ATTRIBUTION)  # the layers a pre-annotator predicts and is trained on


def _preannotator(spec: str) -> PreAnnotator:
    from corpus.predict.preannotate import load_preannotator

    pre = load_preannotator(spec)
    if pre is None:
        raise UsageError("--predictions is empty", hint=PREDICTIONS_HELP)
    return pre


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


@command("predict")
@predictions_option(required=True)
@store_option
@version_option
@where_option
@click.option("--limit", type=int, default=None, help="At most N (selected) articles.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Canonical records (JSONL).")
@json_option
def predict_cmd(predictions, store, version, where, limit, out, as_json) -> Outcome:
    """Write pre-annotations as canonical annotation records (origin "prediction", model_version set).

    The file is what `corpus push --predictions FILE.jsonl` and `corpus evaluate` read back.
    Exit 1 when the pre-annotator failed on some documents (listed; the others are written).
    """
    from corpus.core import taxonomy
    from corpus.core.atomic import atomic_open
    from corpus.labelstudio.push import parse_where
    from corpus.predict import run as runner
    from corpus.store.table import CorpusStore

    if limit is not None and limit < 0:
        raise UsageError("--limit must be >= 0")
    keep = parse_where(where)
    st = CorpusStore(store)
    v = st.resolve_version(version)
    pre = _preannotator(predictions)
    tax = taxonomy.load()
    counts = {"documents": 0, "records": 0, "without_prediction": 0, "failed": 0}
    errors: list[Any] = []

    def selected():
        n = 0
        for art in st.iter_articles(v, batch_size=500):
            if limit is not None and n >= limit:
                return
            if keep(art):
                n += 1
                yield art

    def write(f) -> None:
        for o in runner.run(pre, selected(), taxonomy_version=str(tax.version)):
            counts["documents"] += 1
            if o.error:
                counts["failed"] += 1
                errors.append(o.error)
            if not o.annotations:
                counts["without_prediction"] += 1
            for ann in o.annotations:
                f.write(json.dumps(ann.to_dict(), ensure_ascii=False) + "\n")
                counts["records"] += 1

    with atomic_open(Path(out)) as f:
        write(f)
    errors += list(getattr(pre, "errors", []))
    result = {
        **counts,
        "out": out,
        "model_version": pre.model_version,
        "corpus_version": v,
        "problems": [p.to_dict() for p in errors],
    }
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"{counts['records']} prediction records ({pre.model_version}) for {counts['documents']} documents "
            f"-> {out}; {counts['without_prediction']} without prediction, {counts['failed']} failed"
        )
        echo_problems(errors)
    return Outcome(errors)


def _print_evaluation(d: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(soft_wrap=True)
    con.print(
        f"{d['model_version']} against gold ({d['gold']}) on {d['documents']} documents "
        f"({d['documents_without_prediction']} without any prediction, {len(d['skipped'])} skipped)"
    )
    human = d.get("human") or {}
    for layer, lay in d["layers"].items():
        t = Table(title=f"{layer}: model vs gold (P / R / F1, %)")
        for col in ("label", "exact P", "exact R", "exact F1", "overlap P", "overlap R", "overlap F1"):
            t.add_column(col, justify="left" if col == "label" else "right")
        if human:
            t.add_column("human overlap F1", justify="right")
        hl = (human.get("layers") or {}).get(layer, {})
        rows = [("all", lay["exact"], lay["overlap"], hl.get("overlap", {}).get("f1"))]
        rows += [
            (lab, v["exact"], v["overlap"], (hl.get("by_label") or {}).get(lab, {}).get("overlap_f1"))
            for lab, v in lay["by_label"].items()
        ]
        for lab, ex, ov, h in rows:
            cells = [lab] + [_pct(ex[k]) for k in ("precision", "recall", "f1")]
            cells += [_pct(ov[k]) for k in ("precision", "recall", "f1")]
            if human:
                cells.append(_pct(h))
            t.add_row(*cells)
        con.print(t)
    if d["attribution"]:
        t = Table(title="attribution-wise (P = model's matched, R = gold's matched, %)")
        for col in ("match", "P", "R", "F1") + (("human agr",) if human else ()):
            t.add_column(col, justify="left" if col == "match" else "right")
        hagr = ((human.get("layers") or {}).get("attribution") or {}).get("attribution_agreement", {})
        for mode, v in d["attribution"].items():
            cells = [mode, _pct(v["precision"]), _pct(v["recall"]), _pct(v["f1"])]
            if human:
                cells.append(_pct(hagr.get(mode, {}).get("agr")))
            t.add_row(*cells)
        con.print(t)
    if d["event_triples"]:
        v = d["event_triples"]
        con.print(
            f"event triples (trigger, type, role, argument, label), exact: P {_pct(v['precision'])} "
            f"R {_pct(v['recall'])} F1 {_pct(v['f1'])}"
        )


@command("evaluate")
@predictions_option(required=True)
@annotations_option(required=True)
@store_option
@version_option
@click.option(
    "--gold",
    "gold_mode",
    type=click.Choice(["pairs", "pooled"]),
    default="pairs",
    show_default=True,
    help="pairs: the model against each annotator, pooled like `corpus agreement`; pooled: against the "
    "union of the annotators' spans.",
)
@layers_option(MODEL_LAYERS, "Layer(s) to score (repeatable; default: all).")
@click.option("--human", is_flag=True, help="Also show human-vs-human agreement on the same documents.")
@json_option
def evaluate_cmd(predictions, annotations, store, version, gold_mode, layers, human, as_json) -> Outcome:
    """Score a pre-annotator against gold snapshots (--annotations) with the matching of `corpus agreement`.

    Span P/R/F1 exact and overlap per label, attribution-wise (cue / cue+content / any overlap),
    event triples. The model runs on the gold documents' texts from --store (a FILE.jsonl is read).
    """
    from corpus.annotations.agreement import LAYERS
    from corpus.predict import run as runner
    from corpus.predict.evaluate import evaluate
    from corpus.store.snapshot import load_annotations
    from corpus.store.table import CorpusStore

    gold = load_annotations(list(annotations))
    if not gold:
        raise UsageError(f"no annotation records in {', '.join(annotations)}")
    doc_ids = sorted({a.doc_id for a in gold})
    arts = CorpusStore(store).get_many(doc_ids, version=version)
    pre = _preannotator(predictions)
    preds: dict[str, Any] = {}
    errors: list[Any] = []
    for o in runner.run(pre, [arts[d] for d in doc_ids if d in arts]):
        preds[o.article.doc_id] = o.annotations[0] if o.annotations else None
        if o.error:
            errors.append(o.error)
    texts = {d: a.text for d, a in arts.items()}
    rep = evaluate(
        preds,
        gold,
        gold_mode=gold_mode,
        layers=layers or LAYERS,
        human=human,
        texts=texts,
        model_version=pre.model_version,
    )
    errors += list(getattr(pre, "errors", []))
    d = {
        **rep.to_dict(),
        "problems": [p.to_dict() for p in errors],
        "documents_not_in_store": len(set(doc_ids) - set(arts)),
    }
    if as_json:
        emit_json(d)
    else:
        _print_evaluation(d)
        echo_problems(errors)
    return Outcome(errors)


@command("train")
@annotations_option(required=True)
@store_option
@version_option
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Model folder, e.g. models/NAME.")
@layers_option(MODEL_LAYERS, "Layer(s) to train (repeatable; default: every layer the gold has).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True, help="Passes over the data.")
@click.option(
    "--max-minutes", type=float, default=12.0, show_default=True, help="Time budget of the training (all layers)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (training is repeatable).")
@click.option(
    "--ensemble",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Models per layer (seeds SEED, SEED+1 ...), trained in parallel processes, their spans combined: "
    "more recall; 2 on 2 cores takes the time of 1 (predicting takes twice as long).",
)
@click.option("--force", is_flag=True, help="Replace an existing model folder.")
@json_option
def train_cmd(annotations, store, version, out, layers, epochs, max_minutes, seed, ensemble, force, as_json) -> None:
    """Train a spaCy model (CPU) on gold annotations (--annotations), for `push --predictions model:OUT`.

    Documents the release split puts in validation (best epoch) or test (scores in the model card)
    are never trained on. Writes OUT/card.json and OUT/README.md (the model card).
    """
    from corpus.predict.train import train
    from corpus.release.splits import assign_split
    from corpus.store.snapshot import load_annotations, snapshot_files
    from corpus.store.table import CorpusStore

    gold = load_annotations(list(annotations))
    if not gold:
        raise UsageError(f"no annotation records in {', '.join(annotations)}")
    st = CorpusStore(store)
    v = st.resolve_version(version)
    arts = st.get_many(sorted({a.doc_id for a in gold}), version=v)

    def log(layer: str, entry: dict[str, Any]) -> None:
        if not as_json:
            click.echo(f"  {layer}: {json.dumps(entry)}", err=True)

    rep = train(
        gold,
        arts,
        out,
        split_of=assign_split,
        snapshots=snapshot_files(list(annotations)),
        corpus_version=v,
        seed=seed,
        ensemble=ensemble,
        epochs=epochs,
        max_seconds=max_minutes * 60,
        layers=layers or None,
        force=force,
        log=log,
    )
    if as_json:
        emit_json(rep.to_dict())
        return
    click.echo(
        f"trained {', '.join(rep.layers)} in {rep.seconds} s on {rep.documents.get('train', 0)} documents "
        f"({rep.documents.get('validation', 0)} validation, {rep.documents.get('test', 0)} held out) -> {rep.out}"
    )
    for layer, lay in (rep.held_out.get("layers") or {}).items():
        cells = ", ".join(f"{lab} {_pct(v['overlap']['f1'])}" for lab, v in lay["by_label"].items())
        click.echo(f"  held-out overlap F1 ({layer}): {cells}")
    click.echo(f"use it with: corpus push --predictions model:{rep.out}")
