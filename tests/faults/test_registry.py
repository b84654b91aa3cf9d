"""The declared faults: unique names, known IDs, existing suite tests, the right roles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rfc8823.faults import Fault, client, fault, registry
from rfc8823.faults.selfcheck import project_root, selects, suite_paths
from rfc8823.requirements import load_catalog

ROOT = project_root(Path(__file__).parent)
FAULTS = sorted(registry().values(), key=lambda f: f.name)


def by_name(faults: list[Fault]) -> list[object]:
    return [pytest.param(f, id=f.name) for f in faults]


def test_some_faults_of_each_role_are_declared() -> None:
    """Both reference implementations have faults."""
    assert {f.role for f in FAULTS} == {"server", "client"}


def test_every_client_name_constant_is_declared() -> None:
    """The names the client's fault branches ask for are exactly the declared client faults."""
    names = {
        value
        for key, value in vars(client).items()
        if key.isupper() and isinstance(value, str) and value.startswith("client-")
    }
    assert names == {f.name for f in FAULTS if f.role == "client"}


@pytest.mark.parametrize("item", by_name(FAULTS))
def test_fault_is_well_formed(item: Fault) -> None:
    """A known role, known requirement IDs, and tests of that role's suite to catch it."""
    assert item.role in ("server", "client")
    assert fault(item.name) == item
    assert item.breaks, "a fault breaks at least one requirement"
    load_catalog().check_ids(item.breaks)
    assert len(set(item.breaks)) == len(item.breaks)
    assert item.summary.strip()
    assert item.suites, "a fault names the tests that must catch it"
    assert all(p.startswith(f"suites/{item.role}/") for p in item.suites), item.suites
    assert not {"--inject-fault", "--report-dir", "--report-name"} & set(item.options)


def test_names_are_unique_ignoring_case() -> None:
    """No two faults differ only in case (they are typed on command lines)."""
    names = [f.name.lower() for f in FAULTS]
    assert len(names) == len(set(names))


def test_every_suite_path_selects_a_collected_test() -> None:
    """Each file or node ID a fault names exists and selects at least one test."""
    assert ROOT is not None
    paths = suite_paths(FAULTS)
    for path in paths:
        assert (ROOT / path.split("::")[0]).is_file(), path
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    empty = [p for p in paths if not any(selects(p, nodeid) for nodeid in collected)]
    assert not empty, f"suite paths selecting no test: {empty}"
