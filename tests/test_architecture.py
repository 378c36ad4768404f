"""The layout rules, checked on the code's own imports (every ``import`` statement, lazy ones too).

* a module imports only from its own layer (sub-package of ``corpus``) or from layers below it;
* each SDK is imported by exactly one module: the adapter named in ``ADAPTERS``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "corpus"

# Bottom to top; the README's "Architecture" section says the same.
LAYERS = ("core", "generate", "store", "ingest", "annotations", "predict", "labelstudio", "release", "cli")
ADAPTERS = {
    "deltalake": "corpus/store/table.py",
    "label_studio_sdk": "corpus/labelstudio/client.py",
    "datasets": "corpus/release/features.py",
    "huggingface_hub": "corpus/release/publish.py",
    "matplotlib": "corpus/release/report.py",
    "spacy": "corpus/predict/spacy_model.py",
    "ray": "corpus/ingest/ray_engine.py",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
            if node.module == "corpus":  # from corpus import X
                out += [(node.lineno, f"corpus.{a.name}") for a in node.names]
    return out


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "corpus" and parts[1] in LAYERS else None


def test_every_module_sits_in_a_layer():
    loose = [
        p.relative_to(PACKAGE.parent).as_posix() for p in _modules() if p.parent == PACKAGE and p.name != "__init__.py"
    ]
    assert loose == [], "modules outside the layer sub-packages; move each into the layer of its stage"


def test_modules_import_only_their_layer_or_below():
    bad = []
    for p in _modules():
        rel = p.relative_to(PACKAGE.parent)
        own = _layer(".".join(rel.with_suffix("").parts))
        if own is None:
            continue
        for line, mod in _imports(p):
            target = _layer(mod)
            if target is not None and LAYERS.index(target) > LAYERS.index(own):
                bad.append(f"{rel.as_posix()}:{line} ({own}) imports {mod} ({target}, above)")
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize("sdk", sorted(ADAPTERS))
def test_each_sdk_has_one_adapter(sdk):
    users = sorted(
        {
            p.relative_to(PACKAGE.parent).as_posix()
            for p in _modules()
            for _, mod in _imports(p)
            if mod.split(".")[0] == sdk
        }
    )
    assert users == [ADAPTERS[sdk]], f"{sdk} is imported by {users}; only {ADAPTERS[sdk]} may import it"


def test_the_check_sees_a_violation(tmp_path):
    """The import reader finds lazy imports and ``from corpus import X`` forms (so the rules can fail)."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from corpus import release\n    import deltalake.writer\n", encoding="utf-8")
    assert {m for _, m in _imports(f)} == {"corpus", "corpus.release", "deltalake.writer"}
