"""The mutator: each operator, what it leaves alone, stable IDs, and mutants applied to a copy."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from rfc8823.faults.mutation import OPERATORS, Mutant, MutationError, apply, diff, mutants
from rfc8823.faults.mutation_check import (
    MUTATION_TARGETS,
    imports,
    loaded_from,
    module_name,
    mutated_copy,
    role_of,
    sample,
    select_modules,
    selected_tests,
)
from rfc8823.faults.mutation_score import load_triage
from rfc8823.faults.selfcheck import project_root

MODULE = "src/rfc8823/example/rules.py"


def only(source: str, operator: str) -> list[Mutant]:
    """The mutants of ``source`` made by ``operator``."""
    return [m for m in mutants(source, MODULE) if m.operator == operator]


def run(source: str, expression: str) -> object:
    """The value of ``expression`` after executing ``source``."""
    scope: dict[str, object] = {}
    exec(compile(source, MODULE, "exec"), scope)  # noqa: S102 - test sources written here
    return eval(expression, scope)  # noqa: S307 - same


@pytest.mark.parametrize(
    ("source", "operator", "replacements"),
    [
        ("def f(a, b):\n    return a == b\n", "compare", ["(a != b)"]),
        ("def f(a, b):\n    return a < b <= 3\n", "compare", ["(a <= b <= 3)", "(a < b < 3)"]),
        ("def f(a):\n    return a is None\n", "compare", ["(a is not None)"]),
        ("def f(a, b):\n    return a in b\n", "compare", ["(a not in b)"]),
        ("def f(a, b):\n    return a and b\n", "boolop", ["(a or b)"]),
        ("def f(a, b):\n    return a - b\n", "arith", ["(a + b)"]),
        ("def f(a):\n    return not a\n", "not-removed", ["(a)"]),
        ("def f():\n    return 5\n", "number", ["(6)", "(4)"]),
        ("def f():\n    return 0.5\n", "number", ["(1.5)", "(-0.5)"]),
        ("def f():\n    return True\n", "bool", ["(False)"]),
        ("def f():\n    return 'RESP-BODY-2'\n", "string-emptied", ['("")']),
        ("def f(a):\n    return 1 if a else 2\n", "if-true", ["(True)"]),
        ("def f(a):\n    while a:\n        a -= 1\n", "if-false", ["(False)"]),
    ],
)
def test_each_operator_makes_its_change(
    source: str, operator: str, replacements: list[str]
) -> None:
    found = only(source, operator)
    assert [m.replacement for m in found] == replacements
    for mutant in found:
        mutated = apply(source, mutant)
        assert mutated != source
        compile(mutated, MODULE, "exec")


def test_if_test_replaced_by_true_and_false_changes_behaviour() -> None:
    source = "def f(a):\n    if a > 1:\n        return 'big'\n    return 'small'\n"
    by_operator = {m.operator: m for m in mutants(source, MODULE) if m.operator.startswith("if-")}
    assert run(apply(source, by_operator["if-true"]), "f(0)") == "big"
    assert run(apply(source, by_operator["if-false"]), "f(5)") == "small"


def test_a_recorded_finding_can_be_removed() -> None:
    source = (
        "def rule(judge, findings):\n"
        "    judge.add(\n"
        "        'RESP-FROM-1',\n"
        "        rejects=True,\n"
        "    )\n"
        "    findings.append('x')\n"
        "    other.add('y')\n"
    )
    removed = only(source, "call-removed")
    assert [m.line for m in removed] == [2, 6]
    mutated = apply(source, removed[0])
    assert mutated.count("\n") == source.count("\n")
    assert "judge.add" not in mutated
    assert "findings.append" in mutated


def test_multi_line_spans_keep_every_line_number() -> None:
    source = "def f(a, b):\n    return (a and\n            b)\n\nX = 1\n"
    (mutant,) = only(source, "boolop")
    mutated = apply(source, mutant)
    assert mutated.splitlines()[4] == "X = 1"
    assert len(mutated.splitlines()) == len(source.splitlines())
    assert run(mutated, "f(0, 7)") == 7


def test_what_is_left_alone() -> None:
    source = (
        '"""Module docstring."""\n'
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        "__all__ = ['f']\n"
        "LIMIT: int = 3\n"
        '"""The limit (an attribute docstring)."""\n'
        "def f(a: int = 4, faults=None) -> str:\n"
        '    """Docstring."""\n'
        "    log.info('seen %d', a + 1)\n"
        "    if faults.on('x') and a == 2:\n"
        "        return 'fault'\n"
        "    else:\n"
        "        return 'normal'\n"
        "    return f'{a + 1} items' + 'a phrase with spaces'\n"
        "def _with_faults(a):\n"
        "    return a == 1\n"
        "Kind = Literal['none', 'other']\n"
    )
    originals = {m.original for m in mutants(source, MODULE)}
    assert originals == {"3", "'normal'"}


@cache
def default_mutants() -> tuple[tuple[str, Mutant], ...]:
    """Every mutant of the default modules, with its module's source."""
    root = project_root()
    assert root is not None
    sources = {m: (root / m).read_text(encoding="utf-8") for m in MUTATION_TARGETS}
    return tuple(
        (sources[m], mutant) for m in MUTATION_TARGETS for mutant in mutants(sources[m], m)
    )


def test_every_mutant_of_the_default_modules_compiles_with_its_line_numbers_kept() -> None:
    found = default_mutants()
    assert {m.operator for _, m in found} == set(OPERATORS)
    for source, mutant in found:
        mutated = apply(source, mutant)
        assert mutated.count("\n") == source.count("\n"), mutant.describe()
        compile(mutated, mutant.module, "exec")


def test_the_projects_triage_lists_current_mutants_only() -> None:
    """Each listed ID is a mutant of the default modules as they read now (none is stale)."""
    assert set(load_triage()) <= {m.mutant_id for _, m in default_mutants()}


def test_ids_are_stable_across_unrelated_edits_and_distinct() -> None:
    source = "def f(a):\n    return a == 1\n\ndef g(a):\n    return a == 1\n"
    shifted = "import os\n\n\n" + source.replace("def g", "def h(b):\n    return b\n\ndef g")
    before = [m.mutant_id for m in mutants(source, MODULE)]
    after = [m.mutant_id for m in mutants(shifted, MODULE)]
    assert len(set(before)) == len(before)
    assert before == after
    assert all(i.startswith("example.rules/") for i in before)
    edited = source.replace("return a == 1\n\ndef g", "return a == 2\n\ndef g")
    assert set(m.mutant_id for m in mutants(edited, MODULE)) != set(before)


def test_a_stale_mutant_is_refused() -> None:
    source = "def f(a):\n    return a == 1\n"
    (mutant,) = only(source, "compare")
    with pytest.raises(MutationError, match="no longer reads"):
        apply(source.replace("a == 1", "a >= 1"), mutant)


def test_diff_names_the_file_and_line() -> None:
    source = "def f(a):\n    x = 1\n    return a == x\n"
    (mutant,) = only(source, "compare")
    assert mutant.location == f"{MODULE}:3"
    assert diff(source, mutant).splitlines() == [
        f"--- a/{MODULE}",
        f"+++ b/{MODULE}",
        "@@ -3 +3 @@",
        "-    return a == x",
        "+    return (a != x)",
    ]


def test_non_ascii_lines_are_spliced_by_byte_columns() -> None:
    source = "def f(a):\n    return 'é' if a == 1 else 'x'\n"
    (mutant,) = only(source, "compare")
    assert apply(source, mutant) == "def f(a):\n    return 'é' if (a != 1) else 'x'\n"


def tree_digest(folder: Path) -> str:
    """A digest of every file's path and bytes under ``folder``, caches left out."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def root() -> Path:
    found = project_root()
    assert found is not None
    return found


def test_mutants_are_applied_to_a_copy_and_the_tree_is_untouched(
    root: Path, tmp_path: Path
) -> None:
    module = "src/rfc8823/client/reply.py"
    source = (root / module).read_text(encoding="utf-8")
    mutant = mutants(source, module)[0]
    before = tree_digest(root / "src")
    copy = mutated_copy(root, tmp_path, mutant, source)
    assert tree_digest(root / "src") == before
    assert (root / module).read_text(encoding="utf-8") == source
    assert (tmp_path / module).read_text(encoding="utf-8") == apply(source, mutant)
    assert not list(copy.rglob("__pycache__"))
    env = {"PYTHONPATH": str(copy)}
    assert loaded_from(env, root).is_relative_to(copy.resolve())
    assert imports(module, env, root, timeout=60) is None


def test_a_module_that_no_longer_imports_is_reported(root: Path, tmp_path: Path) -> None:
    module = "src/rfc8823/client/reply.py"
    source = (root / module).read_text(encoding="utf-8")
    broken = next(m for m in mutants(source, module) if m.module_level and m.operator == "number")
    copy = mutated_copy(root, tmp_path, None)
    (tmp_path / module).write_text(source + "\nraise ImportError('mutant')\n", encoding="utf-8")
    error = imports(module, {"PYTHONPATH": str(copy)}, root, timeout=60)
    assert error is not None
    assert "ImportError: mutant" in error
    assert broken.module_level


def test_module_names_and_roles() -> None:
    assert module_name("src/rfc8823/server/engine.py") == "rfc8823.server.engine"
    assert role_of("src/rfc8823/messages/response/digest_rules.py") == "server"
    assert role_of("src/rfc8823/client/decide.py") == "client"
    assert role_of("src/rfc8823/client/ledger.py") == "client"
    assert role_of("src/rfc8823/server/issuer.py") == "server"


def test_module_selection(root: Path) -> None:
    assert select_modules([], root) == list(MUTATION_TARGETS)
    assert select_modules(["src/rfc8823/client/*"], root) == [
        "src/rfc8823/client/decide.py",
        "src/rfc8823/client/reply.py",
    ]
    assert select_modules(["src/rfc8823/client/ledger.py"], root) == [
        "src/rfc8823/client/ledger.py"
    ]
    with pytest.raises(ValueError, match="selects no module"):
        select_modules(["src/nothing/*"], root)


def test_sample_is_seeded_and_ordered() -> None:
    source = "def f(a):\n" + "".join(f"    a = a + {n}\n" for n in range(20))
    found = mutants(source, MODULE)
    first, again = sample(found, 7, seed=1), sample(found, 7, seed=1)
    assert first == again
    assert len(first) == 7
    assert first == sorted(first, key=found.index)
    assert sample(found, 7, seed=2) != first
    assert sample(found, None) == found
    assert set(first) <= set(sample(found, 12, seed=1))


def test_tests_are_selected_by_the_lines_they_ran() -> None:
    source = "X = 1\ndef f(a):\n    return (a ==\n        X)\n"
    (inner,) = only(source, "compare")
    module_level = only(source, "number")[0]
    by_line = {3: frozenset({"t.py::a"}), 4: frozenset({"t.py::b", ""})}
    assert selected_tests(inner, by_line) == frozenset({"t.py::a", "t.py::b"})
    assert selected_tests(inner, {}) == frozenset()
    assert selected_tests(inner, {3: frozenset({""})}) is None
    assert selected_tests(module_level, by_line) is None


def test_the_copy_shadows_an_installed_package_in_a_child_process(root: Path) -> None:
    """The mechanism the check relies on, shown without it: PYTHONPATH comes first."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.path[1])"],
        env={**os.environ, "PYTHONPATH": "/nonexistent-copy"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "/nonexistent-copy"
