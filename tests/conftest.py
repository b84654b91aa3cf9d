"""The project's own tests: which ones `make check` leaves to `make test`.

`make check` runs ``-m "not slow"``: lint, types and every test that works in-process. The
modules below start whole pytest runs, real CA or client processes, or the fault matrix; they
run in `make test` and CI. A module is slow by this list alone, so marking one is a reviewed
change in one place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SLOW: dict[str, str] = {
    "faults/test_fault_is_caught.py": "every declared fault against the suites (pytest runs)",
    "faults/test_registry.py::test_every_suite_path_selects_a_collected_test": "collects suites",
    "faults/test_faultset.py::test_command_line_refuses_faults_for_other_targets": "pytest runs",
    "targets/test_remote_run.py": "the suites as a user runs them, against remote targets",
    "targets/test_acme2certifier.py": "acme2certifier installed and run as a CA",
    "targets/test_client_command.py": "client command targets run end to end",
    "targets/test_client_targets.py": "client targets started as processes",
    "targets/test_command_options.py": "pytest runs of the command-target options",
    "targets/test_suite_options.py": "a pytest start per inconsistent option set",
    "server/test_restart_durability.py": "the reference CA killed and restarted",
}
"""A module under tests/, or ``module::test`` (every parametrization) -> why it is slow."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: left out of `make check` (tests/conftest.py says why), run by `make test`"
    )


def is_slow(path: Path, name: str) -> bool:
    """Whether the test ``name`` of the module at ``path`` is on the SLOW list."""
    module = path.resolve().relative_to(HERE).as_posix()
    test = f"{module}::{name.partition('[')[0]}"
    return module in SLOW or test in SLOW


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE) and is_slow(item.path, item.name):
            item.add_marker(pytest.mark.slow)
