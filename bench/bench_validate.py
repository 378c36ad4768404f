"""Benchmark: validating a Label Studio export of 10k tasks with ~50 regions each.

Measured in the same run:
  * baseline: naive per-task ``jsonschema.validate(task, schema)`` (schema check only, stops at
    the first error, re-checks the schema each call);
  * ours: ``corpus.annotations.validate.check_ls_task`` (fast schema path + jsonschema fallback, the full
    semantic pass, every error reported).
The baseline runs on a sample (it is slow) and is reported per task. A second measurement
with one error in every 20th task shows the fallback cost. Prints one JSON object.

    .venv/bin/python bench/bench_validate.py [--tasks 10000] [--baseline-tasks 300]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jsonschema  # noqa: E402

from corpus.annotations import lsformat, validate
from corpus.core import taxonomy
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Span, sha256_text  # noqa: E402
from corpus.generate import jsonschemas  # noqa: E402

WORDS = "the coalition said strikes hit IS targets near Palmyra while officials 😀 reported more attacks".split()


def make_task(tid: int, rng: random.Random, tax: taxonomy.Taxonomy) -> dict:
    words = [rng.choice(WORDS) for _ in range(400)]
    text = " ".join(words)
    bounds, i = [], 0
    for w in words:
        bounds.append((i, i + len(w)))
        i += len(w) + 1

    def span(k: int, n: int = 1) -> Span:
        return Span.from_offsets(text, [(bounds[k][0], bounds[min(k + n - 1, len(bounds) - 1)][1])])

    ents = [Entity(f"T{j}", rng.choice(tax.entity_labels()), span(j * 12)) for j in range(25)]
    events = []
    for j in range(8):
        et = rng.choice(tax.events)
        args = [Argument(r.name, e.id) for r in et.roles for e in ents[:6] if e.label in r.entity_types][:2]
        events.append(Event(f"E{j}", et.name, span(j * 12 + 5), args, {"realis": "actual", "polarity": "positive"}))
    atts = [
        Attribution(
            f"A{j}",
            span(j * 40 + 8),
            span(j * 40 + 9, 6),
            span(j * 40 + 3, 2),
            ents[j].id,
            {"quote_type": "indirect", "source_type": "named person", "commitment": "reported"},
        )
        for j in range(5)
    ]
    ann = Annotation("d" * 16, sha256_text(text), "bench", ents, events, atts)
    result = lsformat.to_labelstudio(ann, text, tax)
    return {
        "id": tid,
        "data": {"text": text, "doc_id": "d" * 16, "text_sha256": ann.text_sha256},
        "meta": {"corpus_version": 1, "taxonomy_version": tax.version},
        "annotations": [
            {
                "id": tid * 10,
                "result": result,
                "completed_by": 1,
                "was_cancelled": False,
                "ground_truth": False,
                "lead_time": 30.5,
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
            }
        ],
        "drafts": [],
        "predictions": [],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--baseline-tasks", type=int, default=300)
    args = ap.parse_args()
    tax = taxonomy.load()
    rng = random.Random(7)
    base_tasks = [make_task(i, rng, tax) for i in range(50)]
    tasks = [dict(copy.deepcopy(base_tasks[i % 50]), id=i) for i in range(args.tasks)]
    n_regions = sum(1 for r in tasks[0]["annotations"][0]["result"] if r["type"] == "labels")
    n_items = len(tasks[0]["annotations"][0]["result"])

    export = jsonschemas.labelstudio_export_schema(tax)
    schema = {"$schema": export["$schema"], "$ref": "#/$defs/task", "$defs": export["$defs"]}
    sample = tasks[: args.baseline_tasks]
    t0 = time.perf_counter()
    for t in sample:
        jsonschema.validate(t, schema)
    naive = len(sample) / (time.perf_counter() - t0)

    v = validate.validator_for(tax)
    counts: Counter = Counter()
    t0 = time.perf_counter()
    findings = []
    for i, t in enumerate(tasks):
        findings += validate.check_ls_task(t, tax, prefix=f"/{i}", counts=counts, validator=v)
    ours = len(tasks) / (time.perf_counter() - t0)
    assert not [f for f in findings if f.severity == "error"], findings[:3]

    # the same export with an error in every 20th task (bad label + a string offset): fallback path
    bad = copy.deepcopy(tasks)
    for t in bad[::20]:
        res = t["annotations"][0]["result"]
        res[0]["value"]["labels"] = ["NOT_A_LABEL"]
        res[1]["value"]["start"] = str(res[1]["value"]["start"])
    t0 = time.perf_counter()
    bad_findings = []
    for i, t in enumerate(bad):
        bad_findings += validate.check_ls_task(t, tax, prefix=f"/{i}", validator=v)
    ours_bad = len(bad) / (time.perf_counter() - t0)
    per_bad = Counter(f.code for f in bad_findings if f.severity == "error")
    assert per_bad["unknown_label"] == len(bad[::20]) and per_bad["schema"] >= len(bad[::20]), per_bad

    print(
        json.dumps(
            {
                "tasks": len(tasks),
                "regions_per_task": n_regions,
                "result_items_per_task": n_items,
                "naive_jsonschema_validate_tasks_per_s": round(naive, 1),
                "ours_full_validation_tasks_per_s": round(ours, 1),
                "ratio": round(ours / naive, 1),
                "ours_with_5pct_bad_tasks_per_s": round(ours_bad, 1),
                "ratio_with_5pct_bad": round(ours_bad / naive, 1),
                "errors_found_in_bad_run": dict(per_bad),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
