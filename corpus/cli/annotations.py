"""Annotation commands: taxonomy generate/check, validate, agreement, adjudicate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from corpus.cli.app import Outcome, command, main
from corpus.cli.options import echo_problems, emit_json, json_option, layers_option, store_option, version_option
from corpus.core.errors import CorpusError, UsageError
from corpus.core.problems import Problem
from corpus.core.taxonomy import LAYERS


def _warn(warnings: list[str]) -> None:
    """Warnings of the library (e.g. an incomplete snapshot skipped) on stderr."""
    for w in warnings:
        click.echo(f"Warning: {w}", err=True)


# ================================================================ taxonomy and validate


@main.group("taxonomy")
def taxonomy_group() -> None:
    """Check a taxonomy, and generate or check the files derived from it."""


root_option = click.option(
    "--root",
    default=None,
    type=click.Path(file_okay=False),
    help="A source checkout: its schemas/, annotations/guidelines.md and packaged copies "
    "(default: the checkout this package runs from, if any).",
)
out_option = click.option(
    "--out",
    default=None,
    type=click.Path(file_okay=False),
    help="A folder of your own: the Label Studio config, JSON Schemas and guidelines of the selected taxonomy.",
)


@taxonomy_group.command("generate")
@root_option
@out_option
@json_option
def taxonomy_generate(root: str | None, out: str | None, as_json: bool) -> None:
    """Write the Label Studio config, JSON Schemas and guideline tables (only files that changed).

    With --out DIR: for the selected taxonomy (--taxonomy, CORPUS_TAXONOMY, else the packaged
    one) into DIR. Without: in the source checkout, from schemas/taxonomy.yaml.
    """
    from corpus import generate

    if root is not None and out is not None:
        raise UsageError("--root and --out exclude each other")
    written = [str(p) for p in generate.generate(root, out=out)]
    if as_json:
        emit_json({"written": written})
    else:
        click.echo("\n".join(f"wrote {p}" for p in written) or "all generated files are up to date")


@taxonomy_group.command("check")
@root_option
@out_option
@json_option
def taxonomy_check(root: str | None, out: str | None, as_json: bool) -> Outcome:
    """Check the taxonomy; exit 1 when a generated file is missing or stale.

    Compares the files of --out DIR, else of the source checkout, else the packaged copies; with a
    taxonomy of your own and no --out, only the taxonomy itself is checked.
    """
    from corpus import generate

    if root is not None and out is not None:
        raise UsageError("--root and --out exclude each other")
    t = generate.target(root, out)
    stale = [str(p) for p in generate.stale_files(t)]
    folder = str(t.folder) if t.folder is not None else None
    problems = [Problem("stale_generated_file", "missing, or not what the taxonomy generates", file=p) for p in stale]
    if as_json:
        emit_json(
            {
                "ok": not stale,
                "taxonomy": str(t.taxonomy_path),
                "folder": folder,
                "stale": stale,
                "problems": [p.to_dict() for p in problems],
            }
        )
    elif stale:
        echo_problems(problems, limit=None)
        if out is not None:
            click.echo(f"  (here: `corpus taxonomy generate --out {out}`)", err=True)
    elif folder is None:
        click.echo(f"taxonomy {t.taxonomy_path} is valid (pass --out DIR to check files generated from it)")
    else:
        click.echo(f"taxonomy {t.taxonomy_path} is valid; the generated files in {folder} are up to date")
    return Outcome(problems)


@command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--store",
    default=None,
    envvar="CORPUS_STORE",
    help="Corpus store for the texts of canonical records without a text field. Env: CORPUS_STORE.",
)
@version_option
@click.option(
    "--fix-offsets",
    is_flag=True,
    help="Write a copy with UTF-16 offsets converted to code points next to each input (NAME.fixed.EXT).",
)
@click.option(
    "--label-config",
    "label_config",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Check the export against this Label Studio labeling config (XML) instead of the taxonomy.",
)
@click.option(
    "--project", default=None, help="Check against the labeling config of this Label Studio project (by title)."
)
@json_option
def validate_cmd(
    files: tuple[str, ...],
    store: str | None,
    version: str | None,
    fix_offsets: bool,
    label_config: str | None,
    project: str | None,
    as_json: bool,
) -> Outcome:
    """Validate Label Studio JSON / JSON-MIN exports or canonical annotation JSONL (schema + semantics).

    A folder stands for its latest complete snapshot per sub-folder (what a release would read).
    With --label-config / --project an export of any text project is checked against that
    project's own controls, labels, relations and choices.
    """
    from corpus.annotations import validate
    from corpus.core.problems import Problem
    from corpus.store.snapshot import snapshot_files

    tax = scheme_tax(label_config, project)

    skipped: list[str] = []
    files = tuple(str(f) for f in snapshot_files(files, skipped))
    if not files:
        raise UsageError(
            "no complete annotation snapshot (*.jsonl) in the given files and folders"
            + "".join(f"; {w}" for w in skipped)
        )

    texts = None
    if store:
        opened: list = []  # the store is opened once, on the first batch that needs texts

        def texts(ids: list[str]) -> dict[str, str]:
            from corpus.store.table import CorpusStore

            if not opened:
                s = CorpusStore(store)
                if not s.exists():
                    raise UsageError(f"no corpus store at {store}")
                opened.append((s, s.resolve_version(version)))
            s, v = opened[0]
            return {k: a.text for k, a in s.get_many(ids, v).items()}

    rep = validate.validate_files(files, tax, texts=texts, fix_offsets=fix_offsets)
    rep.findings[:0] = [Problem("incomplete_snapshot", w) for w in skipped]
    if as_json:
        emit_json(rep.to_dict())
    else:
        echo_problems(rep.findings, limit=None, err=False)
        s = rep.summary()["counts"]
        parts = [f"{k}={v}" for k, v in s.items() if not k.startswith("format_")]
        click.echo(("OK " if rep.ok else "FAILED ") + " ".join(parts), err=True)
        for p in rep.fixed:
            click.echo(f"wrote {p}", err=True)
    return Outcome(failed=not rep.ok)


def scheme_tax(label_config: str | None, project: str | None) -> Any:
    """The taxonomy of a Label Studio project's own config (--label-config FILE or --project NAME)."""
    if label_config is None and project is None:
        return None
    if label_config is not None and project is not None:
        raise UsageError("give --label-config or --project, not both")
    from corpus.core.scheme import scheme_taxonomy
    from corpus.labelstudio import client as lsclient

    if label_config is not None:
        try:
            xml = Path(label_config).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read the label config {label_config}: {e}") from e
        title = Path(label_config).stem
    else:
        assert project is not None
        xml, title = lsclient.project_label_config(lsclient.LSClient(), project), project
    return scheme_taxonomy(lsclient.parse_label_config(xml, title))


# ================================================================ brat, agreement, adjudicate
# (brat import/export are `corpus import --format brat` and `corpus export --format brat`,
# in the foundation section; they call corpus.annotations.brat.import_brat / export_brat.)


def _print_agreement(rep: Any, show_labels: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()

    def pct(x: Any) -> str:
        return "—" if x is None else f"{100 * x:.1f}%"

    d = rep.to_dict()
    con.print(
        f"{d['documents']} documents with 2+ annotators ({d['pairs']} annotator pairs; "
        f"{d['documents_with_one_annotator']} single-annotator documents ignored); annotators: {', '.join(d['annotators'])}"
    )
    if d["documents_without_text"]:
        con.print(
            f"[yellow]{d['documents_without_text']} documents have no matching text in the store: left out of token alpha[/]"
        )
    for name, lay in d["layers"].items():
        t = Table(title=f"{name}: {lay['spans']} spans", show_header=True)
        t.add_column("measure")
        t.add_column("value", justify="right")
        t.add_row("span F1, exact", pct(lay["exact"]["f1"]))
        t.add_row("span F1, overlap", pct(lay["overlap"]["f1"]))
        t.add_row(f"token Krippendorff's alpha ({lay['alpha_tokens']} tokens)", pct(lay["alpha"]))
        if "attribution_agreement" in lay:
            agr = lay["attribution_agreement"]
            t.add_row("attribution-wise agr (cue overlap)", pct(agr["cue"]["agr"]))
            t.add_row("attribution-wise agr (cue and content overlap)", pct(agr["cue_content"]["agr"]))
            t.add_row("attribution-wise agr (any span overlap)", pct(agr["any"]["agr"]))
        if "triples" in lay:
            t.add_row("event (trigger, role, argument) F1", pct(lay["triples"]["f1"]))
        con.print(t)
        if show_labels and lay["by_label"]:
            lt = Table(title=f"{name} by label")
            for col in ("label", "spans", "exact F1", "overlap F1", "token alpha"):
                lt.add_column(col, justify="left" if col == "label" else "right")
            for lab, v in lay["by_label"].items():
                lt.add_row(lab, str(v["spans"]), pct(v["exact_f1"]), pct(v["overlap_f1"]), pct(v.get("alpha")))
            con.print(lt)
        if lay["pairwise"]:
            pt = Table(title=f"{name} pairwise")
            for col in ("a", "b", "documents", "exact F1", "overlap F1"):
                pt.add_column(col, justify="left" if col in "ab" else "right")
            for p in lay["pairwise"]:
                pt.add_row(p["a"], p["b"], str(p["documents"]), pct(p["exact_f1"]), pct(p["overlap_f1"]))
            con.print(pt)


@command("agreement")
@click.argument("snapshots", nargs=-1, required=True, type=click.Path(exists=True))
@layers_option(LAYERS, "Layer(s) to measure (repeatable; default: every layer of the taxonomy).")
@click.option("--by", "by", type=click.Choice(["label"]), default=None, help="Also show per-label figures.")
@store_option
@version_option
@json_option
def agreement_cmd(
    snapshots: tuple[str, ...], layers: tuple[str, ...], by: str | None, store: str, version: str | None, as_json: bool
) -> None:
    """Inter-annotator agreement on documents annotated by two or more annotators.

    SNAPSHOTS are .jsonl snapshot files or directories of them. Span F1 (exact and overlap),
    token-level Krippendorff's alpha (texts read from --store), PolNeAR's attribution-wise
    agreement and event triple F1. Definitions: corpus/agreement.py and the README.
    """
    from corpus.annotations import agreement as ag
    from corpus.store.snapshot import load_annotations

    warnings: list[str] = []
    anns = load_annotations(list(snapshots), warnings)
    _warn(warnings)
    docs, _ = ag.group_by_document(a for a in anns if a.origin not in ("prediction", "adjudicated"))
    multi = [d for d, per in docs.items() if len(per) >= 2]
    if not multi:
        raise CorpusError(
            f"no document in {', '.join(snapshots)} has two or more annotators ({len(docs)} documents, {len(anns)} records)",
            hint="give the snapshots of all annotators together",
        )
    texts: dict[str, str] = {}
    try:
        from corpus.store.table import CorpusStore

        st = CorpusStore(store)
        if st.exists():
            texts = {k: a.text for k, a in st.get_many(multi, version=version).items()}
    except CorpusError as e:
        click.echo(f"Warning: no texts from the store ({e.message}); token alpha skipped", err=True)
    rep = ag.agreement(anns, texts, layers=layers or ag.LAYERS)
    if as_json:
        emit_json(rep.to_dict())
    else:
        _print_agreement(rep, by == "label")


@command("adjudicate")
@click.argument("snapshots", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(),
    help="Gold snapshot: annotations/NAME/gold-<ts>.jsonl, or a directory (annotations/NAME) to create it in.",
)
@click.option(
    "--min-votes",
    type=click.IntRange(min=1),
    default=None,
    help="Votes a span needs (default: strict majority of the document's annotators).",
)
@click.option("--reviewer", default=None, help="Annotator whose annotation wins where they annotated.")
@json_option
def adjudicate_cmd(
    snapshots: tuple[str, ...], out: str, min_votes: int | None, reviewer: str | None, as_json: bool
) -> Outcome:
    """Merge several annotators' annotations into one gold annotation per document.

    Majority vote on spans and attributes; the reviewer's annotation wins where given. Every
    conflict goes to <out>.conflicts.jsonl; the gold records have origin "adjudicated".
    Exit 1 when records had to be left out (stale text, too few annotators for --min-votes).
    """
    from corpus.annotations.adjudicate import adjudicate, write_adjudication
    from corpus.store.snapshot import load_annotations

    warnings: list[str] = []
    anns = load_annotations(list(snapshots), warnings)
    _warn(warnings)
    gold, conflicts, rep = adjudicate(anns, min_votes=min_votes, reviewer=reviewer)
    paths = (
        write_adjudication(gold, conflicts, out, inputs=list(snapshots), min_votes=min_votes, reviewer=reviewer)
        if gold
        else {}
    )
    result = {**rep.to_dict(), **paths}
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"{rep.gold} gold records from {rep.documents} documents; {rep.conflicts} conflicts "
            f"({rep.unresolved} unresolved)"
            + (f" -> {paths['gold_path']}, conflicts in {paths['conflicts_path']}" if paths else "")
        )
        for s in rep.stale:
            click.echo(f"left out: {s['doc_id']} by {s['annotator']}: annotates another version of the text", err=True)
        for d in rep.under_quorum:
            click.echo(f"left out: {d}: fewer annotators than --min-votes {min_votes}", err=True)
    return Outcome(failed=bool(rep.stale or rep.under_quorum or not gold))


# ---- end of brat, agreement, adjudicate commands
