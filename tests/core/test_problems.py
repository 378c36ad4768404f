"""corpus.core.problems: one table of codes, one problem type, one text and one JSON form."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus
from corpus.cli import main
from corpus.core.errors import CorpusError, InputError, UnknownVersion
from corpus.core.problems import CODES, ERROR, INFO, WARNING, Problem

PACKAGE = Path(corpus.__file__).parent


def _codes_in_package() -> tuple[set[str], set[str]]:
    """(every string literal of the package outside the table, the codes given where a problem
    or an error is made: ``Problem("code", ...)``, ``code="..."``, a class's ``code = "..."``,
    and the brat converter's ``warn(line, "code", ...)`` / ``error(line, "code", ...)``)."""
    literals: set[str] = set()
    given: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "problems.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
            elif isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                args = node.args
                if name == "Problem" and args and isinstance(args[0], ast.Constant):
                    given.add(args[0].value)
                if name in ("warn", "error") and len(args) > 1 and isinstance(args[1], ast.Constant):
                    given.add(args[1].value)
                given.update(
                    k.value.value
                    for k in node.keywords
                    if k.arg == "code" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
                )
            elif isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and [getattr(t, "id", None) for t in stmt.targets] == ["code"]
                        and isinstance(stmt.value, ast.Constant)
                    ):
                        given.add(stmt.value.value)
    return literals, given


def test_every_code_in_the_table_is_used_and_every_used_code_is_in_it():
    literals, given = _codes_in_package()
    assert given, "the scan found no code at all"
    assert given - set(CODES) == set(), "codes used but not in the table"
    assert set(CODES) - literals == set(), "codes in the table that no module uses"


def test_the_table_says_what_went_wrong_and_what_to_do():
    for code, c in CODES.items():
        assert c.severity in (ERROR, WARNING, INFO), code
        assert c.what and c.fix, code
        assert "--" not in c.what + c.fix, f"{code}: the library names parameters, not CLI flags"


def test_a_problem_has_one_text_and_one_json_form_with_its_location():
    p = Problem("malformed_json", "malformed JSON: Expecting value", file="in/a.jsonl", line=3)
    assert str(p) == "error: [malformed_json] in/a.jsonl:3: malformed JSON: Expecting value"
    d = p.to_dict()
    assert (d["severity"], d["code"], d["file"], d["line"], d["fix"]) == (
        "error",
        "malformed_json",
        "in/a.jsonl",
        3,
        CODES["malformed_json"].fix,
    )
    assert Problem.from_dict(json.loads(json.dumps(d))) == p
    q = Problem("text_mismatch", "x", task_id=7, annotation_id=9, region_id="r1", pointer="/result/0")
    assert str(q) == "error: [text_mismatch] task 7, annotation 9, region r1 at /result/0: x"
    assert Problem("E101", "no tag 'x'", hint="tags: a").fix == "tags: a"
    with pytest.raises(ValueError, match="unknown problem code"):
        Problem("no_such_code", "x")


def test_an_error_carries_a_code_from_the_same_table():
    e = InputError("binary file", code="binary_file")
    assert e.problem().code == "binary_file" and e.exit_code == 1 and "[binary_file]" in str(e)
    assert CorpusError("x").problem().code == "E000"
    with pytest.raises(ValueError):
        InputError("x", code="nope")


def test_an_error_class_takes_its_code_and_words_from_the_table():
    """A class with a code the table lacks cannot be defined; one without a docstring says the table's words."""
    with pytest.raises(TypeError, match="E999"):
        type("Bogus", (CorpusError,), {"code": "E999"})
    plain = type("Plain", (CorpusError,), {"code": "E901", "__doc__": None})
    assert plain.__doc__ == "The disk is full (E901)."
    assert UnknownVersion.__doc__ == f"{CODES['E101'].what.capitalize()} (E101)."


def test_brat_problems_print_with_their_code_and_line_not_none(tmp_path):
    src = tmp_path / "brat"
    src.mkdir()
    (src / "doc.txt").write_text("Al said it rained.\n", encoding="utf-8")
    (src / "doc.ann").write_text("T1\tPER 0 2\tAl\nthis is not standoff\n", encoding="utf-8")
    store = str(tmp_path / "store")
    r = CliRunner().invoke(main, ["import", str(src), "--format", "brat", "--store", store])
    assert r.exit_code == 1, r.output
    assert "None" not in r.output
    assert f"error: [brat_malformed_line] {src / 'doc.ann'}:2: not a brat standoff line" in r.output
    assert f"fix [brat_malformed_line]: {CODES['brat_malformed_line'].fix}" in r.output
    r = CliRunner().invoke(main, ["import", str(src), "--format", "brat", "--store", store, "--json"])
    (e,) = json.loads(r.stdout)["brat"]["errors"]
    assert (e["code"], e["file"], e["line"], e["severity"]) == ("brat_malformed_line", str(src / "doc.ann"), 2, "error")


FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _message_strings(call: ast.Call) -> list[str]:
    return [n.value for n in ast.walk(call) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_library_messages_name_parameters_not_cli_flags():
    """Outside corpus/cli, the text of a raised error or a problem (message and hint) names no
    ``--flag``: the library is called with parameters; the CLI adds flag names when it prints."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hints = {  # module-level hint texts such as TOKEN_HINT
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name) and t.id.endswith("HINT")
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name == "Problem" or name.endswith(("Error", "Problem", "Missing", "Unavailable", "Rejected")):
                    found += [(path.name, s) for s in _message_strings(node) if FLAG.search(s)]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) in hints for t in node.targets):
                found += [
                    (path.name, s)
                    for s in _message_strings(ast.Call(ast.Name("x"), [node.value], []))
                    if FLAG.search(s)
                ]
    assert found == []
