"""Agreement metrics against hand-computed cases and the krippendorff package."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner

from corpus.annotations import agreement as ag
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text

TEXT = "Officials said the strike hit depots . Reuters reported fires ."
#       0         1         2         3         4         5         6
#       0123456789012345678901234567890123456789012345678901234567890123


def sp(*pairs: tuple[int, int]) -> Span:
    return Span.from_offsets(TEXT, pairs)


def ann(who: str, doc: str = "d1", **layers) -> Annotation:
    return Annotation(doc_id=doc, text_sha256=sha256_text(TEXT), annotator=who, **layers)


def test_text_offsets_used_below():
    assert TEXT[0:9] == "Officials" and TEXT[10:14] == "said" and TEXT[15:36] == "the strike hit depots"
    assert TEXT[19:25] == "strike" and TEXT[39:46] == "Reuters" and TEXT[47:55] == "reported" and TEXT[56:61] == "fires"


def test_exact_and_overlap_counts_hand_computed():
    a = {("PER", ((0, 9),)), ("ORG", ((39, 46),)), ("LOC", ((30, 36),))}
    b = {("PER", ((0, 9),)), ("ORG", ((39, 45),)), ("GPE", ((30, 36),)), ("ORG", ((56, 61),))}
    ex = ag.exact_counts(a, b)
    assert (ex.matched_a, ex.total_a, ex.total_b) == (1, 3, 4)
    assert ex.f1 == pytest.approx(2 * 1 / (3 + 4))
    ov = ag.overlap_counts(a, b)
    # A: PER yes, ORG yes (39-46 vs 39-45), LOC no (label differs) -> 2/3 recall
    # B: PER yes, ORG 39-45 yes, GPE no, ORG 56-61 no -> 2/4 precision
    assert (ov.matched_a, ov.matched_b) == (2, 2)
    assert ov.f1 == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))


def test_token_labels_shortest_span_wins():
    toks = ag.tokenize(TEXT)
    assert [TEXT[s:e] for s, e in toks][:5] == ["Officials", "said", "the", "strike", "hit"]
    labels = ag.token_labels(toks, [("Content", ((15, 36),)), ("Cue", ((19, 25),)), ("Source", ((0, 9),))])
    assert labels[:7] == ["Source", "O", "Content", "Cue", "Content", "Content", "O"]


def test_alpha_hand_computed_and_same_as_package():
    rows = [["a", "a", "b", "b"], ["a", "b", "b", "b"]]
    # coincidences: o_aa=2, o_ab=o_ba=1, o_bb=4; n=8, n_a=3, n_b=5
    # alpha = 1 - (n-1) * (o_ab+o_ba) / (2 n_a n_b) = 1 - 7*2/30 = 8/15
    assert ag.krippendorff_alpha(rows) == pytest.approx(8 / 15)
    data = np.array([[0, 0, 1, 1], [0, 1, 1, 1]], dtype=float)
    assert ag.krippendorff_alpha(rows) == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    )


def test_alpha_with_missing_values_matches_package():
    rows = [
        ["O", "Cue", None, "Content", "O"],
        ["O", "Cue", "Source", "Content", "Content"],
        [None, "O", "Source", "Content", "O"],
    ]
    code = {"O": 0, "Cue": 1, "Content": 2, "Source": 3}
    data = np.array([[np.nan if v is None else code[v] for v in r] for r in rows])
    assert ag.krippendorff_alpha(rows) == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    )


def two_annotators() -> list[Annotation]:
    a = ann(
        "A",
        attributions=[
            Attribution("a1", sp((10, 14)), sp((15, 36)), sp((0, 9))),
            Attribution("a2", sp((47, 55)), sp((56, 61)), sp((39, 46))),
        ],
        entities=[Entity("e1", "ORG", sp((39, 46))), Entity("e2", "FAC", sp((30, 36)))],
        events=[Event("v1", "Conflict:Attack", sp((19, 25)), [Argument("Target", "e2")])],
    )
    b = ann(
        "B",
        attributions=[Attribution("b1", sp((10, 14)), sp((19, 36)), sp((0, 9)))],
        entities=[Entity("x", "ORG", sp((39, 46)))],
        events=[Event("w", "Conflict:Attack", sp((19, 25)))],
    )
    single = ann("A", doc="d2", attributions=[Attribution("z", sp((10, 14)), sp((15, 36)))])
    return [a, b, single]


def test_agreement_report_hand_computed():
    rep = ag.agreement(two_annotators(), {"d1": TEXT})
    assert rep.documents == 1 and rep.pairs == 1 and rep.skipped_single == 1
    att = rep.layers["attribution"]
    # A spans: Cue 10-14, Content 15-36, Source 0-9, Cue 47-55, Content 56-61, Source 39-46 (6)
    # B spans: Cue 10-14, Content 19-36, Source 0-9 (3); exact TP = 2
    assert att.exact.f1 == pytest.approx(2 * 2 / (6 + 3))
    # overlap: A matched 3 of 6, B matched 3 of 3
    assert att.overlap.f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    agr = att.extra["attribution_agreement"]
    # agr(A||B) = 1/2 (a1 matched), agr(B||A) = 1/1 -> pooled 2/3
    assert agr["cue"] == {"agr": pytest.approx(2 / 3, abs=1e-4), "matched": 2, "attributions": 3}
    assert agr["cue_content"]["matched"] == 2 and agr["any"]["matched"] == 2
    assert att.by_label["Cue"]["exact_f1"] == pytest.approx(2 / 3, abs=1e-4)
    # alpha equals the package on the token table built by hand
    toks = ag.tokenize(TEXT)
    la = ag.token_labels(toks, ag.layer_spans(two_annotators()[0], "attribution"))
    lb = ag.token_labels(toks, ag.layer_spans(two_annotators()[1], "attribution"))
    assert la[2] == "Content" and lb[2] == "O"  # "the": content for A only
    assert att.alpha == pytest.approx(ag.krippendorff_alpha([la, lb]))
    assert att.alpha_tokens == len(toks)
    ev = rep.layers["events"]
    assert ev.exact.f1 == 1.0
    assert ev.extra["triples"]["f1"] == 0.0  # only A has (strike, Target, depots)
    ent = rep.layers["entities"]
    assert ent.exact.f1 == pytest.approx(2 * 1 / (2 + 1))


def test_agreement_without_text_skips_alpha_only():
    rep = ag.agreement(two_annotators(), None, layers=["attribution"])
    assert rep.layers["attribution"].alpha is None and rep.missing_text == ["d1"]
    assert rep.layers["attribution"].exact.f1 is not None
    assert set(rep.layers) == {"attribution"}


def test_cli_agreement_json_and_table(tmp_path):
    from corpus.cli import main
    from corpus.store.snapshot import write_snapshot

    snap = tmp_path / "s.jsonl"
    write_snapshot(two_annotators(), snap)
    r = CliRunner().invoke(
        main, ["agreement", str(snap), "--layer", "attribution", "--json", "--store", str(tmp_path / "none")]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["documents"] == 1 and d["layers"]["attribution"]["attribution_agreement"]["cue"]["matched"] == 2
    r = CliRunner().invoke(main, ["agreement", str(tmp_path), "--by", "label", "--store", str(tmp_path / "none")])
    assert r.exit_code == 0 and "attribution-wise agr" in r.output and "Cue" in r.output
    one = tmp_path / "one" / "s.jsonl"
    write_snapshot(two_annotators()[:1], one)
    r = CliRunner().invoke(main, ["agreement", str(one), "--store", str(tmp_path / "none")])
    assert r.exit_code == 1 and "two or more annotators" in r.output


def test_predictions_and_gold_are_not_annotators():
    anns = two_annotators()
    pred = ann("model", attributions=[Attribution("p", sp((0, 9)), sp((56, 61)))])
    pred.origin = "prediction"
    gold = ann("adjudicated", attributions=anns[0].attributions)
    gold.origin = "adjudicated"
    rep = ag.agreement([*anns, pred, gold], {"d1": TEXT}, layers=["attribution"])
    assert rep.annotators == ["A", "B"] and rep.pairs == 1
    with_pred = ag.agreement([*anns, pred], {"d1": TEXT}, layers=["attribution"], exclude_origins=())
    assert with_pred.annotators == ["A", "B", "model"] and with_pred.pairs == 3
