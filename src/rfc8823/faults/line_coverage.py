"""Which tests run which lines of the mutated modules: a pytest plugin around ``coverage``.

Loaded only by the mutation self-check (``-p rfc8823.faults.line_coverage``) for one run of a
role suite without mutants. Every test is measured under its own context (its node ID), so a
mutant needs to run only the tests that reach its line. Work a test leaves running in the
background (the reference CA's threads) may land in the next test's context; the mutation
check therefore re-runs every survivor over the whole suite. The modules are imported before
measurement starts, so their module-level lines carry no context: such mutants run the whole
suite anyway.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from pathlib import Path

import pytest
from coverage import Coverage, CoverageData

DATA_ENV = "RFC8823_MUTATION_COVERAGE"
"""Where to write the coverage data file."""
INCLUDE_ENV = "RFC8823_MUTATION_INCLUDE"
"""The measured files, separated by ``os.pathsep``."""

_STASH = pytest.StashKey[Coverage]()


def pytest_configure(config: pytest.Config) -> None:
    """Start measuring the modules named in the environment."""
    data_file, include = os.environ.get(DATA_ENV), os.environ.get(INCLUDE_ENV)
    if not data_file or not include:
        raise pytest.UsageError(f"{DATA_ENV} and {INCLUDE_ENV} must both be set")
    cov = Coverage(data_file=data_file, include=include.split(os.pathsep), config_file=False)
    cov.start()
    config.stash[_STASH] = cov


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Attribute what this test runs to its node ID."""
    cov = item.config.stash.get(_STASH, None)
    if cov is not None:
        cov.switch_context(item.nodeid)
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop and save."""
    cov = config.stash.get(_STASH, None)
    if cov is not None:
        cov.stop()
        cov.save()


def tests_by_line(
    data_file: Path, files: Mapping[str, Path]
) -> dict[str, dict[int, frozenset[str]]]:
    """Module (as keyed in ``files``) to line to the node IDs that ran it ("" for none)."""
    data = CoverageData(basename=str(data_file))
    data.read()
    measured = {str(Path(name).resolve()): name for name in data.measured_files()}
    found: dict[str, dict[int, frozenset[str]]] = {}
    for module, path in files.items():
        name = measured.get(str(path.resolve()))
        by_line = data.contexts_by_lineno(name) if name is not None else {}
        found[module] = {line: frozenset(contexts) for line, contexts in by_line.items()}
    return found
