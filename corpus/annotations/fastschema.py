"""A yes/no fast path for the JSON Schemas of :mod:`corpus.generate.jsonschemas`.

``jsonschema`` is exact and gives every error with its path, but it walks ``$ref`` and
``if``/``then`` through its generic machinery: about 60 tasks/s for a task of 90 result items.
Nearly every task in a real export is valid, so :func:`compile_schema` turns the small subset of
JSON Schema our schemas use into plain Python closures that only answer "certainly valid?".
Whenever the answer is no, the caller runs ``jsonschema`` to produce every error with its
pointer; the fast path therefore never hides an error.

It is conservative by construction: anything it is not sure about (an ``integer`` written
``1.0``, an enum value that is not a string) answers "no", and an unsupported keyword makes
:func:`compile_schema` raise, so a schema change cannot silently weaken the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Check = Callable[[Any], bool]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "string": lambda x: type(x) is str,
    "integer": lambda x: type(x) is int,
    "number": lambda x: type(x) is int or type(x) is float,
    "boolean": lambda x: type(x) is bool,
    "null": lambda x: x is None,
}
_IGNORED = {"$schema", "$id", "title", "description", "$defs", "$comment", "default", "examples"}


class Unsupported(ValueError):
    """The schema uses a keyword the fast path does not implement."""


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function ``x -> True`` only if ``x`` is valid against ``schema`` (False: ask jsonschema)."""
    root = schema
    built: dict[str, Check] = {}

    def ref(pointer: str) -> Check:
        if not pointer.startswith("#/$defs/"):
            raise Unsupported(f"$ref {pointer}")
        name = pointer[len("#/$defs/") :]
        if name not in built:
            built[name] = lambda x: False  # only seen by a recursive definition while it is built
            built[name] = build(root["$defs"][name])
        return lambda x: built[name](x)

    def build(s: Any) -> Check:
        if s is True:
            return lambda x: True
        if s is False:
            return lambda x: False
        if not isinstance(s, dict):
            raise Unsupported(repr(s))
        checks: list[Check] = []
        unknown = (
            set(s)
            - _IGNORED
            - {
                "type",
                "required",
                "properties",
                "additionalProperties",
                "items",
                "enum",
                "const",
                "minLength",
                "minimum",
                "minItems",
                "anyOf",
                "allOf",
                "$ref",
                "pattern",
                "if",
                "then",
                "else",
            }
        )
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$ref" in s:
            checks.append(ref(s["$ref"]))
        if "type" in s:
            names = s["type"] if isinstance(s["type"], list) else [s["type"]]
            checks.append(_any_of_types([_TYPES[n] for n in names]))
        if "enum" in s or "const" in s:
            values = s["enum"] if "enum" in s else [s["const"]]
            if not all(v is None or type(v) is str for v in values):
                raise Unsupported("enum of non-strings")
            checks.append(_one_of_strings(frozenset(values)))
        if "pattern" in s:
            checks.append(_matches(re.compile(s["pattern"])))
        if "minLength" in s:
            checks.append(_min_length(s["minLength"]))
        if "minimum" in s:
            checks.append(_minimum(s["minimum"]))
        if "minItems" in s:
            checks.append(_min_items(s["minItems"]))
        if "required" in s:
            checks.append(_has_keys(tuple(s["required"])))
        if "properties" in s or "additionalProperties" in s:
            props = {k: build(v) for k, v in (s.get("properties") or {}).items()}
            extra = s.get("additionalProperties", True)
            extra_check = None if extra is True else build(extra)

            def obj(x: Any, props=props, extra_check=extra_check) -> bool:
                if type(x) is not dict:
                    return True
                for k, v in x.items():
                    c = props.get(k)
                    if c is not None:
                        if not c(v):
                            return False
                    elif extra_check is not None and not extra_check(v):
                        return False
                return True

            checks.append(obj)
        if "items" in s:
            item = build(s["items"])

            def items(x: Any, item=item) -> bool:
                if type(x) is not list:
                    return True
                for v in x:
                    if not item(v):
                        return False
                return True

            checks.append(items)
        if "anyOf" in s:
            alts = [build(a) for a in s["anyOf"]]

            def any_of(x: Any, alts=alts) -> bool:
                for a in alts:
                    if a(x):
                        return True
                return False

            checks.append(any_of)
        if "allOf" in s:
            disc = _discriminator(s["allOf"])
            parts = [build(a) for a in s["allOf"]]
            if disc is not None:
                # allOf of `if {key: const} then X`: when x[key] is present only its branch applies
                key, branches = disc[0], {v: build(t) for v, t in disc[1].items()}

                def dispatch(x: Any, key=key, branches=branches, parts=parts) -> bool:
                    if type(x) is dict and key in x:
                        v = x[key]
                        c = branches.get(v) if type(v) is str else None
                        return True if c is None else c(x)
                    return _all(parts, x)

                checks.append(dispatch)
            else:
                checks.append(_all_of(parts))
        if "if" in s:
            # The condition is negated on the else branch, so it must be exact, not conservative:
            # only {"properties": {name: {"const": "string"}}} is accepted.
            c = s["if"]
            if_props = c.get("properties") if isinstance(c, dict) and set(c) == {"properties"} else None
            if not if_props or not all(
                isinstance(v, dict) and set(v) == {"const"} and type(v["const"]) is str for v in if_props.values()
            ):
                raise Unsupported("if other than properties/const")
            checks.append(_if_then_else(build(c), build(s.get("then", True)), build(s.get("else", True))))
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]
        return _all_of(tuple(checks))

    return build(schema)


# One closure per keyword (a factory each, so every closure holds its own value).
def _any_of_types(fns: list[Check]) -> Check:
    return lambda x: any(f(x) for f in fns)


def _one_of_strings(allowed: frozenset[str | None]) -> Check:
    return lambda x: (x is None or type(x) is str) and x in allowed


def _matches(rx: re.Pattern[str]) -> Check:
    return lambda x: type(x) is not str or rx.search(x) is not None


def _min_length(n: int) -> Check:
    return lambda x: type(x) is not str or len(x) >= n


def _minimum(m: float) -> Check:
    return lambda x: not (type(x) is int or type(x) is float) or x >= m


def _min_items(n: int) -> Check:
    return lambda x: type(x) is not list or len(x) >= n


def _has_keys(req: tuple[str, ...]) -> Check:
    return lambda x: type(x) is not dict or all(k in x for k in req)


def _if_then_else(cond: Check, then: Check, other: Check) -> Check:
    return lambda x: then(x) if cond(x) else other(x)


def _all_of(checks: Sequence[Check]) -> Check:
    return lambda x: _all(checks, x)


def _all(checks: Iterable[Check], x: Any) -> bool:
    for c in checks:
        if not c(x):
            return False
    return True


def _discriminator(parts: list[Any]) -> tuple[str, dict[str, Any]] | None:
    """``(key, {const: then})`` when every part is ``{"if": {"properties": {key: {"const": v}}}, "then": X}``."""
    key, out = None, {}
    for p in parts:
        if not isinstance(p, dict) or set(p) != {"if", "then"}:
            return None
        props = p["if"].get("properties") if isinstance(p["if"], dict) and set(p["if"]) == {"properties"} else None
        if not props or len(props) != 1:
            return None
        ((k, cond),) = props.items()
        if not isinstance(cond, dict) or set(cond) != {"const"} or type(cond["const"]) is not str:
            return None
        if key not in (None, k) or cond["const"] in out:
            return None
        key = k
        out[cond["const"]] = p["then"]
    return (key, out) if key is not None else None
