"""Events from trigger lemmas and the dependency relations of the trigger to predicted entities.

A token whose lemma the taxonomy lists under an event type's ``triggers`` (a noun or a verb)
is a trigger of that type. Its arguments are the predicted entities whose head token the trigger
governs (directly, through a preposition or an agent "by"), kept only when the taxonomy lets
one of the type's roles take that entity type. Which role, when several accept the entity type,
follows the syntax and the taxonomy's role order: a subject (or possessor, compound modifier,
agent) takes the first accepting role, an object (or the subject of a passive) the second, an
oblique (a prepositional object, a temporal modifier) the last. No role name is spelled here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corpus.predict.lexicon import Lexicon

SUBJECT = ("nsubj", "poss", "compound", "amod", "nmod")
OBJECT = ("dobj", "nsubjpass", "obj", "attr")
OBLIQUE = ("npadvmod", "tmod", "appos")


@dataclass
class EventGuess:
    type: str
    trigger: tuple[int, int]
    arguments: list[tuple[str, int]] = field(default_factory=list)  # (role, index into the entity list)
    score: float = 0.5


def _related(trigger: Any) -> list[tuple[Any, str]]:
    """(token, position) for the tokens the trigger governs: subject, object or oblique."""
    out = []
    for c in trigger.children:
        if c.dep_ in SUBJECT:
            out.append((c, "subject"))
        elif c.dep_ in OBJECT:
            out.append((c, "object"))
        elif c.dep_ in OBLIQUE:
            out.append((c, "oblique"))
        elif c.dep_ == "agent":
            out += [(g, "subject") for g in c.children if g.dep_ == "pobj"]
        elif c.dep_ == "prep":
            out += [(g, "oblique") for g in c.children if g.dep_ == "pobj"]
    return out


def find_events(doc: Any, lex: Lexicon, tax: Any, entities: list[tuple[str, int, int]]) -> list[EventGuess]:
    """``entities``: (label, start, end) of the predicted entities, in the order they are numbered."""
    by_token: dict[int, int] = {}
    for k, (_label, s, e) in enumerate(entities):
        span = doc.char_span(s, e, alignment_mode="expand")
        if span is not None:
            by_token.setdefault(span.root.i, k)
            for t in span:
                by_token.setdefault(t.i, k)
    out: list[EventGuess] = []
    for tok in doc:
        ev_type = lex.triggers.get(tok.lemma_.lower())
        if ev_type is None or tok.pos_ not in ("NOUN", "VERB"):
            continue
        guess = EventGuess(ev_type, (tok.idx, tok.idx + len(tok.text)), score=0.5)
        taken: set[int] = set()
        for arg_tok, position in _related(tok):
            found = by_token.get(arg_tok.i)
            if found is None or found in taken:
                continue
            label = entities[found][0]
            accepting = [r for r in tax.roles(ev_type) if label in tax.role_entity_types(ev_type, r)]
            if not accepting:
                continue
            if position == "subject" or len(accepting) == 1:
                role = accepting[0]
            elif position == "object":
                role = accepting[1]
            else:
                role = accepting[-1]
            if any(r == role for r, _ in guess.arguments):
                continue
            guess.arguments.append((role, found))
            taken.add(found)
        guess.score = round(min(0.9, 0.4 + 0.15 * len(guess.arguments)), 3)
        out.append(guess)
    return out


__all__ = ["EventGuess", "find_events"]
