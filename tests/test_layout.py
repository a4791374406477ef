"""genomix's shape: a thin command line over the library, and imports that flow one way."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genomix"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every genomix module and the names it imports (at any depth: lazy imports count too)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[_module(path)] = names
    return found


IMPORTS = _imports()


def _genomix_edges(module: str) -> set[str]:
    return {name for name in IMPORTS[module] if name in IMPORTS and name != module}


def test_only_the_command_line_imports_typer_or_rich():
    outside = {
        m
        for m, names in IMPORTS.items()
        if not m.startswith("genomix.cli") and any(n.split(".")[0] in ("typer", "rich", "click") for n in names)
    }
    assert not outside


def test_no_library_module_imports_the_command_line():
    assert {
        m
        for m, names in IMPORTS.items()
        if not m.startswith("genomix.cli")
        and m != "genomix.__main__"
        and any(n == "genomix.cli" or n.startswith("genomix.cli.") for n in names)
    } == set()


def test_imports_have_no_loops():
    """A module that imports `genomix.a.b` also runs the package `genomix.a` (its `__init__`); no module
    may reach itself through such imports, lazy ones included."""
    edges = {}
    for module in IMPORTS:
        targets = set()
        for name in _genomix_edges(module):
            parts = name.split(".")
            targets |= {".".join(parts[:k]) for k in range(2, len(parts) + 1)}
        edges[module] = {t for t in targets if t in IMPORTS and t != module and not module.startswith(t + ".")}
    loops = []
    for start in sorted(edges):
        seen, frontier = set(), [start]
        while frontier:
            here = frontier.pop()
            for target in edges[here] - seen:
                seen.add(target)
                frontier.append(target)
        if start in seen:
            loops.append(start)
    assert not loops


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda p: p.name)
def test_every_command_module_is_short(path):
    assert len(path.read_text().splitlines()) <= 150
