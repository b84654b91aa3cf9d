"""The package's layers: no import cycle between its parts, and the pure rules stay pure.

A part is a subpackage or a top-level module of ``rfc8823`` (``messages``, ``tokens``, ...).
Every import statement counts, also inside functions and ``TYPE_CHECKING`` blocks: a cycle
hidden in a late import is still a cycle. The spec's rules (``messages``, ``tokens``) and the
authentication layer (``auth``) know nothing of the test world or of the reference roles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "rfc8823"
PURE_PARTS = ("messages", "tokens", "auth")
OUTER_PARTS = ("world", "server", "client")

Graph = dict[str, dict[str, list[str]]]
"""Importing part -> imported part -> where (``path:line``)."""


def _module_name(package: Path, path: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(package: Path, dotted: str) -> bool:
    """Whether ``dotted`` names a module or subpackage in the tree under ``package``."""
    relative = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = package / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(package: Path, path: Path) -> Iterator[tuple[str, int]]:
    """Every module of the tree that ``path`` imports, with the line of the statement."""
    name = _module_name(package, path)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    root = package.name
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            anchor = here.split(".")[: len(here.split(".")) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [base, *(sub for sub in submodules if _is_module(package, sub))]
        else:
            continue
        for target in targets:
            if target == root or target.startswith(root + "."):
                yield target, node.lineno


def _part(dotted: str) -> str:
    """``rfc8823.messages.challenge`` -> ``messages``; the package itself is its own part."""
    pieces = dotted.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def import_graph(package: Path) -> Graph:
    """The imports between the parts of ``package``, each edge with where it is made."""
    graph: Graph = {}
    for path in sorted(package.rglob("*.py")):
        source = _part(_module_name(package, path))
        for target, line in _imports(package, path):
            imported = _part(target)
            if imported != source:
                where = f"{path.relative_to(package.parent)}:{line}"
                places = graph.setdefault(source, {}).setdefault(imported, [])
                if where not in places:
                    places.append(where)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The groups of parts that import each other, directly or not (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(part: str) -> None:
        index[part] = low[part] = len(index)
        stack.append(part)
        for other in graph.get(part, {}):
            if other not in index:
                visit(other)
                low[part] = min(low[part], low[other])
            elif other in stack:
                low[part] = min(low[part], index[other])
        if low[part] == index[part]:
            group = []
            while (member := stack.pop()) != part:
                group.append(member)
            if group:
                found.append(sorted([part, *group]))

    for part in sorted(graph):
        if part not in index:
            visit(part)
    return found


def forbidden_imports(graph: Graph) -> list[str]:
    """Imports of the world or a reference role by the rules or the authentication layer."""
    return [
        f"{source} imports {target} at {', '.join(graph[source][target])}"
        for source in PURE_PARTS
        for target in OUTER_PARTS
        if target in graph.get(source, {})
    ]


def _explain(graph: Graph, group: list[str]) -> str:
    edges = [
        f"{a} -> {b} ({graph[a][b][0]})" for a in group for b in group if b in graph.get(a, {})
    ]
    return "cycle between " + ", ".join(group) + ": " + "; ".join(edges)


def test_no_cycle_between_parts() -> None:
    """No two parts of rfc8823 import each other, directly or through others."""
    graph = import_graph(SOURCE)
    assert "messages" in graph, "the graph was read from the wrong folder"
    found = cycles(graph)
    assert not found, "\n".join(_explain(graph, group) for group in found)


def test_rules_and_authentication_import_no_world_and_no_role() -> None:
    """messages, tokens and auth import neither world nor the reference server or client."""
    problems = forbidden_imports(import_graph(SOURCE))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("files", "cycle", "forbidden"),
    [
        pytest.param(
            {"auth/x.py": "from rfc8823.world import y\n", "world/y.py": "import rfc8823.auth.x\n"},
            [["auth", "world"]],
            ["auth imports world at rfc8823/auth/x.py:1"],
            id="absolute",
        ),
        pytest.param(
            {
                "messages/m.py": "def late():\n    from ..server import s\n",
                "server/s.py": "from rfc8823 import tokens\n",
                "tokens.py": "from .messages import m\n",
            },
            [["messages", "server", "tokens"]],
            ["messages imports server at rfc8823/messages/m.py:2"],
            id="relative-and-late",
        ),
        pytest.param(
            {"tokens.py": "import json\n", "world/w.py": "from rfc8823.tokens import x\n"},
            [],
            [],
            id="clean",
        ),
    ],
)
def test_the_checks_see_bad_imports(
    tmp_path: Path, files: dict[str, str], cycle: list[list[str]], forbidden: list[str]
) -> None:
    """The graph reader finds cycles and forbidden arrows in a small made-up package."""
    package = tmp_path / "pkg" / "rfc8823"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    graph = import_graph(package)
    assert cycles(graph) == cycle
    assert forbidden_imports(graph) == forbidden
