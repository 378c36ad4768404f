"""The README's commands exist, and every command has help text (a docs test, as sqlite-utils has)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corpus.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[list[str]]:
    """Every `corpus ...` line of the README's shell blocks, as argv (continuations joined)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    lines = " ".join(blocks).replace("\\\n", " ").splitlines()
    return [shlex.split(line.split("#")[0])[1:] for line in lines if line.strip().startswith("corpus ")]


def _walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, prefix + (name,))


def test_readme_shows_commands():
    assert len(readme_commands()) >= 15


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: " ".join(a[:2]))
def test_readme_command_parses(argv):
    """Each README command names a real command and only options it has (checked by --help
    after resolving the command path: click rejects unknown options before running anything)."""
    cmd, path = main, []
    for word in argv:
        if isinstance(cmd, click.Group) and word in cmd.commands:
            cmd = cmd.commands[word]
            path.append(word)
        else:
            break
    assert path, f"not a corpus command: {argv}"
    known = {opt for p in cmd.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    used = {w.split("=")[0] for w in argv[len(path) :] if w.startswith("--")}
    assert used <= known, f"corpus {' '.join(path)}: unknown options {sorted(used - known)}"


@pytest.mark.parametrize("path", [p for p, _ in _walk(main)], ids=" ".join)
def test_every_command_has_help(path):
    cmd = main
    for word in path:
        cmd = cmd.commands[word]
    assert (cmd.help or "").strip(), f"corpus {' '.join(path)} has no help text"
    assert CliRunner().invoke(main, [*path, "--help"]).exit_code == 0
