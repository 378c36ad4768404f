"""Several annotations of a document -> one gold annotation, with every disagreement listed.

Rules (one document at a time, ``n`` = number of its annotators):

* **Spans vote.** An entity is (label, fragments), an event (type, trigger fragments), an
  attribution is anchored on its cue fragments. Each distinct one gets one vote per annotator
  who made it; it is accepted with at least ``min_votes`` votes (default: a strict majority,
  ``n // 2 + 1``).
* **The reviewer wins where given.** With ``reviewer`` set and that annotator present, every
  item the reviewer made is accepted, and items the reviewer did not make are rejected where
  they overlap one the reviewer made; elsewhere the majority rule applies.
* **Parts and attributes vote among supporters** (the annotators who made the accepted item):
  an attribution's content, source (``none`` is a candidate), source entity, flags and each
  attribute; an event's arguments and each attribute; an entity's attributes (attributes are
  whatever the records carry, so any taxonomy's attributes vote the same way). The reviewer's
  value wins when the reviewer is a supporter; otherwise the most voted value wins when it is
  the only one with that many votes; a tie leaves the value empty (an attribution without a
  content is left out).
* **Relations vote like spans**: a relation of the relations layer is (label, from entity, to
  entity) over the accepted entities, accepted with ``min_votes`` votes (the reviewer's kept).
* **Every conflict is listed**: each overlap region where annotators did not all make the same
  thing, and each part or attribute that was not unanimous, with candidates, voters and the
  decision. ``corpus adjudicate`` writes them as JSONL next to the gold snapshot.

The gold records have origin ``adjudicated`` (the release's gold policy picks those).
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from corpus.annotations.agreement import Frags, frags, overlaps
from corpus.core import atomic
from corpus.core import taxonomy as taxmod
from corpus.core.errors import UsageError
from corpus.core.model import Annotation, Argument, Attribution, Entity, Event, Relation, Span
from corpus.core.taxonomy import Taxonomy

GOLD_ANNOTATOR = "adjudicated"

K = TypeVar("K", bound=Hashable)  # what a span vote is about: (label, fragments), or fragments


@dataclass
class AdjudicationReport:
    documents: int = 0
    gold: int = 0
    conflicts: int = 0
    unresolved: int = 0
    under_quorum: list[str] = field(default_factory=list)  # fewer annotators than --min-votes
    stale: list[dict[str, Any]] = field(default_factory=list)  # records on another text version
    by_layer: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "gold_records": self.gold,
            "conflicts": self.conflicts,
            "unresolved": self.unresolved,
            "documents_under_quorum": self.under_quorum,
            "stale_records": self.stale,
            "by_layer": self.by_layer,
        }


def _span(text_of: dict[Frags, str], fr: Frags) -> Span:
    from corpus.core.model import Fragment

    return Span([Fragment(s, e) for s, e in fr], text_of.get(fr, ""))


def _clusters(keys: list[K], frags_of: Callable[[K], Frags]) -> list[list[K]]:
    """Connected components of the overlap graph (sorted by position): the regions to review."""
    keys = sorted(keys, key=lambda k: (frags_of(k)[0] if frags_of(k) else (0, 0), str(k)))
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(keys)), 2):
        if overlaps(frags_of(keys[i]), frags_of(keys[j])):
            parent[find(i)] = find(j)
    groups: dict[int, list[K]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(find(i), []).append(k)
    return list(groups.values())


class _Doc:
    """The state of one document's adjudication."""

    def __init__(self, doc_id: str, anns: dict[str, Annotation], min_votes: int, reviewer: str | None):
        self.doc_id = doc_id
        self.anns = anns
        self.n = len(anns)
        self.min_votes = min_votes
        self.reviewer = reviewer if reviewer in anns else None
        self.conflicts: list[dict[str, Any]] = []
        self.text_of: dict[Frags, str] = {}
        for a in anns.values():
            for _layer, _id, sp in a.spans():
                self.text_of.setdefault(frags(sp), sp.text)

    # -- generic voting
    def vote_spans(
        self,
        layer: str,
        made: dict[str, set[K]],
        frags_of: Callable[[K], Frags],
        label_of: Callable[[K], str],
    ) -> set[K]:
        votes: dict[K, set[str]] = {}
        for who, keys in made.items():
            for k in keys:
                votes.setdefault(k, set()).add(who)
        rev: set[K] = made.get(self.reviewer, set()) if self.reviewer else set()
        accepted: set[K] = set()
        for k, voters in votes.items():
            if k in rev:
                accepted.add(k)
            elif rev and any(overlaps(frags_of(k), frags_of(r)) for r in rev):
                continue
            elif len(voters) >= self.min_votes:
                accepted.add(k)
        for cluster in _clusters(list(votes), frags_of):
            if len(cluster) == 1 and len(votes[cluster[0]]) == self.n:
                continue  # everyone made exactly this
            touched = bool(rev) and any(k in rev for k in cluster)
            chosen = [k for k in cluster if k in accepted]
            decision = "reviewer" if touched else ("majority" if chosen else "rejected")
            fr = [f for k in cluster for f in frags_of(k)]
            self.conflicts.append(
                {
                    "doc_id": self.doc_id,
                    "layer": layer,
                    "kind": "span",
                    "region": {"start": min(s for s, _ in fr), "end": max(e for _, e in fr)},
                    "candidates": [
                        {
                            "label": label_of(k),
                            "fragments": [{"start": s, "end": e} for s, e in frags_of(k)],
                            "text": self.text_of.get(frags_of(k), ""),
                            "votes": len(votes[k]),
                            "annotators": sorted(votes[k]),
                            "accepted": k in accepted,
                        }
                        for k in sorted(cluster, key=lambda k: (-len(votes[k]), str(k)))
                    ],
                    "decision": decision,
                    "annotators": sorted(self.anns),
                    "min_votes": self.min_votes,
                }
            )
        return accepted

    def vote_value(
        self, layer: str, item: str, fld: str, values: dict[str, Any], *, required: bool = False
    ) -> tuple[Any, bool]:
        """Plurality among supporters; the reviewer wins when a supporter. -> (value, decided)."""
        if not values:
            return None, False
        counts = Counter(_hashable(v) for v in values.values())
        if len(counts) == 1:
            return next(iter(values.values())), True
        raw = {_hashable(v): v for v in values.values()}
        if self.reviewer in values:
            chosen, decision = _hashable(values[self.reviewer]), "reviewer"
        else:
            (top, c1), *rest = counts.most_common()
            chosen, decision = (top, "majority") if not rest or rest[0][1] < c1 else (None, "unresolved")
        self.conflicts.append(
            {
                "doc_id": self.doc_id,
                "layer": layer,
                "kind": "attribute",
                "item": item,
                "field": fld,
                "candidates": [
                    {
                        "value": _show(raw[v], self.text_of),
                        "votes": c,
                        "annotators": sorted(w for w, x in values.items() if _hashable(x) == v),
                    }
                    for v, c in counts.most_common()
                ],
                "decision": decision,
                "chosen": _show(raw[chosen], self.text_of) if chosen is not None else None,
                "required": required,
            }
        )
        return (raw[chosen] if chosen is not None else None), chosen is not None


def _hashable(v: Any) -> Hashable:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, (set, frozenset)):
        return tuple(sorted(v))
    return v


def _show(v: Any, text_of: dict[Frags, str]) -> Any:
    if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return {"fragments": [{"start": s, "end": e} for s, e in v], "text": text_of.get(v, "")}
    if isinstance(v, tuple):
        return list(v)
    return v


def _vote_attributes(d: _Doc, layer: str, item: str, sup: dict[str, Any]) -> dict[str, Any]:
    """Each attribute the supporters' records carry, voted among those who set it (None: unset)."""
    names: list[str] = []
    for x in sup.values():
        names += [k for k in x.attributes if k not in names]
    return {
        k: d.vote_value(
            layer, item, k, {w: x.attributes[k] for w, x in sup.items() if x.attributes.get(k) is not None}
        )[0]
        for k in names
    }


def adjudicate_document(
    doc_id: str,
    anns: dict[str, Annotation],
    *,
    min_votes: int | None = None,
    reviewer: str | None = None,
    tax: Taxonomy | None = None,
) -> tuple[Annotation, list[dict[str, Any]]]:
    """Gold annotation and conflicts for one document (``anns``: annotator -> annotation)."""
    tax = tax or taxmod.load()
    cue_label = tax.attribution_layer.cue if tax.attribution_layer else "cue"
    n = len(anns)
    k = min_votes if min_votes is not None else n // 2 + 1
    d = _Doc(doc_id, anns, k, reviewer)
    first = next(iter(anns.values()))

    # entities
    ent_key = {who: {e.id: (e.label, frags(e.span)) for e in a.entities} for who, a in anns.items()}
    acc_e = d.vote_spans("entities", {w: set(m.values()) for w, m in ent_key.items()}, lambda k: k[1], lambda k: k[0])
    ents_sorted = sorted(acc_e, key=lambda k: (k[1], k[0]))
    gold_ent_id = {key: f"T{i}" for i, key in enumerate(ents_sorted, start=1)}
    ent_of = {w: {(e.label, frags(e.span)): e for e in a.entities} for w, a in anns.items()}
    entities = [
        Entity(
            gold_ent_id[key],
            key[0],
            _span(d.text_of, key[1]),
            _vote_attributes(d, "entities", gold_ent_id[key], {w: m[key] for w, m in ent_of.items() if key in m}),
        )
        for key in ents_sorted
    ]
    to_gold = {(w, eid): gold_ent_id.get(key) for w, m in ent_key.items() for eid, key in m.items()}

    # entity relations: (label, from, to) over the gold entities
    rel_votes: Counter = Counter()
    reviewer_rels: set[tuple[str, str | None, str | None]] = set()
    for w, a in anns.items():
        mine = {
            (r.label, to_gold.get((w, r.from_id)), to_gold.get((w, r.to_id)))
            for r in a.relations
            if to_gold.get((w, r.from_id)) and to_gold.get((w, r.to_id))
        }
        rel_votes.update(mine)
        if w == d.reviewer:
            reviewer_rels = mine
    relations: list[Relation] = []
    for key, c in sorted(rel_votes.items(), key=lambda kv: (str(kv[0][1]), str(kv[0][2]), kv[0][0])):
        accepted = key in reviewer_rels if d.reviewer in anns else c >= k
        if c < len(anns) or (d.reviewer in anns and key not in reviewer_rels):
            d.conflicts.append(
                {
                    "doc_id": doc_id,
                    "layer": "relations",
                    "kind": "relation",
                    "item": f"{key[1]}>{key[2]}:{key[0]}",
                    "votes": c,
                    "annotators": sorted(
                        w
                        for w, a in anns.items()
                        if any(
                            (r.label, to_gold.get((w, r.from_id)), to_gold.get((w, r.to_id))) == key
                            for r in a.relations
                        )
                    ),
                    "decision": ("reviewer" if d.reviewer in anns else "majority") if accepted else "rejected",
                }
            )
        if accepted:
            relations.append(Relation(f"R{len(relations) + 1}", key[0], str(key[1]), str(key[2])))

    # events
    ev_of = {w: {(ev.type, frags(ev.trigger)): ev for ev in a.events} for w, a in anns.items()}
    acc_v = d.vote_spans("events", {w: set(m) for w, m in ev_of.items()}, lambda k: k[1], lambda k: k[0])
    events: list[Event] = []
    next_e = 1
    for key in sorted(acc_v, key=lambda k: (k[1], k[0])):
        eid = f"E{next_e}"
        next_e += 1
        ev_sup = {w: m[key] for w, m in ev_of.items() if key in m}
        attrs = _vote_attributes(d, "events", eid, ev_sup)
        arg_sets = {
            w: tuple(
                sorted({(a.role, to_gold.get((w, a.entity_id))) for a in e.arguments if to_gold.get((w, a.entity_id))})
            )
            for w, e in ev_sup.items()
        }
        args, _ = d.vote_value("events", eid, "arguments", arg_sets)
        events.append(Event(eid, key[0], _span(d.text_of, key[1]), [Argument(r, t) for r, t in (args or ())], attrs))

    # attributions, anchored on the cue
    at_of: dict[str, dict[Frags, Attribution]] = {}
    for w, a in anns.items():
        per: dict[Frags, Attribution] = {}
        for x in a.attributions:
            per.setdefault(frags(x.cue), x)
        at_of[w] = per
    acc_c = d.vote_spans("attribution", {w: set(m) for w, m in at_of.items()}, lambda k: k, lambda k: cue_label)
    attributions: list[Attribution] = []
    for cue in sorted(acc_c):
        aid = f"E{next_e}"
        sup = {w: m[cue] for w, m in at_of.items() if cue in m}
        content, ok = d.vote_value(
            "attribution", aid, "content", {w: frags(x.content) for w, x in sup.items()}, required=True
        )
        if not ok:
            continue
        next_e += 1
        source, _ = d.vote_value(
            "attribution", aid, "source", {w: frags(x.source) if x.source else "none" for w, x in sup.items()}
        )
        src_ent, _ = d.vote_value(
            "attribution",
            aid,
            "source_entity_id",
            {
                w: to_gold.get((w, x.source_entity_id))
                for w, x in sup.items()
                if x.source_entity_id and to_gold.get((w, x.source_entity_id))
            },
        )
        vals = _vote_attributes(d, "attribution", aid, sup)
        flag_votes = Counter(f for x in sup.values() for f in set(x.flags))
        flags = sorted(
            f
            for f, c in flag_votes.items()
            if c >= len(sup) // 2 + 1 or (d.reviewer in sup and f in sup[d.reviewer].flags)
        )
        attributions.append(
            Attribution(
                aid,
                _span(d.text_of, cue),
                _span(d.text_of, content),
                _span(d.text_of, source) if source not in (None, "none") else None,
                src_ent if (source not in (None, "none")) else None,
                vals,
                flags,
            )
        )
    tv = Counter(a.taxonomy_version for a in anns.values() if a.taxonomy_version).most_common(1)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    gold = Annotation(
        doc_id=doc_id,
        text_sha256=first.text_sha256,
        annotator=GOLD_ANNOTATOR,
        entities=entities,
        events=events,
        attributions=attributions,
        relations=relations,
        origin="adjudicated",
        taxonomy_version=tv[0][0] if tv else None,
        created_at=now,
        updated_at=now,
        meta={
            "adjudication": {
                "annotators": sorted(anns),
                "min_votes": k,
                "reviewer": d.reviewer,
                "conflicts": len(d.conflicts),
                "unresolved": sum(1 for c in d.conflicts if c["decision"] == "unresolved"),
            }
        },
    )
    return gold, d.conflicts


def adjudicate(
    annotations: Iterable[Annotation],
    *,
    min_votes: int | None = None,
    reviewer: str | None = None,
    include_origins: tuple[str, ...] | None = None,
    tax: Taxonomy | None = None,
) -> tuple[list[Annotation], list[dict[str, Any]], AdjudicationReport]:
    """Gold records, conflicts and a summary for every document in ``annotations``.

    Predictions and earlier adjudications are not voters (``include_origins`` overrides).
    When one annotator has several records of a document, the last one read counts.
    Records anchored to another text version than the document's majority are left out.
    """
    if min_votes is not None and min_votes < 1:
        raise UsageError("min_votes must be at least 1")
    skip = {"prediction", "adjudicated"} if include_origins is None else None
    docs: dict[str, dict[str, Annotation]] = {}
    for a in annotations:
        if (skip is not None and a.origin in skip) or (include_origins is not None and a.origin not in include_origins):
            continue
        docs.setdefault(a.doc_id, {})[a.annotator] = a
    report = AdjudicationReport()
    gold: list[Annotation] = []
    conflicts: list[dict[str, Any]] = []
    for doc_id in sorted(docs):
        per = docs[doc_id]
        shas = Counter(a.text_sha256 for a in per.values())
        if len(shas) > 1:
            top = shas.most_common(1)[0][0]
            for w, a in list(per.items()):
                if a.text_sha256 != top:
                    report.stale.append({"doc_id": doc_id, "annotator": w, "text_sha256": a.text_sha256})
                    del per[w]
        report.documents += 1
        if min_votes is not None and min_votes > len(per) and not (reviewer and reviewer in per):
            report.under_quorum.append(doc_id)
            continue
        g, cs = adjudicate_document(doc_id, per, min_votes=min_votes, reviewer=reviewer, tax=tax)
        gold.append(g)
        conflicts += cs
        for c in cs:
            lay = report.by_layer.setdefault(c["layer"], {"conflicts": 0, "unresolved": 0})
            lay["conflicts"] += 1
            lay["unresolved"] += c["decision"] == "unresolved"
    report.gold = len(gold)
    report.conflicts = len(conflicts)
    report.unresolved = sum(1 for c in conflicts if c["decision"] == "unresolved")
    return gold, conflicts, report


def write_adjudication(
    gold: list[Annotation], conflicts: list[dict[str, Any]], out: Any, **manifest: Any
) -> dict[str, str]:
    """Gold snapshot + manifest + ``<stem>.conflicts.jsonl`` next to it, all written atomically."""
    import json

    from corpus.store import snapshot

    def write_conflicts(fh) -> None:
        fh.writelines(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n" for c in conflicts)

    path = snapshot.new_snapshot_path(out, prefix="gold-")
    cpath = snapshot.side_path(path, "conflicts")
    with atomic.atomic_open(cpath) as fh:
        write_conflicts(fh)
    snapshot.write_snapshot(gold, path, origin="adjudicated", conflicts=len(conflicts), **manifest)
    return {"gold_path": str(path), "conflicts_path": str(cpath), "manifest_path": str(snapshot.manifest_path(path))}
