"""The SLOW list of tests/conftest.py names modules and tests that exist, so `make check`
leaves out exactly what it says it does."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import HERE, SLOW, is_slow


def test_every_slow_entry_names_an_existing_module_or_test() -> None:
    for entry in SLOW:
        module, _, test = entry.partition("::")
        path = HERE / module
        assert path.is_file(), f"{entry}: no module {path}"
        if test:
            names = {
                node.name
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert test in names, f"{entry}: {module} has no test {test}"


def test_slow_matches_modules_and_every_parametrization() -> None:
    assert is_slow(HERE / "targets" / "test_remote_run.py", "test_anything")
    name = "test_command_line_refuses_faults_for_other_targets[remote-ca]"
    assert is_slow(HERE / "faults" / "test_faultset.py", name)
    assert not is_slow(HERE / "faults" / "test_faultset.py", "test_other")
    assert not is_slow(Path(__file__), "test_slow_matches_modules_and_every_parametrization")
